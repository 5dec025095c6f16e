"""ConditionalVAE: conditioning enters encoder and decoder; shapes and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentinfer import ConfigError, ShapeError
from latentinfer.vae import ConditionalVAE


def _data(n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    c = rng.normal(size=(n, 2))
    z = rng.normal(size=(n, 2))
    x = np.concatenate([c @ rng.normal(size=(2, 3)), z @ rng.normal(size=(2, 3))], 1)
    return x + 0.05 * rng.normal(size=x.shape), c


def test_fit_transform_sample_score() -> None:
    x, c = _data()
    cvae = ConditionalVAE(latent_dim=2, hidden=(32,), seed=0).fit(
        x, c, max_epochs=5, progress=False
    )
    assert cvae.transform(x[:7], c[:7]).shape == (7, 2)
    assert cvae.sample(4, c[:4], seed=0).shape == (4, 6)
    # NumPy conditions give NumPy rows, tensors give tensors
    assert isinstance(cvae.sample(4, c[:4], seed=0), np.ndarray)
    assert isinstance(cvae.sample(4, torch.as_tensor(c[:4]), seed=0), torch.Tensor)
    assert np.isfinite(cvae.score(x[:20], c[:20], k=8))
    assert cvae.cond_shapes_ == [(2,)]


def test_the_decoder_uses_the_condition() -> None:
    cvae = ConditionalVAE(latent_dim=2, hidden=(16,), seed=0).build((6,), (2,))
    z = torch.zeros(3, 2)
    a = cvae.decode(z, torch.zeros(3, 2)).mean
    b = cvae.decode(z, torch.ones(3, 2)).mean
    assert not torch.allclose(a, b)


def test_condition_errors() -> None:
    x, c = _data(50)
    cvae = ConditionalVAE(latent_dim=2, hidden=(8,), seed=0)
    with pytest.raises(ConfigError, match=r"takes 2 data argument\(s\) \(X, C\)"):
        cvae.fit(x)
    with pytest.raises(ShapeError, match="same number of rows"):
        cvae.fit(x, c[:10])
    cvae.fit(x, c, max_epochs=1, progress=False)
    with pytest.raises(ShapeError, match="C has feature shape"):
        cvae.transform(x, np.zeros((50, 3)))
    with pytest.raises(ShapeError, match="n=3 rows"):
        cvae.sample(3, c[:5])
    with pytest.raises(ShapeError, match="C has feature shape"):
        cvae.sample(3, np.zeros((3, 5)))
    with pytest.raises(ConfigError, match=r"sample needs C \(3 row\(s\)\) after n; got 0"):
        cvae.sample(3)
