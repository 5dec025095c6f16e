"""DoWhy interop: our estimators plug into DoWhy's EconML adapter (optional extra).

``dowhy.causal_estimators.econml.Econml(estimand, econml_estimator=<ours>)`` inspects our
``fit`` and passes Y/T/X/W by name, as pandas columns; it deep-copies the estimator and
calls ``effect(None)`` style methods for the ATE. Skipped when DoWhy is not installed
(``pip install -e ".[bench-causal]"``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

dowhy = pytest.importorskip("dowhy")
pd = pytest.importorskip("pandas")
pytest.importorskip("econml")  # the adapter imports EconML's helpers

from sklearn.linear_model import LinearRegression  # noqa: E402

from latentinfer.causal import OLS, TLearner  # noqa: E402

# DoWhy/EconML/pandas emit deprecation chatter we cannot fix; the suite runs with
# filterwarnings = error, so scope the ignores to these tests.
pytestmark = pytest.mark.filterwarnings(
    "ignore::DeprecationWarning", "ignore::FutureWarning", "ignore::UserWarning"
)


def _frame(n: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, float]:
    """x0 confounds T and Y; x1 modifies the effect τ = 2 + x1 (true ATE ≈ 2)."""
    rng = np.random.default_rng(seed)
    x0, x1 = rng.normal(size=n), rng.normal(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(-x0))).astype(bool)
    tau = 2.0 + x1
    y = 1.5 * x0 + 0.5 * x1 + t * tau + rng.normal(scale=0.5, size=n)
    return pd.DataFrame({"x0": x0, "x1": x1, "t": t, "y": y}), float(tau.mean())


def _model(df: pd.DataFrame, effect_modifiers: list[str] | None = None) -> object:
    from dowhy import CausalModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Causal Graph not provided" and the like
        return CausalModel(
            data=df,
            treatment="t",
            outcome="y",
            common_causes=["x0", "x1"],
            effect_modifiers=effect_modifiers,
        )


MAKERS = {
    "OLS": lambda: OLS(interactions=True),
    "TLearner": lambda: TLearner(LinearRegression()),
}


@pytest.mark.parametrize("name", list(MAKERS))
def test_dowhy_econml_adapter_runs_our_estimator(name: str) -> None:
    from dowhy.causal_estimators.econml import Econml

    df, true_ate = _frame()
    model = _model(df)
    estimand = model.identify_effect(proceed_when_unidentifiable=True)
    ours = MAKERS[name]()
    adapter = Econml(estimand, econml_estimator=ours)
    adapter.fit(df)  # our fit gets Y, T and W (the common causes) by name, as pandas
    estimate = adapter.estimate_effect(df, control_value=0, treatment_value=1)
    # the ATE through effect(None) on the training rows; its SE at n = 2000 with noise 0.5
    # is ≈ 0.03, so 0.2 is many SEs
    assert float(estimate.value) == pytest.approx(true_ate, abs=0.2)
    assert adapter.estimator is ours and ours.fitted_


def test_dowhy_refuter_refits_a_deep_copy_of_our_estimator() -> None:
    from dowhy.causal_estimators.econml import Econml

    df, true_ate = _frame(seed=1)
    model = _model(df)
    estimand = model.identify_effect(proceed_when_unidentifiable=True)
    adapter = Econml(estimand, econml_estimator=OLS(interactions=True))
    adapter.fit(df)
    estimate = adapter.estimate_effect(df, control_value=0, treatment_value=1)
    estimate.add_estimator(adapter)
    # the refuter deep-copies the adapter (our estimator with it) and refits the copy;
    # refits on random 80 % subsets stay within a few SEs (≈ 0.03) of the full-data estimate
    subset = model.refute_estimate(
        estimand,
        estimate,
        method_name="data_subset_refuter",
        subset_fraction=0.8,
        num_simulations=3,
        random_seed=0,
    )
    assert float(subset.new_effect) == pytest.approx(float(estimate.value), abs=0.1)
    assert float(estimate.value) == pytest.approx(true_ate, abs=0.2)


def test_dowhy_effect_modifiers_with_common_causes() -> None:
    from dowhy.causal_estimators.econml import Econml

    df, _ = _frame(seed=2)
    model = _model(df, effect_modifiers=["x1"])
    estimand = model.identify_effect(proceed_when_unidentifiable=True)
    adapter = Econml(estimand, econml_estimator=OLS(interactions=True))
    adapter.fit(df, effect_modifier_names=["x1"])
    estimate = adapter.estimate_effect(df, control_value=0, treatment_value=1)
    cates = np.asarray(estimate.cate_estimates).reshape(-1)
    # τ(x) = 2 + x1 is linear in x1 and independent of x0: recovered row by row
    np.testing.assert_allclose(cates[:200], 2.0 + df["x1"].to_numpy()[:200], atol=0.3)
