"""One contract test over every filter row of the bayes family in the method index.

A filter (DESIGN.md) is batched tensor code: it runs several series at once, returns the
surprise of every step, offers float64, gives the same numbers for the same inputs, and
rejects NaN inputs with a clear error. Each filter row needs an adapter below (a test fails
when a row has none), so a new filter is tested by appearing in the index.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from latentinfer import ValidationError, methods

ROWS = [m for m in methods.by_family("bayes") if m.kind == "filter"]
T, BATCH = 40, 3


def _hgf(x: torch.Tensor) -> torch.Tensor:
    from latentinfer.bayes import HGF

    return torch.as_tensor(HGF(n_levels=2).filter(x).surprise_per_step())


def _beta_bernoulli(x: torch.Tensor) -> torch.Tensor:
    from latentinfer.bayes import BetaBernoulliFilter

    successes = torch.round(x.abs() * 3).clamp(max=4)  # counts out of 4 trials
    trials = torch.full_like(successes, 4.0)
    trace = BetaBernoulliFilter(n_arms=1, batch_shape=BATCH).filter(
        successes[..., None], trials[..., None]
    )
    return trace.surprise[..., 0]


#: object path -> a function from (batch, time) float64 data to (batch, time) surprise
ADAPTERS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "latentinfer.bayes.HGF": _hgf,
    "latentinfer.bayes.BetaBernoulliFilter": _beta_bernoulli,
}


def _data(seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.tensor(np.cumsum(rng.normal(0, 0.1, (BATCH, T)), axis=1))


def test_every_filter_row_has_an_adapter() -> None:
    assert ROWS, "the bayes family should index filters"
    missing = [m.object_path for m in ROWS if m.object_path not in ADAPTERS]
    assert not missing, f"add a contract adapter for {missing}"


@pytest.mark.parametrize("row", ROWS, ids=lambda m: m.name)
def test_filter_contract(row: methods.Method) -> None:
    run = ADAPTERS[row.object_path]
    x = _data()
    surprise = run(x)
    assert surprise.shape == (BATCH, T), "one surprise per series and step"
    assert surprise.dtype == torch.float64
    assert bool(torch.isfinite(surprise).all())
    torch.testing.assert_close(run(x), surprise, rtol=0, atol=0)  # deterministic
    # the batch is a batch: each series alone gives its own row
    one: Any = run(x[1:2].expand(BATCH, -1).clone())
    torch.testing.assert_close(one[0], surprise[1], rtol=1e-12, atol=1e-12)
    bad = x.clone()
    bad[0, 5] = float("nan")
    with pytest.raises(ValidationError):
        run(bad)


# ------------------------------------------------------------------ few-shot classifiers
#: rows of kind model/estimator: few-shot classifiers fitted on an episodic task
FEW_SHOT_ROWS = [m for m in methods.by_family("bayes") if m.kind != "filter"]
_FAST = {"n_episodes": 16, "meta_batch": 4, "train_config": {"progress": False}}


def _few_shot(row: methods.Method) -> Any:
    cls = methods.load_object(row)
    if row.object_path == "latentinfer.bayes.ConjugateGaussianHead":
        return cls(n_select=5, seed=0)  # the prior's search over few meta-training episodes
    return cls(seed=0, **_FAST)


@pytest.fixture(scope="module")
def few_shot_task() -> Any:
    from latentinfer.data import FewShotTask, load

    data = load("glyphs", n_classes=20, n_per_class=6, size=10, seed=0)
    return FewShotTask(data, n_way=5, k_shot=1, n_query=3, test_fraction=0.5, seed=0)


@pytest.mark.parametrize("row", FEW_SHOT_ROWS, ids=lambda m: m.name)
def test_few_shot_contract(row: methods.Method, few_shot_task: Any) -> None:
    from latentinfer import NotFittedError

    model = _few_shot(row)
    ep = few_shot_task.episode(0, split="test", seed=0)
    with pytest.raises(NotFittedError):  # before fit
        model.predict_proba(ep.support_x, ep.support_y, ep.query_x)
    assert model.fit(few_shot_task) is model
    p = model.predict_proba(ep.support_x, ep.support_y, ep.query_x)
    assert tuple(p.shape) == (15, 5)  # (n_way · n_query, n_way)
    torch.testing.assert_close(torch.as_tensor(p).sum(-1).double(), torch.ones(15).double())
    again = _few_shot(row).fit(few_shot_task)  # same seed, same numbers
    torch.testing.assert_close(torch.as_tensor(again.predict_proba(
        ep.support_x, ep.support_y, ep.query_x)), torch.as_tensor(p))  # fmt: skip
    res = model.evaluate(few_shot_task, 4, seed=0, progress=False)
    assert 0.0 <= res.accuracy <= 1.0 and res.ci95 >= 0 and res.n_episodes == 4
    bad = ep.query_x.clone()
    bad[0].view(-1)[0] = float("nan")
    with pytest.raises(ValidationError, match="query_x"):
        model.predict_proba(ep.support_x, ep.support_y, bad)
