"""The evidence lower bound (ELBO) with an analytic or a sampled KL and a β weight.

For a model p(x, z) = p(z) p(x|z) and an approximate posterior q(z|x),

    ELBO(x) = E_q[log p(x|z)] − β · KL(q(z|x) ‖ p(z)),

β = 1 giving the bound on log p(x) and β ≠ 1 the β-VAE objective. With Gaussian q and a
Gaussian prior the KL is analytic and splits over latent dimensions,

    KL_j = ½ (log(v_j / σ_j²) + (σ_j² + (μ_j − m_j)²) / v_j − 1),

for q = N(μ, diag σ²) and p = N(m, diag v); with a sampled KL the same split uses
log q(z_j|x) − log p(z_j) at the sampled z.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.distributions import Distribution, Independent, Normal

__all__ = ["ELBOTerms", "elbo", "gaussian_kl_per_dim", "gaussian_log_prob_per_dim"]

_LOG_2PI = math.log(2 * math.pi)


def gaussian_kl_per_dim(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    prior_mu: torch.Tensor | float = 0.0,
    prior_logvar: torch.Tensor | float = 0.0,
) -> torch.Tensor:
    """KL(N(mu, e^logvar) ‖ N(prior_mu, e^prior_logvar)) for each dimension.

    Args:
        mu, logvar: posterior means and log-variances, shape ``(..., D)``.
        prior_mu, prior_logvar: prior means and log-variances, broadcastable to ``(..., D)``.

    Returns:
        Tensor of shape ``(..., D)``: the KL of each dimension (nats).
    """
    if isinstance(prior_logvar, float) and prior_logvar == 0.0 and isinstance(prior_mu, float):
        d = mu if prior_mu == 0.0 else mu - prior_mu
        return 0.5 * (d.square() + logvar.exp() - 1.0 - logvar)
    plv = torch.as_tensor(prior_logvar, dtype=mu.dtype, device=mu.device)
    d = mu - prior_mu
    return 0.5 * (plv - logvar + (logvar.exp() + d.square()) * torch.exp(-plv) - 1.0)


def gaussian_log_prob_per_dim(
    z: torch.Tensor, mu: torch.Tensor | float, logvar: torch.Tensor | float
) -> torch.Tensor:
    """log N(z; mu, e^logvar) for each dimension, shape of the broadcast of the inputs."""
    lv = torch.as_tensor(logvar, dtype=z.dtype, device=z.device)
    return -0.5 * (_LOG_2PI + lv + (z - mu).square() * torch.exp(-lv))


@dataclass(frozen=True)
class ELBOTerms:
    """The pieces of an ELBO evaluated on a batch.

    Attributes:
        log_likelihood: ``(B,)`` Monte Carlo estimate of E_q[log p(x|z)] per row.
        kl_per_dim: ``(B, D)`` KL per latent dimension per row (analytic or sampled).
        beta: the KL weight.
    """

    log_likelihood: torch.Tensor
    kl_per_dim: torch.Tensor
    beta: float

    @property
    def kl(self) -> torch.Tensor:
        """``(B,)`` KL per row."""
        return self.kl_per_dim.sum(-1)

    @property
    def elbo(self) -> torch.Tensor:
        """``(B,)`` the (β-weighted) ELBO per row."""
        return self.log_likelihood - self.beta * self.kl


def elbo(
    x: torch.Tensor,
    q: Distribution,
    prior: Distribution,
    decode: Callable[[torch.Tensor], Distribution],
    *,
    beta: float = 1.0,
    analytic_kl: bool = True,
    n_samples: int = 1,
) -> ELBOTerms:
    """The ELBO of any model meeting the latent-model contract, from its distributions.

    Args:
        x: data, shape ``(B, *event_shape)``.
        q: the approximate posterior q(z|x), batch shape ``(B,)``, event shape ``(D,)``.
        prior: p(z), event shape ``(D,)`` (batch shape ``()`` or ``(B,)``).
        decode: z of shape ``(S, B, D)`` → p(x|z), a distribution whose ``log_prob(x)`` has
            shape ``(S, B)``.
        beta: KL weight.
        analytic_kl: use the closed-form KL when q and the prior are both diagonal
            Gaussians (``Independent(Normal)``); otherwise (or when False) the KL is
            estimated from the same samples as the reconstruction term.
        n_samples: Monte Carlo samples S per row.

    Returns:
        :class:`ELBOTerms` with per-row terms.
    """
    z = q.rsample((n_samples,))  # (S, B, D)
    log_lik = decode(z).log_prob(x).mean(0)  # (B,)
    both_gaussian = all(
        isinstance(d, Independent) and isinstance(d.base_dist, Normal) for d in (q, prior)
    )
    if analytic_kl and both_gaussian:
        qn, pn = q.base_dist, prior.base_dist  # type: ignore[attr-defined]
        kl = gaussian_kl_per_dim(qn.loc, 2 * qn.scale.log(), pn.loc, 2 * pn.scale.log())
    else:
        base_q = q.base_dist if isinstance(q, Independent) else q
        base_p = prior.base_dist if isinstance(prior, Independent) else prior
        try:
            kl = (base_q.log_prob(z) - base_p.log_prob(z)).mean(0)  # (B, D)
        except (ValueError, RuntimeError):
            # no per-dimension factorisation: put the whole KL in one column
            kl = (q.log_prob(z) - prior.log_prob(z)).mean(0).unsqueeze(-1)
    return ELBOTerms(log_likelihood=log_lik, kl_per_dim=kl, beta=beta)
