"""Mean vs sampled representations: classification and the passive-variable effect."""

from __future__ import annotations

import numpy as np
import torch

from latentinfer.diagnostics import (
    check_mean_vs_sampled,
    classify_variables,
    gaussian_total_correlation,
    mean_abs_correlation,
    run_mean_vs_sampled,
)
from latentinfer.vae import VAE


def test_classification_rule() -> None:
    rng = np.random.default_rng(0)
    active = 0.05 + 0.01 * rng.random((500, 1))
    passive = 1.0 + 0.02 * rng.random((500, 1))
    mixed = np.where(rng.random((500, 1)) < 0.5, 0.05, 1.0)
    labels = classify_variables(np.hstack([active, passive, mixed]))
    assert labels.tolist() == ["active", "passive", "mixed"]


def test_correlation_measures() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5000, 1))
    z = np.hstack([a, a + 0.1 * rng.normal(size=(5000, 1)), rng.normal(size=(5000, 1))])
    # pairs: r(0,1) ≈ 0.995, r(0,2) ≈ r(1,2) ≈ 0 → mean |r| ≈ 0.995/3
    assert abs(mean_abs_correlation(z) - 0.995 / 3) < 0.02
    assert gaussian_total_correlation(rng.normal(size=(5000, 3))) < 0.01
    assert gaussian_total_correlation(z) > 1.0
    assert np.isnan(mean_abs_correlation(z[:, :1]))


def test_passive_variables_inflate_the_mean_representation_correlation() -> None:
    # Two active dims read independent inputs; two passive dims have posterior = prior,
    # with means that are tiny functions of the same input (near-constant, yet perfectly
    # correlated with each other): the Be More Active mechanism, built by hand.
    vae = VAE(
        latent_dim=4,
        hidden=(),
        likelihood="gaussian",
        obs_scale=1.0,
        posterior_variance="shared",
        seed=0,
    ).build((2,))
    with torch.no_grad():
        enc = vae.encoder[0]
        enc.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1e-3, 0.0], [-1e-3, 0.0]]))
        enc.bias.zero_()
        vae.shared_logvar.copy_(torch.tensor([np.log(0.01), np.log(0.01), 0.0, 0.0]))
    x = torch.randn(5000, 2, generator=torch.Generator().manual_seed(0))
    res = run_mean_vs_sampled(vae, x)
    assert res.labels.tolist() == ["active", "active", "passive", "passive"]
    c = res.correlation
    assert c[("mean", "all")] > 0.3  # the passive pair (r = −1) and each with an active dim
    assert c[("mean", "without_passive")] < 0.05
    assert c[("sampled", "all")] < 0.05  # sampling noise decorrelates the passive dims
    assert check_mean_vs_sampled(res)["passive_inflate_mean_correlation"]
