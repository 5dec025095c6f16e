"""Mean vs sampled representations: active, passive and mixed variables (Be More Active!).

Bonheme & Grześ (2023) classify each latent variable by its *variance representation*
σ_j²(x) = Var_q[z_j | x] over the data: with m_j = mean_x σ_j² and s_j = var_x σ_j²,

- active:  s_j < 0.1 and m_j ≤ 0.1 (the posterior is narrow for every x),
- passive: s_j < 0.1 and 0.9 ≤ m_j ≤ 1.1 (the posterior is the prior for every x),
- mixed:   everything else.

(Variances are divided by the prior's variance first, so the rule also holds for ARD's
learned prior.) Their finding: mean representations E_q[z|x] are more correlated than
sampled ones z ~ q(z|x), the excess comes from passive variables (their near-constant
means correlate), and removing the passive variables brings the correlation down.
:func:`run_mean_vs_sampled` measures exactly that: the mean absolute off-diagonal Pearson
correlation and the Gaussian total correlation of both representations, with and without
the passive variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from torch.distributions import Independent, Normal

from latentinfer.diagnostics._encoding import encode_data
from latentinfer.vae.base import LatentVariableModel

__all__ = [
    "MeanVsSampledResult",
    "check_mean_vs_sampled",
    "classify_variables",
    "gaussian_total_correlation",
    "mean_abs_correlation",
    "run_mean_vs_sampled",
]

ACTIVE, PASSIVE, MIXED = "active", "passive", "mixed"


def classify_variables(
    variances: np.ndarray,
    *,
    spread: float = 0.1,
    active_max: float = 0.1,
    passive_range: tuple[float, float] = (0.9, 1.1),
) -> np.ndarray:
    """Label each variable active / passive / mixed from its variance representation.

    Args:
        variances: ``(n, D)`` posterior variances divided by the prior variances.
        spread: the largest var_x σ_j² of an active or passive variable.
        active_max: the largest mean σ_j² of an active variable.
        passive_range: the range of mean σ_j² of a passive variable.

    Returns:
        ``(D,)`` array of strings.
    """
    m = variances.mean(0)
    s = variances.var(0)
    labels = np.full(variances.shape[1], MIXED, dtype=object)
    steady = s < spread
    labels[steady & (m <= active_max)] = ACTIVE
    labels[steady & (m >= passive_range[0]) & (m <= passive_range[1])] = PASSIVE
    return labels


def mean_abs_correlation(z: np.ndarray) -> float:
    """Mean absolute off-diagonal Pearson correlation between the columns of ``z`` ``(n, D)``.

    Constant columns have no correlation and count as 0. Returns NaN for fewer than 2
    columns.
    """
    d = z.shape[1]
    if d < 2:
        return float("nan")
    sd = z.std(0)
    live = sd > 0
    zc = (z - z.mean(0)) / np.where(live, sd, 1.0)
    r = zc.T @ zc / z.shape[0]
    r[~live, :] = 0.0
    r[:, ~live] = 0.0
    off = np.abs(r[~np.eye(d, dtype=bool)])
    return float(off.mean())


def gaussian_total_correlation(z: np.ndarray) -> float:
    """Total correlation of a Gaussian fitted to ``z`` ``(n, D)``: −½ log det R (R its
    correlation matrix); 0 for independent columns. Constant columns are dropped."""
    live = z.std(0) > 0
    if live.sum() < 2:
        return 0.0
    r = np.corrcoef(z[:, live], rowvar=False)
    sign, logdet = np.linalg.slogdet(r)
    return float("inf") if sign <= 0 else float(-0.5 * logdet)


@dataclass(frozen=True, eq=False)
class MeanVsSampledResult:
    """Correlation of mean and sampled representations, with and without passive variables.

    Attributes:
        labels: ``(D,)`` ``"active"``, ``"passive"`` or ``"mixed"`` per variable.
        correlation: mean |Pearson r| off the diagonal, keyed
            ``("mean"|"sampled", "all"|"without_passive"|"active")``.
        total_correlation: Gaussian total correlation, same keys.
    """

    labels: np.ndarray
    correlation: dict[tuple[str, str], float]
    total_correlation: dict[tuple[str, str], float]

    @property
    def n_active(self) -> int:
        return int((self.labels == ACTIVE).sum())

    @property
    def n_passive(self) -> int:
        return int((self.labels == PASSIVE).sum())

    @property
    def n_mixed(self) -> int:
        return int((self.labels == MIXED).sum())


def run_mean_vs_sampled(
    model: LatentVariableModel, data: Any, *, seed: int = 0
) -> MeanVsSampledResult:
    """Classify variables and compare mean vs sampled representations on ``data``.

    Args:
        model: a fitted model meeting the latent-model contract.
        data: ``X`` (or ``(X, *cond)``).
        seed: seed of the sampled representation.

    Returns:
        :class:`MeanVsSampledResult`.
    """
    enc = encode_data(model, data, seed=seed)
    var = enc.variances.double().numpy()
    prior = model.prior()
    if isinstance(prior, Independent) and isinstance(prior.base_dist, Normal):
        pv = prior.base_dist.scale.detach().double().cpu().numpy() ** 2
        var = var / np.broadcast_to(pv, var.shape[-1:])
    labels = classify_variables(var)
    reps = {"mean": enc.means.double().numpy(), "sampled": enc.samples.double().numpy()}
    subsets = {
        "all": np.ones(len(labels), dtype=bool),
        "without_passive": labels != PASSIVE,
        "active": labels == ACTIVE,
    }
    corr, tc = {}, {}
    for rname, rep in reps.items():
        for sname, mask in subsets.items():
            corr[(rname, sname)] = mean_abs_correlation(rep[:, mask])
            tc[(rname, sname)] = gaussian_total_correlation(rep[:, mask])
    return MeanVsSampledResult(labels=labels, correlation=corr, total_correlation=tc)


def check_mean_vs_sampled(result: MeanVsSampledResult) -> dict[str, Any]:
    """Summary: variable counts and the correlations the paper compares."""
    c = result.correlation
    return {
        "active": result.n_active,
        "passive": result.n_passive,
        "mixed": result.n_mixed,
        "corr_mean_all": c[("mean", "all")],
        "corr_sampled_all": c[("sampled", "all")],
        "corr_mean_without_passive": c[("mean", "without_passive")],
        "corr_sampled_without_passive": c[("sampled", "without_passive")],
        "passive_inflate_mean_correlation": bool(
            result.n_passive > 0 and c[("mean", "all")] > c[("mean", "without_passive")]
        ),
    }
