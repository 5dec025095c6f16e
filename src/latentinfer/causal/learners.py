"""Simple base estimators: meta-learners over any regressor, and least squares.

These are the estimators a user would try first, and the base estimators VLUCI's plug-in
augments with posterior samples of the hidden confounder:

- :class:`TLearner`: one regression of Y on the covariates per arm; τ̂(x) = μ̂₁(x) − μ̂₀(x).
- :class:`SLearner`: one regression of Y on ``[covariates, T]``; τ̂(x) = μ̂(x, 1) − μ̂(x, 0).
- :class:`OLS`: least squares with T as a feature (a constant effect), optionally with T×X
  interactions (an effect linear in X), with classical confidence intervals.

A "regressor" is any object with ``fit(X, y)`` and ``predict(X)`` (scikit-learn's, or
yours); each arm gets its own deep copy. All are binary-treatment
:class:`~latentinfer.causal.base.CausalEstimator` s; the covariates are ``[X, W]``. They use
no instruments: ``fit(Y, T, *, X=None, W=None)`` has no ``Z`` (a ``Z`` is refused).
"""

from __future__ import annotations

import copy
from typing import Any, final

import numpy as np
import torch

from latentinfer.causal._covariates import (
    TrainingRows,
    controls_per_row,
    effect_covariates,
    mean_over_controls,
)
from latentinfer.causal.base import CausalData, CausalEstimator, WithoutInstruments
from latentinfer.core.errors import ConfigError
from latentinfer.core.validation import check_bool

__all__ = ["OLS", "SLearner", "TLearner", "check_regressor"]


def check_regressor(model: Any, *, name: str = "model") -> Any:
    """Raise :class:`ConfigError` unless ``model`` has ``fit`` and ``predict``; return it."""
    if not (callable(getattr(model, "fit", None)) and callable(getattr(model, "predict", None))):
        raise ConfigError(
            f"{name} must be a regressor with fit(X, y) and predict(X) (e.g. scikit-learn's "
            f"GradientBoostingRegressor()); got {model!r}."
        )
    return model


