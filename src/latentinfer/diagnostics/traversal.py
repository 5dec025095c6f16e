"""Latent traversals: decode a point while one latent coordinate sweeps a range."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.distributions import Independent, Normal

from latentinfer.core.errors import ValidationError
from latentinfer.diagnostics._encoding import model_inputs
from latentinfer.vae.base import LatentVariableModel

__all__ = ["TraversalResult", "run_traversal"]


@dataclass(frozen=True, eq=False)
class TraversalResult:
    """Decoded traversals.

    Attributes:
        images: ``(n_dims, n_values, *feature_shape)`` decoder means.
        dims: the traversed latent dimensions.
        values: ``(n_dims, n_values)`` the coordinate values used.
        offsets: ``(n_values,)`` the same values in prior standard deviations from the
            prior mean.
    """

    images: np.ndarray
    dims: np.ndarray
    values: np.ndarray
    offsets: np.ndarray


@torch.no_grad()
def run_traversal(
    model: LatentVariableModel,
    data: Any | None = None,
    *,
    dims: Sequence[int] | None = None,
    n_values: int = 9,
    span: float = 2.5,
) -> TraversalResult:
    """Decode latent traversals around a base point.

    The base point is the posterior mean of the first row of ``data`` (the prior mean when
    ``data`` is ``None``). Dimension j sweeps ``n_values`` points over ±``span`` prior
    standard deviations.

    Args:
        model: a fitted model meeting the latent-model contract (unconditional).
        data: rows whose first row gives the base point, or ``None``.
        dims: dimensions to traverse (default: all).
        n_values: points per dimension.
        span: half-width of the sweep in prior standard deviations.

    Returns:
        :class:`TraversalResult`.
    """
    if getattr(model, "n_cond", 0):
        raise ValidationError(
            f"run_traversal needs an unconditional model; {type(model).__name__} is conditional."
        )
    prior = model.prior()
    if isinstance(prior, Independent) and isinstance(prior.base_dist, Normal):
        loc, scale = prior.base_dist.loc, prior.base_dist.scale
    else:
        draws = prior.sample((4096,))
        loc, scale = draws.mean(0), draws.std(0)
    d = loc.shape[-1]
    if data is not None:
        x, _ = model_inputs(model, data)
        base = model.encode(x[:1].to(model._device())).mean[0]
    else:
        base = loc
    chosen = list(range(d)) if dims is None else [int(j) for j in dims]
    if not chosen:
        raise ValidationError(
            f"dims is empty; pass the dimensions to traverse (0..{d - 1}) or None for all."
        )
    for j in chosen:
        if not 0 <= j < d:
            raise ValidationError(f"dims holds {j}; accepted: 0..{d - 1}.")
    grid = torch.linspace(-span, span, n_values, device=base.device)
    z = base.expand(len(chosen), n_values, d).clone()
    values = torch.empty(len(chosen), n_values)
    for i, j in enumerate(chosen):
        vals = loc[j] + grid * scale[j]
        z[i, :, j] = vals
        values[i] = vals.cpu()
    images = model.decode(z.reshape(-1, d)).mean.reshape(len(chosen), n_values, -1)
    feat = getattr(model, "feature_shape_", None)
    if feat:
        images = images.reshape(len(chosen), n_values, *feat)
    return TraversalResult(
        images=images.cpu().numpy(),
        dims=np.asarray(chosen),
        values=values.numpy(),
        offsets=grid.cpu().numpy(),
    )
