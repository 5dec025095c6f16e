"""Tests of NIW-Meta, the conjugate NIW head and the prototype head (``latentinfer.bayes``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from latentinfer.bayes import ConjugateGaussianHead, NIWMeta, PrototypicalHead
from latentinfer.bayes.niw_inner import (
    head_hessian_diagonal,
    head_logits,
    head_loss_gradient,
    quadratic_approximation,
)
from latentinfer.bayes.niw_math import (
    DiagonalNIW,
    GaussianPosterior,
    NIWParams,
    diagonal_niw_kl,
    expected_local_kl,
    local_posterior,
    niw_class_posteriors,
    niw_posterior,
    niw_predictive,
)
from latentinfer.core.errors import ConfigError, NotFittedError, ShapeError, ValidationError
from latentinfer.data import FewShotTask, load

F64 = torch.float64


def _random_prior(d: int, g: torch.Generator) -> NIWParams:
    a = torch.randn(d, d, generator=g, dtype=F64)
    return NIWParams(
        mean=torch.randn(d, generator=g, dtype=F64),
        kappa=torch.tensor(0.7, dtype=F64),
        nu=torch.tensor(d + 2.5, dtype=F64),
        psi=a @ a.T + d * torch.eye(d, dtype=F64),
    )


def _by_hand(x: np.ndarray, m0, k0, n0, psi0):
    n = x.shape[0]
    xbar = x.mean(0)
    s = (x - xbar).T @ (x - xbar)
    kn, nn = k0 + n, n0 + n
    mn = (k0 * m0 + n * xbar) / kn
    psin = psi0 + s + (k0 * n / kn) * np.outer(xbar - m0, xbar - m0)
    return kn, nn, mn, psin


# --------------------------------------------------------------------------------------
# conjugate NIW: closed forms in float64
# --------------------------------------------------------------------------------------


def test_niw_posterior_matches_the_closed_form():
    g = torch.Generator().manual_seed(0)
    prior = _random_prior(3, g)
    x = torch.randn(7, 3, generator=g, dtype=F64) * 2 + 1
    post = niw_posterior(x, prior)
    kn, nn, mn, psin = _by_hand(
        x.numpy(), prior.mean.numpy(), 0.7, prior.nu.item(), prior.psi.numpy()
    )
    assert post.kappa.item() == pytest.approx(kn, rel=1e-12)
    assert post.nu.item() == pytest.approx(nn, rel=1e-12)
    np.testing.assert_allclose(post.mean.numpy(), mn, rtol=1e-10)
    np.testing.assert_allclose(post.psi.numpy(), psin, rtol=1e-10)


def test_class_posteriors_with_unequal_counts_match_one_class_at_a_time():
    g = torch.Generator().manual_seed(1)
    prior = _random_prior(4, g)
    x = torch.randn(9, 4, generator=g, dtype=F64)
    y = torch.tensor([0, 2, 2, 1, 0, 2, 2, 1, 2])
    post = niw_class_posteriors(x, y, 3, prior)
    for c in range(3):
        one = niw_posterior(x[y == c], prior)
        np.testing.assert_allclose(post.mean[c].numpy(), one.mean.numpy(), rtol=1e-10)
        np.testing.assert_allclose(post.psi[c].numpy(), one.psi.numpy(), rtol=1e-10)
        assert post.kappa[c].item() == pytest.approx(one.kappa.item(), rel=1e-12)
        assert post.nu[c].item() == pytest.approx(one.nu.item(), rel=1e-12)


def test_student_t_predictive_matches_scipy():
    g = torch.Generator().manual_seed(2)
    d = 3
    prior = _random_prior(d, g)
    post = niw_posterior(torch.randn(5, d, generator=g, dtype=F64), prior)
    t = niw_predictive(post)
    df = post.nu.item() - d + 1
    scale = post.psi.numpy() * (post.kappa.item() + 1) / (post.kappa.item() * df)
    assert t.df.item() == pytest.approx(df, rel=1e-12)
    np.testing.assert_allclose(t.scale.numpy(), scale, rtol=1e-10)
    z = torch.randn(6, d, generator=g, dtype=F64) * 3
    ref = stats.multivariate_t(loc=post.mean.numpy(), shape=scale, df=df).logpdf(z.numpy())
    np.testing.assert_allclose(t.log_prob(z).numpy(), ref, rtol=1e-10)


def test_student_t_log_prob_broadcasts_samples_against_a_batch():
    g = torch.Generator().manual_seed(3)
    d = 2
    prior = _random_prior(d, g)
    x = torch.randn(2, 3, 4, d, generator=g, dtype=F64)  # batch (2, 3): data sets of 4 rows
    t = niw_predictive(niw_posterior(x, prior))  # batch shape (2, 3)
    z = torch.randn(5, 1, 3, d, generator=g, dtype=F64)  # samples (5,), broadcast over dim 0
    lp = t.log_prob(z)
    assert lp.shape == (5, 2, 3)
    i, j, s = 1, 2, 4
    ref = stats.multivariate_t(
        loc=t.loc[i, j].numpy(), shape=t.scale[i, j].numpy(), df=t.df[i, j].item()
    ).logpdf(z[s, 0, j].numpy())
    assert lp[s, i, j].item() == pytest.approx(ref, rel=1e-10)


# --------------------------------------------------------------------------------------
# diagonal NIW over weights (NIW-Meta's algebra)
# --------------------------------------------------------------------------------------


def test_local_posterior_against_a_hand_computation():
    # A = (2, 0), m̄ = (1, 5), n0 = 2, γ = (0.5, 3), m0 = (0, 1):
    # precision = A + n0 γ = (2 + 1, 0 + 6) = (3, 6)
    # mean = (A m̄ + n0 γ m0) / precision = ((2·1 + 1·0) / 3, (0·5 + 6·1) / 6) = (2/3, 1)
    prior = DiagonalNIW(
        torch.tensor([0.0, 1.0], dtype=F64),
        torch.tensor(1.0, dtype=F64),
        torch.tensor(2.0, dtype=F64),
        torch.tensor([0.5, 3.0], dtype=F64),
    )
    q = local_posterior(
        torch.tensor([1.0, 5.0], dtype=F64), torch.tensor([2.0, 0.0], dtype=F64), prior
    )
    np.testing.assert_allclose(q.precision.numpy(), [3.0, 6.0], rtol=1e-15)
    np.testing.assert_allclose(q.mean.numpy(), [2.0 / 3.0, 1.0], rtol=1e-15)


def _prior(p: int, g: torch.Generator) -> DiagonalNIW:
    return DiagonalNIW(
        mean=torch.randn(p, generator=g, dtype=F64),
        kappa=torch.tensor(1.7, dtype=F64),
        dof=torch.tensor(3.5, dtype=F64),
        precision=torch.rand(p, generator=g, dtype=F64) + 0.3,
    )


def test_local_posterior_maximises_the_local_elbo():
    # The closed form is the optimum of −E_q[½ Σ A (θ − m̄)²] − E_{q(φ)} KL(q ‖ p(θ|φ)):
    # the gradient with respect to (mean, log variance) vanishes there.
    g = torch.Generator().manual_seed(4)
    prior = _prior(5, g)
    center = torch.randn(5, generator=g, dtype=F64)
    curv = torch.rand(5, generator=g, dtype=F64) * 4
    q = local_posterior(center, curv, prior)
    mean = q.mean.clone().requires_grad_(True)
    log_var = (-q.precision.log()).clone().requires_grad_(True)
    local = GaussianPosterior(mean, torch.exp(-log_var))
    loss = 0.5 * (curv * (torch.exp(log_var) + (mean - center) ** 2)).sum()
    loss = loss + expected_local_kl(local, prior)
    grads = torch.autograd.grad(loss, (mean, log_var))
    for gr in grads:
        np.testing.assert_allclose(gr.numpy(), 0.0, atol=1e-12)


def test_expected_local_kl_matches_monte_carlo():
    # E over φ ~ q(φ) of the exact Gaussian KL; tolerance 5 Monte Carlo standard errors.
    g = torch.Generator().manual_seed(5)
    prior = _prior(3, g)
    q = GaussianPosterior(
        torch.randn(3, generator=g, dtype=F64), torch.rand(3, generator=g, dtype=F64) + 0.5
    )
    n = 200_000
    # τ = 1/σ² ~ Gamma(shape n₀/2, rate 1/(2γ))
    tau = torch.distributions.Gamma(prior.dof / 2, 1.0 / (2 * prior.precision)).sample((n,))
    var = 1.0 / tau
    mu = prior.mean + torch.randn(n, 3, dtype=F64) * torch.sqrt(var / prior.kappa)
    v = q.variance
    kl = 0.5 * (torch.log(var / v) + (v + (q.mean - mu) ** 2) / var - 1).sum(-1)
    se = kl.std().item() / math.sqrt(n)
    assert expected_local_kl(q, prior).item() == pytest.approx(kl.mean().item(), abs=5 * se)


def test_diagonal_niw_kl_matches_monte_carlo_and_vanishes_at_equality():
    g = torch.Generator().manual_seed(6)
    q, p = _prior(2, g), _prior(2, g)
    assert diagonal_niw_kl(q, q).item() == pytest.approx(0.0, abs=1e-12)
    n = 200_000

    def log_density(d: DiagonalNIW, tau: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
        gamma = torch.distributions.Gamma(d.dof / 2, 1.0 / (2 * d.precision))  # τ = 1/σ²
        normal = torch.distributions.Normal(d.mean, torch.rsqrt(d.kappa * tau))
        return (gamma.log_prob(tau) + normal.log_prob(mu)).sum(-1)

    tau = torch.distributions.Gamma(q.dof / 2, 1.0 / (2 * q.precision)).sample((n,))
    mu = q.mean + torch.randn(n, 2, dtype=F64) * torch.rsqrt(q.kappa * tau)
    ratio = log_density(q, tau, mu) - log_density(p, tau, mu)
    se = ratio.std().item() / math.sqrt(n)
    assert diagonal_niw_kl(q, p).item() == pytest.approx(ratio.mean().item(), abs=5 * se)


def test_head_gradient_and_hessian_diagonal_match_autograd():
    g = torch.Generator().manual_seed(7)
    f = torch.randn(1, 4, 3, generator=g, dtype=F64)
    y = torch.nn.functional.one_hot(torch.tensor([[0, 1, 2, 1]]), 3).to(F64)
    w0 = torch.randn(1, 3, 4, generator=g, dtype=F64)

    def loss(w: torch.Tensor) -> torch.Tensor:
        return -(torch.log_softmax(head_logits(w.reshape(1, 3, 4), f), -1) * y).sum()

    grad = torch.autograd.functional.jacobian(loss, w0.reshape(-1))
    hess = torch.autograd.functional.hessian(loss, w0.reshape(-1))
    np.testing.assert_allclose(
        head_loss_gradient(w0, f, y).reshape(-1).numpy(), grad.numpy(), rtol=1e-10
    )
    np.testing.assert_allclose(
        head_hessian_diagonal(w0, f).reshape(-1).numpy(), torch.diagonal(hess).numpy(), rtol=1e-10
    )


def test_quadratic_approximation_sgd_sgld_and_caps():
    g = torch.Generator().manual_seed(8)
    f = torch.randn(2, 6, 3, generator=g)
    y = torch.tensor([[0, 1, 2, 0, 1, 2]] * 2)
    sgd = quadratic_approximation(f, y, 3, torch.zeros(4), steps=4, lr=0.5)
    # SGD lowers the support loss and curvature is the Hessian diagonal at the center
    onehot = torch.nn.functional.one_hot(y, 3).float()
    before = -(torch.log_softmax(head_logits(torch.zeros(2, 3, 4), f), -1) * onehot).sum()
    after = -(torch.log_softmax(head_logits(sgd.center, f), -1) * onehot).sum()
    assert after < before
    assert torch.allclose(sgd.curvature, head_hessian_diagonal(sgd.center, f))
    capped = quadratic_approximation(f * 100, y, 3, torch.zeros(4), steps=1, lr=1e-6, cap=0.5)
    assert float(capped.curvature.max()) <= 0.5
    a = quadratic_approximation(
        f,
        y,
        3,
        torch.zeros(4),
        method="sgld",
        curvature="iterates",
        steps=6,
        burn_in=2,
        generator=torch.Generator().manual_seed(0),
    )
    b = quadratic_approximation(
        f,
        y,
        3,
        torch.zeros(4),
        method="sgld",
        curvature="iterates",
        steps=6,
        burn_in=2,
        generator=torch.Generator().manual_seed(0),
    )
    assert torch.equal(a.center, b.center) and bool((a.curvature > 0).all())


# --------------------------------------------------------------------------------------
# the estimators
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def task() -> FewShotTask:
    data = load("glyphs", n_classes=30, n_per_class=8, size=12, seed=0)
    return FewShotTask(data, n_way=5, k_shot=1, n_query=4, test_fraction=0.34, seed=0)


@pytest.fixture(scope="module")
def fitted(task: FewShotTask) -> NIWMeta:
    return NIWMeta(n_episodes=48, meta_batch=4, train_config={"progress": False}, seed=0).fit(task)


def test_niw_meta_beats_chance_on_held_out_classes(task, fitted):
    # 5-way 1-shot on 10 held-out glyph classes. Chance is 0.2; over 200 episodes of 20
    # queries the interval half-width is about 0.02, so 0.35 is more than 7 intervals above
    # chance (the seeded run scores 0.56).
    res = fitted.evaluate(task, 200, seed=0, progress=False)
    assert res.accuracy > 0.35 and res.ci95 < 0.05
    assert res.n_episodes == 200 and res.episode_accuracy.shape == (200,)
    assert res.interval[0] < res.accuracy < res.interval[1]
    assert 0.0 <= res.ece <= 1.0 and res.nll > 0
    assert fitted.train_result_.steps == 12
    prior = fitted.prior_
    assert prior.mean.shape == prior.precision.shape == (fitted.extractor_.out_features + 1,)


def test_niw_meta_is_seeded_and_predicts_probabilities(task, fitted):
    again = NIWMeta(n_episodes=48, meta_batch=4, train_config={"progress": False}, seed=0).fit(task)
    assert torch.equal(again.prior_.precision, fitted.prior_.precision)
    ep = task.episode(0, split="test", seed=3)
    p = fitted.predict_proba(ep.support_x, ep.support_y, ep.query_x, seed=1)
    assert p.shape == (20, 5) and torch.allclose(p.sum(-1), torch.ones(20))
    assert torch.equal(p, again.predict_proba(ep.support_x, ep.support_y, ep.query_x, seed=1))
    # NumPy in, NumPy out; predict is the arg max
    pn = fitted.predict_proba(
        ep.support_x.numpy(), ep.support_y.numpy(), ep.query_x.numpy(), seed=1
    )
    assert isinstance(pn, np.ndarray) and np.allclose(pn, p.numpy())
    assert torch.equal(fitted.predict(ep.support_x, ep.support_y, ep.query_x, seed=1), p.argmax(-1))
    # the tied prior classifies episodes of another N too
    three = task.with_options(n_way=3).episode(0, split="test", seed=0)
    assert fitted.predict_proba(three.support_x, three.support_y, three.query_x).shape == (12, 3)


def test_niw_meta_resumes_exactly_through_the_core_loop(task, tmp_path):
    opts = {"n_episodes": 16, "meta_batch": 4, "seed": 2}
    cfg = {"progress": False, "checkpoint_every": 2}
    full = NIWMeta(**opts, train_config=cfg).fit(task, run_dir=tmp_path / "a")
    NIWMeta(**opts, train_config=cfg | {"max_steps": 2}).fit(task, run_dir=tmp_path / "b")
    resumed = NIWMeta(**opts, train_config=cfg).fit(task, run_dir=tmp_path / "b", resume=True)
    assert resumed.train_result_.steps == 4
    assert torch.equal(resumed.prior_.precision, full.prior_.precision)
    for a, b in zip(full.extractor_.parameters(), resumed.extractor_.parameters()):
        assert torch.equal(a, b)


def test_frozen_extractor_variants_and_sgld(task, fitted):
    frozen = NIWMeta(
        fitted.extractor_,
        train_extractor=False,
        inner="sgld",
        curvature="iterates",
        inner_steps=4,
        burn_in=1,
        n_episodes=8,
        train_config={"progress": False},
    ).fit(task)
    for a, b in zip(frozen.extractor_.parameters(), fitted.extractor_.parameters()):
        assert torch.equal(a, b)
    zero = NIWMeta(
        head_init="zero", n_episodes=8, n_samples_predict=0, train_config={"progress": False}
    )
    assert zero.fit(task).evaluate(task, 10, progress=False).accuracy >= 0.0
    assert frozen.evaluate(task, 10, progress=False).n_way == 5


def test_prototype_head_is_nearest_class_mean(task):
    head = PrototypicalHead(train_extractor=False).fit(task)
    ep = task.episode(1, split="test", seed=0)
    f_s, f_q = head.features(ep.support_x), head.features(ep.query_x)
    d2 = torch.cdist(f_q, f_s) ** 2  # 1-shot: each support row is its class mean
    p = head.predict_proba(ep.support_x, ep.support_y, ep.query_x)
    assert torch.allclose(p, torch.softmax(-d2, -1), atol=1e-5)


def test_heads_share_an_extractor_and_episodes(task, fitted):
    proto = PrototypicalHead(fitted.extractor_, train_extractor=False).fit(task)
    conj = ConjugateGaussianHead(fitted.extractor_, n_select=5).fit(task)
    assert conj.prior_.nu.item() in conj.selection_scores_
    for head in (proto, conj):
        res = head.evaluate(task, 50, seed=0, progress=False)
        # 50 episodes: half-width about 0.04, so 0.35 is ~4 of them above chance (0.2);
        # the seeded runs score 0.60 (prototypes) and 0.63 (conjugate)
        assert res.accuracy > 0.35
    ep = task.episode(0, split="test", seed=0)
    p = conj.predict_proba(ep.support_x, ep.support_y, ep.query_x)
    assert torch.allclose(p.sum(-1), torch.ones(20), atol=1e-6)
    fixed = ConjugateGaussianHead(fitted.extractor_, kappa0=0.5, nu0=500.0).fit(task)
    assert fixed.prior_.kappa.item() == 0.5 and fixed.selection_scores_ == {}
    with pytest.raises(ConfigError, match=r"> d \+ 1 = \d+ \(d = \d+, the feature dim"):
        ConjugateGaussianHead(fitted.extractor_, nu0=1.0).fit(task)
    with pytest.raises(ConfigError, match="nu0 must be a finite number"):
        ConjugateGaussianHead(fitted.extractor_, nu0=float("inf")).fit(task)
    numpy_nu = ConjugateGaussianHead(fitted.extractor_, kappa0=0.5, nu0=np.float32(500.0))
    assert numpy_nu.fit(task).prior_.nu.item() == 500.0


def test_bad_inputs_name_the_argument(task, fitted):
    ep = task.episode(0, split="test", seed=0)
    sx, sy, qx = ep.support_x, ep.support_y, ep.query_x
    with pytest.raises(ShapeError, match="support_y"):
        fitted.predict_proba(sx, sy[:-1], qx)
    with pytest.raises(ShapeError, match="query_x"):
        fitted.predict_proba(sx, sy, qx[:, :, :-1])
    with pytest.raises(ShapeError, match="support_x"):
        fitted.predict_proba(sx.reshape(5, -1), sy, qx.reshape(20, -1))
    with pytest.raises(ValidationError, match="n_way"):
        fitted.predict_proba(sx, sy, qx, n_way=4)  # label 4 is outside 0 .. 3
    with pytest.raises(ValidationError, match="support_y"):
        fitted.predict_proba(sx, sy - 1, qx)
    with pytest.raises(ValidationError, match=r"class\(es\) \[2\]"):
        fitted.predict_proba(sx, torch.tensor([0, 1, 3, 3, 4]), qx)
    with pytest.raises(ValidationError, match="support_y"):
        fitted.predict_proba(sx, sy.double() + 0.5, qx)
    bad = sx.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValidationError, match=r"support_x.*NaN"):
        fitted.predict_proba(bad, sy, qx)
    with pytest.raises(ValidationError, match="task"):
        fitted.evaluate(ep)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"inner": "adam"}, "inner"),
        ({"curvature": "fisher"}, "curvature"),
        ({"head_init": "random"}, "head_init"),
        ({"curvature": "iterates"}, "curvature"),  # needs inner="sgld"
        ({"inner_steps": 0}, "inner_steps"),
        ({"burn_in": 5}, "burn_in"),
        ({"inner_lr": -1.0}, "inner_lr"),
        ({"precision_init": 0.0}, "precision_init"),
        ({"n_samples": 0}, "n_samples"),
        ({"train_config": {"bogus": 1}}, "bogus"),
        ({"extractor": "conv"}, "extractor"),
    ],
)
def test_unknown_or_bad_options_raise_config_errors(task, options, name):
    with pytest.raises(ConfigError, match=name):
        NIWMeta(**options).fit(task)


def test_unfitted_models_say_so():
    for model in (NIWMeta(), PrototypicalHead(), ConjugateGaussianHead()):
        with pytest.raises(NotFittedError, match="fit"):
            model.predict_proba(torch.zeros(2, 3), torch.tensor([0, 1]), torch.zeros(1, 3))
