"""Instrumental-variable and IV-like regression: 2SLS, and IVL with outcome-invariant augmentation.

The model is ``Y = h(T) + Xᵀγ_x + Wᵀγ_w + b + ξ`` with a confounded noise ξ (correlated
with the treatment ``T ∈ R^m``, the paper's X). The estimators learn the causal function
``h``; ``effect(X, T0, T1) = h(T1) − h(T0)``.

- :class:`TwoStageLeastSquares`: instruments ``Z`` given by the user.
- :class:`IVL` (Akbar et al., NeurIPS 2025): no instrument needed; an outcome-invariant
  data augmentation ``t ↦ g·t`` (:mod:`latentinfer.causal.augmentation`) is applied to the
  treatments and its random parameters ``G`` serve as an IV-like instrument. It minimises
  the IVL risk ``‖P_G r‖² + α‖r‖²`` with ``r = y − h(GT)``: α = 0 is 2SLS with ``G`` as the
  instrument (DA+IV), α → ∞ is least squares on the augmented data (:class:`DAERM`).
- :class:`DAERM`: least squares on the augmented data, the baseline IVL improves on.

Covariates: ``X`` (effect modifiers) and ``W`` (controls) enter the regression linearly as
exogenous regressors, and are therefore also part of every projection (they instrument
themselves), as is the intercept. With a linear ``h`` the effect does not depend on them.

Below the estimators sit the tensor functions they use: :func:`projection_basis`,
:func:`ivl_closed_form` and :func:`ivl_risk`. None of them forms an ``n × n`` matrix:
``P_G v = Q(Qᵀv)`` with ``Q`` from a thin QR of ``G``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, final

import numpy as np
import torch

from latentinfer.causal.augmentation import apply_augmentation
from latentinfer.causal.base import (
    CausalData,
    CausalEstimator,
    WithoutInstruments,
    _matrix,
    _numeric,
    treatment_scalar,
)
from latentinfer.core.errors import ConfigError, ShapeError, ValidationError
from latentinfer.core.seeding import derive_seed, resolve_seed
from latentinfer.core.validation import as_tensor, check_bool, check_n_features, check_number

__all__ = [
    "DAERM",
    "DEFAULT_ALPHAS",
    "IVL",
    "AlphaSearch",
    "TwoStageLeastSquares",
    "ivl_closed_form",
    "ivl_risk",
    "projection_basis",
]

#: The default grid of α for cross-validation: 1e-4 to 1e3 in half decades.
DEFAULT_ALPHAS: tuple[float, ...] = tuple(10.0 ** (e / 2) for e in range(-8, 7))

# Seed streams of IVL/DAERM: the augmentation draws from torch.Generator().manual_seed(seed);
# the cross-validation folds from derive_seed(seed, _FOLDS).
_FOLDS = 1


# ------------------------------------------------------------------------------ functions
def projection_basis(A: torch.Tensor, *, rtol: float | None = None) -> torch.Tensor:
    """An orthonormal basis of the span of ``A``'s columns, so that ``P_A v = Q (Qᵀ v)``.

    A thin QR of ``A``; when its columns are (numerically) dependent, the left singular
    vectors of the nonzero singular values instead (a QR's ``Q`` would then span extra
    directions).

    Args:
        A: shape ``(n, k)``.
        rtol: relative threshold for a zero pivot / singular value (default
            ``10 · max(n, k) · eps`` of the dtype).

    Returns:
        ``Q``, shape ``(n, r)`` with ``r = rank(A)`` and ``QᵀQ = I``.

    Example:
        >>> import torch
        >>> from latentinfer.causal import projection_basis
        >>> A = torch.tensor([[1.0, 2.0], [1.0, 2.0], [0.0, 0.0]], dtype=torch.float64)
        >>> projection_basis(A).shape  # the two columns are parallel: rank 1
        torch.Size([3, 1])
    """
    n, k = A.shape
    if k == 0 or n == 0:
        return A.new_zeros(n, 0)
    tol = 10 * max(n, k) * torch.finfo(A.dtype).eps if rtol is None else rtol
    if n >= k:
        q, r = torch.linalg.qr(A, mode="reduced")
        d = r.diagonal().abs()
        if float(d.min()) > tol * float(d.max()):
            return q
    u, s, _ = torch.linalg.svd(A, full_matrices=False)
    if float(s[0]) == 0.0:
        return A.new_zeros(n, 0)
    return u[:, s > tol * s[0]]


def _project(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return q @ (q.T @ v)


def _k_apply(v: torch.Tensor, q: torch.Tensor, alpha: float) -> torch.Tensor:
    """``K v`` with ``K = (√(1+α) − √α) P + √α I`` (so that ``KᵀK = P + αI``)."""
    if alpha == 0:
        return _project(q, v)
    root = math.sqrt(alpha)
    return _project(q, v) / (math.sqrt(1.0 + alpha) + root) + root * v  # √(1+α)−√α, stably


def _lstsq(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Minimum-norm least squares (``gelsd``: rank deficiency allowed), CPU float64."""
    sol = torch.linalg.lstsq(a, b[:, None] if b.ndim == 1 else b, driver="gelsd").solution
    return sol[:, 0] if b.ndim == 1 else sol


