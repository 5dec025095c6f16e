"""Active units and KL per dimension on models whose answer is known by construction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentinfer import ConfigError, ShapeError
from latentinfer.diagnostics import check_activity, run_activity
from latentinfer.vae import VAE


def _linear_vae_with_dead_dims() -> VAE:
    """Latent dims 0 and 1 read x; dim 2 is the prior for every x (a dead unit)."""
    vae = VAE(
        latent_dim=3,
        hidden=(),
        likelihood="gaussian",
        obs_scale=1.0,
        posterior_variance="shared",
        seed=0,
    ).build((4,))
    with torch.no_grad():
        enc = vae.encoder[0]
        enc.weight.zero_()
        enc.bias.zero_()
        enc.weight[0, 0] = 1.0
        enc.weight[1, 1] = 0.5
        vae.shared_logvar.copy_(torch.tensor([np.log(0.25), np.log(0.25), 0.0]))
    return vae


def test_active_units_and_kl_match_the_construction() -> None:
    vae = _linear_vae_with_dead_dims()
    x = torch.randn(4000, 4, generator=torch.Generator().manual_seed(0))
    res = run_activity(vae, x)
    # Var_x of the posterior means: 1, 0.25, 0 (± sampling error ~ 2/sqrt(4000) relative)
    np.testing.assert_allclose(res.mean_variance, [1.0, 0.25, 0.0], rtol=0.06, atol=1e-12)
    assert res.active.tolist() == [True, True, False]
    # KL_j = ½(E[μ²] + σ² − 1 − log σ²), exact given the data's second moments
    m2 = (x[:, :2].double() * torch.tensor([1.0, 0.5], dtype=torch.float64)).square().mean(0)
    expected = 0.5 * (m2 + 0.25 - 1 - np.log(0.25))
    np.testing.assert_allclose(res.kl_per_dim[:2], expected.numpy(), rtol=1e-5)
    assert abs(res.kl_per_dim[2]) < 1e-6
    summary = check_activity(res)
    assert summary["active_units"] == 2 and summary["active_dims"] == [0, 1]


def test_bad_arguments() -> None:
    vae = _linear_vae_with_dead_dims()
    with pytest.raises(ConfigError, match="au_threshold"):
        run_activity(vae, np.zeros((5, 4)), au_threshold=-1)
    with pytest.raises(ShapeError, match="feature shape"):
        run_activity(vae, np.zeros((5, 3)))
