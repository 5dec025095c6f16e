"""The simple base estimators: T- and S-learners over any regressor, and least squares."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from latentinfer import ConfigError
from latentinfer.causal import OLS, SLearner, TLearner


def _linear(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Y = Xβ + T(1 + 2 x₁) + ε with randomised T: effects linear in x₁, ATE ≈ 1."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    t = rng.integers(0, 2, n).astype(float)
    tau = 1.0 + 2.0 * x[:, 0]
    y = x @ np.array([1.0, -1.0, 0.5]) + t * tau + rng.normal(size=n)
    return y, t, x, tau


def test_ols_constant_effect_and_its_interval() -> None:
    y, t, x, tau = _linear()
    est = OLS().fit(y, t, X=x)
    # the effect is the same for every row, the ATE of the sample up to ~3 SE (SE ≈ 0.07)
    eff = est.effect(x[:5])
    np.testing.assert_allclose(eff, eff[0])
    assert est.ate() == pytest.approx(tau.mean(), abs=0.25)
    lo, hi = est.effect_interval(x[:5], alpha=0.05)
    assert bool(np.all(lo < eff)) and bool(np.all(eff < hi))
    assert bool(np.all(lo < tau.mean())) and bool(np.all(tau.mean() < hi))


def test_ols_with_interactions_recovers_a_linear_effect() -> None:
    y, t, x, tau = _linear()
    est = OLS(interactions=True).fit(y, t, X=x)
    # per-row errors: the coefficients' SE at n = 2000 is ≈ 0.05, so rows stay within 0.3
    np.testing.assert_allclose(est.effect(x[:50]), tau[:50], atol=0.3)
    np.testing.assert_allclose(est.effect(), est.effect(x))  # the training rows


@pytest.mark.parametrize(
    "make", [lambda: TLearner(LinearRegression()), lambda: SLearner(LinearRegression())]
)
def test_meta_learners_over_a_regressor(make) -> None:  # type: ignore[no-untyped-def]
    y, t, x, tau = _linear()
    est = make().fit(y, t, X=x)
    assert est.effect(x[:7]).shape == (7,)
    assert est.ate() == pytest.approx(tau.mean(), abs=0.25)
    if isinstance(est, TLearner):  # separate arms capture the x₁ interaction
        np.testing.assert_allclose(est.effect(x[:50]), tau[:50], atol=0.4)
    np.testing.assert_allclose(est.effect(x[:4], T0=1, T1=0), -est.effect(x[:4]))


def test_learners_reject_non_regressors_and_controls_for_new_rows() -> None:
    with pytest.raises(ConfigError, match="regressor with fit"):
        TLearner("gbm")
    with pytest.raises(ConfigError, match="interactions must be True or False"):
        OLS(interactions=1)  # type: ignore[arg-type]
    y, t, x, _ = _linear(300)
    est = TLearner(LinearRegression()).fit(y, t, X=x[:, :2], W=x[:, 2:])
    assert est.effect().shape == (300,)  # the training rows have their controls


@pytest.mark.parametrize(
    "make",
    [
        lambda: TLearner(LinearRegression()),
        lambda: OLS(interactions=True),
        lambda: SLearner(LinearRegression()),
    ],
)
def test_effects_of_new_rows_average_over_the_training_controls(make) -> None:  # type: ignore[no-untyped-def]
    # EconML's meaning of effect(X) after fit(..., W=W): τ(x) = mean over the controls of
    # τ(x, w); for new rows we pair x with the training W and average
    y, t, x, _ = _linear(300)
    est = make().fit(y, t, X=x[:, :2], W=x[:, 2:])
    full = make().fit(y, t, X=x)  # the same model with W as effect modifiers
    new = x[:4, :2]
    grid = np.c_[
        np.repeat(new, 256, axis=0),
        np.tile(x[np.round(np.linspace(0, 299, 256)).astype(int), 2:], (4, 1)),
    ]
    want = full.effect(grid).reshape(4, 256).mean(1)
    np.testing.assert_allclose(est.effect(new), want, rtol=1e-10, atol=1e-10)
    assert est.effect(new, T0=1, T1=0) == pytest.approx(-want)
    if isinstance(est, OLS):
        lo, hi = est.effect_interval(new)
        assert bool(np.all(lo < want)) and bool(np.all(want < hi))