def _ivl_solve(
    design: torch.Tensor, y: torch.Tensor, q: torch.Tensor, alpha: float
) -> torch.Tensor:
    return _lstsq(_k_apply(design, q, alpha), _k_apply(y, q, alpha))


def ivl_closed_form(
    design: torch.Tensor, y: torch.Tensor, instruments: torch.Tensor, alpha: float
) -> torch.Tensor:
    """The linear IVL solution: ``argmin_β ‖P_G (y − Dβ)‖² + α ‖y − Dβ‖²``.

    Ordinary least squares on ``(K D, K y)`` with ``K = (√(1+α) − √α) P_G + √α I``, since
    ``KᵀK = P_G + αI``; ``P_G`` is applied through :func:`projection_basis`. α = 0 gives
    2SLS with instruments ``G`` (the minimum-norm solution where it is under-identified),
    α → ∞ ordinary least squares on ``(D, y)``.

    Args:
        design: ``D``, shape ``(n, p)`` (float64, CPU).
        y: outcomes, shape ``(n,)``.
        instruments: ``G``, shape ``(n, k)``.
        alpha: the weight α ≥ 0 of the plain least-squares risk.

    Returns:
        β, shape ``(p,)`` (the minimum-norm minimiser when it is not unique).

    Example:
        >>> import torch
        >>> from latentinfer.causal import ivl_closed_form
        >>> g = torch.Generator().manual_seed(0)
        >>> D = torch.randn(100, 2, generator=g, dtype=torch.float64)
        >>> y = D @ torch.tensor([1.0, -1.0], dtype=torch.float64)
        >>> beta = ivl_closed_form(D, y, D[:, :1], alpha=0.1)
        >>> [round(b, 6) for b in beta.tolist()]
        [1.0, -1.0]
    """
    check_number(alpha, name="alpha", low=0)
    return _ivl_solve(design, y, projection_basis(instruments), float(alpha))


def ivl_risk(residual: torch.Tensor, instruments: torch.Tensor, alpha: float) -> torch.Tensor:
    """The IVL risk ``‖P_G r‖² + α ‖r‖²`` (sums over rows, not means).

    Args:
        residual: ``r``, shape ``(n,)``; gradients flow through it.
        instruments: ``G``, shape ``(n, k)`` (no gradient needed).
        alpha: α ≥ 0.

    Returns:
        A scalar tensor.
    """
    q = projection_basis(instruments.detach().to(residual.dtype))
    return (q.T @ residual).pow(2).sum() + alpha * residual.pow(2).sum()


@dataclass(frozen=True)
class AlphaSearch:
    """The cross-validation of IVL's α.

    Attributes:
        alphas: the grid searched.
        scores: per α, the held-out IV risk ``‖P_{G_val} r_val‖²`` summed over the folds and
            divided by ``n`` (lower is better).
        best: the α chosen (the lowest score).
        folds: the number of folds.
    """

    alphas: tuple[float, ...]
    scores: tuple[float, ...]
    best: float
    folds: int


