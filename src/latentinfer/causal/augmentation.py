"""Outcome-invariant data augmentations: the IV-like instruments of IVL.

An augmentation maps a treatment ``t`` to ``g·t`` with a random parameter ``g``. It is
*outcome invariant* for the causal function ``f`` when ``f(g·t) = f(t)`` for every ``g``
(a rotation of a cat picture leaves it a cat). Akbar et al. (2025) show that augmenting the
treatments with such a ``g``, drawn independently of the data, acts as a soft intervention
on the treatment, and that ``g`` itself is then "IV-like": independent of the confounders,
and it moves the treatment.

An augmentation is any callable ``augmentation(T, generator)`` taking the treatments
``T`` (a float64 tensor of shape ``(n, m)``) and a ``torch.Generator`` (its only source of
randomness) and returning the augmented treatments ``(n, m)`` and the parameters ``G``
drawn for each row, ``(n, k)``, either as an :class:`AugmentedData` or as a tuple
``(GT, G)`` (tensors or NumPy arrays). The built-ins below cover three common invariances.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, final

import torch

from latentinfer.core.errors import ConfigError, ShapeError, ValidationError
from latentinfer.core.validation import as_tensor, check_number

__all__ = [
    "Augmentation",
    "AugmentedData",
    "PeriodicShift",
    "SignFlip",
    "SubspaceTranslation",
    "apply_augmentation",
]


@dataclass(frozen=True)
class AugmentedData:
    """What an augmentation returns.

    Attributes:
        treatment: the augmented treatments ``g·t``, shape ``(n, m)``.
        params: the parameters ``g`` drawn for each row, shape ``(n, k)``: the IV-like
            instrument.
    """

    treatment: torch.Tensor
    params: torch.Tensor


class Augmentation(abc.ABC):
    """Base class of the built-in augmentations (any callable with this signature works)."""

    @abc.abstractmethod
    def __call__(self, T: torch.Tensor, generator: torch.Generator) -> AugmentedData:
        """Augment ``T`` of shape ``(n, m)``, drawing from ``generator`` only."""


def _basis(v: Any, name: str) -> torch.Tensor:
    b = as_tensor(v, name=name, ndim=(1, 2), dtype=torch.float64)
    return b[None, :] if b.ndim == 1 else b


@final
class SubspaceTranslation(Augmentation):
    """Random translations within a subspace: ``t ↦ t + strength · Bᵀ g``, ``g ~ N(0, I_k)``.

    Outcome invariant when ``f`` does not change along the rows of ``B``, e.g. a linear
    ``f(t) = fᵀt`` and ``B`` spanning the null space of ``fᵀ`` (:meth:`null_space_of`).

    Args:
        basis: ``B``, shape ``(k, m)``: the directions to translate along (used as given;
            :meth:`null_space_of` returns an orthonormal one).
        strength: the scale γ of the translations (γ ≥ 0).

    Example:
        >>> import torch
        >>> from latentinfer.causal import SubspaceTranslation
        >>> aug = SubspaceTranslation.null_space_of(torch.tensor([[1.0, 1.0, 0.0]]))
        >>> aug.basis.shape
        torch.Size([2, 3])
        >>> out = aug(torch.zeros(4, 3, dtype=torch.float64), torch.Generator().manual_seed(0))
        >>> out.treatment.shape, out.params.shape
        (torch.Size([4, 3]), torch.Size([4, 2]))
        >>> t = out.treatment  # moved, but t0 + t1 (what f sees) is unchanged
        >>> bool(torch.allclose(t[:, 0] + t[:, 1], torch.zeros(4, dtype=torch.float64)))
        True
    """

    def __init__(self, basis: Any, *, strength: float = 1.0) -> None:
        self.basis = _basis(basis, "basis")
        self.strength = check_number(strength, name="strength", low=0)

    @classmethod
    def null_space_of(
        cls, invariant: Any, *, strength: float = 1.0, rtol: float = 1e-10
    ) -> SubspaceTranslation:
        """Translations along an orthonormal basis of the null space of ``invariant``.

        Args:
            invariant: ``A``, shape ``(r, m)`` (or ``(m,)``): ``f`` depends on ``t`` only
                through ``A t``, so it is invariant to moves ``v`` with ``A v = 0``.
            strength: the scale γ of the translations.
            rtol: singular values below ``rtol`` times the largest count as zero.

        Raises:
            ValidationError: the null space is empty (``A`` has full column rank).
        """
        a = _basis(invariant, "invariant")
        _, s, vh = torch.linalg.svd(a, full_matrices=True)
        rank = int((s > rtol * s.max()).sum()) if s.numel() and float(s.max()) > 0 else 0
        if rank >= a.shape[1]:
            raise ValidationError(
                f"invariant of shape {tuple(a.shape)} has full column rank {rank}: its null "
                "space is empty, so there is no direction to translate along."
            )
        return cls(vh[rank:], strength=strength)

    def __call__(self, T: torch.Tensor, generator: torch.Generator) -> AugmentedData:
        if T.shape[1] != self.basis.shape[1]:
            raise ShapeError(
                f"T has {T.shape[1]} column(s) but the translation basis has "
                f"{self.basis.shape[1]}; pass a basis of shape (k, {T.shape[1]})."
            )
        g = torch.randn(T.shape[0], self.basis.shape[0], generator=generator, dtype=T.dtype)
        return AugmentedData(T + self.strength * g @ self.basis.to(T.dtype), g)


@final
class SignFlip(Augmentation):
    """``t ↦ g·t`` with ``g = ±1`` (equally likely): invariance of an even ``f``, ``f(−t) = f(t)``.

    ``G`` is the sign, shape ``(n, 1)``.
    """

    def __call__(self, T: torch.Tensor, generator: torch.Generator) -> AugmentedData:
        g = torch.randint(0, 2, (T.shape[0], 1), generator=generator).to(T.dtype) * 2 - 1
        return AugmentedData(g * T, g)


@final
class PeriodicShift(Augmentation):
    """``t ↦ t + period · g``, ``g`` uniform on ``{−max_shift, …, max_shift}`` per coordinate.

    The invariance of an ``f`` that is periodic in every coordinate. ``G`` is the integer
    shift per coordinate, shape ``(n, m)``.

    Args:
        period: the period of ``f`` (> 0).
        max_shift: the largest shift, in periods (an integer ≥ 1).
    """

    def __init__(self, period: float, *, max_shift: int = 1) -> None:
        self.period = check_number(period, name="period", low=0, low_inclusive=False)
        self.max_shift = int(check_number(max_shift, name="max_shift", low=1, integer=True))

    def __call__(self, T: torch.Tensor, generator: torch.Generator) -> AugmentedData:
        k = self.max_shift
        g = torch.randint(-k, k + 1, tuple(T.shape), generator=generator).to(T.dtype)
        return AugmentedData(T + self.period * g, g)


def apply_augmentation(
    augmentation: Any, T: torch.Tensor, generator: torch.Generator, *, name: str = "augmentation"
) -> AugmentedData:
    """Run a (user-supplied) augmentation and check what it returns.

    Args:
        augmentation: a callable ``(T, generator) -> AugmentedData | (GT, G)``.
        T: treatments, shape ``(n, m)``, float64.
        generator: the augmentation's source of randomness.
        name: the argument's name in error messages.

    Returns:
        The augmented treatments ``(n, m)`` and parameters ``(n, k)``, float64 on ``T``'s device.

    Raises:
        ConfigError: ``augmentation`` is not callable.
        ValidationError: it returned something other than a pair, or NaN/Inf.
        ShapeError: the augmented treatments do not have ``T``'s shape, or ``G`` has another
            number of rows or no columns.
    """
    if not callable(augmentation):
        raise ConfigError(
            f"{name} must be a callable (T, generator) -> (augmented T, parameters G), such as "
            f"SubspaceTranslation(...); got {augmentation!r}."
        )
    out = augmentation(T.clone(), generator)
    if isinstance(out, AugmentedData):
        gt_raw, g_raw = out.treatment, out.params
    elif isinstance(out, (tuple, list)) and len(out) == 2:
        gt_raw, g_raw = out
    else:
        raise ValidationError(
            f"{name} must return (augmented T, parameters G) or an AugmentedData; got "
            f"{type(out).__name__}."
        )
    gt = as_tensor(gt_raw, name=f"the treatment returned by {name}", dtype=torch.float64)
    if gt.ndim == 1 and T.shape[1] == 1:
        gt = gt[:, None]
    if tuple(gt.shape) != tuple(T.shape):
        raise ShapeError(
            f"{name} returned augmented treatments of shape {tuple(gt.shape)}; they must have "
            f"the shape of T, {tuple(T.shape)}."
        )
    g = as_tensor(g_raw, name=f"the parameters G returned by {name}", dtype=torch.float64)
    if g.ndim == 1:
        g = g[:, None]
    if g.ndim != 2 or g.shape[0] != T.shape[0] or g.shape[1] < 1:
        raise ShapeError(
            f"{name} returned parameters G of shape {tuple(g.shape)}; they must have shape "
            f"(n, k) with one row per row of T (n = {T.shape[0]}) and k ≥ 1."
        )
    return AugmentedData(gt.to(T.device), g.to(T.device))
