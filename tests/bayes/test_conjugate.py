"""Normal, Normal-Inverse-Gamma and Dirichlet-categorical filters against closed forms.

In float64 at rtol 1e-10: without forgetting, the streaming posterior equals the batch
posterior computed in one shot from sufficient statistics; with forgetting, it equals the
recursion unrolled by hand in NumPy in the prior's pseudo-count coordinates; the surprise at
each step equals SciPy's predictive log density under the belief before that step.
(The pure update functions of ``latentinfer.inference.conjugate`` are tested through these.)
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from latentinfer import ConfigError, ShapeError, ValidationError
from latentinfer.bayes import (
    DirichletCategoricalFilter,
    FilterTrace,
    NormalFilter,
    NormalInverseGammaFilter,
)
from latentinfer.inference.conjugate import BetaBelief, beta_bernoulli_update, sample_beta

RTOL = 1e-10
T = 25


@pytest.fixture
def series() -> np.ndarray:
    """(4, T) observations of four series with different means and scales."""
    rng = np.random.default_rng(0)
    return rng.normal([[-3.0], [0.0], [1.0], [10.0]], [[0.5], [1.0], [2.0], [3.0]], size=(4, T))


def test_normal_streaming_equals_the_batch_posterior_and_scipy_predictive(series) -> None:
    m0, v0, s2 = np.array([0.0, 1.0, -1.0, 5.0]), np.array([1.0, 4.0, 0.5, 10.0]), 1.7
    f = NormalFilter(prior_loc=torch.tensor(m0), prior_var=torch.tensor(v0), obs_var=s2)
    trace = f.filter(series)
    assert isinstance(trace, FilterTrace) and trace.surprise.shape == (4, T)
    for t in range(T):
        n, total = t + 1, series[:, : t + 1].sum(1)
        prec = 1 / v0 + n / s2
        np.testing.assert_allclose(trace.beliefs.var[:, t].numpy(), 1 / prec, rtol=RTOL)
        loc = (m0 / v0 + total / s2) / prec
        np.testing.assert_allclose(trace.beliefs.loc[:, t].numpy(), loc, rtol=RTOL)
        prev_prec = 1 / v0 + t / s2
        prev_loc = (m0 / v0 + series[:, :t].sum(1) / s2) / prev_prec
        pred = stats.norm.logpdf(series[:, t], prev_loc, np.sqrt(1 / prev_prec + s2))
        np.testing.assert_allclose(-trace.surprise[:, t].numpy(), pred, rtol=RTOL)
    for t in range(T):  # streaming update gives the same beliefs, step by step
        np.testing.assert_allclose(
            f.log_predictive(series[:, t]).numpy(), -trace.surprise[:, t].numpy(), rtol=RTOL
        )
        f.update(series[:, t])
    np.testing.assert_allclose(f.mean.numpy(), trace.final.loc.numpy(), rtol=RTOL)


def test_normal_forgetting_matches_the_natural_parameter_recursion(series) -> None:
    m0, v0, s2, lam = 0.5, 2.0, 0.8, 0.7
    trace = NormalFilter(prior_loc=m0, prior_var=v0, obs_var=s2, forgetting=lam).filter(series)
    prec, shift = np.full(4, 1 / v0), np.full(4, m0 / v0)
    for t in range(T):
        prec = lam * prec + (1 - lam) / v0
        shift = lam * shift + (1 - lam) * m0 / v0
        pred = stats.norm.logpdf(series[:, t], shift / prec, np.sqrt(1 / prec + s2))
        np.testing.assert_allclose(-trace.surprise[:, t].numpy(), pred, rtol=RTOL)
        prec, shift = prec + 1 / s2, shift + series[:, t] / s2
        np.testing.assert_allclose(trace.beliefs.loc[:, t].numpy(), shift / prec, rtol=RTOL)
        np.testing.assert_allclose(trace.beliefs.var[:, t].numpy(), 1 / prec, rtol=RTOL)


def _nig_batch(x: np.ndarray, m0: float, k0: float, a0: float, b0: float):
    n, mean = x.shape[-1], x.mean(-1)
    kn = k0 + n
    mn = (k0 * m0 + n * mean) / kn
    bn = b0 + 0.5 * ((x - mean[..., None]) ** 2).sum(-1) + k0 * n * (mean - m0) ** 2 / (2 * kn)
    return mn, kn, a0 + n / 2, bn


def test_nig_streaming_equals_the_batch_posterior_and_student_t_predictive(series) -> None:
    m0, k0, a0, b0 = 1.0, 0.5, 2.0, 3.0
    f = NormalInverseGammaFilter(prior_loc=m0, prior_kappa=k0, prior_alpha=a0, prior_beta=b0)
    trace = f.filter(series)
    for t in range(T):
        mn, kn, an, bn = _nig_batch(series[:, : t + 1], m0, k0, a0, b0)
        b = trace.beliefs
        for got, want in zip((b.loc, b.kappa, b.alpha, b.beta), (mn, kn, an, bn)):
            np.testing.assert_allclose(got[:, t].numpy(), np.broadcast_to(want, (4,)), rtol=RTOL)
        if t == 0:
            mp, kp, ap, bp = m0, k0, a0, b0
        else:
            mp, kp, ap, bp = _nig_batch(series[:, :t], m0, k0, a0, b0)
        scale = np.sqrt(bp * (kp + 1) / (ap * kp))
        pred = stats.t.logpdf(series[:, t], df=2 * ap, loc=mp, scale=scale)
        np.testing.assert_allclose(-trace.surprise[:, t].numpy(), pred, rtol=RTOL)
    final = trace.final
    np.testing.assert_allclose(
        final.noise_variance.numpy(), (final.beta / (final.alpha - 1)).numpy(), rtol=RTOL
    )
    f.update(series[0, 0])  # batch_shape () streams one series
    assert f.mean.shape == () and f.variance.shape == ()


def test_nig_forgetting_matches_the_pseudo_count_recursion(series) -> None:
    m0, k0, a0, b0, lam = -1.0, 2.0, 1.5, 0.5, 0.6
    f = NormalInverseGammaFilter(
        prior_loc=m0, prior_kappa=k0, prior_alpha=a0, prior_beta=b0, forgetting=lam
    )
    trace = f.filter(series)
    # coordinates (κ, κ·loc, 2α, 2β + κ·loc²): forgetting is linear in them
    prior = np.array([k0, k0 * m0, 2 * a0, 2 * b0 + k0 * m0**2])[:, None]
    c = np.repeat(prior, 4, axis=1)
    for t in range(T):
        c = lam * c + (1 - lam) * prior
        kappa, loc, alpha = c[0], c[1] / c[0], c[2] / 2
        beta = (c[3] - c[1] ** 2 / c[0]) / 2
        scale = np.sqrt(beta * (kappa + 1) / (alpha * kappa))
        pred = stats.t.logpdf(series[:, t], df=2 * alpha, loc=loc, scale=scale)
        np.testing.assert_allclose(-trace.surprise[:, t].numpy(), pred, rtol=1e-9)
        x = series[:, t]
        c = c + np.stack([np.ones(4), x, np.ones(4), x**2])
        b = trace.beliefs
        np.testing.assert_allclose(b.kappa[:, t].numpy(), c[0], rtol=RTOL)
        np.testing.assert_allclose(b.loc[:, t].numpy(), c[1] / c[0], rtol=RTOL)
        np.testing.assert_allclose(b.alpha[:, t].numpy(), c[2] / 2, rtol=RTOL)
        # the cancellation in c[3] − c[1]²/c[0] costs digits in NumPy, not in the filter
        np.testing.assert_allclose(b.beta[:, t].numpy(), (c[3] - c[1] ** 2 / c[0]) / 2, rtol=1e-9)


def test_dirichlet_matches_counts_scipy_and_forgetting() -> None:
    rng = np.random.default_rng(3)
    k, conc0 = 4, np.array([0.5, 1.0, 2.0, 0.7])
    x = rng.integers(0, k, size=(3, T))
    trace = DirichletCategoricalFilter(concentration=torch.tensor(conc0)).filter(x)
    assert trace.beliefs.concentration.shape == (3, T, k) and trace.surprise.shape == (3, T)
    for t in range(T):
        counts = np.stack([np.bincount(row[: t + 1], minlength=k) for row in x])
        np.testing.assert_allclose(trace.beliefs.concentration[:, t].numpy(), conc0 + counts)
        prev = conc0 + counts - np.eye(k)[x[:, t]]
        pred = [
            stats.dirichlet_multinomial.logpmf(np.eye(k)[x[i, t]], prev[i], 1) for i in range(3)
        ]
        np.testing.assert_allclose(-trace.surprise[:, t].numpy(), pred, rtol=RTOL)
    lam = 0.5
    f = DirichletCategoricalFilter(k, concentration=1.0, forgetting=lam, batch_shape=(3,))
    conc = np.ones((3, k))
    for t in range(T):
        conc = lam * conc + (1 - lam) * 1.0
        np.testing.assert_allclose(
            f.log_predictive(x[:, t]).numpy(), np.log(conc[np.arange(3), x[:, t]] / conc.sum(1))
        )
        f.update(x[:, t])
        conc = conc + np.eye(k)[x[:, t]]
        np.testing.assert_allclose(f.belief_.concentration.numpy(), conc, rtol=RTOL)
    np.testing.assert_allclose(f.mean.numpy(), conc / conc.sum(1, keepdims=True), rtol=RTOL)
    # the posterior variance of each probability: the Dirichlet's marginal Beta variance
    a0 = conc.sum(1, keepdims=True)
    var = stats.beta.var(conc, a0 - conc)
    np.testing.assert_allclose(f.variance.numpy(), var, rtol=RTOL)
    # NumPy integers are integers (arrays' sizes and indices often are)
    assert DirichletCategoricalFilter(np.int64(k)).n_categories == k


def test_tensor_forgetting_float32_and_the_pure_beta_functions(series) -> None:
    lam = torch.tensor([1.0, 0.5, 0.0, 0.9])
    many = NormalFilter(forgetting=lam).filter(series)
    for i in range(4):
        one = NormalFilter(forgetting=float(lam[i])).filter(series[i])
        torch.testing.assert_close(many.beliefs.loc[i], one.beliefs.loc, rtol=1e-12, atol=0)
    f32 = NormalInverseGammaFilter(dtype=torch.float32).filter(series)
    f64 = NormalInverseGammaFilter().filter(series)
    assert f32.surprise.dtype == torch.float32
    torch.testing.assert_close(f32.surprise.double(), f64.surprise, rtol=1e-4, atol=1e-4)
    # beta_bernoulli_update leaves unobserved arms alone, forgetting included
    b = BetaBelief(torch.tensor([3.0, 5.0]), torch.tensor([2.0, 1.0]))
    prior = BetaBelief(torch.tensor(1.0), torch.tensor(1.0))
    new = beta_bernoulli_update(
        b, torch.tensor([1.0, 0.0]), torch.tensor([2.0, 0.0]), prior=prior, forgetting=0.5
    )
    torch.testing.assert_close(new.alpha, torch.tensor([3.0, 5.0]))
    torch.testing.assert_close(new.beta, torch.tensor([2.5, 1.0]))
    # Beta draws: reproducible from the generator, mean within 5 standard errors
    g = torch.Generator().manual_seed(0)
    draws = sample_beta(torch.tensor(2.0), torch.tensor(6.0), generator=g, sample_shape=(20000,))
    se = (2 * 6 / (8**2 * 9) / 20000) ** 0.5
    assert abs(float(draws.mean()) - 0.25) < 5 * se


@pytest.mark.parametrize(
    ("make", "error", "name"),
    [
        (lambda: NormalFilter(prior_var=0.0), ConfigError, "prior_var"),
        (lambda: NormalFilter(obs_var=-1.0), ConfigError, "obs_var"),
        (lambda: NormalFilter(forgetting=2.0), ConfigError, "forgetting"),
        (lambda: NormalFilter(prior_loc=float("inf")), ConfigError, "prior_loc"),
        (
            lambda: NormalFilter(prior_loc=torch.ones(3), batch_shape=(2,)),
            ShapeError,
            "batch_shape",
        ),
        (lambda: NormalInverseGammaFilter(prior_kappa=0.0), ConfigError, "prior_kappa"),
        (
            lambda: NormalInverseGammaFilter(prior_alpha=torch.tensor([1.0, -1.0])),
            ConfigError,
            "prior_alpha",
        ),
        (lambda: NormalInverseGammaFilter(prior_beta=0), ConfigError, "prior_beta"),
        (lambda: NormalInverseGammaFilter(dtype=torch.float16), ConfigError, "dtype"),
        (lambda: DirichletCategoricalFilter(), ConfigError, "n_categories"),
        (
            lambda: DirichletCategoricalFilter(3, concentration=torch.ones(4)),
            ConfigError,
            "n_categories",
        ),
        (lambda: DirichletCategoricalFilter(3, concentration=0.0), ConfigError, "concentration"),
        (lambda: DirichletCategoricalFilter(3.0), ConfigError, "n_categories must be an integer"),
        (lambda: DirichletCategoricalFilter(-2), ConfigError, r"n_categories must lie in \[2"),
        (lambda: DirichletCategoricalFilter(1), ConfigError, r"n_categories must lie in \[2"),
    ],
)
def test_bad_hyperparameters_name_the_argument(make, error, name) -> None:
    with pytest.raises(error, match=name):
        make()


@pytest.mark.parametrize(
    ("call", "error", "name"),
    [
        (lambda: NormalFilter().filter([1.0, float("nan")]), ValidationError, "x"),
        (lambda: NormalFilter().filter(torch.ones(3, 0)), ShapeError, "x"),
        (lambda: NormalFilter().filter(5.0), ShapeError, "x"),
        (lambda: NormalFilter(batch_shape=(3,)).update([1.0, 2.0]), ShapeError, "x"),
        (lambda: NormalInverseGammaFilter().update(torch.ones(2)), ShapeError, "batch_shape"),
        (lambda: NormalInverseGammaFilter().log_predictive(float("inf")), ValidationError, "x"),
        (
            lambda: NormalInverseGammaFilter(batch_shape=2).filter(torch.ones(3, 4)),
            ShapeError,
            "batch_shape",
        ),
        (lambda: DirichletCategoricalFilter(3).filter([0, 3]), ValidationError, "x"),
        (lambda: DirichletCategoricalFilter(3).filter([0, -1]), ValidationError, "x"),
        (lambda: DirichletCategoricalFilter(3).update(1.5), ValidationError, "x"),
        (lambda: DirichletCategoricalFilter(3).filter(["a"]), ValidationError, "x"),
    ],
)
def test_bad_observations_name_the_argument(call, error, name) -> None:
    with pytest.raises(error, match=name):
        call()


def test_an_overflowing_belief_is_an_error_not_an_inf() -> None:
    from latentinfer import NonFiniteError

    with pytest.raises(NonFiniteError, match="the belief's beta became inf: the observations"):
        NormalInverseGammaFilter().update(1e200)
    x = torch.tensor([[1.0, 1e200, 2.0]], dtype=torch.float64)
    with pytest.raises(NonFiniteError, match=r"beta became inf at index \(0,\) at step 1"):
        NormalInverseGammaFilter().filter(x)
