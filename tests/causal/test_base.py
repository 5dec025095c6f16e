"""The causal-estimator contract's checks, on a minimal estimator (difference in means)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentinfer import ConfigError, NotFittedError, ShapeError, ValidationError
from latentinfer.causal import CausalData, CausalEstimator


class DifferenceInMeans(CausalEstimator):
    """E[Y | T = 1] − E[Y | T = 0], the same for every row (a test double)."""

    def _fit(self, data: CausalData) -> None:
        self.tau_ = float(data.Y[data.T == 1].mean() - data.Y[data.T == 0].mean())

    def _effect(self, X, T0, T1):  # type: ignore[no-untyped-def]
        return (T1 - T0) * self.tau_


def _data(n: int = 200):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    t = (rng.random(n) < 0.5).astype(float)
    x = rng.normal(size=(n, 3))
    y = 2.0 * t + x[:, 0] + rng.normal(size=n)
    return y, t, x


def test_fit_returns_self_and_effects_follow_the_contract() -> None:
    y, t, x = _data()
    est = DifferenceInMeans().fit(y, t, X=x)
    assert isinstance(est, DifferenceInMeans)
    eff = est.effect(x[:10])
    assert isinstance(eff, np.ndarray) and eff.shape == (10,)
    assert est.ate() == pytest.approx(est.tau_)
    np.testing.assert_allclose(est.const_marginal_effect(x[:3]), est.effect(x[:3], 0, 1))
    assert est.effect(x[:4], T0=1, T1=0) == pytest.approx(-eff[:4])
    tensors = DifferenceInMeans().fit(torch.tensor(y), torch.tensor(t), X=torch.tensor(x))
    assert isinstance(tensors.effect(), torch.Tensor)


def test_bad_input_gets_clear_errors() -> None:
    y, t, x = _data()
    with pytest.raises(NotFittedError, match="not fitted yet"):
        DifferenceInMeans().effect(x)
    with pytest.raises(ValidationError, match="binary treatment coded 0/1"):
        DifferenceInMeans().fit(y, t + 0.5, X=x)
    with pytest.raises(ValidationError, match="both arms"):
        DifferenceInMeans().fit(y, np.ones_like(t), X=x)
    with pytest.raises(ShapeError, match="same number of rows; Y has 200, T has 200, X has 199"):
        DifferenceInMeans().fit(y, t, X=x[:-1])
    bad = y.copy()
    bad[3] = np.nan
    with pytest.raises(ValidationError, match="Y holds 1 non-finite"):
        DifferenceInMeans().fit(bad, t, X=x)
    est = DifferenceInMeans().fit(y, t, X=x)
    with pytest.raises(ShapeError, match="feature shape"):
        est.effect(x[:, :2])
    with pytest.raises(ValidationError, match="T1 must be 0 or 1"):
        est.effect(x, T1=2)
    with pytest.raises(Exception, match="gives no effect intervals"):
        est.effect_interval(x)
    with pytest.raises(ConfigError, match=r"use an estimator that does: OLS .* VLUCI / CEVAE"):
        est.effect_interval(x)
    with pytest.raises(ConfigError, match="DifferenceInMeans uses no instruments"):
        DifferenceInMeans().fit(y, t, X=x, Z=x[:, :1])


def test_treatment_levels_accept_scalars_of_every_kind() -> None:
    y, t, x = _data()
    est = DifferenceInMeans().fit(y, t, X=x)
    for level in (np.int64(1), np.float32(1), torch.tensor(1.0), torch.tensor(1), True,
                  np.array(1), np.bool_(True), torch.tensor(True)):  # fmt: skip
        assert est.ate(T0=0, T1=level) == pytest.approx(est.tau_), level
        assert est.effect(x[:2], T0=level, T1=False) == pytest.approx(-est.tau_), level
    with pytest.raises(ValidationError, match="T1 must be 0 or 1 for a binary treatment; got 2"):
        est.effect(x, T1=np.int64(2))
    with pytest.raises(ConfigError, match="T0 must be a finite number; got nan"):
        est.effect(x, T0=np.float64("nan"))
    with pytest.raises(ValidationError, match="T0 holds 1 non-finite"):
        est.effect(x, T0=torch.tensor(float("nan")))


def test_parameters_follow_scikit_learn() -> None:
    assert DifferenceInMeans().get_params() == {} and repr(DifferenceInMeans()) == (
        "DifferenceInMeans()"
    )
