"""Collapse detection: which level collapsed, the linear theory, input–output correlation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentinfer import ConfigError
from latentinfer.diagnostics import (
    canonical_correlations,
    check_collapse,
    predict_linear_collapse,
    run_collapse,
)
from latentinfer.vae import VAE, ConditionalVAE, HierarchicalVAE


def test_linear_prediction_counts_eigenvalues_under_beta_eta_squared() -> None:
    rng = np.random.default_rng(0)
    # covariance eigenvalues 4, 1, 0.25, 0.01 along orthogonal axes
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    x = rng.normal(size=(200_000, 4)) * np.sqrt([4, 1, 0.25, 0.01]) @ q.T
    pred = predict_linear_collapse(x, latent_dim=6, beta=1.0, obs_scale=0.7)  # β η² = 0.49
    np.testing.assert_allclose(pred.eigenvalues[:4], [4, 1, 0.25, 0.01], rtol=0.02)
    assert pred.collapsed.tolist() == [False, False, True, True, True, True]
    assert predict_linear_collapse(x, latent_dim=6, beta=0.2, obs_scale=0.7).n_collapsed == 3


def test_stronger_input_output_correlation_predicts_more_collapse() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=(20_000, 6))
    counts = []
    for rho in (0.0, 0.5, 0.9, 0.99):
        c = rho * y + np.sqrt(1 - rho**2) * rng.normal(size=y.shape)
        counts.append(
            predict_linear_collapse(y, c, latent_dim=6, beta=1.0, obs_scale=0.6).n_collapsed
        )
        cc = canonical_correlations(c, y)
        # finite-sample canonical correlations spread by about (√p + √q)/√n ≈ 0.035
        np.testing.assert_allclose(cc, rho, atol=0.06)
    assert counts == sorted(counts) and counts[0] == 0 and counts[-1] == 6


def test_detector_flags_a_dead_dimension_of_a_trained_linear_vae() -> None:
    # data with 2 directions above and 1 below the threshold β η² = 0.25
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 3)) * np.sqrt([3.0, 1.0, 0.05])
    vae = VAE(
        latent_dim=3,
        hidden=(),
        likelihood="gaussian",
        obs_scale=0.5,
        posterior_variance="shared",
        seed=0,
    )
    vae.fit(x, max_epochs=300, lr=1e-2, progress=False)
    res = run_collapse(vae, x)
    assert res.linear_prediction is not None and res.linear_prediction.n_collapsed == 1
    assert res.groups["z"].n_collapsed == 1
    summary = check_collapse(res)
    assert summary["verdict"].startswith("partial collapse in z (1/3")
    assert summary["linear_theory_collapsed"] == 1 and summary["fully_collapsed_levels"] == []


def test_hierarchical_levels_are_reported_separately() -> None:
    hvae = HierarchicalVAE(latent_dim=2, top_latent_dim=2, hidden=(8,), seed=0).build((4,))
    res = run_collapse(hvae, torch.randn(100, 4))
    assert set(res.groups) == {"z1", "z2"}
    assert len(res.groups["z1"].kl_per_dim) == 2


def test_conditional_models_report_the_correlation() -> None:
    rng = np.random.default_rng(0)
    c = rng.normal(size=(300, 2))
    x = np.concatenate([c, rng.normal(size=(300, 2))], 1)
    cvae = ConditionalVAE(latent_dim=2, hidden=(8,), seed=0).fit(x, c, max_epochs=2, progress=False)
    summary = check_collapse(run_collapse(cvae, (x, c)))
    assert summary["max_input_output_correlation"] == pytest.approx(1.0, abs=1e-3)


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="obs_scale"):
        predict_linear_collapse(np.zeros((5, 2)), latent_dim=2, obs_scale=0.0)
