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

__all__ = ["Standardizer", "TrainingRows", "effect_covariates"]


class TrainingRows:
    """Mixin for a :class:`~latentinfer.causal.base.CausalEstimator`: ``effect(None)`` reaches
    ``_effect`` as ``X=None`` (the training rows, with their controls and outcomes), not as
    the training ``X``. Put it before ``CausalEstimator`` in the bases."""

    def _check_x(self, X: Any) -> torch.Tensor | None:
        if X is None:
            self._check_fitted()  # type: ignore[attr-defined]
            return None
        return super()._check_x(X)  # type: ignore[misc, no-any-return]


def effect_covariates(est: object, x: torch.Tensor | None) -> torch.Tensor:
    """The covariate rows ``(n, d)`` (float64) an effect is asked for.

    ``x is None``: the training rows' ``[X, W]``; otherwise ``x`` itself, which needs the
    estimator to have been fitted without ``W``.
    """
    if x is None:
        train = getattr(est, "covariates_train_", None)
        if train is None:
            raise ConfigError(
                f"this {type(est).__name__} holds no training rows (it was loaded from disk); "
                "pass X to effect()."
            )
        return train
    if getattr(est, "n_features_w_", 0):
        raise ConfigError(
            f"this {type(est).__name__} was fitted with controls W, which effect(X) cannot "
            "take for new rows; use effect() for the training rows, or fit with every "
            "covariate in X."
        )
    return x.to(torch.float64)


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
