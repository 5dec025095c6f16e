"""How well estimated effects match the truth: √PEHE, ATE error, interval coverage.

The standard evaluation of treatment-effect estimators on data with known potential
outcomes (Hill 2011; Shalit et al. 2017):

- √PEHE = sqrt(mean_i (τ̂_i − τ_i)²), the root of the precision in estimating
  heterogeneous effects (tables report the root; so does :func:`pehe`);
- ATE error = |mean_i τ̂_i − mean_i τ_i|;
- coverage = the share of rows whose true effect lies in its interval.

All take arrays or tensors of shape ``(n,)`` and return floats.

Example:
    >>> import numpy as np
    >>> from latentinfer.causal.metrics import ate_error, pehe, score_effects
    >>> truth = np.array([1.0, 2.0, 3.0]); est = np.array([1.5, 2.0, 2.5])
    >>> round(pehe(est, truth), 4), ate_error(est, truth)
    (0.4082, 0.0)
    >>> score_effects(est, truth, lower=est - 1, upper=est + 1).coverage
    1.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from latentinfer.core.errors import ShapeError, ValidationError
from latentinfer.core.validation import as_tensor

__all__ = ["EffectScores", "ate_error", "interval_coverage", "pehe", "score_effects"]


def _vec(v: Any, name: str) -> np.ndarray:
    t = as_tensor(v, name=name, ndim=(1, 2), dtype=None)
    a = t.double().numpy()
    if a.ndim == 2:
        if a.shape[1] != 1:
            raise ShapeError(f"{name} must be one column, shape (n,); got shape {a.shape}.")
        a = a[:, 0]
    return a


def _pair(estimate: Any, truth: Any) -> tuple[np.ndarray, np.ndarray]:
    e, t = _vec(estimate, "estimate"), _vec(truth, "truth")
    if e.shape != t.shape:
        raise ShapeError(
            f"estimate and truth must have the same length; got {e.shape[0]} and {t.shape[0]}."
        )
    return e, t


def pehe(estimate: Any, truth: Any) -> float:
    """√PEHE: the root mean squared error of per-row effects, ``(n,)`` against ``(n,)``."""
    e, t = _pair(estimate, truth)
    return float(np.sqrt(np.mean((e - t) ** 2)))


def ate_error(estimate: Any, truth: Any) -> float:
    """|mean(estimate) − mean(truth)|; ``estimate`` may be per-row effects or one number.

    Raises:
        ValidationError: NaN or Inf in either (a number as well as an array).
    """
    if np.ndim(estimate) == 0:
        ate = float(as_tensor(estimate, name="estimate", dtype=torch.float64, min_rows=0))
        return float(abs(ate - float(np.mean(_vec(truth, "truth")))))
    e, t = _pair(estimate, truth)
    return float(abs(e.mean() - t.mean()))


def interval_coverage(lower: Any, upper: Any, truth: Any) -> float:
    """The share of rows with ``lower ≤ truth ≤ upper`` (all ``(n,)``)."""
    lo, t = _pair(lower, truth)
    hi, _ = _pair(upper, truth)
    if bool((lo > hi).any()):
        raise ValidationError("lower must not exceed upper; got a row with lower > upper.")
    return float(np.mean((lo <= t) & (t <= hi)))


@dataclass(frozen=True)
class EffectScores:
    """√PEHE, ATE error and (with intervals) coverage and mean width of one estimate.

    Attributes:
        sqrt_pehe: √PEHE.
        ate_error: |estimated ATE − true ATE|.
        ate: the estimated ATE (mean of the per-row effects).
        true_ate: the true (sample) ATE.
        coverage: share of true effects inside their intervals (``None`` without them).
        mean_width: mean interval width (``None`` without intervals).
    """

    sqrt_pehe: float
    ate_error: float
    ate: float
    true_ate: float
    coverage: float | None = None
    mean_width: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        """The scores as a plain dict."""
        return {
            "sqrt_pehe": self.sqrt_pehe,
            "ate_error": self.ate_error,
            "ate": self.ate,
            "true_ate": self.true_ate,
            "coverage": self.coverage,
            "mean_width": self.mean_width,
        }


def score_effects(
    estimate: Any, truth: Any, *, lower: Any = None, upper: Any = None
) -> EffectScores:
    """All scores at once for per-row effects ``estimate`` ``(n,)`` against ``truth``.

    Args:
        estimate: estimated effects ``(n,)``.
        truth: true effects ``(n,)``.
        lower, upper: interval bounds ``(n,)`` (both or neither).

    Returns:
        :class:`EffectScores`.
    """
    e, t = _pair(estimate, truth)
    cov = width = None
    if (lower is None) != (upper is None):
        raise ValidationError("pass both lower and upper, or neither.")
    if lower is not None:
        cov = interval_coverage(lower, upper, t)
        width = float(np.mean(_vec(upper, "upper") - _vec(lower, "lower")))
    return EffectScores(
        sqrt_pehe=pehe(e, t),
        ate_error=ate_error(e, t),
        ate=float(e.mean()),
        true_ate=float(t.mean()),
        coverage=cov,
        mean_width=width,
    )
