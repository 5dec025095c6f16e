"""Posterior collapse in plain, conditional and hierarchical VAEs (Dang et al., ICLR 2024).

A latent dimension has *collapsed* when q(z_j|x) ≈ p(z_j) for every x, so that its mean KL
is about 0 and it carries no information; we flag KL_j < 0.01 nats (the threshold of the
paper's code), or a posterior mean that does not move with x (Var_x E[z_j|x] < 0.01,
Burda's inactive unit). The second test catches collapse under a *fixed* encoder variance,
where q cannot equal the prior exactly and the KL stays above 0 although the encoder
ignores its input. :func:`run_collapse` reports this per latent group (``z`` for one level,
``z1``/``z2`` for the two levels of a hierarchical VAE, so one sees *which level*
collapsed) and, for conditional models, the input–output correlation that the paper
identifies as a cause of collapse in CVAEs.

For linear models the paper's theory predicts which dimensions collapse:
:func:`predict_linear_collapse` (VAE, CVAE) and :func:`predict_linear_hvae_collapse`
(the two-level MHVAE). With encoder q(z|x, c) = N(W₁x + W₂c, Σ) (Σ learnable,
shared across inputs), decoder p(x|z, c) = N(U₁z + U₂c, η² I) and prior N(0, I), latent
dimension i collapses iff θ_i < β η², where θ_i are the eigenvalues of the residual
covariance of x given c, E = Σ_xx − Σ_xc Σ_cc⁻¹ Σ_cx (without conditioning, of Σ_xx).
The stronger x is predicted by c, the smaller E's eigenvalues and the more dimensions
collapse. We use centred covariances because our linear maps have biases (the paper's
linear models have none and use second moments).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from latentinfer.core.validation import as_tensor, check_number, check_same_rows
from latentinfer.diagnostics._encoding import encode_data, model_inputs
from latentinfer.vae.base import LatentVariableModel

__all__ = [
    "CollapseResult",
    "GroupCollapse",
    "LinearCollapsePrediction",
    "LinearHVAECollapsePrediction",
    "canonical_correlations",
    "check_collapse",
    "predict_linear_collapse",
    "predict_linear_hvae_collapse",
    "run_collapse",
]


@dataclass(frozen=True, eq=False)
class GroupCollapse:
    """Collapse statistics of one group of latent dimensions (one level).

    Attributes:
        kl_per_dim: ``(d,)`` mean KL per dimension (nats).
        mean_variance: ``(d,)`` Var_x(E_q[z_j|x]).
        collapsed: ``(d,)`` bool, KL below its threshold or mean variance below its own.
    """

    kl_per_dim: np.ndarray
    mean_variance: np.ndarray
    collapsed: np.ndarray

    @property
    def n_collapsed(self) -> int:
        """Number of collapsed dimensions."""
        return int(self.collapsed.sum())

    @property
    def fraction_collapsed(self) -> float:
        """Share of the group's dimensions that collapsed."""
        return float(self.collapsed.mean())


@dataclass(frozen=True, eq=False)
class LinearCollapsePrediction:
    """The linear theory's prediction (see the module docstring).

    Attributes:
        eigenvalues: ``(latent_dim,)`` the top eigenvalues θ of the (residual) covariance,
            descending (zeros when the latent is wider than the data's rank).
        threshold: β η².
        collapsed: ``(latent_dim,)`` bool, θ_i < threshold.
    """

    eigenvalues: np.ndarray
    threshold: float
    collapsed: np.ndarray

    @property
    def n_collapsed(self) -> int:
        """Number of dimensions predicted to collapse."""
        return int(self.collapsed.sum())


@dataclass(frozen=True, eq=False)
class CollapseResult:
    """What :func:`run_collapse` found.

    Attributes:
        groups: per latent group (``"z"``, or ``"z1"``, ``"z2"``), a :class:`GroupCollapse`.
        kl_threshold: the KL threshold used.
        input_output_correlation: for conditional models, the canonical correlations
            between the conditioning input and the data (descending), else ``None``.
        linear_prediction: the linear theory's prediction when the model is the one the
            theory is about: linear (``hidden=()``), a fixed-scale Gaussian likelihood
            (``obs_scale`` set), one latent level and a shared encoder variance
            (``posterior_variance="shared"``); else ``None``.
    """

    groups: dict[str, GroupCollapse]
    kl_threshold: float
    input_output_correlation: np.ndarray | None
    linear_prediction: LinearCollapsePrediction | None

    @property
    def n_collapsed(self) -> int:
        """Collapsed dimensions over all groups."""
        return sum(g.n_collapsed for g in self.groups.values())


def _covariance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(0)
    b = b - b.mean(0)
    return a.T @ b / max(1, a.shape[0] - 1)


def _as_matrix(x: Any, name: str) -> np.ndarray:
    t = as_tensor(x, name=name, ndim=(1, 2, 3, 4), dtype=None)
    arr = t.double().numpy()
    return arr.reshape(arr.shape[0], -1)


