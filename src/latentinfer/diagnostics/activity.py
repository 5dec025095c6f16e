"""Per-dimension KL and active units: which latent dimensions carry information.

A dimension is *active* when its posterior mean varies across the data,
Cov_x(E_q[z_j | x]) > 0.01 (Burda et al. 2016's active-units criterion), and it carries
information when its KL(q(z_j|x) ‖ p(z_j)), averaged over the data, is above a small
threshold (0.01 nats, the collapse paper's code).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from latentinfer.core.validation import check_number
from latentinfer.diagnostics._encoding import encode_data
from latentinfer.vae.base import LatentVariableModel

__all__ = ["ActivityResult", "check_activity", "run_activity"]


@dataclass(frozen=True, eq=False)
class ActivityResult:
    """Raw activity numbers for each latent dimension.

    Attributes:
        kl_per_dim: ``(D,)`` mean KL per dimension (nats).
        mean_variance: ``(D,)`` Var_x(E_q[z_j|x]), the active-units statistic.
        active: ``(D,)`` bool, ``mean_variance > au_threshold``.
        informative: ``(D,)`` bool, ``kl_per_dim > kl_threshold``.
        au_threshold, kl_threshold: the thresholds used.
    """

    kl_per_dim: np.ndarray
    mean_variance: np.ndarray
    active: np.ndarray
    informative: np.ndarray
    au_threshold: float
    kl_threshold: float

    @property
    def n_active(self) -> int:
        """Number of active units."""
        return int(self.active.sum())


def run_activity(
    model: LatentVariableModel,
    data: Any,
    *,
    au_threshold: float = 0.01,
    kl_threshold: float = 0.01,
    seed: int = 0,
) -> ActivityResult:
    """KL per dimension and active units of ``model`` on ``data``.

    Args:
        model: a fitted model meeting the latent-model contract.
        data: ``X`` (or ``(X, *cond)`` for conditional models), shape ``(n, *features)``.
        au_threshold: variance of posterior means above which a unit is active.
        kl_threshold: mean KL (nats) above which a dimension is informative.
        seed: seed of the Monte Carlo parts.

    Returns:
        :class:`ActivityResult`.
    """
    check_number(au_threshold, name="au_threshold", low=0)
    check_number(kl_threshold, name="kl_threshold", low=0)
    enc = encode_data(model, data, seed=seed)
    mean_var = enc.means.double().var(0, unbiased=True).numpy()
    kl = enc.kl_per_dim.numpy()
    return ActivityResult(
        kl_per_dim=kl,
        mean_variance=mean_var,
        active=mean_var > au_threshold,
        informative=kl > kl_threshold,
        au_threshold=au_threshold,
        kl_threshold=kl_threshold,
    )


def check_activity(result: ActivityResult) -> dict[str, Any]:
    """Summary of :func:`run_activity`: counts, the active dimensions, total KL."""
    return {
        "latent_dim": len(result.kl_per_dim),
        "active_units": result.n_active,
        "active_dims": np.flatnonzero(result.active).tolist(),
        "informative_dims": int(result.informative.sum()),
        "total_kl": float(result.kl_per_dim.sum()),
    }