class _Constant:
    """The mean of y: the regression when there are no covariates."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> _Constant:
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.full(x.shape[0], self.mean_)


def _predict(model: Any, x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(model.predict(x), dtype=np.float64).reshape(-1))


def _linear_map(model: Any, x: np.ndarray) -> tuple[np.ndarray, float] | None:
    """``(w, b)`` with ``model.predict(v) = v·w + b``, or ``None`` when ``model`` is not linear.

    Linear: a fitted regressor exposing ``coef_`` ``(d,)`` and ``intercept_`` (scikit-learn's
    linear regressors) whose predictions on ``x`` ``(n, d)``, the rows it was fitted on, are
    exactly ``x·coef_ + intercept_`` (which rules out GLMs and classifiers).
    """
    if isinstance(model, _Constant):
        return np.zeros(x.shape[1]), model.mean_
    try:
        w = np.asarray(model.coef_, dtype=np.float64).reshape(-1)
        b = np.asarray(getattr(model, "intercept_", 0.0), dtype=np.float64).reshape(-1)
    except (AttributeError, TypeError, ValueError):
        return None
    if w.shape != (x.shape[1],) or b.shape != (1,):
        return None
    pred = np.asarray(model.predict(x), dtype=np.float64).reshape(-1)
    mine = x @ w + b[0]
    if pred.shape != mine.shape or not np.allclose(
        pred, mine, rtol=1e-7, atol=1e-7 * max(1.0, float(np.abs(pred).max(initial=0.0)))
    ):
        return None
    return w, float(b[0])


@final
class TLearner(TrainingRows, WithoutInstruments, CausalEstimator):
    """T-learner: a separate regression of the outcome on the covariates in each arm.

    τ̂(x) = μ̂₁(x) − μ̂₀(x), with μ̂ₜ fitted on the rows with ``T = t``.

    Args:
        model: the regressor for both arms (deep-copied per arm).
        model_treated: a different regressor for the treated arm (``None``: ``model``).

    Example:
        >>> import numpy as np
        >>> from sklearn.linear_model import LinearRegression
        >>> from latentinfer.causal import TLearner
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(400, 2)); T = rng.integers(0, 2, 400)
        >>> Y = X[:, 0] + T * (1 + X[:, 1]) + 0.1 * rng.normal(size=400)
        >>> est = TLearner(LinearRegression()).fit(Y, T, X=X)
        >>> round(est.ate(), 1)
        1.0
    """

    def __init__(self, model: Any, *, model_treated: Any = None) -> None:
        self.model = check_regressor(model)
        self.model_treated = (
            None if model_treated is None else check_regressor(model_treated, name="model_treated")
        )

    def _fit(self, data: CausalData) -> None:
        c = data.covariates()
        self.covariates_train_ = c
        x, y, t = c.numpy(), data.Y.numpy(), data.T.numpy()
        models = []
        for arm, proto in (
            (0, self.model),
            (1, self.model if self.model_treated is None else self.model_treated),
        ):
            m = _Constant() if x.shape[1] == 0 else copy.deepcopy(proto)
            models.append(m.fit(x[t == arm], y[t == arm]))
        self.models_ = tuple(models)

    def _linear_effect(self) -> tuple[torch.Tensor, float] | None:
        """``(w, b)`` with ``effect(x) = x·w + b`` for new rows, when both arms' regressors are
        linear and the fit had no controls W; else ``None`` (what a saved VLUCI stores)."""
        if self.n_features_w_:
            return None
        x = self.covariates_train_.numpy()
        arm0, arm1 = (_linear_map(m, x) for m in self.models_)
        if arm0 is None or arm1 is None:
            return None
        return torch.as_tensor(arm1[0] - arm0[0]), arm1[1] - arm0[1]

    def _effect(self, X: torch.Tensor | None, T0: torch.Tensor, T1: torch.Tensor) -> torch.Tensor:
        x = effect_covariates(self, X).numpy()
        m0, m1 = self.models_
        tau = mean_over_controls(_predict(m1, x) - _predict(m0, x), controls_per_row(self, X))
        return (T1 - T0) * tau


@final
class SLearner(TrainingRows, WithoutInstruments, CausalEstimator):
    """S-learner: one regression of the outcome on ``[covariates, T]``.

    τ̂(x) = μ̂(x, 1) − μ̂(x, 0). A regressor that ignores T gives no effect at all, the
    S-learner's known bias toward zero.

    Args:
        model: the regressor (deep-copied).

    Example:
        >>> import numpy as np
        >>> from sklearn.linear_model import LinearRegression
        >>> from latentinfer.causal import SLearner
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(300, 2)); T = rng.integers(0, 2, 300)
        >>> Y = X[:, 0] + 2 * T + 0.1 * rng.normal(size=300)
        >>> round(SLearner(LinearRegression()).fit(Y, T, X=X).ate(), 1)
        2.0
    """

    def __init__(self, model: Any) -> None:
        self.model = check_regressor(model)

    def _fit(self, data: CausalData) -> None:
        c = data.covariates()
        self.covariates_train_ = c
        self.treatments_train_ = data.T
        xt = torch.cat([c, data.T[:, None]], dim=1).numpy()
        self.model_ = copy.deepcopy(self.model).fit(xt, data.Y.numpy())

    def _linear_effect(self) -> tuple[torch.Tensor, float] | None:
        """``(w, b)`` with ``effect(x) = x·w + b`` for new rows (a constant: the coefficient of
        T) when the regressor is linear and the fit had no controls W; else ``None``."""
        if self.n_features_w_:
            return None
        c = self.covariates_train_
        xt = torch.cat([c, self.treatments_train_[:, None]], dim=1).numpy()
        fitted = _linear_map(self.model_, xt)
        if fitted is None:
            return None
        return torch.zeros(c.shape[1], dtype=torch.float64), float(fitted[0][-1])

    def _effect(self, X: torch.Tensor | None, T0: torch.Tensor, T1: torch.Tensor) -> torch.Tensor:
        c, m = effect_covariates(self, X), controls_per_row(self, X)
        t0, t1 = T0.repeat_interleave(m)[:, None], T1.repeat_interleave(m)[:, None]
        y0 = _predict(self.model_, torch.cat([c, t0], dim=1).numpy())
        y1 = _predict(self.model_, torch.cat([c, t1], dim=1).numpy())
        return mean_over_controls(y1 - y0, m)


@final
class OLS(TrainingRows, WithoutInstruments, CausalEstimator):
    """Ordinary least squares with the treatment as a feature: Y ≈ α + τ·T + βᵀc.

    The effect is the coefficient τ, the same for every row; with ``interactions=True``
    the model adds T × (c − c̄) terms and the effect is τ + γᵀ(c − c̄), linear in the
    covariates. Intervals are the classical ones for the effect (homoscedastic errors,
    Student-t quantiles): they cover the *conditional mean* effect, not each row's own.

    Args:
        interactions: add treatment × covariate terms.

    Example:
        >>> import numpy as np
        >>> from latentinfer.causal import OLS
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(500, 3)); T = rng.integers(0, 2, 500)
        >>> Y = X @ [1.0, -1.0, 0.5] + 2 * T + rng.normal(size=500)
        >>> est = OLS().fit(Y, T, X=X)
        >>> lo, hi = est.effect_interval(alpha=0.05)
        >>> bool(abs(est.ate() - 2) < 0.3), bool(lo[0] < 2 < hi[0])  # 3+ standard errors
        (True, True)
    """

    def __init__(self, *, interactions: bool = False) -> None:
        check_bool(interactions, name="interactions")
        self.interactions = interactions

    def _design(self, c: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        parts = [torch.ones_like(t)[:, None], t[:, None], c]
        if self.interactions:
            parts.append(t[:, None] * (c - self.center_))
        return torch.cat(parts, dim=1)

    def _contrast(self, X: torch.Tensor | None, t0: torch.Tensor, t1: torch.Tensor) -> torch.Tensor:
        """Rows r with effect = r·θ: the design at T1 minus the design at T0 (averaged over
        the controls for new rows of an estimator fitted with W; the effect is linear)."""
        c, m = effect_covariates(self, X), controls_per_row(self, X)
        t0, t1 = t0.repeat_interleave(m), t1.repeat_interleave(m)
        return mean_over_controls(self._design(c, t1) - self._design(c, t0), m, dim=0)

    def _fit(self, data: CausalData) -> None:
        c = data.covariates()
        self.covariates_train_ = c
        self.center_ = c.mean(0)
        a = self._design(c, data.T).numpy()
        y = data.Y.numpy()
        coef, *_ = np.linalg.lstsq(a, y, rcond=None)
        resid = y - a @ coef
        rank = int(np.linalg.matrix_rank(a))
        self.dof_ = max(1, a.shape[0] - rank)
        sigma2 = float(resid @ resid) / self.dof_
        self.coef_ = torch.as_tensor(coef)
        self.cov_ = torch.as_tensor(sigma2 * np.linalg.pinv(a.T @ a))

    def _linear_effect(self) -> tuple[torch.Tensor, float] | None:
        """``(w, b)`` with ``effect(x) = x·w + b`` for new rows, when the fit had no controls W
        (else ``None``): ``w = γ``, ``b = τ − c̄·γ`` (``w = 0``, ``b = τ`` without
        interactions)."""
        if self.n_features_w_:
            return None
        d = self.center_.shape[0]
        tau = float(self.coef_[1])
        if not self.interactions:
            return torch.zeros(d, dtype=torch.float64), tau
        gamma = self.coef_[2 + d :]
        return gamma.clone(), tau - float(self.center_ @ gamma)

    def _effect(self, X: torch.Tensor | None, T0: torch.Tensor, T1: torch.Tensor) -> torch.Tensor:
        return self._contrast(X, T0, T1) @ self.coef_

    def _effect_interval(
        self, X: torch.Tensor | None, T0: torch.Tensor, T1: torch.Tensor, alpha: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        from scipy.stats import t as student_t

        r = self._contrast(X, T0, T1)
        mid = r @ self.coef_
        se = torch.sqrt(torch.clamp(((r @ self.cov_) * r).sum(1), min=0.0))
        q = float(student_t.ppf(1 - alpha / 2, self.dof_))
        return mid - q * se, mid + q * se