def canonical_correlations(C: Any, X: Any, *, ridge: float = 1e-8) -> np.ndarray:
    """Canonical correlations between ``C`` ``(n, p)`` and ``X`` ``(n, q)``, descending.

    The singular values of Σ_cc^{-1/2} Σ_cx Σ_xx^{-1/2} (a small ``ridge`` keeps the
    inverse square roots finite for rank-deficient data).
    """
    c, x = _as_matrix(C, "C"), _as_matrix(X, "X")
    check_same_rows(C=c, X=x)  # type: ignore[arg-type]

    def inv_sqrt(m: np.ndarray) -> np.ndarray:
        w, v = np.linalg.eigh(m + ridge * np.trace(m) / len(m) * np.eye(len(m)))
        return (v / np.sqrt(np.clip(w, 1e-300, None))) @ v.T

    k = inv_sqrt(_covariance(c, c)) @ _covariance(c, x) @ inv_sqrt(_covariance(x, x))
    return np.clip(np.linalg.svd(k, compute_uv=False), 0.0, 1.0)


def predict_linear_collapse(
    X: Any,
    C: Any | None = None,
    *,
    latent_dim: int,
    beta: float = 1.0,
    obs_scale: float = 1.0,
) -> LinearCollapsePrediction:
    """Which dimensions a linear (C)VAE with learnable shared encoder variance collapses.

    Args:
        X: data ``(n, d_x)`` (the modelled variable, y in the paper).
        C: conditioning input ``(n, d_c)`` for a CVAE (x in the paper), or ``None``.
        latent_dim: number of latent dimensions.
        beta: KL weight β.
        obs_scale: the decoder's noise standard deviation η.

    Returns:
        :class:`LinearCollapsePrediction`.
    """
    check_number(latent_dim, name="latent_dim", low=1, integer=True)
    check_number(beta, name="beta", low=0)
    check_number(obs_scale, name="obs_scale", low=0, low_inclusive=False)
    x = _as_matrix(X, "X")
    e = _covariance(x, x)
    if C is not None:
        c = _as_matrix(C, "C")
        check_same_rows(X=x, C=c)  # type: ignore[arg-type]
        sxc = _covariance(x, c)
        e = e - sxc @ np.linalg.pinv(_covariance(c, c)) @ sxc.T
    theta = np.sort(np.clip(np.linalg.eigvalsh((e + e.T) / 2), 0.0, None))[::-1]
    top = np.zeros(latent_dim)
    top[: min(latent_dim, len(theta))] = theta[:latent_dim]
    threshold = beta * obs_scale**2
    return LinearCollapsePrediction(eigenvalues=top, threshold=threshold, collapsed=top < threshold)


@dataclass(frozen=True, eq=False)
class LinearHVAECollapsePrediction:
    """Theorem 3 of Dang et al. for the linear two-level MHVAE (see
    :func:`predict_linear_hvae_collapse`).

    Attributes:
        theta: ``(d,)`` the top singular values θ_i = √eig(Σ_xx), descending.
        z1_collapsed: ``(d1,)`` bool, level-1 dimensions whose encoder map is 0.
        z2_collapsed: ``(d2,)`` bool, level-2 dimensions whose decoder map is 0.
    """

    theta: np.ndarray
    z1_collapsed: np.ndarray
    z2_collapsed: np.ndarray


def predict_linear_hvae_collapse(
    X: Any,
    *,
    latent_dims: tuple[int, int],
    sigma1_sq: float,
    beta1: float = 1.0,
    beta2: float = 1.0,
    obs_scale: float = 1.0,
) -> LinearHVAECollapsePrediction:
    """Which dimensions a linear MHVAE collapses (our reading of Theorem 3, from the
    authors' code).

    Model: q(z₁|x) = N(W₁x, σ₁² I) with σ₁ *fixed*, q(z₂|z₁) = N(W₂z₁, Σ₂) with Σ₂
    learnable, p(z₁|z₂) = N(U₂z₂, η² I), p(x|z₁) = N(U₁z₁, η² I), p(z₂) = N(0, I); KL
    weights β₁, β₂; θ_i = √eig(Σ_xx). Then

    - if σ₁² ≥ (β₂/β₁)η², no z₂ dimension collapses, and z₁ dimension i collapses iff
      θ_i² ≤ β₂η²;
    - otherwise z₂ dimension i collapses iff σ₁²θ_i² < β₂²η⁴/β₁, in which case z₁
      dimension i collapses iff θ_i ≤ √β₁ σ₁ (and iff θ_i² ≤ β₂η² when z₂ does not).

    Args:
        X: data ``(n, d_x)``.
        latent_dims: ``(d1, d2)``.
        sigma1_sq: the fixed first-level encoder variance σ₁².
        beta1, beta2: KL weights of the two levels.
        obs_scale: η, the noise scale of p(x|z₁) and p(z₁|z₂).

    Returns:
        :class:`LinearHVAECollapsePrediction`.
    """
    d1, d2 = (int(d) for d in latent_dims)
    check_number(sigma1_sq, name="sigma1_sq", low=0, low_inclusive=False)
    check_number(obs_scale, name="obs_scale", low=0, low_inclusive=False)
    x = _as_matrix(X, "X")
    eig = np.sort(np.clip(np.linalg.eigvalsh(_covariance(x, x)), 0.0, None))[::-1]
    d = max(d1, d2)
    theta_sq = np.zeros(d)
    theta_sq[: min(d, len(eig))] = eig[:d]
    eta2 = obs_scale**2
    z2_collapse = np.zeros(d, dtype=bool)
    if sigma1_sq < (beta2 / beta1) * eta2:
        z2_collapse = sigma1_sq * theta_sq < beta2**2 * eta2**2 / beta1
    z1_collapse = np.where(
        z2_collapse, np.sqrt(theta_sq) <= np.sqrt(beta1 * sigma1_sq), theta_sq <= beta2 * eta2
    )
    return LinearHVAECollapsePrediction(
        theta=np.sqrt(theta_sq), z1_collapsed=z1_collapse[:d1], z2_collapsed=z2_collapse[:d2]
    )


