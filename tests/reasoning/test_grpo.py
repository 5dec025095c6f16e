"""GRPO on a tiny model: the estimator against enumeration, logging, budget, resume, errors."""

from __future__ import annotations

import itertools

import pytest
import torch

from latentinfer.core.errors import ConfigError, ValidationError
from latentinfer.core.metrics import read_metrics
from latentinfer.reasoning.grpo import GRPO, GRPOConfig, group_advantages
from latentinfer.reasoning.lm import tiny_lm
from latentinfer.reasoning.tasks.arithmetic import ArithmeticTask

TASK = ArithmeticTask(n_ops=2)  # ``tok``: the session fixture of conftest.py


def _lm(tok, seed=0):
    return tiny_lm(tok, d_model=32, n_layers=1, n_heads=2, max_len=64, seed=seed)


def _cfg(**kw):
    base = dict(steps=3, batch_size=4, group_size=3, max_new_tokens=14, progress=False, seed=0)
    base.update(kw)
    return GRPOConfig(**base)


# ------------------------------------------------------------------------- the estimator
def test_advantages_centre_and_scale_each_group_and_zero_agreeing_ones():
    r = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 1.0]])
    a = group_advantages(r)
    torch.testing.assert_close(a.sum(dim=1), torch.zeros(3, dtype=torch.float64))
    assert torch.all(a[1] == 0)  # all agree: no signal
    unit = 0.5 / (0.5 + 1e-6)  # (r − 0.5) / (sd 0.5 + eps)
    torch.testing.assert_close(a[0], unit * torch.tensor([1.0, -1.0, -1.0, 1.0]).double())
    sd = torch.tensor([0.0, 0.0, 0.0, 1.0]).std(unbiased=False)
    expected = (torch.tensor([0.0, 0.0, 0.0, 1.0]) - 0.25) / (sd + 1e-6)
    torch.testing.assert_close(a[2], expected.double())
    torch.testing.assert_close(group_advantages(r, scale="none")[2], (r[2] - 0.25).double())


@pytest.mark.parametrize("k", [2, 3])
def test_unscaled_estimator_is_the_reward_gradient_times_k_minus_1_over_k(k):
    # a categorical policy over 4 rationales, two of them right: enumerate all k-groups
    theta = torch.tensor([0.3, -0.2, 0.5, 0.1], dtype=torch.float64, requires_grad=True)
    reward = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=torch.float64)
    logp = torch.log_softmax(theta, 0)
    p = logp.exp()
    exact = torch.autograd.grad((p * reward).sum(), theta, retain_graph=True)[0]
    mean = torch.zeros(4, dtype=torch.float64)
    for group in itertools.product(range(4), repeat=k):
        g = list(group)
        adv = group_advantages(reward[g][None, :], scale="none")[0]
        est = torch.autograd.grad((adv * logp[g]).sum() / k, theta, retain_graph=True)[0]
        mean += torch.prod(p[g]).detach() * est
    # the group mean includes z_j itself, hence the (k − 1)/k; the direction is exact
    torch.testing.assert_close(mean, (k - 1) / k * exact)


# --------------------------------------------------------------------------- the trainer
def test_a_few_steps_log_what_they_claim(tok, tmp_path):
    train = TASK.examples("train", 8, seed=2)
    held = TASK.examples("test", 6, seed=2)
    res = GRPO(_cfg(eval_every=3, log_every=1)).fit(
        _lm(tok), tok, TASK, train, eval_examples=held, run_dir=tmp_path
    )
    assert res.steps == 3 and res.rollouts == 3 * 4 * 3
    assert res.test_accuracy is not None and 0.0 <= res.test_accuracy <= 1.0
    logged = read_metrics(tmp_path / "metrics.jsonl")
    steps = [r for r in logged if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3]
    assert all(0.0 <= r["all_agree"] <= 1.0 and 0.0 <= r["reward"] <= 1.0 for r in steps)
    assert "test_accuracy" in steps[-1]
    assert (tmp_path / "model").is_dir()


def test_groups_that_all_agree_leave_the_weights_alone(tok, monkeypatch):
    from latentinfer.reasoning import grpo as grpo_mod

    monkeypatch.setattr(grpo_mod, "sample", lambda m, t, prompts, num_samples, **kw: [
        ("x",) * num_samples for _ in prompts
    ])  # fmt: skip
    model = _lm(tok)
    before = [p.detach().clone() for p in model.parameters()]
    res = GRPO(_cfg(steps=2)).fit(model, tok, TASK, TASK.examples("train", 8, seed=2))
    assert all(r["all_agree"] == 1.0 and r["loss"] == 0.0 for r in res.metrics)
    for a, b in zip(before, model.parameters()):
        torch.testing.assert_close(a, b)


def test_mopps_selector_and_rollout_budget(tok):
    train = TASK.examples("train", 10, seed=3)
    cfg = _cfg(steps=50, selector="mopps", selector_options={"forgetting": 0.5}, max_rollouts=40)
    res = GRPO(cfg).fit(_lm(tok), tok, TASK, train)
    assert res.steps == 3 and res.rollouts == 36  # steps of 4 × 3 while 40 allows
    # MoPPS's forecast of each step's reward is logged; the first, before any data, the prior's
    forecasts = [r["predicted_success"] for r in res.metrics if "loss" in r]
    assert len(forecasts) == 3 and forecasts[0] == 0.5
    assert all(0.0 < f < 1.0 for f in forecasts)


def test_resume_continues_the_same_run(tok, tmp_path):
    train = TASK.examples("train", 8, seed=2)
    full = GRPO(_cfg(steps=4, checkpoint_every=2)).fit(
        _lm(tok), tok, TASK, train, run_dir=tmp_path / "a"
    )
    GRPO(_cfg(steps=2, checkpoint_every=2)).fit(_lm(tok), tok, TASK, train, run_dir=tmp_path / "b")
    model = _lm(tok)
    resumed = GRPO(_cfg(steps=4, checkpoint_every=2)).fit(
        model, tok, TASK, train, run_dir=tmp_path / "b", resume=True
    )
    assert resumed.steps == 4 and resumed.rollouts == full.rollouts
    for a, b in zip(full.model.parameters(), model.parameters()):
        torch.testing.assert_close(a, b)
    with pytest.raises(ConfigError, match="group_size"):
        GRPO(_cfg(steps=6, group_size=4)).fit(
            _lm(tok), tok, TASK, train, run_dir=tmp_path / "b", resume=True
        )


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("option", "value", "match"),
    [
        ("group_size", 1, "group_size must lie in"),
        ("scale", "mad", "scale must be one of 'std', 'none'"),
        ("selector", "greedy", "selector must be one of 'uniform', 'mopps'"),
        ("max_rollouts", 0, "max_rollouts must lie in"),
        ("lr", 0.0, "lr must lie in"),
    ],
)
def test_bad_config_values_name_the_option(option, value, match):
    with pytest.raises(ConfigError, match=match):
        GRPOConfig(**{option: value})


def test_bad_inputs_are_refused(tok):
    with pytest.raises(ConfigError, match="batch_size must be at most the number of examples"):
        GRPO(_cfg(batch_size=9)).fit(_lm(tok), tok, TASK, TASK.examples("train", 8, seed=2))
    with pytest.raises(ConfigError, match="config must be a GRPOConfig"):
        GRPO(object())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="k ≥ 2"):
        group_advantages(torch.ones(3, 1))
    with pytest.raises(ValidationError, match="rewards holds 1 non-finite"):
        group_advantages(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]))