def _select_alpha(
    design: torch.Tensor,
    y: torch.Tensor,
    instruments: torch.Tensor,
    alphas: Sequence[float],
    folds: int,
    generator: torch.Generator,
) -> AlphaSearch:
    n = design.shape[0]
    perm = torch.randperm(n, generator=generator)
    scores = torch.zeros(len(alphas), dtype=torch.float64)
    for val in perm.chunk(folds):
        train = torch.ones(n, dtype=torch.bool)
        train[val] = False
        d_tr, y_tr = design[train], y[train]
        q_tr, q_va = projection_basis(instruments[train]), projection_basis(instruments[val])
        pd_tr, py_tr = _project(q_tr, d_tr), _project(q_tr, y_tr)
        for i, a in enumerate(alphas):
            root = math.sqrt(a)
            c = 1.0 / (math.sqrt(1.0 + a) + root)
            coef = _lstsq(c * pd_tr + root * d_tr, c * py_tr + root * y_tr)
            r = y[val] - design[val] @ coef
            scores[i] += (q_va.T @ r).pow(2).sum() / n
    best = int(torch.argmin(scores))
    return AlphaSearch(
        alphas=tuple(float(a) for a in alphas),
        scores=tuple(float(s) for s in scores),
        best=float(alphas[best]),
        folds=folds,
    )


def _check_seed(seed: Any) -> None:
    if seed is not None:
        resolve_seed(seed)


def _check_augmentation(augmentation: Any) -> None:
    if not callable(augmentation):
        raise ConfigError(
            "augmentation must be a callable (T, generator) -> (augmented T, parameters G), "
            f"such as SubspaceTranslation(...); got {augmentation!r}."
        )


