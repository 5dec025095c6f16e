"""The simulations of Akbar et al. (2025): confounded data with a known invariance of f.

- :func:`linear_invariance_sem`: the linear Gaussian simulation. ``T = C W_T + N_T``,
  ``Y = Tᵀf + κ·C w_Y + N_Y`` with a hidden confounder ``C ~ N(0, I_m)``, all weights
  ``N(0, 1)``, noise standard deviation 0.1; ``f`` is invariant to translations in the null
  space of ``fᵀ``, whose orthonormal basis comes with the data.
- :func:`nonlinear_invariance_sem`: one treatment, ``T = 2C + N_T``,
  ``Y = f(T) + 5C + N_Y / √2`` with ``f`` one of ``abs`` (invariant to sign flips), ``sin``
  (to shifts by 2π) and ``step`` (sign; to positive rescaling).
- :func:`ncer`: the normalised causal excess risk ``‖ĥ − f‖² / ‖f‖²`` (0 for the causal
  solution, 1 for the null effect ``h₀ = 0``).

(These live here, not in :mod:`latentinfer.data`, until the causal data loaders settle.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from latentinfer.causal.augmentation import (
    Augmentation,
    AugmentedData,
    PeriodicShift,
    SignFlip,
    SubspaceTranslation,
)
from latentinfer.core.errors import ShapeError
from latentinfer.core.seeding import resolve_seed
from latentinfer.core.validation import as_tensor, check_choice, check_number

__all__ = ["InvarianceSimulation", "linear_invariance_sem", "ncer", "nonlinear_invariance_sem"]

_FUNCTIONS = ("abs", "sin", "step")


@dataclass(frozen=True)
class InvarianceSimulation:
    """Confounded data with a known causal function and its invariance.

    Attributes:
        T: treatments, shape ``(n, m)`` (float64).
        Y: outcomes, shape ``(n,)``.
        function: ``"linear"``, ``"abs"``, ``"sin"`` or ``"step"``.
        coef: the causal coefficients ``f`` ``(m,)`` for ``"linear"``, else ``None``.
        invariant_basis: an orthonormal basis ``(m − 1, m)`` of the null space of ``fᵀ``
            for ``"linear"``, else ``None``.
        kappa: the confounding strength.
    """

    T: torch.Tensor
    Y: torch.Tensor
    function: str
    coef: torch.Tensor | None
    invariant_basis: torch.Tensor | None
    kappa: float

    def f(self, t: torch.Tensor) -> torch.Tensor:
        """The causal function at treatments ``t`` ``(k, m)``, shape ``(k,)``."""
        if self.coef is not None:
            return t @ self.coef
        x = t[:, 0]
        if self.function == "abs":
            return x.abs()
        if self.function == "sin":
            return torch.sin(x)
        return torch.sign(x)

    def augmentation(self, strength: float = 1.0) -> Augmentation:
        """The paper's outcome-invariant augmentation for this causal function."""
        if self.invariant_basis is not None:
            return SubspaceTranslation(self.invariant_basis, strength=strength)
        if self.function == "abs":
            return SignFlip()
        if self.function == "sin":
            return PeriodicShift(2 * math.pi)
        return _PositiveRescaling()


class _PositiveRescaling(Augmentation):
    """``t ↦ 10^g · t``, ``g`` uniform on ``{−1, 0, 1}``: the invariance of ``sign``."""

    def __call__(self, T: torch.Tensor, generator: torch.Generator) -> AugmentedData:
        g = torch.randint(-1, 2, (T.shape[0], 1), generator=generator).to(T.dtype)
        return AugmentedData(T * 10.0**g, g)


def linear_invariance_sem(
    m: int = 32, n: int = 2048, *, kappa: float = 1.0, seed: int | None = 0
) -> InvarianceSimulation:
    """The paper's linear Gaussian simulation (see the module docstring).

    The weights are drawn first, then the rows, from one generator: the same seed with a
    different ``kappa`` gives the same model and the same draws, only ``Y``'s confounding
    term scaled.

    Args:
        m: treatment dimension (≥ 2).
        n: rows.
        kappa: confounding strength κ ≥ 0 (0: none).
        seed: the seed.

    Example:
        >>> from latentinfer.causal import linear_invariance_sem
        >>> sim = linear_invariance_sem(4, 100, seed=0)
        >>> sim.T.shape, sim.invariant_basis.shape
        (torch.Size([100, 4]), torch.Size([3, 4]))
    """
    check_number(m, name="m", low=2, integer=True)
    check_number(n, name="n", low=1, integer=True)
    check_number(kappa, name="kappa", low=0)
    g = torch.Generator().manual_seed(resolve_seed(seed))
    kw: dict[str, Any] = {"generator": g, "dtype": torch.float64}
    w = torch.randn(m, m + 1, **kw)  # confounder -> (T, Y)
    f = torch.randn(m, **kw)
    c = torch.randn(n, m, **kw)
    hidden = c @ w
    t = hidden[:, :m] + 0.1 * torch.randn(n, m, **kw)
    y = t @ f + kappa * hidden[:, m] + 0.1 * torch.randn(n, **kw)
    basis = torch.linalg.svd(f[None, :], full_matrices=True).Vh[1:]
    return InvarianceSimulation(t, y, "linear", f, basis, float(kappa))


def nonlinear_invariance_sem(
    function: str = "sin", n: int = 1000, *, kappa: float = 1.0, seed: int | None = 0
) -> InvarianceSimulation:
    """The paper's one-dimensional nonlinear simulation (see the module docstring).

    ``kappa`` scales the confounder's effect on ``Y`` (the paper's setting is κ = 1, a
    coefficient of 5).

    Example:
        >>> from latentinfer.causal import nonlinear_invariance_sem
        >>> sim = nonlinear_invariance_sem("abs", 10, seed=0)
        >>> sim.T.shape, type(sim.augmentation()).__name__
        (torch.Size([10, 1]), 'SignFlip')
    """
    check_choice(function, name="function", choices=_FUNCTIONS)
    check_number(n, name="n", low=1, integer=True)
    check_number(kappa, name="kappa", low=0)
    g = torch.Generator().manual_seed(resolve_seed(seed))
    kw: dict[str, Any] = {"generator": g, "dtype": torch.float64}
    c = torch.randn(n, 1, **kw)
    t = 2.0 * c + torch.randn(n, 1, **kw)
    sim = InvarianceSimulation(t, t[:, 0], function, None, None, float(kappa))
    y = sim.f(t) + 5.0 * kappa * c[:, 0] + 2.0**-0.5 * torch.randn(n, **kw)
    return InvarianceSimulation(t, y, function, None, None, float(kappa))


def ncer(estimate: Any, truth: Any) -> float:
    """Normalised causal excess risk ``‖estimate − truth‖² / ‖truth‖²``.

    For a linear model pass the coefficients (CER under ``T ~ N(0, I)``); otherwise the
    fitted and true functions at test treatments (CER under their distribution).

    Example:
        >>> from latentinfer.causal import ncer
        >>> ncer([1.0, 0.0], [1.0, 1.0]), ncer([0.0, 0.0], [1.0, 1.0])
        (0.5, 1.0)
    """
    e = as_tensor(estimate, name="estimate", dtype=torch.float64).reshape(-1)
    t = as_tensor(truth, name="truth", dtype=torch.float64).reshape(-1)
    if e.shape != t.shape:
        raise ShapeError(f"estimate has {e.numel()} entries but truth has {t.numel()}.")
    return float(((e - t) ** 2).sum() / (t**2).sum())
