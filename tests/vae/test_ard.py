"""ARD-VAE: the prior update, relevance selection, and finding the true dimensionality."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentinfer import ConfigError
from latentinfer.data import load
from latentinfer.vae import ARDVAE, LatentVariableModel
from latentinfer.vae.ard import relevant_from_scores


def test_prior_update_is_the_gamma_posterior_mean_variance() -> None:
    # v_j = (b0 + ½ Σ z²) / (a0 + N/2) for the one-sample encodings z of the rows used.
    ard = ARDVAE(latent_dim=3, hidden=(8,), hyperprior_a=2.0, hyperprior_b=0.5, seed=0).build((4,))
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    ard.update_prior(x, seed=3)
    g = torch.Generator().manual_seed(3)
    rows = torch.randperm(50, generator=g)
    with torch.no_grad():
        mu, logvar = ard.encode_params(x[rows])
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=g)
    expected = (0.5 + 0.5 * z.double().square().sum(0)) / (2.0 + 25.0)
    torch.testing.assert_close(ard.prior_logvar.exp().double(), expected, rtol=1e-5, atol=0)


def test_kl_uses_the_learned_prior() -> None:
    ard = ARDVAE(latent_dim=2, hidden=(8,), seed=0).build((3,))
    with torch.no_grad():
        ard.prior_logvar.copy_(torch.tensor([0.0, -2.0]))
    p = ard.prior()
    torch.testing.assert_close(p.base_dist.scale, torch.exp(torch.tensor([0.0, -1.0])))


def test_relevance_rules() -> None:
    scores = np.array([0.5, 1e-6, 0.3, 0.005, 2e-6])
    assert relevant_from_scores(scores, rule="share").tolist() == [0, 2, 3]
    assert relevant_from_scores(scores, 0.99, "cumulative").tolist() == [0, 2]
    assert relevant_from_scores(np.zeros(3)).tolist() == []


def test_finds_two_relevant_dimensions_of_linear_data() -> None:
    # 2 true factors, 8 latent dimensions: relevance must single out exactly 2.
    ds = load("linear", n=1500, n_features=10, n_relevant=2, seed=0)
    ard = ARDVAE(latent_dim=8, hidden=(64,), seed=0).fit(ds.X, max_epochs=120, progress=False)
    assert ard.n_relevant_ == 2, ard.relevance_
    assert ard.relevance_.sum() == pytest.approx(1.0)
    assert ard.prior_variance_.shape == (8,)
    # the unused axes' prior variances shrank below the used ones'
    used = ard.prior_variance_[ard.relevant_dims_]
    unused = np.delete(ard.prior_variance_, ard.relevant_dims_)
    assert unused.max() < used.min()


def test_fitted_state_survives_save_and_load(tmp_path: object) -> None:
    ds = load("linear", n=300, n_features=6, n_relevant=2, seed=0)
    ard = ARDVAE(latent_dim=4, hidden=(16,), seed=0).fit(ds.X, max_epochs=3, progress=False)
    ard.save(tmp_path / "m")  # type: ignore[operator]
    back = LatentVariableModel.load(tmp_path / "m")  # type: ignore[operator]
    np.testing.assert_allclose(back.relevance_, ard.relevance_)
    assert back.n_relevant_ == ard.n_relevant_
    torch.testing.assert_close(back.prior_logvar, ard.prior_logvar)


def test_bad_ard_options() -> None:
    with pytest.raises(ConfigError, match="relevance_rule"):
        ARDVAE(relevance_rule="gap")
    with pytest.raises(ConfigError, match="prior_samples"):
        ARDVAE(prior_samples=1)