# ------------------------------------------------------------------------ estimators
class _StructuralEstimator(CausalEstimator):
    """Estimators of a structural function ``h`` of treatments ``(n,)`` or ``(n, m)``.

    ``T0``/``T1`` in ``effect`` may be numbers (every treatment column at that value),
    vectors ``(m,)`` (one level for every row) or arrays ``(n, m)``. Fitted without ``X``,
    ``effect(T0=..., T1=...)`` takes arrays of any number of rows ``k`` (``(k, m)``, or
    ``(k,)`` for one treatment column) and gives ``k`` effects.
    """

    binary_treatment = False
    n_treatments_: int

    def _check_fit(self, Y: Any, T: Any, X: Any, W: Any, Z: Any) -> CausalData:
        t = _matrix(T, "T")
        assert t is not None
        if t.shape[1] == 0:
            raise ShapeError("T must have at least one column; got shape (n, 0).")
        data = super()._check_fit(Y, t[:, 0], X, W, Z)
        return dataclasses.replace(data, T=t)

    def _treatment_levels(self, T0: Any, T1: Any, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        # fitted without X, the effect depends on the treatments alone: T0/T1 may have any
        # number of rows (new treatment values), not only the training rows'
        if self.n_features_x_ == 0:
            rows = (self._level_rows(T0, "T0"), self._level_rows(T1, "T1"))
            n = next((r for r in rows if r), n)
        return super()._treatment_levels(T0, T1, n)

    def _level_rows(self, value: Any, name: str) -> int | None:
        """The rows of ``T0``/``T1`` given per row (``(k, m)``, or ``(k,)`` with one
        treatment column); ``None`` for a number or one vector of levels."""
        if treatment_scalar(value, name=name) is not None:
            return None
        shape = tuple(value.shape) if hasattr(value, "shape") else np.shape(value)
        if len(shape) == 2 or (len(shape) == 1 and self.n_treatments_ == 1):
            return int(shape[0])
        return None

    def _treatment_level(self, value: Any, name: str, n: int) -> torch.Tensor:
        m = self.n_treatments_
        number = treatment_scalar(value, name=name)
        if number is not None:
            return torch.full((n, m), number, dtype=torch.float64)
        t = as_tensor(_numeric(value), name=name, ndim=(1, 2), dtype=torch.float64).cpu()
        if t.ndim == 1:
            t = t[:, None] if m == 1 else t[None, :]
        if t.shape[1] != m or t.shape[0] not in (1, n):
            raise ShapeError(
                f"{name} must be a number, a vector of the {m} treatment level(s), or an array "
                f"of shape ({n}, {m}); got shape {tuple(t.shape)}."
            )
        return t.expand(n, m)

    @staticmethod
    def _cpu(data: CausalData) -> CausalData:
        return CausalData(
            *(None if v is None else v.cpu() for v in (data.Y, data.T, data.X, data.W, data.Z))  # type: ignore[arg-type]
        )

    def _augment(self, data: CausalData) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Augmented treatments and parameters (IVL, DA+ERM), drawn with ``seed``."""
        seed = resolve_seed(getattr(self, "seed", None))
        self.seed_ = seed
        aug = apply_augmentation(
            getattr(self, "augmentation", None), data.T, torch.Generator().manual_seed(seed)
        )
        return aug.treatment, aug.params, seed

    def _predict_inputs(
        self, T: Any, X: Any, W: Any
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Checked ``(T, X, W)`` for ``predict``: ``(k, m)``, ``(k, d_x)``, ``(k, d_w)``."""
        self._check_fitted()
        t = _matrix(T, "T")
        assert t is not None
        check_n_features(t, self.n_treatments_, name="T")
        out = [t.cpu()]
        for v, name, d in ((X, "X", self.n_features_x_), (W, "W", self.n_features_w_)):
            if d == 0:
                if v is not None:
                    raise ShapeError(f"the estimator was fitted without {name}; do not pass it.")
                out.append(out[0][:, :0])
                continue
            if v is None:
                raise ShapeError(
                    f"the estimator was fitted with {name}; pass {name} ({d} columns)."
                )
            mat = _matrix(v, name)
            assert mat is not None
            check_n_features(mat, d, name=name)
            if mat.shape[0] != t.shape[0]:
                raise ShapeError(f"T has {t.shape[0]} rows but {name} has {mat.shape[0]}.")
            out.append(mat.cpu())
        return out[0], out[1], out[2]


class _LinearStructural(_StructuralEstimator):
    """Shared by the linear estimators: ``h(t) = tᵀβ``."""

    fit_intercept: bool

    def _design(self, t: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        parts = [t, c]
        if self.fit_intercept:
            parts.append(torch.ones(t.shape[0], 1, dtype=t.dtype))
        return torch.cat(parts, dim=1)

    def _store(self, coef: torch.Tensor) -> None:
        m = self.n_treatments_
        d_c = self.n_features_x_ + self.n_features_w_
        self._coef = coef
        self.coef_ = self._out(coef[:m].clone())
        self.covariate_coef_ = self._out(coef[m : m + d_c].clone())
        self.intercept_ = float(coef[m + d_c]) if self.fit_intercept else 0.0

    def _effect(self, X: torch.Tensor | None, T0: torch.Tensor, T1: torch.Tensor) -> torch.Tensor:
        return (T1 - T0) @ self._coef[: self.n_treatments_]

    def predict(self, T: Any, X: Any = None, W: Any = None) -> Any:
        """The fitted structural function ``h(T) + Xᵀγ_x + Wᵀγ_w + b`` at each row.

        Args:
            T: treatments, shape ``(k,)`` (one treatment column) or ``(k, m)``.
            X: effect modifiers ``(k, d_x)``, required when the fit had them.
            W: controls ``(k, d_w)``, required when the fit had them.

        Returns:
            Shape ``(k,)``.
        """
        t, x, w = self._predict_inputs(T, X, W)
        return self._out(self._design(t, torch.cat([x, w], dim=1)) @ self._coef)


@final
class TwoStageLeastSquares(_LinearStructural):
    """Two-stage least squares: instruments ``Z`` for a (possibly multivariate) treatment.

    First stage: project the design ``[T, X, W, 1]`` on the span of ``[Z, X, W, 1]``;
    second stage: least squares of ``Y`` on the projected design. Consistent when ``Z``
    moves ``T``, is independent of the confounders and affects ``Y`` only through ``T``.

    Args:
        fit_intercept: fit an intercept (it joins both the design and the instruments).
        allow_underidentified: with fewer (independent) instruments than treatment columns
            the effect is not identified and ``fit`` raises; ``True`` returns the
            minimum-norm solution instead (what a pseudo-inverse gives; unstable, no
            intervals).

    ``fit(Y, T, *, X=None, W=None, Z)``: ``Y`` ``(n,)``; ``T`` ``(n,)`` or ``(n, m)``,
    continuous or 0/1; ``X``, ``W`` exogenous covariates ``(n, d_x)``, ``(n, d_w)``; ``Z``
    instruments ``(n, d_z)`` with ``d_z ≥ m``.

    Learned attributes: ``coef_`` ``(m,)`` (the effect of a unit change of each treatment
    column), ``covariate_coef_`` ``(d_x + d_w,)``, ``intercept_``, ``n_treatments_``,
    ``instrument_rank_`` (rank of ``[Z, X, W, 1]``). ``effect_interval`` gives normal
    intervals from the homoskedastic 2SLS covariance.

    Example:
        >>> import numpy as np
        >>> from latentinfer.causal import TwoStageLeastSquares
        >>> rng = np.random.default_rng(0)
        >>> z, u = rng.normal(size=(2, 20000))
        >>> t = z + u + 0.1 * rng.normal(size=20000)
        >>> y = 2.0 * t + 3.0 * u + 0.1 * rng.normal(size=20000)  # OLS gives about 3.5
        >>> est = TwoStageLeastSquares().fit(y, t, Z=z)
        >>> round(est.ate(), 1)
        2.0
    """

    needs_instrument = True
    uses_instrument = True

    def __init__(self, *, fit_intercept: bool = True, allow_underidentified: bool = False) -> None:
        check_bool(fit_intercept, name="fit_intercept")
        check_bool(allow_underidentified, name="allow_underidentified")
        self.fit_intercept = fit_intercept
        self.allow_underidentified = allow_underidentified

    def _fit(self, data: CausalData) -> None:
        data = self._cpu(data)
        assert data.Z is not None
        t, c, z = data.T, data.covariates(), data.Z
        m, k = t.shape[1], z.shape[1]
        self.n_treatments_ = m
        if k < m and not self.allow_underidentified:
            raise ValidationError(
                f"Z has {k} column(s) for {m} treatment column(s): the effect is under-"
                "identified (two-stage least squares needs at least as many instruments as "
                "treatments). Add instruments, use IVL (its α > 0 regularises the problem), or "
                "pass allow_underidentified=True for the minimum-norm solution."
            )
        design = self._design(t, c)
        q = projection_basis(self._design(z, c))
        self.instrument_rank_ = int(q.shape[1])
        if q.shape[1] < design.shape[1] and not self.allow_underidentified:
            raise ValidationError(
                f"the instruments [Z, X, W{', 1' if self.fit_intercept else ''}] have rank "
                f"{q.shape[1]}, fewer than the {design.shape[1]} regressors: the effect is "
                "under-identified (Z's columns are linearly dependent, constant, or explained by "
                "X and W). Pass allow_underidentified=True for the minimum-norm solution."
            )
        projected = _project(q, design)
        coef = _lstsq(projected, data.Y)
        self._store(coef)
        self._cov: torch.Tensor | None = None
        gram = projected.T @ projected
        n, p = design.shape
        if torch.linalg.matrix_rank(gram) == p and n > p:
            resid = data.Y - design @ coef
            self._cov = float(resid @ resid) / (n - p) * torch.linalg.inv(gram)

    def _effect_interval(
        self, X: torch.Tensor | None, T0: torch.Tensor, T1: torch.Tensor, alpha: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self._cov is None:
            raise ConfigError(
                "this TwoStageLeastSquares fit is under-identified (or has no residual degrees "
                "of freedom), so it gives no effect intervals."
            )
        m = self.n_treatments_
        d = T1 - T0
        se = ((d @ self._cov[:m, :m]) * d).sum(1).sqrt()
        zq = float(torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor(1 - alpha / 2)))
        est = self._effect(X, T0, T1)
        return est - zq * se, est + zq * se


def _check_alpha_spec(alpha: Any, alphas: Any, cv: Any) -> tuple[float | None, tuple[float, ...]]:
    if isinstance(alpha, str):
        if alpha != "cv":
            raise ConfigError(f"alpha must be a number ≥ 0 or 'cv'; got {alpha!r}.")
        if isinstance(alphas, (str, bytes)) or not isinstance(alphas, Sequence) or not alphas:
            raise ConfigError(
                f"alphas must be a non-empty sequence of numbers ≥ 0; got {alphas!r}."
            )
        grid = tuple(float(check_number(a, name="alphas", low=0)) for a in alphas)
        check_number(cv, name="cv", low=2, integer=True)
        return None, grid
    return float(check_number(alpha, name="alpha", low=0)), ()


@final
class IVL(_LinearStructural):
    """IV-like regression with an outcome-invariant data augmentation as the instrument.

    The treatments are augmented once, ``t_i ↦ g_i·t_i`` with ``g_i`` drawn by
    ``augmentation``, and the augmentation parameters ``G`` play the instrument: the linear
    ``h`` minimises ``‖P_G r‖² + α‖r‖²``, ``r = y − h(GT)`` (Akbar et al. 2025), solved in
    closed form as least squares on ``(K·GT, K·y)``, ``K = (√(1+α) − √α) P_G + √α I``.
    α = 0 is DA+IV (2SLS with ``G`` as the instrument; the minimum-norm solution when ``G``
    has fewer columns than ``T``, as with translations in the null space of ``fᵀ``), α → ∞
    is :class:`DAERM`. Unlike an instrument, ``G`` need not be relevant enough to identify
    ``h``: α > 0 regularises.

    Args:
        augmentation: a callable ``(T, generator) -> (GT, G)`` (see
            :mod:`latentinfer.causal.augmentation`), e.g.
            ``SubspaceTranslation.null_space_of(A)``.
        alpha: α ≥ 0, or ``"cv"`` (default) to choose it from ``alphas`` by ``cv``-fold
            cross-validation of the held-out IV risk ``‖P_{G_val} r_val‖²``.
        alphas: the grid for ``alpha="cv"`` (default :data:`DEFAULT_ALPHAS`, 1e-4 … 1e3).
        cv: the number of folds (≥ 2).
        fit_intercept: fit an intercept (it joins the design and the instruments).
        seed: seeds the augmentation (``torch.Generator().manual_seed(seed)`` is handed to
            it) and the folds; ``None`` draws a fresh seed.

    ``fit(Y, T, *, X=None, W=None, Z=None)``: ``Y`` ``(n,)``; ``T`` ``(n,)`` or ``(n, m)``;
    ``X``, ``W`` exogenous covariates (regressors and instruments, not augmented); ``Z``
    optional genuine instruments, appended to ``G``.

    Learned attributes: ``coef_`` ``(m,)``, ``covariate_coef_``, ``intercept_``, ``alpha_``
    (the α used), ``alpha_search_`` (an :class:`AlphaSearch`, or ``None`` for a fixed α),
    ``n_instruments_`` (the rank of ``[G, Z, X, W, 1]``), ``n_treatments_``, ``seed_``.

    Example:
        >>> import torch
        >>> from latentinfer.causal import IVL, linear_invariance_sem, ncer
        >>> sim = linear_invariance_sem(m=8, n=1000, kappa=1.0, seed=0)  # the paper's SEM
        >>> aug = sim.augmentation()  # translations in the null space of fᵀ
        >>> est = IVL(aug).fit(sim.Y, sim.T)
        >>> ols = torch.linalg.lstsq(sim.T, sim.Y[:, None]).solution[:, 0]
        >>> round(ncer(ols, sim.coef), 2), round(ncer(est.coef_, sim.coef), 2)
        (1.69, 0.05)
        >>> est.alpha_search_.best == est.alpha_
        True

    References:
        Akbar, Kilbertus, Shen, Muandet & Dai, "An Analysis of Causal Effect Estimation
        using Outcome Invariant Data Augmentation", NeurIPS 2025, arXiv:2510.25128.
    """

    uses_instrument = True

    def __init__(
        self,
        augmentation: Any,
        *,
        alpha: float | str = "cv",
        alphas: Sequence[float] = DEFAULT_ALPHAS,
        cv: int = 5,
        fit_intercept: bool = True,
        seed: int | None = 0,
    ) -> None:
        _check_augmentation(augmentation)
        _check_alpha_spec(alpha, alphas, cv)
        check_bool(fit_intercept, name="fit_intercept")
        _check_seed(seed)
        self.augmentation = augmentation
        self.alpha = alpha
        self.alphas = alphas
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.seed = seed

    def _fit(self, data: CausalData) -> None:
        fixed, grid = _check_alpha_spec(self.alpha, self.alphas, self.cv)
        data = self._cpu(data)
        self.n_treatments_ = int(data.T.shape[1])
        gt, g, seed = self._augment(data)
        c = data.covariates()
        # instruments [G, Z, X, W, 1]: the covariates and the intercept instrument themselves
        instruments = self._design(g if data.Z is None else torch.cat([g, data.Z], 1), c)
        design = self._design(gt, c)
        self.alpha_search_: AlphaSearch | None = None
        if fixed is None:
            n, folds = design.shape[0], int(self.cv)
            if n // folds <= instruments.shape[1]:
                raise ValidationError(
                    f"cv={folds} folds of {n} rows leave {n // folds} held-out rows per fold, "
                    f"not more than the {instruments.shape[1]} instrument columns, so the "
                    "held-out projection is the identity; lower cv, or pass a fixed alpha."
                )
            gen = torch.Generator().manual_seed(derive_seed(seed, _FOLDS))
            self.alpha_search_ = _select_alpha(design, data.Y, instruments, grid, folds, gen)
            fixed = self.alpha_search_.best
        self.alpha_ = fixed
        q = projection_basis(instruments)
        self.n_instruments_ = int(q.shape[1])
        self._store(_ivl_solve(design, data.Y, q, fixed))


@final
class DAERM(WithoutInstruments, _LinearStructural):
    """DA+ERM: ordinary least squares on the augmented data ``(G·T, Y)``.

    Outcome-invariant augmentation acts as a soft intervention on the treatment, so this
    lowers the confounding bias of plain least squares and is never worse than it in the
    population (Akbar et al. 2025); :class:`IVL` lowers it further. The limit α → ∞ of IVL.

    Args:
        augmentation: a callable ``(T, generator) -> (GT, G)``.
        fit_intercept: fit an intercept.
        seed: seeds the augmentation (as in :class:`IVL`).

    ``fit(Y, T, *, X=None, W=None)``: as :class:`IVL`, without instruments (``fit`` has no
    ``Z``; one passed is refused).
    Learned attributes: ``coef_`` ``(m,)``, ``covariate_coef_``, ``intercept_``,
    ``n_treatments_``, ``seed_``.

    Example:
        >>> import torch
        >>> from latentinfer.causal import DAERM, SubspaceTranslation
        >>> T = torch.randn(500, 2, generator=torch.Generator().manual_seed(0))
        >>> Y = T[:, 0] * 3.0
        >>> est = DAERM(SubspaceTranslation.null_space_of([1.0, 0.0])).fit(Y, T)
        >>> [round(c, 4) for c in est.coef_.tolist()]
        [3.0, 0.0]
    """

    def __init__(self, augmentation: Any, *, fit_intercept: bool = True, seed: int | None = 0):
        _check_augmentation(augmentation)
        check_bool(fit_intercept, name="fit_intercept")
        _check_seed(seed)
        self.augmentation = augmentation
        self.fit_intercept = fit_intercept
        self.seed = seed

    def _fit(self, data: CausalData) -> None:
        data = self._cpu(data)
        self.n_treatments_ = int(data.T.shape[1])
        gt, _, _ = self._augment(data)
        self._store(_lstsq(self._design(gt, data.covariates()), data.Y))
