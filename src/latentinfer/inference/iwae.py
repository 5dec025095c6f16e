"""The importance-weighted bound (IWAE) on log p(x), used for held-out likelihood.

    L_K(x) = log (1/K) Σ_k p(x, z_k) / q(z_k|x),   z_k ~ q(z|x),

is a lower bound on log p(x) that grows with K and tends to log p(x) (Burda et al. 2016).
Held-out negative log-likelihood is reported as −L_K on test rows.
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
from torch.distributions import Distribution


class LatentModel(Protocol):
    """What the IWAE bound needs of a model: the three distributions of the contract."""

    def prior(self, *cond: torch.Tensor) -> Distribution: ...

    def encode(self, x: torch.Tensor, *cond: torch.Tensor) -> Distribution: ...

    def decode(self, z: torch.Tensor, *cond: torch.Tensor) -> Distribution: ...


__all__ = ["iwae_bound"]


@torch.no_grad()
def iwae_bound(
    model: LatentModel,
    x: torch.Tensor,
    *cond: torch.Tensor,
    k: int = 500,
    batch_size: int | None = None,
    max_elements: int = 2**22,
) -> torch.Tensor:
    """IWAE bound per row for a model meeting the latent-model contract.

    The model provides ``encode(x, *cond)`` (q(z|x)), ``prior(*cond)`` (p(z)) and
    ``decode(z, *cond)`` (p(x|z)), each a ``torch.distributions.Distribution`` whose
    ``log_prob`` sums over event dimensions.

    Args:
        model: the latent-variable model (evaluated as is; call ``model.eval()`` first if
            it has dropout or batch norm).
        x: data, shape ``(B, *event_shape)``.
        *cond: conditioning tensors with ``B`` rows (conditional models).
        k: importance samples per row.
        batch_size: rows per chunk; ``None`` picks one so that ``k × rows × features``
            stays under ``max_elements``.
        max_elements: memory budget used when ``batch_size`` is ``None``.

    Returns:
        Tensor of shape ``(B,)``: L_K(x) per row, in nats.
    """
    from latentinfer.core.validation import check_number

    check_number(k, name="k", low=1, integer=True)
    n = x.shape[0]
    feats = max(1, x[0].numel())
    if batch_size is None:
        batch_size = max(1, max_elements // (k * feats))
    out = []
    for start in range(0, n, batch_size):
        xb = x[start : start + batch_size]
        cb = tuple(c[start : start + batch_size] for c in cond)
        q = model.encode(xb, *cb)
        z = q.sample((k,))  # (K, b, D)
        log_w = model.decode(z, *cb).log_prob(xb) + model.prior(*cb).log_prob(z) - q.log_prob(z)
        out.append(torch.logsumexp(log_w.double(), dim=0) - math.log(k))
    return torch.cat(out).to(x.dtype if x.is_floating_point() else torch.float32)
