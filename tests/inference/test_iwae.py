"""IWAE against the exact log-likelihood of a linear-Gaussian model.

x = W z + b + ε with z ~ N(0, I), ε ~ N(0, σ² I): log p(x) is the density of
N(b, W Wᵀ + σ² I). With orthogonal columns of W the true posterior is a diagonal Gaussian
with the same covariance for every x, which our VAE can represent exactly
(``hidden=()``, ``posterior_variance="shared"``, fixed ``obs_scale``).
"""

from __future__ import annotations

import math

import torch
from torch.distributions import MultivariateNormal

from latentinfer.inference import iwae_bound
from latentinfer.vae import VAE

D_X, D_Z, SIGMA = 5, 2, 0.5


def _linear_gaussian_vae(exact_posterior: bool) -> tuple[VAE, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(D_X, D_Z, generator=g))
    w = q * torch.tensor([2.0, 1.0])  # orthogonal columns, scales 2 and 1
    b = torch.randn(D_X, generator=g)
    vae = VAE(
        latent_dim=D_Z,
        hidden=(),
        likelihood="gaussian",
        obs_scale=SIGMA,
        posterior_variance="shared",
        seed=0,
    ).build((D_X,))
    post_var = 1.0 / (1.0 + (w * w).sum(0) / SIGMA**2)  # diag of (I + WᵀW/σ²)⁻¹
    enc_w = post_var[:, None] * w.T / SIGMA**2
    if not exact_posterior:  # a deliberately imperfect encoder
        enc_w = 0.8 * enc_w
        post_var = 1.5 * post_var
    with torch.no_grad():
        dec = vae.decoder[0]
        dec.weight.copy_(w)
        dec.bias.copy_(b)
        enc = vae.encoder[0]
        enc.weight.copy_(enc_w)
        enc.bias.copy_(-enc_w @ b)
        vae.shared_logvar.copy_(post_var.log())
    x = (torch.randn(200, D_Z, generator=g) @ w.T + b) + SIGMA * torch.randn(200, D_X, generator=g)
    exact = MultivariateNormal(b, w @ w.T + SIGMA**2 * torch.eye(D_X)).log_prob(x)
    return vae, x, exact


def test_iwae_equals_log_likelihood_with_the_exact_posterior() -> None:
    # With q the true posterior every importance weight equals p(x): the bound is exact
    # for any K, up to float32 rounding of ~1e-5 relative.
    vae, x, exact = _linear_gaussian_vae(exact_posterior=True)
    for k in (1, 10):
        torch.testing.assert_close(iwae_bound(vae, x, k=k), exact, rtol=1e-4, atol=1e-4)


def test_iwae_increases_with_k_towards_log_likelihood() -> None:
    vae, x, exact = _linear_gaussian_vae(exact_posterior=False)
    torch.manual_seed(0)
    bounds = {k: iwae_bound(vae, x, k=k).mean().item() for k in (1, 10, 100, 5000)}
    gap = {k: exact.mean().item() - v for k, v in bounds.items()}
    # A lower bound in expectation; averaged over 200 rows the Monte Carlo error of the
    # mean bound is a few 1e-3 nats, so allow 0.01 above the truth.
    assert all(g > -0.01 for g in gap.values())
    assert gap[1] > gap[10] > gap[100] > gap[5000]
    assert gap[1] > 0.05  # the imperfect encoder leaves a visible gap at K = 1
    assert gap[5000] < 0.02 * gap[1] + 0.01  # and K = 5000 closes most of it


def test_score_reports_the_iwae_bound() -> None:
    vae, x, exact = _linear_gaussian_vae(exact_posterior=True)
    assert math.isclose(vae.score(x, k=5), exact.mean().item(), rel_tol=1e-4)
    per_row = vae.score_samples(x.numpy(), k=5)
    assert per_row.shape == (200,)
