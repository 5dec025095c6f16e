"""One contract test over every row of the causal family in the method index.

A causal estimator (DESIGN.md) follows EconML's conventions: ``fit(Y, T, *, X, W, Z)``
returns self; ``effect`` has one value per row; ``ate`` is a float; calling before
``fit`` raises ``NotFittedError``; NaN outcomes and mismatched rows raise clear errors; the
same seed gives the same numbers. Each row needs an adapter below (a test fails when a row
has none), so a new estimator is tested by appearing in the index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from latentinfer import NotFittedError, ShapeError, ValidationError, methods

ROWS = methods.by_family("causal")


@dataclass
class Case:
    make: Callable[[], Any]
    data: dict[str, np.ndarray]  # Y, T and X / Z as the estimator takes them
    fit_options: dict[str, Any]
    effect_rows: np.ndarray | None  # rows to ask effect(X) for (None: a treatment contrast)


def _binary(n: int = 120) -> dict[str, np.ndarray]:
    from latentinfer.data import causal_sample, load

    s = causal_sample(load("confounded_proxies", n=n, n_proxies=2, seed=0))
    return {"Y": s.Y, "T": s.T, "X": s.X}


def _invariance(n: int = 120) -> tuple[dict[str, np.ndarray], Any]:
    from latentinfer.causal import SubspaceTranslation, linear_invariance_sem

    sim = linear_invariance_sem(4, n, kappa=1.0, seed=0)
    return {"Y": sim.Y.numpy(), "T": sim.T.numpy()}, SubspaceTranslation(sim.invariant_basis)


def _ivl(cls_name: str) -> Case:
    from latentinfer import causal

    data, aug = _invariance()
    cls = getattr(causal, cls_name)
    kw: dict[str, Any] = {}
    if cls_name == "NeuralIVL":
        kw = {"hidden": (8,), "train_config": {"max_epochs": 2, "progress": False}}
    return Case(lambda: cls(aug, seed=0, **kw), data, {}, None)


def _latent(cls_name: str) -> Case:
    from latentinfer import causal

    cls = getattr(causal, cls_name)
    kw: dict[str, Any] = {"hidden": (8,), "n_samples": 4, "seed": 0}
    if cls_name == "VLUCI":
        kw |= {"proxies": (5, 6), "n_particles": 2}
    data = _binary()
    return Case(lambda: cls(**kw), data, {"max_epochs": 2, "progress": False}, data["X"][:5])


ADAPTERS: dict[str, Callable[[], Case]] = {
    "latentinfer.causal.IVL": lambda: _ivl("IVL"),
    "latentinfer.causal.DAERM": lambda: _ivl("DAERM"),
    "latentinfer.causal.NeuralIVL": lambda: _ivl("NeuralIVL"),
    "latentinfer.causal.CEVAE": lambda: _latent("CEVAE"),
    "latentinfer.causal.VLUCI": lambda: _latent("VLUCI"),
}


def test_every_causal_row_has_an_adapter() -> None:
    assert ROWS, "the causal family should index estimators"
    missing = [m.object_path for m in ROWS if m.object_path not in ADAPTERS]
    assert not missing, f"add a contract adapter for {missing}"


def _effect(est: Any, case: Case) -> np.ndarray:
    if case.effect_rows is not None:
        return np.asarray(est.effect(case.effect_rows))
    # a structural function of a continuous treatment: the effect of moving every row from
    # T = 0 to the first row's treatment, one value per training row
    return np.asarray(est.effect(T0=0.0, T1=case.data["T"][0]))[:5]


@pytest.mark.parametrize("row", ROWS, ids=lambda m: m.name)
def test_causal_estimator_contract(row: methods.Method) -> None:
    case = ADAPTERS[row.object_path]()
    d = case.data
    rest = {k: v for k, v in d.items() if k not in ("Y", "T")}
    with pytest.raises(NotFittedError):
        _effect(case.make(), case)
    est = case.make()
    assert est.fit(d["Y"], d["T"], **rest, **case.fit_options) is est
    eff = _effect(est, case)
    assert eff.shape == (5,) and np.isfinite(eff).all()
    again = case.make().fit(d["Y"], d["T"], **rest, **case.fit_options)
    np.testing.assert_array_equal(_effect(again, case), eff)  # the same seed, the same numbers
    bad = d["Y"].copy()
    bad[3] = np.nan
    with pytest.raises(ValidationError, match="non-finite"):
        case.make().fit(bad, d["T"], **rest, **case.fit_options)
    with pytest.raises(ShapeError, match="same number of rows"):
        case.make().fit(d["Y"][:-1], d["T"], **rest, **case.fit_options)
