"""ELBO pieces against closed forms and torch.distributions."""

from __future__ import annotations

import torch
from torch.distributions import Independent, Normal, kl_divergence

from latentinfer.inference import elbo, gaussian_kl_per_dim, gaussian_log_prob_per_dim


def test_analytic_kl_matches_torch_distributions() -> None:
    g = torch.Generator().manual_seed(0)
    mu, logvar = (
        torch.randn(5, 4, generator=g, dtype=torch.float64),
        torch.randn(5, 4, generator=g, dtype=torch.float64),
    )
    pmu, plv = (
        torch.randn(4, generator=g, dtype=torch.float64),
        torch.randn(4, generator=g, dtype=torch.float64),
    )
    ours = gaussian_kl_per_dim(mu, logvar, pmu, plv)
    ref = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(pmu, (0.5 * plv).exp()))
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    std = gaussian_kl_per_dim(mu, logvar)  # standard-normal fast path
    ref0 = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0))
    torch.testing.assert_close(std, ref0, rtol=1e-12, atol=1e-12)


def test_log_prob_matches_normal() -> None:
    z = torch.randn(7, 3, dtype=torch.float64)
    mu, lv = torch.randn(3, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    torch.testing.assert_close(
        gaussian_log_prob_per_dim(z, mu, lv), Normal(mu, (0.5 * lv).exp()).log_prob(z)
    )


def test_sampled_kl_is_unbiased_for_the_analytic_one() -> None:
    # 20,000 samples: the Monte Carlo standard error of each per-dimension KL estimate is
    # below 0.01 here; 5 standard errors is the tolerance.
    q = Independent(Normal(torch.tensor([[0.5, -1.0]]), torch.tensor([[0.7, 1.3]])), 1)
    p = Independent(Normal(torch.zeros(2), torch.ones(2)), 1)

    def decode(z: torch.Tensor) -> Independent:
        return Independent(Normal(z, torch.ones_like(z)), 1)

    x = torch.zeros(1, 2)
    exact = elbo(x, q, p, decode, analytic_kl=True, n_samples=20_000)
    sampled = elbo(x, q, p, decode, analytic_kl=False, n_samples=20_000)
    torch.testing.assert_close(sampled.kl_per_dim, exact.kl_per_dim, atol=0.05, rtol=0)
    assert exact.elbo.shape == (1,)
    beta = elbo(x, q, p, decode, beta=4.0)
    assert beta.beta == 4.0
