"""Uniform and MoPPS prompt selection (no language model needed)."""

from __future__ import annotations

import pytest
import torch

from latentinfer.bayes import BetaBernoulliFilter
from latentinfer.core.errors import ConfigError, ShapeError, ValidationError
from latentinfer.reasoning.prompt_selection import (
    MoPPSSelector,
    UniformSelector,
    make_selector,
)


def test_uniform_selects_distinct_prompts_and_counts_rollouts():
    sel = UniformSelector(10, seed=0)
    idx = sel.select(6)
    assert idx.dtype == torch.int64 and len(set(idx.tolist())) == 6
    sel.update(idx, torch.tensor([1, 0, 1, 0, 0, 1]), 1)
    sel.update(idx[:2], torch.tensor([3, 2]), torch.tensor([4, 4]))
    assert sel.rollouts_ == 14 and sel.steps_ == 2


def test_mopps_uses_the_bayes_family_filter():
    sel = MoPPSSelector(20, seed=0, forgetting=0.5)
    assert isinstance(sel.filter_, BetaBernoulliFilter)
    idx = sel.select(4)
    sel.update(idx, torch.tensor([1, 0, 1, 1]), 1)
    # k = 1 with λ = 0.5 from the prior Beta(1, 1): α = 0.5·1 + 0.5·1 + s
    torch.testing.assert_close(
        sel.filter_.alpha_[idx], torch.tensor([2.0, 1.0, 2.0, 2.0], dtype=torch.float64)
    )
    torch.testing.assert_close(
        sel.filter_.beta_[idx], torch.tensor([1.0, 2.0, 1.0, 1.0], dtype=torch.float64)
    )
    assert sel.rollouts_ == 4


def test_mopps_prefers_prompts_of_intermediate_difficulty():
    # a bandit: 200 prompts with known success rates; after 100 steps of batch 8 × 4 rollouts
    # the prompts MoPPS picks have rates nearer 0.5 than uniform's (mean |p − 0.5|)
    g = torch.Generator().manual_seed(0)
    p = torch.rand(200, generator=g, dtype=torch.float64) ** 2

    def run(sel):
        dist = []
        for _ in range(100):
            idx = sel.select(8)
            s = torch.binomial(torch.full((8,), 4.0, dtype=torch.float64), p[idx], generator=g)
            sel.update(idx, s, 4)
            dist.append(float((p[idx] - 0.5).abs().mean()))
        return sum(dist[50:]) / 50

    assert run(MoPPSSelector(200, seed=1)) < run(UniformSelector(200, seed=1)) - 0.05


def test_forecast_is_the_posterior_mean_before_the_rollouts():
    sel = MoPPSSelector(10, seed=0, forgetting=0.5)
    sel.update([2, 5], torch.tensor([3, 0]), 4)  # Beta(4, 2) and Beta(1, 5)
    torch.testing.assert_close(
        sel.predicted_success([2, 5, 7]),
        torch.tensor([4 / 6, 1 / 6, 0.5], dtype=torch.float64),
    )
    assert sel.forecast([2, 5]) == {"predicted_success": pytest.approx((4 / 6 + 1 / 6) / 2)}
    assert UniformSelector(10).predicted_success([1]) is None
    assert UniformSelector(10).forecast([1]) == {}
    with pytest.raises(ValidationError, match=r"indices must lie in \[0, 9\]"):
        sel.predicted_success([10])


@pytest.mark.parametrize("name", ["uniform", "mopps"])
@pytest.mark.parametrize(
    ("indices", "successes", "trials", "error", "match"),
    [
        ([0.0, 1.7], [1, 1], 2, ValidationError, "indices must hold whole numbers"),
        ([float("nan")], [1], 2, ValidationError, "indices"),
        (torch.tensor([True, False]), [1, 1], 2, ValidationError, "indices .* mask"),
        ([[0, 1]], [1, 1], 2, ShapeError, r"indices must have shape \(B,\)"),
        ([0, 10], [1, 1], 2, ValidationError, r"indices must lie in \[0, 9\]"),
        ([0, 1], [0, 0], -2, ValidationError, "trials must be non-negative"),
        ([0, 1], [3, 1], 2, ValidationError, "successes must not exceed trials"),
        ([0, 1], [float("nan"), 1], 2, ValidationError, "successes"),
        ([0, 1], [1, 1, 1], 2, ShapeError, "successes has shape"),
        ([0, 1], [1, 1], [2, 2, 2], ShapeError, "trials has shape"),
    ],
)
def test_bad_updates_are_refused_by_every_selector(name, indices, successes, trials, error, match):
    sel = make_selector(name, 10, seed=0)
    with pytest.raises(error, match=match):
        sel.update(indices, successes, trials)
    assert sel.rollouts_ == 0 and sel.steps_ == 0


@pytest.mark.parametrize("name", ["uniform", "mopps"])
def test_state_round_trip_continues_the_same_stream(name):
    a = make_selector(name, 30, seed=3)
    a.update(a.select(5), torch.tensor([1, 0, 0, 1, 1]), 1)
    b = make_selector(name, 30, seed=99).load_state_dict(a.state_dict())
    assert torch.equal(a.select(5), b.select(5))
    assert b.rollouts_ == 5


def test_bad_options_are_named():
    with pytest.raises(ConfigError, match="selector must be one of 'uniform', 'mopps'"):
        make_selector("greedy", 10)
    with pytest.raises(ConfigError, match="takes no options"):
        make_selector("uniform", 10, forgetting=0.5)
    with pytest.raises(ConfigError, match=r"unknown MoPPS option\(s\) \['lam'\]"):
        make_selector("mopps", 10, lam=0.5)
    with pytest.raises(ConfigError, match="forgetting"):
        make_selector("mopps", 10, forgetting=2.0)
    with pytest.raises(ConfigError, match="batch_size must be at most"):
        UniformSelector(3).select(4)
    with pytest.raises(ConfigError, match="n_prompts"):
        UniformSelector(0)
    with pytest.raises(ValidationError, match="successes must not exceed trials"):
        MoPPSSelector(5).update([0], [2], 1)
    with pytest.raises(ConfigError, match="selector state is for 'uniform'"):
        MoPPSSelector(5).load_state_dict(UniformSelector(5).state_dict())
