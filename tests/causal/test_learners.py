"""The simple base estimators: T- and S-learners over any regressor, and least squares."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, PoissonRegressor, Ridge

from latentinfer import ConfigError, ValidationError
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


MAKERS = [
    lambda: TLearner(LinearRegression()),
    lambda: SLearner(LinearRegression()),
    lambda: OLS(interactions=True),
]


@pytest.mark.parametrize("make", MAKERS)
def test_treatment_levels_are_numbers_of_any_kind_and_checked_everywhere(make) -> None:  # type: ignore[no-untyped-def]
    y, t, x, _ = _linear(300)
    est = make().fit(y, t, X=x)
    want = est.effect(x[:3])
    for t0, t1 in ((np.int64(0), np.float32(1)), (torch.tensor(0), torch.tensor(1.0)),
                   (False, True), (np.array(0.0), np.bool_(True))):  # fmt: skip
        np.testing.assert_allclose(est.effect(x[:3], T0=t0, T1=t1), want)
    assert est.ate(T0=np.int64(0), T1=np.int64(1)) == pytest.approx(est.ate())
    with pytest.raises(ValidationError, match="T1 must be 0 or 1 for a binary treatment; got 2"):
        est.effect(x[:2], T0=0, T1=2)
    if isinstance(est, OLS):  # intervals check the levels as effects do (not 2× the effect)
        with pytest.raises(ValidationError, match="T1 must be 0 or 1"):
            est.effect_interval(x[:2], T0=0, T1=2)
        with pytest.raises(ValidationError, match="T0 must be 0 or 1"):
            est.effect_interval(x[:2], T0=np.array([0.0, 0.5]))
    with pytest.raises(ConfigError, match=r"uses no instruments; pass Z=None\. .*TwoStageLeast"):
        make().fit(y, t, X=x, Z=x[:, :1])


@pytest.mark.parametrize("make", MAKERS)
def test_learners_follow_scikit_learns_parameter_convention(make) -> None:  # type: ignore[no-untyped-def]
    est = make()
    twin = clone(est)
    assert type(twin) is type(est) and twin is not est
    assert repr(twin) == repr(est) and not repr(est).startswith("<")
    y, t, x, _ = _linear(300)
    np.testing.assert_allclose(twin.fit(y, t, X=x).effect(x[:3]), est.fit(y, t, X=x).effect(x[:3]))
    with pytest.raises(ConfigError, match="has no parameter 'foo'"):
        est.set_params(foo=1)


def test_learner_reprs_and_params() -> None:
    assert repr(TLearner(LinearRegression())) == "TLearner(model=LinearRegression())"
    assert repr(OLS()) == "OLS()" and repr(OLS(interactions=True)) == "OLS(interactions=True)"
    est = TLearner(LinearRegression(), model_treated=Ridge())
    assert est.get_params(deep=False) == {"model": est.model, "model_treated": est.model_treated}
    assert clone(est).set_params(model_treated=None).model_treated is None


@pytest.mark.parametrize(
    "make, linear",
    [
        (lambda: TLearner(LinearRegression()), True),
        (lambda: TLearner(Ridge(alpha=3.0), model_treated=LinearRegression()), True),
        (lambda: SLearner(LinearRegression()), True),
        (lambda: OLS(), True),
        (lambda: OLS(interactions=True), True),
        (lambda: TLearner(HistGradientBoostingRegressor(max_iter=5)), False),
        (lambda: TLearner(PoissonRegressor()), False),  # coef_ and intercept_, but log link
    ],
)
def test_linear_effects_are_recognised_exactly(make, linear: bool) -> None:  # type: ignore[no-untyped-def]
    # what a saved VLUCI stores for its plug-in: effect(x) = x·w + b, only where exact
    y, t, x, _ = _linear(300)
    y = np.abs(y) + 0.1  # a valid outcome for the Poisson GLM too
    est = make().fit(y, t, X=x)
    got = est._linear_effect()
    assert (got is not None) == linear
    if got is not None:
        w, b = got
        new = np.random.default_rng(1).normal(size=(20, 3))
        np.testing.assert_allclose(new @ w.numpy() + b, est.effect(new), rtol=1e-9, atol=1e-9)
    assert make().fit(y, t, X=x[:, :2], W=x[:, 2:])._linear_effect() is None  # with controls


def test_fit_names_z_only_where_instruments_are_used() -> None:
    # DoWhy's EconML adapter passes Z (a graph's instruments) whenever fit names it, even for
    # a back-door estimand; estimators that use no instruments must not name it
    import inspect

    from latentinfer.causal import CEVAE, DAERM, IVL, VLUCI, NeuralIVL, TwoStageLeastSquares

    def names(cls: type) -> list[str]:
        spec = inspect.getfullargspec(inspect.unwrap(cls.fit))  # type: ignore[attr-defined]
        return spec.args + spec.kwonlyargs

    for cls in (TLearner, SLearner, OLS, DAERM, VLUCI, CEVAE):
        assert "Z" not in names(cls) and {"X", "W"} <= set(names(cls)), cls
    for cls in (IVL, NeuralIVL, TwoStageLeastSquares):
        assert "Z" in names(cls), cls
    y, t, x, _ = _linear(100)
    assert TLearner(LinearRegression()).fit(y, t, X=x, Z=None).fitted_  # None is no instrument
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['foo'\]"):
        OLS().fit(y, t, X=x, foo=1)
