"""EstimatorParams: scikit-learn's parameter protocol, nested parameters included."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import Ridge

from latentinfer import ConfigError
from latentinfer.causal import TLearner
from latentinfer.core.params import same_value
from latentinfer.vae import VAE


def test_nested_parameters_read_and_set_like_scikit_learns() -> None:
    est = TLearner(Ridge())
    deep, shallow = est.get_params(), est.get_params(deep=False)
    assert deep["model__alpha"] == 1.0 and "model__alpha" not in shallow
    est.set_params(model__alpha=2.0)
    assert est.model.alpha == 2.0 and repr(clone(est)) == "TLearner(model=Ridge(alpha=2.0))"
    with pytest.raises(ConfigError, match="TLearner has no parameter 'nope'"):
        est.set_params(nope__x=1)
    with pytest.raises(ConfigError, match=r"TLearner.model_treated \(NoneType\) has no param"):
        est.set_params(model_treated__alpha=1.0)


def test_same_value_treats_numpy_numbers_as_numbers(digits: np.ndarray) -> None:
    assert same_value(2, np.int64(2)) and same_value(1.0, np.float32(1.0))
    assert not same_value(True, 1) and not same_value(2, "2")
    vae = VAE(latent_dim=2, hidden=(8,), seed=0).fit(digits[:60], max_epochs=1, progress=False)
    vae.set_params(latent_dim=np.int64(2))  # the same setting: the fit is kept
    assert vae.is_fitted


def test_scikit_learns_search_and_cross_validation_tools_take_the_estimators(
    digits: np.ndarray,
) -> None:
    from sklearn.model_selection import GridSearchCV, cross_val_score

    vae = VAE(latent_dim=2, hidden=(8,), seed=0, train_config={"max_epochs": 1, "progress": False})
    scores = cross_val_score(vae, digits[:80], cv=2)
    assert scores.shape == (2,) and np.isfinite(scores).all()
    search = GridSearchCV(vae, {"latent_dim": [2, 3]}, cv=2).fit(digits[:80])
    assert search.best_params_["latent_dim"] in (2, 3) and search.best_estimator_.is_fitted
    # a causal estimator's nuisance model can be a search of its own
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    t = rng.integers(0, 2, size=200).astype(float)
    y = x[:, 0] + 2.0 * t + 0.1 * rng.normal(size=200)
    est = TLearner(GridSearchCV(Ridge(), {"alpha": [0.1, 10.0]}, cv=2)).fit(y, t, X=x)
    assert abs(float(np.mean(est.effect(x))) - 2.0) < 0.1
