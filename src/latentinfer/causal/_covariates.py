"""Covariates shared by the causal estimators: ``[X, W]`` at fit, the rows effects are asked for.

Our estimators model the outcome given all covariates, effect modifiers ``X`` and controls
``W`` alike. Effects for the training rows (``X=None``) use both; effects for new rows
get only ``X`` (the contract's ``effect(X)``), so an estimator fitted with ``W`` can give
them only when it did not need ``W``, and says so otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from latentinfer.core.errors import ConfigError

__all__ = [
    "MAX_CONTROL_ROWS",
    "Standardizer",
    "TrainingRows",
    "controls_per_row",
    "effect_covariates",
    "mean_over_controls",
]


class TrainingRows:
    """Mixin for a :class:`~latentinfer.causal.base.CausalEstimator`: ``effect(None)`` reaches
    ``_effect`` as ``X=None`` (the training rows, with their controls and outcomes), not as
    the training ``X``. Put it before ``CausalEstimator`` in the bases."""

    def _check_x(self, X: Any) -> torch.Tensor | None:
        if X is None:
            self._check_fitted()  # type: ignore[attr-defined]
            return None
        return super()._check_x(X)  # type: ignore[misc, no-any-return]


#: training rows of W paired with each new row when effects average over the controls
MAX_CONTROL_ROWS = 256


def controls_per_row(est: object, x: torch.Tensor | None) -> int:
    """How many covariate rows :func:`effect_covariates` gives per row of ``x`` (1, or m)."""
    n_w = int(getattr(est, "n_features_w_", 0) or 0)
    if x is None or not n_w:
        return 1
    train = getattr(est, "covariates_train_", None)
    if train is None:
        raise ConfigError(
            f"this {type(est).__name__} was fitted with controls W and holds no training rows "
            "(it was loaded from disk), so effect(X) cannot average over W; fit it again."
        )
    if train.shape[1] <= (0 if x is None else x.shape[1]):
        return 1  # every control copied a column of X: nothing to average over
    return min(MAX_CONTROL_ROWS, train.shape[0])


def effect_covariates(est: object, x: torch.Tensor | None) -> torch.Tensor:
    """The covariate rows (float64) an effect is asked for.

    ``x is None``: the training rows' ``[X, W]`` ``(n_train, d)``. New rows ``x`` ``(n, d_x)``
    of an estimator fitted without W: ``x`` itself. Fitted with W, EconML's meaning of
    ``effect(X)`` (the effect given X, averaged over the controls): each row of ``x`` is
    paired with ``m`` = :func:`controls_per_row` training rows of W (evenly spaced through
    the training set, at most :data:`MAX_CONTROL_ROWS`), giving ``(n · m, d)`` rows, row
    ``i · m + j`` = ``[x_i, w_j]``; average the effects with :func:`mean_over_controls`.
    """
    if x is None:
        train = getattr(est, "covariates_train_", None)
        if train is None:
            raise ConfigError(
                f"this {type(est).__name__} holds no training rows (it was loaded from disk); "
                "pass X to effect()."
            )
        return train
    x = x.to(torch.float64)
    m = controls_per_row(est, x)
    if m == 1:
        return x
    train = est.covariates_train_  # type: ignore[attr-defined]
    pick = torch.linspace(0, train.shape[0] - 1, m).round().long()
    w = train[pick, x.shape[1] :].to(torch.float64)
    return torch.cat([x.repeat_interleave(m, dim=0), w.repeat(x.shape[0], 1)], dim=1)


def mean_over_controls(values: torch.Tensor, m: int, dim: int = -1) -> torch.Tensor:
    """Average ``values`` whose ``dim`` runs over ``n · m`` grid rows down to ``n`` rows."""
    if m == 1:
        return values
    dim = dim % values.ndim
    shape = (*values.shape[:dim], values.shape[dim] // m, m, *values.shape[dim + 1 :])
    return values.reshape(shape).mean(dim + 1)


@dataclass(frozen=True)
class Standardizer:
    """Centres and scales the non-binary columns of a matrix; 0/1 columns are left as they are.

    Attributes:
        mean: ``(d,)`` column means (0 for binary columns).
        scale: ``(d,)`` column standard deviations (1 for binary or constant columns).
        binary: ``(d,)`` bool, columns holding only 0 and 1.
    """

    mean: torch.Tensor
    scale: torch.Tensor
    binary: torch.Tensor

    @classmethod
    def fit(cls, c: torch.Tensor) -> Standardizer:
        """Learn from ``c`` ``(n, d)``."""
        c = c.to(torch.float64)
        if c.shape[1] == 0:  # no covariates (torch warns on reductions of empty tensors)
            empty = c.new_zeros(0)
            return cls(mean=empty, scale=empty.clone(), binary=empty.bool())
        binary = (
            ((c == 0) | (c == 1)).all(0)
            if c.shape[0]
            else torch.zeros(c.shape[1], dtype=torch.bool)
        )
        mean = torch.where(binary, 0.0, c.mean(0))
        sd = c.std(0, unbiased=False) if c.shape[0] > 1 else torch.ones(c.shape[1], dtype=c.dtype)
        scale = torch.where(binary | ~(sd > 1e-12), 1.0, sd)
        return cls(mean=mean, scale=scale, binary=binary)

    def __call__(self, c: torch.Tensor) -> torch.Tensor:
        """``(c − mean) / scale``, float64."""
        return (c.to(torch.float64) - self.mean) / self.scale

    def to_dict(self) -> dict[str, list[float] | list[bool]]:
        """JSON-able form."""
        return {
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "binary": self.binary.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, list[float] | list[bool]]) -> Standardizer:
        """Inverse of :meth:`to_dict`."""
        return cls(
            mean=torch.tensor(d["mean"], dtype=torch.float64),
            scale=torch.tensor(d["scale"], dtype=torch.float64),
            binary=torch.tensor(d["binary"], dtype=torch.bool),
        )
