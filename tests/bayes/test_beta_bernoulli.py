"""The MoPPS Beta-Bernoulli filter: the forgetting recursion, predictive, and selection.

Exactness tests compare float64 results with the recursion unrolled by hand in NumPy, or with
SciPy's distributions, at rtol 1e-10. Selection tests use degenerate posteriors (counts of
1e8, posterior sd ~5e-5 against rates 0.02 apart) so the Thompson draws are deterministic
for the purpose of ranking.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from scipy import stats

from latentinfer import ConfigError, ShapeError, ValidationError
from latentinfer.bayes import BetaBernoulliFilter, Selection, thompson_select
from latentinfer.inference.conjugate import BetaBelief

RTOL = 1e-10


def _random_steps(rng: np.random.Generator, steps: int, reps: int, n_arms: int, batch: int):
    """Per step: distinct arms per replica, k in 1..8, s in 0..k."""
    arms = np.stack(
        [[rng.choice(n_arms, batch, replace=False) for _ in range(reps)] for _ in range(steps)]
    )
    trials = rng.integers(1, 9, size=arms.shape)
    successes = rng.integers(0, trials + 1)
    return arms, successes, trials


@pytest.mark.parametrize("lam", [0.0, 0.5, 0.9, 1.0])
def test_update_matches_the_forgetting_recursion_unrolled_in_numpy(lam: float) -> None:
    rng = np.random.default_rng(0)
    reps, n_arms, a0, b0 = 3, 20, 1.5, 0.7
    arms, succ, trials = _random_steps(rng, 40, reps, n_arms, 6)
    filt = BetaBernoulliFilter(
        n_arms, prior_alpha=a0, prior_beta=b0, forgetting=lam, batch_shape=(reps,)
    )
    alpha, beta = np.full((reps, n_arms), a0), np.full((reps, n_arms), b0)
    for t in range(arms.shape[0]):
        filt.update(arms[t], succ[t], trials[t])
        for r in range(reps):
            for j, arm in enumerate(arms[t, r]):
                s, k = succ[t, r, j], trials[t, r, j]
                alpha[r, arm] = lam * alpha[r, arm] + (1 - lam) * a0 + s
                beta[r, arm] = lam * beta[r, arm] + (1 - lam) * b0 + (k - s)
    np.testing.assert_allclose(filt.alpha_.numpy(), alpha, rtol=RTOL)
    np.testing.assert_allclose(filt.beta_.numpy(), beta, rtol=RTOL)


def test_without_forgetting_streaming_equals_the_batch_posterior() -> None:
    rng = np.random.default_rng(1)
    arms, succ, trials = _random_steps(rng, 30, 1, 15, 5)
    filt = BetaBernoulliFilter(15, prior_alpha=2.0, prior_beta=3.0)
    for t in range(arms.shape[0]):
        filt.update(arms[t, 0], succ[t, 0], trials[t, 0])
    s_tot, f_tot = np.zeros(15), np.zeros(15)
    np.add.at(s_tot, arms[:, 0].ravel(), succ[:, 0].ravel())
    np.add.at(f_tot, arms[:, 0].ravel(), (trials - succ)[:, 0].ravel())
    np.testing.assert_allclose(filt.alpha_.numpy(), 2.0 + s_tot, rtol=RTOL)
    np.testing.assert_allclose(filt.beta_.numpy(), 3.0 + f_tot, rtol=RTOL)
    a, b = filt.alpha_.numpy(), filt.beta_.numpy()
    np.testing.assert_allclose(filt.mean.numpy(), stats.beta.mean(a, b), rtol=RTOL)
    np.testing.assert_allclose(filt.variance.numpy(), stats.beta.var(a, b), rtol=RTOL)
    ci = filt.credible_interval(0.8)
    np.testing.assert_allclose(ci.low.numpy(), stats.beta.ppf(0.1, a, b), rtol=1e-8)
    np.testing.assert_allclose(ci.high.numpy(), stats.beta.ppf(0.9, a, b), rtol=1e-8)


def test_filter_over_dense_counts_matches_streaming_and_betabinomial_surprise() -> None:
    rng = np.random.default_rng(2)
    t_steps, n_arms, lam = 12, 5, 0.5
    trials = rng.integers(0, 4, size=(2, t_steps, n_arms)) * (
        rng.random((2, t_steps, n_arms)) < 0.6
    )
    succ = rng.integers(0, trials + 1)
    filt = BetaBernoulliFilter(n_arms, forgetting=lam, batch_shape=(2,)).warm_start(
        np.ones(n_arms), 2 * np.ones(n_arms)
    )
    before = filt.state_dict()
    trace = filt.filter(succ, trials)
    torch.testing.assert_close(filt.alpha_, before["alpha"], rtol=0, atol=0)  # left unchanged
    assert trace.beliefs.alpha.shape == trace.surprise.shape == (2, t_steps, n_arms)
    alpha, beta = np.full((2, n_arms), 2.0), np.full((2, n_arms), 2.0)  # after the warm start
    for t in range(t_steps):
        s, k = succ[:, t], trials[:, t]
        ra, rb = lam * alpha + (1 - lam), lam * beta + (1 - lam)
        expect = np.where(k > 0, -stats.betabinom.logpmf(s, k, ra, rb), 0.0)
        np.testing.assert_allclose(trace.surprise[:, t].numpy(), expect, rtol=RTOL, atol=1e-12)
        alpha, beta = np.where(k > 0, ra + s, alpha), np.where(k > 0, rb + k - s, beta)
        np.testing.assert_allclose(trace.beliefs.alpha[:, t].numpy(), alpha, rtol=RTOL)
        np.testing.assert_allclose(trace.beliefs.beta[:, t].numpy(), beta, rtol=RTOL)
    filt.update(np.tile(np.arange(n_arms), (2, 1)), succ[:, 0], trials[:, 0])
    np.testing.assert_allclose(filt.alpha_.numpy(), trace.beliefs.alpha[:, 0].numpy(), rtol=RTOL)


def test_log_predictive_is_the_betabinomial_after_forgetting() -> None:
    filt = BetaBernoulliFilter(4, prior_alpha=1.0, prior_beta=2.0, forgetting=0.8)
    filt.warm_start([3, 0, 5, 1], [4, 2, 9, 1])
    arms = torch.tensor([2, 0])
    got = filt.log_predictive(arms, [3, 1], [5, 2])
    a = 0.8 * filt.alpha_[arms].numpy() + 0.2 * 1.0
    b = 0.8 * filt.beta_[arms].numpy() + 0.2 * 2.0
    np.testing.assert_allclose(got.numpy(), stats.betabinom.logpmf([3, 1], [5, 2], a, b), rtol=RTOL)


def test_warm_start_repeats_observe_and_state_dict() -> None:
    filt = BetaBernoulliFilter(3).warm_start([1, 0, 2], [2, 4, 2])
    torch.testing.assert_close(filt.alpha_, torch.tensor([2.0, 1.0, 3.0], dtype=torch.float64))
    torch.testing.assert_close(filt.beta_, torch.tensor([2.0, 5.0, 1.0], dtype=torch.float64))
    # a repeated arm within one step is one step with the summed counts
    a = BetaBernoulliFilter(3, forgetting=0.5).update([1, 1], [1, 2], [3, 3])
    b = BetaBernoulliFilter(3, forgetting=0.5).update([1], [3], [6])
    torch.testing.assert_close(a.alpha_, b.alpha_, rtol=0, atol=0)
    rewards = torch.tensor([[1, 0, 1, 1], [0, 0, 0, 0]])
    c = BetaBernoulliFilter(3, forgetting=0.5).observe([2, 0], rewards)
    d = BetaBernoulliFilter(3, forgetting=0.5).update([2, 0], [3, 0], 4)
    torch.testing.assert_close(c.alpha_, d.alpha_, rtol=0, atol=0)
    torch.testing.assert_close(c.beta_, d.beta_, rtol=0, atol=0)
    e = BetaBernoulliFilter(3).load_state_dict(c.state_dict())
    torch.testing.assert_close(e.alpha_, c.alpha_, rtol=0, atol=0)
    f32 = BetaBernoulliFilter(3, dtype=torch.float32).observe([2, 0], rewards)
    assert f32.alpha_.dtype == torch.float32
    torch.testing.assert_close(f32.alpha_.double(), d.alpha_, rtol=1e-6, atol=0)


def _degenerate(rates: torch.Tensor, count: float = 1e8) -> BetaBernoulliFilter:
    filt = BetaBernoulliFilter(rates.shape[-1], batch_shape=tuple(rates.shape[:-1]))
    return filt.load_state_dict({"alpha": rates * count + 1, "beta": (1 - rates) * count + 1})


def test_selection_keeps_the_candidates_closest_to_the_target() -> None:
    rates = torch.linspace(0.01, 0.99, 50, dtype=torch.float64)
    filt = _degenerate(rates)
    filt.target = 0.304  # off the midpoints between rates, so no ties
    # pool covering every arm: the 5 arms whose rates are closest to the target, closest first
    filt.pool_ratio = 10
    sel = filt.select(5, seed=0)
    expect = torch.argsort((rates - 0.304).abs(), stable=True)[:5]
    assert sel.arms.tolist() == expect.tolist()
    torch.testing.assert_close(sel.rates, rates[expect], rtol=0, atol=1e-3)
    # a smaller pool: the closest among the candidates that were drawn
    filt.pool_ratio = 3
    sel = filt.select(4, seed=1)
    assert sel.candidates.shape == (12,) and len(set(sel.candidates.tolist())) == 12
    in_pool = sel.candidates[torch.argsort((rates[sel.candidates] - 0.304).abs(), stable=True)[:4]]
    assert sel.arms.tolist() == in_pool.tolist()


def test_pool_is_capped_uniform_and_selection_reproducible() -> None:
    filt = BetaBernoulliFilter(10, pool_ratio=8)
    assert filt.select(3, seed=0).candidates.shape == (10,)  # 24 capped at 10
    filt.pool_ratio = 3
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    a, b = filt.select(1, generator=g1), filt.select(1, generator=g2)
    for x, y in zip((a.arms, a.rates, a.candidates), (b.arms, b.rates, b.candidates)):
        torch.testing.assert_close(x, y, rtol=0, atol=0)
    state = torch.random.get_rng_state()
    counts = torch.zeros(10)
    g = torch.Generator().manual_seed(3)
    n = 3000
    for _ in range(n):
        counts[filt.select(1, generator=g).candidates] += 1
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG was not used
    # each arm is in a pool of 3 with probability 0.3: 5 binomial standard errors (~42)
    assert (counts - 0.3 * n).abs().max() < 5 * (n * 0.3 * 0.7) ** 0.5


def test_interval_rule_and_uniform_rule() -> None:
    rates = torch.linspace(0.01, 0.99, 50, dtype=torch.float64)
    filt = _degenerate(rates)
    filt.rule, filt.pool_ratio, filt.interval = "interval", 10, (0.3, 0.7)
    inside = set(torch.nonzero((rates >= 0.3) & (rates <= 0.7)).ravel().tolist())  # 20 arms
    sel = filt.select(8, seed=0)
    assert set(sel.arms.tolist()) <= inside
    sel = filt.select(26, seed=0)  # too few qualify: all 20, then the 6 closest to 0.5
    assert set(sel.arms[:20].tolist()) == inside
    outside = torch.argsort((rates - 0.5).abs(), stable=True)[20:26]
    assert set(sel.arms[20:].tolist()) == set(outside.tolist())
    filt.rule = "uniform"
    sel = filt.select(7, seed=0)
    assert sel.arms.shape == sel.candidates.shape == (7,) and len(set(sel.arms.tolist())) == 7


def test_replicas_select_and_update_in_two_lines() -> None:
    filt = BetaBernoulliFilter(30, forgetting=0.5, batch_shape=(4,))
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        sel = filt.select(5, generator=g)
        filt.update(sel.arms, torch.ones(4, 5), 8)
    assert isinstance(sel, Selection) and sel.arms.shape == sel.rates.shape == (4, 5)
    assert filt.alpha_.shape == (4, 30) and bool((filt.alpha_ >= 1).all())
    with pytest.raises(dataclasses.FrozenInstanceError):
        sel.arms = sel.arms  # type: ignore[misc]
    out = thompson_select(BetaBelief(filt.alpha_, filt.beta_), 2, generator=g)
    assert out.arms.shape == (4, 2)
    draws = filt.sample((2,), seed=0)
    assert draws.shape == (2, 4, 30)
    torch.testing.assert_close(draws, filt.sample((2,), seed=0), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("call", "error", "name"),
    [
        (lambda f: f.update([0], [3], [2]), ValidationError, "successes"),
        (lambda f: f.update([0], [-1], [2]), ValidationError, "successes"),
        (lambda f: f.update([0], [1], [-2]), ValidationError, "trials"),
        (lambda f: f.update([0], [float("nan")], [2]), ValidationError, "successes"),
        (lambda f: f.update([0], [1], [float("inf")]), ValidationError, "trials"),
        (lambda f: f.update([0, 9], [1, 1], 2), ValidationError, "arms"),
        (lambda f: f.update([-1], [1], 2), ValidationError, "arms"),
        (lambda f: f.update([0.5], [1], 2), ValidationError, "arms"),
        (lambda f: f.update([[0]], [1], 2), ShapeError, "arms"),
        (lambda f: f.update(torch.tensor([True, False]), [1, 1], 2), ValidationError, "mask"),
        (lambda f: f.update([0, 1], [1, 1, 1], 2), ShapeError, "successes"),
        (lambda f: f.observe([0], [[1, 0.5]]), ValidationError, "rewards"),
        (lambda f: f.observe([0], [1, 0]), ShapeError, "rewards"),
        (lambda f: f.warm_start([1, 1], [2, 2]), ShapeError, "successes"),
        (lambda f: f.select(6, seed=0), ConfigError, "batch_size"),
        (lambda f: f.select(0, seed=0), ConfigError, "batch_size"),
        (lambda f: f.select(1, seed=0, generator=torch.Generator()), ConfigError, "generator"),
        (lambda f: f.credible_interval(1.0), ConfigError, "level"),
        (lambda f: f.filter([[1, 0, 0, 0, 0]], [[0, 0, 0, 0]]), ShapeError, "trials"),
        (lambda f: f.filter([1, 0, 0, 0, 0], [1, 1, 1, 1, 1]), ShapeError, "successes"),
        (
            lambda f: f.load_state_dict({"alpha": torch.ones(4), "beta": torch.ones(4)}),
            ShapeError,
            "alpha",
        ),
    ],
)
def test_bad_inputs_name_the_argument(call, error, name) -> None:
    filt = BetaBernoulliFilter(5)
    with pytest.raises(error, match=name):
        call(filt)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"forgetting": 1.5}, ConfigError, "forgetting"),
        ({"forgetting": -0.1}, ConfigError, "forgetting"),
        ({"forgetting": torch.tensor([0.5, 2.0])}, ConfigError, "forgetting"),
        ({"prior_alpha": 0.0}, ConfigError, "prior_alpha"),
        ({"prior_beta": -1.0}, ConfigError, "prior_beta"),
        ({"prior_alpha": torch.tensor([1.0, 0.0, 1.0, 1.0, 1.0])}, ConfigError, "prior_alpha"),
        ({"prior_alpha": float("nan")}, ConfigError, "prior_alpha"),
        ({"forgetting": float("nan")}, ConfigError, "forgetting must be a finite number"),
        ({"prior_beta": torch.ones(3)}, ShapeError, "prior_beta"),
        ({"rule": "nearest"}, ConfigError, "rule"),
        ({"pool_ratio": 0.5}, ConfigError, "pool_ratio"),
        ({"target": 1.5}, ConfigError, "target"),
        ({"interval": (0.7, 0.3)}, ConfigError, "interval"),
        ({"dtype": torch.int64}, ConfigError, "dtype"),
        ({"batch_shape": (0,)}, ConfigError, "batch_shape"),
    ],
)
def test_bad_hyperparameters_name_the_argument(kwargs, error, name) -> None:
    with pytest.raises(error, match=name):
        BetaBernoulliFilter(5, **kwargs)


def test_numpy_integers_are_accepted_where_ints_are() -> None:
    # sizes and counts often come out of NumPy: np.int64 must work as an int does
    f = BetaBernoulliFilter(np.int64(6), batch_shape=np.int64(2))
    assert (f.n_arms, f.batch_shape) == (6, (2,))
    sel = BetaBernoulliFilter(6).select(np.int64(2), generator=torch.Generator().manual_seed(0))
    assert sel.arms.shape == (2,)
