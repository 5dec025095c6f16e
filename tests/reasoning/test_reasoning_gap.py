"""The two estimators of the reasoning gap on a tiny model."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from latentinfer.core.errors import ConfigError, ValidationError
from latentinfer.reasoning.reasoning_gap import direct_estimates, free_estimates, reasoning_gap
from latentinfer.reasoning.tasks import BayesNetTask, get_task


def test_direct_estimate_is_the_normalised_value_token(lm: Any, tok: Any) -> None:
    task = BayesNetTask(n_nodes=6, n_held_out=1, net_seed=0)
    q = task.queries()[0]
    est = direct_estimates(lm, tok, task, [q])
    prompt = task.prompt(task.query_question(q)) + task.names[q.target]
    with torch.no_grad():
        p = lm(torch.tensor([tok(prompt)["input_ids"]])).logits[0, -1].softmax(-1)
    i0, i1 = tok.convert_tokens_to_ids(["0", "1"])
    assert float(est[0]) == pytest.approx(float(p[i1] / (p[i0] + p[i1])), abs=1e-5)


def test_free_generation_and_summary(lm: Any, tok: Any) -> None:
    task = BayesNetTask(n_nodes=6, n_held_out=1, net_seed=0)
    g = torch.Generator().manual_seed(0)
    est, valid = free_estimates(lm, tok, task, num_samples=3, generator=g)
    assert est.shape == valid.shape == (4,)
    assert bool(((est >= 0) & (est <= 1)).all()) and bool(((valid >= 0) & (valid <= 1)).all())
    sampled, _ = free_estimates(
        lm, tok, task, num_samples=3, generator=torch.Generator().manual_seed(0), readout="sample"
    )
    assert bool(((sampled >= 0) & (sampled <= 1)).all())
    r = reasoning_gap(lm, tok, task, num_samples=2)
    assert r.mse_direct == pytest.approx(float(((r.direct - r.true_p) ** 2).mean()))
    assert r.mse_free_sampled == pytest.approx(float(((r.free_sampled - r.true_p) ** 2).mean()))
    with pytest.raises(ConfigError, match="readout"):
        free_estimates(lm, tok, task, readout="mean")
    with pytest.raises(ValidationError, match="BayesNetTask"):
        reasoning_gap(lm, tok, get_task("arithmetic"))