def _is_linear_single_level(model: LatentVariableModel) -> bool:
    return (
        getattr(model, "hidden", None) == ()
        and getattr(model, "likelihood_", None) == "gaussian"
        and getattr(model, "obs_scale", None) is not None
        and set(getattr(model, "latent_groups", {})) == {"z"}
        and getattr(model, "architecture_", None) == "mlp"
        and getattr(model, "posterior_variance", None) == "shared"
    )


def run_collapse(
    model: LatentVariableModel,
    data: Any,
    *,
    kl_threshold: float = 0.01,
    au_threshold: float = 0.01,
    seed: int = 0,
) -> CollapseResult:
    """Detect posterior collapse per latent level, with its known causes.

    Args:
        model: a fitted model meeting the latent-model contract (``latent_groups`` names
            its levels; one group ``"z"`` otherwise).
        data: ``X``, or ``(X, C)`` for a conditional model.
        kl_threshold: mean KL (nats) under which a dimension counts as collapsed.
        au_threshold: Var_x of the posterior mean under which it counts as collapsed too.
        seed: seed of the Monte Carlo parts.

    Returns:
        :class:`CollapseResult`.
    """
    check_number(kl_threshold, name="kl_threshold", low=0)
    check_number(au_threshold, name="au_threshold", low=0)
    enc = encode_data(model, data, seed=seed)
    kl = enc.kl_per_dim.numpy()
    mean_var = enc.means.double().var(0).numpy()
    groups_spec = getattr(model, "latent_groups", None) or {"z": slice(0, len(kl))}
    groups = {
        name: GroupCollapse(
            kl_per_dim=kl[sl],
            mean_variance=mean_var[sl],
            collapsed=(kl[sl] < kl_threshold) | (mean_var[sl] < au_threshold),
        )
        for name, sl in groups_spec.items()
    }
    x, cs = model_inputs(model, data)
    corr = canonical_correlations(cs[0], x) if cs else None
    prediction = None
    if _is_linear_single_level(model):
        prediction = predict_linear_collapse(
            x,
            cs[0] if cs else None,
            latent_dim=len(kl),
            beta=float(model.beta),  # type: ignore[arg-type]
            obs_scale=float(model.obs_scale),  # type: ignore[arg-type]
        )
    return CollapseResult(
        groups=groups,
        kl_threshold=kl_threshold,
        input_output_correlation=corr,
        linear_prediction=prediction,
    )


def check_collapse(result: CollapseResult) -> dict[str, Any]:
    """Summary of :func:`run_collapse`: a verdict and the numbers behind it.

    Returns:
        ``{"verdict": str, "levels": {name: "k/d collapsed"}, "fully_collapsed_levels":
        [names of levels that lost every dimension], ...}``.
    """
    levels = {
        name: f"{g.n_collapsed}/{len(g.collapsed)} collapsed" for name, g in result.groups.items()
    }
    fully = [name for name, g in result.groups.items() if g.collapsed.all()]
    partial = [name for name, g in result.groups.items() if 0 < g.n_collapsed < len(g.collapsed)]
    if fully:
        verdict = "posterior collapse of level(s) " + ", ".join(fully)
    elif partial:
        verdict = "partial collapse in " + ", ".join(
            f"{n} ({result.groups[n].n_collapsed}/{len(result.groups[n].collapsed)} dims)"
            for n in partial
        )
    else:
        verdict = "no collapsed dimensions"
    summary: dict[str, Any] = {
        "verdict": verdict,
        "levels": levels,
        "fully_collapsed_levels": fully,
        "criterion": f"KL < {result.kl_threshold:g} nats or Var_x E[z|x] < 0.01",
    }
    if result.input_output_correlation is not None:
        cc = result.input_output_correlation
        summary["max_input_output_correlation"] = float(cc[0]) if len(cc) else 0.0
        summary["mean_input_output_correlation"] = float(cc.mean()) if len(cc) else 0.0
    if result.linear_prediction is not None:
        summary["linear_theory_collapsed"] = result.linear_prediction.n_collapsed
    return summary
