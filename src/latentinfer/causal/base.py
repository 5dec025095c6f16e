"""The causal-estimator contract, EconML's, so DoWhy and scikit-learn users feel at home.

A :class:`CausalEstimator` is fitted with ``fit(Y, T, *, X=None, W=None, Z=None)`` (exactly
these names: DoWhy's EconML adapter passes them by name, and only those ``fit`` names, so
estimators that use no instruments leave ``Z`` out, see :class:`WithoutInstruments`) and
returns ``self``; then

- ``effect(X=None, T0=0, T1=1)``: the conditional average effect of moving the treatment
  from ``T0`` to ``T1`` at each row of ``X``, shape ``(n,)`` (``X=None``: the training rows);
- ``const_marginal_effect(X=None)``: the effect of ``T = 1`` against ``T = 0`` per row;
- ``ate(X=None, T0=0, T1=1)``: the average of ``effect``;
- ``effect_interval(X=None, T0=0, T1=1, alpha=0.05)``: ``(lower, upper)`` where the method
  gives intervals (raises otherwise).

``Y``: outcomes ``(n,)``; ``T``: treatments ``(n,)``; ``X``: effect modifiers ``(n, d_x)``;
``W``: controls (confounders that do not modify the effect) ``(n, d_w)``; ``Z``:
instruments ``(n, d_z)``. NumPy arrays (or pandas columns) in, NumPy out; tensors in, tensors
out. Learned state ends in ``_``. Subclasses implement ``_fit`` and ``_effect``.

Treatment levels ``T0``/``T1`` are numbers (Python, NumPy or 0-d tensor scalars; ``False``/
``True`` count as 0/1) or one value per row. Hyperparameters follow scikit-learn's
convention: ``get_params``/``set_params`` return and set the constructor's arguments, so
``sklearn.base.clone`` works and ``repr`` shows the arguments that differ from the defaults.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from latentinfer.core.errors import ConfigError, NotFittedError, ShapeError, ValidationError
from latentinfer.core.params import EstimatorParams
from latentinfer.core.validation import as_tensor, check_n_features, check_number

__all__ = ["CausalData", "CausalEstimator", "WithoutInstruments", "check_binary_treatment"]

#: The estimators that take instruments ``Z`` (named in the error for the others).
INSTRUMENT_ESTIMATORS = "TwoStageLeastSquares (required), IVL and NeuralIVL (optional)"


@dataclass(frozen=True)
class CausalData:
    """Checked training data (float64 tensors; ``None`` where not given)."""

    Y: torch.Tensor  # (n,)
    T: torch.Tensor  # (n,)
    X: torch.Tensor | None  # (n, d_x)
    W: torch.Tensor | None  # (n, d_w)
    Z: torch.Tensor | None  # (n, d_z)

    @property
    def n(self) -> int:
        return int(self.Y.shape[0])

    def covariates(self) -> torch.Tensor:
        """``[X, W]`` as one ``(n, d_x + d_w')`` matrix (``(n, 0)`` when neither is given).

        Columns of W equal to a column of X are left out (``d_w' ≤ d_w``): DoWhy passes the
        effect modifiers among the common causes, and a copy carries nothing new.
        """
        w = self.W
        if w is not None and self.X is not None:
            x = self.X
            keep = [j for j in range(w.shape[1]) if not (x == w[:, j : j + 1]).all(0).any()]
            w = w[:, keep] if len(keep) < w.shape[1] else w
        parts = [a for a in (self.X, w) if a is not None and (a is not w or a.shape[1])]
        return torch.cat(parts, dim=1) if parts else torch.zeros(self.n, 0, dtype=self.Y.dtype)


def _vector(v: Any, name: str) -> torch.Tensor:
    t = as_tensor(_numeric(v), name=name, ndim=(1, 2), dtype=torch.float64)
    if t.ndim == 2:
        if t.shape[1] != 1:
            raise ShapeError(
                f"{name} must be one column, shape (n,) or (n, 1); got shape {tuple(t.shape)}."
            )
        t = t[:, 0]
    return t


def _matrix(v: Any, name: str) -> torch.Tensor | None:
    if v is None:
        return None
    t = as_tensor(_numeric(v), name=name, ndim=(1, 2), dtype=torch.float64)
    return t[:, None] if t.ndim == 1 else t


def _numeric(v: Any) -> Any:
    """pandas objects (as DoWhy passes them) become NumPy; everything else is left alone."""
    if hasattr(v, "to_numpy") and not isinstance(v, torch.Tensor):
        return v.to_numpy()
    return v


def treatment_scalar(value: Any, *, name: str) -> float | None:
    """``value`` as a float when it is a single number, else ``None`` (an array of levels).

    Numbers are Python ``int``/``float``, NumPy scalars, 0-d arrays and 0-d tensors;
    booleans count as 0 and 1 (the coding of a binary treatment).

    Raises:
        ValidationError: a non-finite or non-real number.
    """
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
    elif isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim == 0:
        if value.dtype == torch.bool or getattr(value.dtype, "kind", "") == "b":
            return float(bool(value))
        t = as_tensor(value, name=name, dtype=torch.float64, min_rows=0)
        number = float(t)
    else:
        return None
    check_number(number, name=name)
    return number


def reject_instruments(estimator: object) -> None:
    """Raise :class:`ConfigError`: ``estimator`` was given ``Z`` but uses no instruments."""
    raise ConfigError(
        f"{type(estimator).__name__} uses no instruments; pass Z=None. Instruments Z are "
        f"taken by {INSTRUMENT_ESTIMATORS}."
    )


def refuse_fit_options(estimator: object, options: dict[str, Any]) -> None:
    """Raise for keyword arguments a ``fit`` without ``Z`` was given: ``Z`` (not ``None``)
    with the estimators that take instruments, anything else as Python would."""
    z = options.pop("Z", None)
    if z is not None:
        reject_instruments(estimator)
    if options:
        raise TypeError(
            f"{type(estimator).__name__}.fit() got unexpected keyword argument(s) "
            f"{sorted(options)}."
        )


def check_binary_treatment(T: torch.Tensor, *, name: str = "T") -> None:
    """Raise unless ``T`` holds only 0 and 1 (and both occur)."""
    values = torch.unique(T)
    if not bool(((values == 0) | (values == 1)).all()):
        shown = ", ".join(f"{float(v):g}" for v in values[:5])
        raise ValidationError(
            f"{name} must be a binary treatment coded 0/1; got values {shown}"
            f"{' ...' if len(values) > 5 else ''}."
        )
    if len(values) < 2:
        raise ValidationError(f"{name} holds only {float(values[0]):g}; both arms must occur.")


class CausalEstimator(EstimatorParams, abc.ABC):
    """Base class of every causal estimator (see the module docstring for the contract).

    Subclasses set ``binary_treatment`` (whether ``T`` must be 0/1), ``needs_instrument``
    (whether ``Z`` is required) and implement :meth:`_fit` and :meth:`_effect`; they may
    implement :meth:`_effect_interval`.
    """

    binary_treatment: bool = True
    needs_instrument: bool = False
    #: whether ``fit`` takes instruments ``Z`` (a ``Z`` passed to one that does not is an error)
    uses_instrument: bool = False

    # --------------------------------------------------------------------------- fit
    def fit(
        self, Y: Any, T: Any, *, X: Any = None, W: Any = None, Z: Any = None
    ) -> CausalEstimator:
        """Fit the estimator; returns ``self``.

        Raises:
            ValidationError: NaN/Inf, empty input, a treatment that is not binary where the
                method needs one, a missing instrument, instruments ``Z`` given to an
                estimator that uses none (a :class:`ConfigError`).
            ShapeError: arrays with different numbers of rows or wrong dimensions.
        """
        data = self._check_fit(Y, T, X, W, Z)
        self._as_numpy = not isinstance(Y, torch.Tensor)
        self.n_features_x_ = 0 if data.X is None else int(data.X.shape[1])
        self.n_features_w_ = 0 if data.W is None else int(data.W.shape[1])
        self.X_train_ = data.X
        self.n_train_ = data.n
        self._fit(data)
        self.fitted_ = True
        return self

    def _check_fit(self, Y: Any, T: Any, X: Any, W: Any, Z: Any) -> CausalData:
        y = _vector(Y, "Y")
        t = _vector(T, "T")
        x, w, z = _matrix(X, "X"), _matrix(W, "W"), _matrix(Z, "Z")
        rows = {"Y": y.shape[0], "T": t.shape[0]}
        rows.update({k: v.shape[0] for k, v in (("X", x), ("W", w), ("Z", z)) if v is not None})
        if len(set(rows.values())) > 1:
            listing = ", ".join(f"{k} has {v}" for k, v in rows.items())
            raise ShapeError(f"Y, T, X, W and Z must have the same number of rows; {listing}.")
        if self.binary_treatment:
            check_binary_treatment(t)
        if z is not None and not (self.uses_instrument or self.needs_instrument):
            reject_instruments(self)
        if self.needs_instrument and z is None:
            raise ValidationError(
                f"{type(self).__name__} needs an instrument: pass Z (n, d_z) to fit."
            )
        return CausalData(Y=y, T=t, X=x, W=w, Z=z)

    # ------------------------------------------------------------------- prediction
    def _check_fitted(self) -> None:
        if not getattr(self, "fitted_", False):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(Y, T, X=...) first."
            )

    def _check_x(self, X: Any) -> torch.Tensor | None:
        self._check_fitted()
        if X is None:
            return self.X_train_
        x = _matrix(X, "X")
        assert x is not None
        if self.n_features_x_ == 0:
            raise ShapeError("the estimator was fitted without X; call effect(None).")
        check_n_features(x, self.n_features_x_, name="X")
        return x

    def _treatment_level(self, value: Any, name: str, n: int) -> torch.Tensor:
        number = treatment_scalar(value, name=name)
        if number is not None:
            return torch.full((n,), number, dtype=torch.float64)
        t = _vector(value, name)
        if t.shape[0] not in (1, n):
            raise ShapeError(f"{name} must be a number or have one entry per row of X ({n}).")
        return t.expand(n)

    def _treatment_levels(self, T0: Any, T1: Any, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Checked ``(T0, T1)`` for ``n`` rows: 0 or 1 where the treatment is binary."""
        t0, t1 = self._treatment_level(T0, "T0", n), self._treatment_level(T1, "T1", n)
        if self.binary_treatment:
            for t, nm in ((t0, "T0"), (t1, "T1")):
                if not bool(((t == 0) | (t == 1)).all()):
                    bad = float(t[~((t == 0) | (t == 1))][0])
                    raise ValidationError(
                        f"{nm} must be 0 or 1 for a binary treatment; got {bad:g}."
                    )
        return t0, t1

    def _out(self, t: torch.Tensor) -> Any:
        return t.detach().cpu().numpy() if getattr(self, "_as_numpy", True) else t

    def effect(self, X: Any = None, T0: Any = 0, T1: Any = 1) -> Any:
        """The effect of moving the treatment from ``T0`` to ``T1`` at each row, ``(n,)``."""
        x = self._check_x(X)
        t0, t1 = self._treatment_levels(T0, T1, self._rows(x))
        return self._out(self._effect(x, t0, t1))

    def const_marginal_effect(self, X: Any = None) -> Any:
        """The effect of ``T = 1`` against ``T = 0`` at each row, ``(n,)``."""
        return self.effect(X, 0, 1)

    def ate(self, X: Any = None, T0: Any = 0, T1: Any = 1) -> float:
        """The average effect over the rows of ``X`` (default: the training rows)."""
        return float(np.mean(np.asarray(torch.as_tensor(self.effect(X, T0, T1)))))

    def effect_interval(
        self, X: Any = None, T0: Any = 0, T1: Any = 1, *, alpha: float = 0.05
    ) -> tuple[Any, Any]:
        """``(lower, upper)``: a ``1 − alpha`` interval for each row's effect."""
        check_number(alpha, name="alpha", low=0, high=1, low_inclusive=False, high_inclusive=False)
        x = self._check_x(X)
        t0, t1 = self._treatment_levels(T0, T1, self._rows(x))
        lo, hi = self._effect_interval(x, t0, t1, alpha)
        return self._out(lo), self._out(hi)

    def _rows(self, x: torch.Tensor | None) -> int:
        if x is not None:
            return int(x.shape[0])
        return int(getattr(self, "n_train_", 1))

    # ---------------------------------------------------------------- to implement
    @abc.abstractmethod
    def _fit(self, data: CausalData) -> None:
        """Learn from checked data."""

    @abc.abstractmethod
    def _effect(self, X: torch.Tensor | None, T0: torch.Tensor, T1: torch.Tensor) -> torch.Tensor:
        """Per-row effects ``(n,)`` (float64)."""

    def _effect_interval(
        self, X: torch.Tensor | None, T0: torch.Tensor, T1: torch.Tensor, alpha: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.binary_treatment:
            others = (
                "OLS (classical intervals) or VLUCI / CEVAE (quantiles over the posterior of "
                "the hidden confounder)"
            )
        else:
            others = (
                "TwoStageLeastSquares (needs instruments Z; any treatment, continuous or "
                "multivariate)"
            )
        raise ConfigError(
            f"{type(self).__name__} gives no effect intervals; use an estimator that does: "
            f"{others}."
        )


class WithoutInstruments:
    """Mixin for a :class:`CausalEstimator` that uses no instruments: its ``fit`` does not
    name ``Z``, so DoWhy's EconML adapter (which passes only the arguments ``fit`` names)
    leaves a graph's instruments out, as it does for EconML's meta-learners, while a ``Z``
    passed by hand is refused with the estimators that take one. Put it before
    ``CausalEstimator`` in the bases."""

    def fit(self, Y: Any, T: Any, *, X: Any = None, W: Any = None, **unexpected: Any) -> Any:
        """Fit the estimator; returns ``self`` (see :meth:`CausalEstimator.fit`).

        Raises:
            ConfigError: ``Z`` given (these estimators use no instruments).
        """
        refuse_fit_options(self, unexpected)
        return super().fit(Y, T, X=X, W=W)  # type: ignore[misc]
