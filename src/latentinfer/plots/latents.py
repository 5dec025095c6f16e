"""Figures of what the latents learned: per-dimension KL bars and traversal grids.

Figures are drawn on ``matplotlib.figure.Figure`` objects (no pyplot state, no display
needed) and saved as PNG.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from latentinfer.core.errors import ShapeError, ValidationError
from latentinfer.diagnostics.activity import ActivityResult
from latentinfer.diagnostics.traversal import TraversalResult

__all__ = ["plot_kl_per_dim", "plot_traversal"]


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    return out


def plot_kl_per_dim(
    kl_per_dim: Sequence[float] | np.ndarray | ActivityResult,
    path: str | os.PathLike[str],
    *,
    highlight: Sequence[int] | np.ndarray = (),
    highlight_label: str = "relevant",
    threshold: float | None = 0.01,
    title: str = "KL per latent dimension",
) -> Path:
    """Bar chart of the KL of each latent dimension, sorted as given.

    Args:
        kl_per_dim: ``(D,)`` KL per dimension (nats), or the
            :class:`~latentinfer.diagnostics.ActivityResult` of ``run_activity`` (its
            ``kl_per_dim`` is drawn).
        path: the PNG file to write.
        highlight: dimensions drawn in a contrasting colour (e.g. ARD's relevant ones).
        highlight_label: legend entry of the highlighted bars.
        threshold: draw a dashed line at this KL (the collapse threshold); ``None``: none.
        title: figure title.

    Returns:
        The path written.
    """
    if isinstance(kl_per_dim, ActivityResult):
        kl_per_dim = kl_per_dim.kl_per_dim
    try:
        kl = np.asarray(kl_per_dim, dtype=float)
    except (TypeError, ValueError):
        raise ValidationError(
            f"kl_per_dim must be a (D,) sequence of numbers (nats) or an ActivityResult; "
            f"got {type(kl_per_dim).__name__}."
        ) from None
    if kl.ndim != 1 or kl.size == 0:
        raise ShapeError(f"kl_per_dim must have shape (D,) with D >= 1; got shape {kl.shape}.")
    fig = Figure(figsize=(max(4.0, 0.25 * len(kl) + 1.5), 3.0))
    ax = fig.add_subplot()
    marked = {int(j) for j in highlight}
    dims = np.arange(len(kl))
    is_marked = np.array([j in marked for j in dims], dtype=bool)
    ax.bar(dims[is_marked], kl[is_marked], color="tab:orange", label=highlight_label)
    ax.bar(dims[~is_marked], kl[~is_marked], color="tab:blue", label="other")
    if threshold is not None:
        ax.axhline(
            threshold, ls="--", lw=1, color="gray", label=f"collapse threshold ({threshold:g} nats)"
        )
    # beside the axes, where it cannot hide the tallest bars
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.set_yscale("symlog", linthresh=0.01)
    ax.set_xlabel("latent dimension")
    ax.set_ylabel("KL (nats)")
    ax.set_title(title)
    return _save(fig, path)


def plot_traversal(
    result: TraversalResult,
    path: str | os.PathLike[str],
    *,
    image_shape: Sequence[int] | None = None,
    title: str = "latent traversals",
) -> Path:
    """Grid of decoded traversals: one row per latent dimension, one column per value.

    Args:
        result: from :func:`latentinfer.diagnostics.run_traversal`.
        path: the PNG file to write.
        image_shape: ``(H, W)`` or ``(C, H, W)`` to show flat rows as images; inferred
            from square feature counts when ``None``. Non-image data is drawn as line
            profiles.
        title: figure title.

    Returns:
        The path written.
    """
    imgs = result.images
    n_dims, n_vals = imgs.shape[:2]
    flat = imgs.reshape(n_dims, n_vals, -1)
    shape = tuple(image_shape) if image_shape is not None else None
    if shape is None:
        feat = imgs.shape[2:]
        if len(feat) == 3 and feat[0] in (1, 3):
            shape = feat
        else:
            side = math.isqrt(flat.shape[-1])
            shape = (side, side) if side * side == flat.shape[-1] and side > 2 else None
    fig = Figure(figsize=(0.9 * n_vals + 1.0, 0.9 * n_dims + 0.9), layout="constrained")
    axes = fig.subplots(n_dims, n_vals, squeeze=False)
    for i in range(n_dims):
        for k in range(n_vals):
            ax = axes[i][k]
            ax.set_xticks([])
            ax.set_yticks([])
            if shape is not None:
                img = flat[i, k].reshape(shape)
                if img.ndim == 3:
                    img = img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1)
                ax.imshow(np.clip(img, 0, 1) if img.ndim == 3 else img, cmap="gray")
            else:
                ax.plot(flat[i, k], lw=0.8)
            if k == 0:
                ax.set_ylabel(f"z{int(result.dims[i])}", rotation=0, labelpad=12)
            if i == 0:
                ax.set_title(f"{result.offsets[k]:+.1f}σ", fontsize=8)
    fig.suptitle(title)
    return _save(fig, path)
