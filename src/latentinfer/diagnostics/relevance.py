"""Relevance of each latent axis: ARD-VAE's learned relevance, or KL shares for other models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from latentinfer.core.validation import check_choice, check_number
from latentinfer.diagnostics._encoding import encode_data
from latentinfer.vae.ard import DEFAULT_THRESHOLDS, relevant_from_scores
from latentinfer.vae.base import LatentVariableModel

__all__ = ["RelevanceResult", "check_relevance", "relevant_from_scores", "run_relevance"]


@dataclass(frozen=True, eq=False)
class RelevanceResult:
    """Relevance per latent axis.

    Attributes:
        relevance: ``(D,)`` normalised relevance (sums to 1).
        relevant_dims: relevant axes, most relevant first.
        source: ``"ard"`` (ARD-VAE's prior-variance × decoder-Jacobian score) or ``"kl"``
            (share of the total KL, for models without ARD).
        prior_variance: ``(D,)`` ARD's prior variances, or ``None``.
        criterion: how the relevant axes were picked, in words.
    """

    relevance: np.ndarray
    relevant_dims: np.ndarray
    source: str
    prior_variance: np.ndarray | None
    criterion: str


def run_relevance(
    model: LatentVariableModel,
    data: Any | None = None,
    *,
    threshold: float | None = None,
    rule: str | None = None,
    kl_threshold: float = 0.01,
) -> RelevanceResult:
    """Relevance of each latent axis.

    For an :class:`~latentinfer.vae.ARDVAE` this reads its fitted ``relevance_`` (``data``
    is not needed); for any other model it uses each axis's share of the KL on ``data``,
    and an axis must also carry more than ``kl_threshold`` nats to count as relevant (so a
    model whose every axis collapsed has none).
    ``rule`` and ``threshold`` pick the relevant axes as
    :func:`latentinfer.vae.ard.relevant_from_scores` does (``None``: the model's own rule
    and threshold for an ARD-VAE, ``"share"`` otherwise).
    """
    if rule is None:
        rule = getattr(model, "relevance_rule", "share")
        if threshold is None:
            threshold = getattr(model, "relevance_threshold", None)
    check_choice(rule, name="rule", choices=("share", "cumulative"))
    check_number(threshold, name="threshold", low=0, high=1, low_inclusive=False, allow_none=True)
    t = DEFAULT_THRESHOLDS[rule] if threshold is None else threshold
    rule_text = f"share ≥ {t:g}" if rule == "share" else f"top axes covering {t:g} of the total"
    if hasattr(model, "relevance_"):
        rel = np.asarray(model.relevance_, dtype=float)
        return RelevanceResult(
            relevance=rel,
            relevant_dims=relevant_from_scores(rel, threshold, rule),
            source="ard",
            prior_variance=np.asarray(model.prior_variance_, dtype=float),
            criterion=f"ARD relevance (prior variance × decoder Jacobian), {rule_text}",
        )
    if data is None:
        from latentinfer.core.errors import ValidationError

        raise ValidationError(
            f"data is None; {type(model).__name__} has no fitted relevance_, so its relevance "
            "is measured as KL shares on data: pass X (or (X, C))."
        )
    kl = np.clip(encode_data(model, data).kl_per_dim.numpy(), 0.0, None)
    rel = kl / kl.sum() if kl.sum() > 0 else np.zeros_like(kl)
    picked = relevant_from_scores(kl, threshold, rule)
    return RelevanceResult(
        relevance=rel,
        relevant_dims=picked[kl[picked] > kl_threshold],
        source="kl",
        prior_variance=None,
        criterion=f"KL share, {rule_text}, and KL > {kl_threshold:g} nats",
    )


def check_relevance(result: RelevanceResult) -> dict[str, Any]:
    """Summary: number of relevant axes, which ones, and the source of the score."""
    return {
        "relevant": len(result.relevant_dims),
        "relevant_dims": result.relevant_dims.tolist(),
        "source": result.source,
        "criterion": result.criterion,
    }
