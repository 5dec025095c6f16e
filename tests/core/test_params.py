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
