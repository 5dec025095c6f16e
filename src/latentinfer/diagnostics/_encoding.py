"""Encoding a data set once for the diagnostics (posterior means, variances, samples)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.distributions import Independent, Normal

from latentinfer.core.seeding import rng_scope
from latentinfer.vae.base import LatentVariableModel

__all__ = ["Encoding", "encode_data", "model_inputs"]


def model_inputs(
    model: LatentVariableModel, data: Any
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """Check and convert ``data`` (``X`` or ``(X, *cond)``) for a fitted ``model``."""
    if isinstance(data, tuple):
        x, *cond = data
    else:
        x, cond = data, []
    return model._as_data(x, cond, fitting=False)


@dataclass(frozen=True)
class Encoding:
    """A data set seen through q(z|x).

    Attributes:
        means: ``(n, D)`` posterior means E_q[z|x] (the mean representation).
        variances: ``(n, D)`` posterior variances Var_q[z_j|x] (the variance
            representation; Monte Carlo for non-Gaussian posteriors).
        samples: ``(n, D)`` one draw z ~ q(z|x) per row (the sampled representation).
        kl_per_dim: ``(D,)`` KL(q ‖ p) per dimension averaged over rows.
    """

    means: torch.Tensor
    variances: torch.Tensor
    samples: torch.Tensor
    kl_per_dim: torch.Tensor


@torch.no_grad()
def encode_data(
    model: LatentVariableModel, data: Any, *, seed: int = 0, batch_size: int = 2048
) -> Encoding:
    """Encode every row of ``data`` and average the model's per-dimension KL.

    The KL per dimension comes from the model's ``loss(batch).stats["kl_per_dim"]`` when
    it reports one (exact for each level of hierarchical models); otherwise from the
    closed form between diagonal-Gaussian q(z|x) and p(z), or a 16-sample estimate.
    """
    model.eval()
    x, cs = model_inputs(model, data)
    dev = model._device()
    means, variances, samples = [], [], []
    kl_sum: torch.Tensor | None = None
    with rng_scope(seed):
        for s in range(0, x.shape[0], batch_size):
            xb = x[s : s + batch_size].to(dev)
            cb = tuple(c[s : s + batch_size].to(dev) for c in cs)
            q = model.encode(xb, *cb)
            base = q.base_dist if isinstance(q, Independent) else None
            if isinstance(base, Normal):
                mean, var = base.loc, base.scale.square()
            else:
                draws = q.sample((16,))
                mean, var = q.mean, draws.var(0)
            z = q.sample()
            out = model.loss(xb if not cb else (xb, *cb))
            kl = out.stats.get("kl_per_dim")
            if kl is None:
                p = model.prior(*cb)
                pbase = p.base_dist if isinstance(p, Independent) else None
                if isinstance(base, Normal) and isinstance(pbase, Normal):
                    kl = torch.distributions.kl_divergence(base, pbase).mean(0)
                else:
                    zz = q.sample((16,))
                    kl = (
                        (q.log_prob(zz) - p.log_prob(zz)).mean()
                        / zz.shape[-1]
                        * torch.ones(zz.shape[-1], device=dev)
                    )
            kl = kl.double() * xb.shape[0]
            kl_sum = kl if kl_sum is None else kl_sum + kl
            means.append(mean.cpu())
            variances.append(var.cpu())
            samples.append(z.cpu())
    assert kl_sum is not None
    return Encoding(
        means=torch.cat(means),
        variances=torch.cat(variances),
        samples=torch.cat(samples),
        kl_per_dim=(kl_sum / x.shape[0]).cpu(),
    )
