"""What CEVAE and VLUCI share: a causal estimator that is also a latent-variable model.

:class:`LatentConfounderModel` is abstract. It joins the two contracts:

- the causal one (:class:`~latentinfer.causal.base.CausalEstimator`): ``fit(Y, T, *, X,
  W)``, ``effect``, ``ate``, ``effect_interval``;
- the latent-model one (:class:`~latentinfer.vae.base.LatentVariableModel`): ``prior``,
  ``encode``, ``decode``, ``loss`` on the model's *latent rows*, so every diagnostic in
  :mod:`latentinfer.diagnostics` runs on it (``run_activity(model,
  model.latent_data(Y, T, X=X))``), ``transform``/``score``/``save``/``load`` included.

A latent row is ``[features..., t, y]`` in the model's own scale: non-binary covariates
standardised, ``y`` standardised (effects are scaled back to the outcome's units).
Training goes through the core loop (:func:`latentinfer.core.trainer.train`, via
``LatentVariableModel.fit``): progress bar, metrics, checkpoints and ``resume`` come
with it. Effects average ``n_samples`` posterior draws of the latent; intervals are their
quantiles. For the training rows (``effect()``, ``X=None``) the posterior uses each row's
factual treatment and outcome (the abduction step of a counterfactual); for new rows
(``effect(X)``) only the covariates.
"""

from __future__ import annotations

import abc
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Distribution, Independent, Normal, constraints

from latentinfer.causal._covariates import (
    Standardizer,
    TrainingRows,
    controls_per_row,
    effect_covariates,
    mean_over_controls,
)
from latentinfer.causal.base import CausalData, CausalEstimator, refuse_fit_options
from latentinfer.core.config import TrainConfig
from latentinfer.core.errors import ConfigError
from latentinfer.core.seeding import derive_seed, rng_scope
from latentinfer.core.trainer import Callback
from latentinfer.core.validation import check_choice, check_number, check_widths
from latentinfer.nn.mlp import MLP, activation
from latentinfer.vae.base import LatentVariableModel

__all__ = ["LatentConfounderModel", "RowLikelihood", "gaussian_nll", "linear", "network", "trunk"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
ACTIVATIONS = ("relu", "gelu", "tanh", "silu", "elu")


def gaussian_nll(x: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """−log N(x; loc, scale²), elementwise."""
    return 0.5 * ((x - loc) / scale).square() + scale.log() + _HALF_LOG_2PI


def positive(raw: torch.Tensor) -> torch.Tensor:
    """A scale from an unconstrained output: softplus(raw) + 1e-3."""
    return F.softplus(raw) + 1e-3


class _Constant(nn.Module):
    """The network of no inputs: a learned constant, ``(..., 0)`` → ``(..., out_features)``."""

    def __init__(self, out_features: int) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.zeros(out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.value.expand(*x.shape[:-1], self.value.shape[0])


class _NoOutput(nn.Module):
    """The network of no outputs: ``(..., d)`` → ``(..., 0)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros((*x.shape[:-1], 0))


def network(in_features: int, hidden: Sequence[int], out_features: int, act: str) -> nn.Module:
    """An :class:`~latentinfer.nn.mlp.MLP` ``(..., in)`` → ``(..., out)`` (``hidden=()``: one
    linear map), or, where a side has no features (a model fitted without covariates), the
    function it would compute without zero-width layers: a learned constant (no inputs)
    or an empty output."""
    if out_features == 0:
        return _NoOutput()
    if in_features == 0:
        return _Constant(out_features)
    return MLP(in_features, hidden, out_features, act)


def linear(in_features: int, out_features: int) -> nn.Module:
    """``nn.Linear``, or a learned constant where there are no inputs (see :func:`network`)."""
    return nn.Linear(in_features, out_features) if in_features else _Constant(out_features)


def trunk(in_features: int, hidden: Sequence[int], act: str) -> nn.Module:
    """An MLP ending in its last hidden width, followed by the activation (a shared body)."""
    return nn.Sequential(network(in_features, hidden[:-1], hidden[-1], act), activation(act))


class RowLikelihood(Distribution):
    """p(row | latent) for latent rows ``[features..., t, y]``.

    Features are independent given the latent: Gaussian (``loc``, ``scale``) or, where
    ``binary``, Bernoulli (``loc`` holds the logits); ``t ~ Bernoulli(logits=t_logits)``;
    ``y | t ~ N(y_loc[..., t], y_scale[..., t]²)``.

    Args:
        loc: ``(..., B, d)`` feature means (logits for binary features).
        scale: ``(..., B, d)`` feature standard deviations (unused for binary ones).
        binary: ``(d,)`` bool.
        t_logits: ``(..., B)``.
        y_loc, y_scale: ``(..., B, 2)``, per arm (column 0: ``t = 0``).

    Batch shape ``(..., B)``, event shape ``(d + 2,)``.
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {}
    support = constraints.real_vector

    def __init__(
        self,
        loc: torch.Tensor,
        scale: torch.Tensor,
        binary: torch.Tensor,
        t_logits: torch.Tensor,
        y_loc: torch.Tensor,
        y_scale: torch.Tensor,
    ) -> None:
        self.loc, self.scale, self.binary = loc, scale, binary
        self.t_logits, self.y_loc, self.y_scale = t_logits, y_loc, y_scale
        super().__init__(
            batch_shape=t_logits.shape,
            event_shape=torch.Size([loc.shape[-1] + 2]),
            validate_args=False,
        )

    def log_prob_parts(self, value: torch.Tensor) -> dict[str, torch.Tensor]:
        """``log p`` of the features, of ``t`` and of ``y``, each of batch shape."""
        d = self.loc.shape[-1]
        x, t, y = value[..., :d], value[..., d], value[..., d + 1]
        lp = -gaussian_nll(x, self.loc, self.scale)
        if bool(self.binary.any()):
            bern = -F.binary_cross_entropy_with_logits(
                self.loc, x.expand_as(self.loc), reduction="none"
            )
            lp = torch.where(self.binary, bern, lp)
        lp_t = -F.binary_cross_entropy_with_logits(
            self.t_logits, t.expand_as(self.t_logits), reduction="none"
        )
        treated = (t > 0.5).unsqueeze(-1)
        loc = torch.where(treated, self.y_loc[..., 1:], self.y_loc[..., :1])[..., 0]
        scale = torch.where(treated, self.y_scale[..., 1:], self.y_scale[..., :1])[..., 0]
        return {"x": lp.sum(-1), "t": lp_t, "y": -gaussian_nll(y, loc, scale)}

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        parts = self.log_prob_parts(value)
        return parts["x"] + parts["t"] + parts["y"]

    @property
    def mean(self) -> torch.Tensor:
        x = torch.where(self.binary, torch.sigmoid(self.loc), self.loc)
        p = torch.sigmoid(self.t_logits)
        y = p * self.y_loc[..., 1] + (1 - p) * self.y_loc[..., 0]
        return torch.cat([x, p.unsqueeze(-1), y.unsqueeze(-1)], dim=-1)

    def sample(self, sample_shape: torch.Size | Sequence[int] = ()) -> torch.Tensor:
        shape = torch.Size(sample_shape)
        with torch.no_grad():
            loc = self.loc.expand(shape + self.loc.shape)
            x = torch.normal(loc, self.scale.expand_as(loc))
            x = torch.where(self.binary, torch.bernoulli(torch.sigmoid(loc)), x)
            t = torch.bernoulli(torch.sigmoid(self.t_logits.expand(shape + self.t_logits.shape)))
            treated = (t > 0.5).unsqueeze(-1)
            y_loc = self.y_loc.expand(shape + self.y_loc.shape)
            y_scale = self.y_scale.expand_as(y_loc)
            mu = torch.where(treated, y_loc[..., 1:], y_loc[..., :1])[..., 0]
            sd = torch.where(treated, y_scale[..., 1:], y_scale[..., :1])[..., 0]
            y = torch.normal(mu, sd)
            return torch.cat([x, t.unsqueeze(-1), y.unsqueeze(-1)], dim=-1)


def diagonal_normal(loc: torch.Tensor, scale: torch.Tensor) -> Distribution:
    """N(loc, diag scale²) with event shape ``(k,)``."""
    return Independent(Normal(loc, scale), 1)


def standard_kl_per_dim(mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) per dimension, averaged over rows: ``(k,)``."""
    return (0.5 * (mu.square() + sigma.square()) - sigma.log() - 0.5).mean(0)


@dataclass(frozen=True)
class _PendingFit:
    """The training options of a ``fit`` call, held while the causal checks run."""

    run_dir: str | Path | None
    resume: bool | str | Path
    callbacks: tuple[Callback, ...]
    train_options: dict[str, Any]


def _jsonable(v: Any) -> bool:
    try:
        json.dumps(v)
    except (TypeError, ValueError):
        return False
    return True


# (the bases' fit signatures differ: a VAE's fit(X, *cond) and an estimator's fit(Y, T, X=...))
class LatentConfounderModel(TrainingRows, LatentVariableModel, CausalEstimator):  # type: ignore[misc]
    """Abstract base of CEVAE and VLUCI (see the module docstring).

    Subclasses implement the latent-model contract and:

    - ``_latent_rows(c, t, y)``: the latent data ``(D,)`` or ``(D, cond)`` from
      standardised covariates ``c`` ``(n, d)``, treatments and standardised outcomes;
    - ``_covariate_inputs(c)``: the inputs of the covariates-only posterior;
    - ``_potential_outcomes(rows, factual, n_samples)``: ``(S, n, 2)`` draws of the
      standardised potential-outcome means [E y | do(0), E y | do(1)], from the posterior
      given the factual rows (``factual=True``) or the covariates only.
    """

    hidden: tuple[int, ...]
    activation: str
    n_samples: int

    def _check_common(
        self,
        latent_dim: Any,
        hidden: Any,
        activation_name: Any,
        n_samples: Any,
        train_config: Any,
        seed: Any,
    ) -> None:
        check_number(latent_dim, name="latent_dim", low=1, integer=True)
        check_widths(hidden, name="hidden", example="(200, 200)")
        check_choice(activation_name, name="activation", choices=ACTIVATIONS)
        check_number(n_samples, name="n_samples", low=2, integer=True)
        if train_config is not None and not isinstance(train_config, (TrainConfig, dict)):
            raise ConfigError(
                f"train_config must be a TrainConfig, a dict of its options, or None; got "
                f"{train_config!r}."
            )
        if seed is not None:
            from latentinfer.core.seeding import resolve_seed

            resolve_seed(seed)

    # --------------------------------------------------------------------------- fit
    def fit(  # type: ignore[override]
        self,
        Y: Any,
        T: Any,
        *,
        X: Any = None,
        W: Any = None,
        run_dir: str | Path | None = None,
        resume: bool | str | Path = False,
        callbacks: Sequence[Callback] = (),
        **train_options: Any,
    ) -> LatentConfounderModel:
        """Fit the latent model by its ELBO through the core training loop; returns ``self``.

        Args:
            Y: outcomes ``(n,)``.
            T: binary treatments ``(n,)``.
            X: effect modifiers ``(n, d_x)``.
            W: controls ``(n, d_w)`` (modelled like X; effects for new rows then need
                them, so prefer passing every covariate as X).
            run_dir: folder for metrics, checkpoints and the fitted latent model.
            resume: continue from the newest checkpoint in ``run_dir``.
            callbacks: training callbacks.
            **train_options: :class:`~latentinfer.core.config.TrainConfig` overrides
                (``max_epochs=50``, ``progress=False``, ...).

        Raises:
            ValidationError: NaN/Inf, non-binary ``T``, mismatched rows, instruments ``Z``
                given (``fit`` has no ``Z``, so DoWhy's EconML adapter leaves a graph's
                instruments out, as for EconML's meta-learners).
        """
        if "Z" in train_options:
            refuse_fit_options(self, {"Z": train_options.pop("Z")})
        self._train_config(train_options)  # unknown options fail before any work
        self._pending = _PendingFit(run_dir, resume, tuple(callbacks), dict(train_options))
        try:
            CausalEstimator.fit(self, Y, T, X=X, W=W, Z=None)
        finally:
            del self._pending
        return self

    def _fit(self, data: CausalData) -> None:
        opts = self._pending
        c = data.covariates()
        self.covariates_train_ = c
        self._check_columns(c.shape[1])
        self.scaler_ = Standardizer.fit(c)
        self.y_mean_ = float(data.Y.mean())
        sd = float(data.Y.std(unbiased=False))
        self.y_scale_ = sd if sd > 1e-12 else 1.0
        rows = self._latent_rows(self.scaler_(c), data.T, (data.Y - self.y_mean_) / self.y_scale_)
        LatentVariableModel.fit(
            self,
            *rows,
            run_dir=opts.run_dir,
            resume=opts.resume,
            callbacks=opts.callbacks,
            **opts.train_options,
        )
        self.train_rows_ = rows
        with rng_scope(derive_seed(self._fitted_seed(), 17)):
            self._after_latent_fit(data)

    def _check_columns(self, n_covariates: int) -> None:
        """Hook: check column options against the number of covariates."""

    def _after_latent_fit(self, data: CausalData) -> None:
        """Hook: work after the latent model is trained (VLUCI fits its plug-in here)."""

    @abc.abstractmethod
    def _latent_rows(
        self, c: torch.Tensor, t: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """Latent data from standardised covariates, treatments, standardised outcomes."""

    @abc.abstractmethod
    def _covariate_inputs(self, c: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Inputs of the covariates-only posterior for standardised covariates ``c``."""

    @abc.abstractmethod
    def _potential_outcomes(
        self, rows: tuple[torch.Tensor, ...], factual: bool, n_samples: int
    ) -> torch.Tensor:
        """``(n_samples, n, 2)`` standardised potential-outcome means."""

    def latent_data(self, Y: Any, T: Any, *, X: Any = None, W: Any = None) -> Any:
        """The latent rows of ``(Y, T, X, W)`` in the fitted model's scale.

        What the diagnostics and ``transform``/``score`` take: a tensor ``D`` or a tuple
        ``(D, cond)``, see the class docstring.
        """
        self._check_fitted()
        data = self._check_fit(Y, T, X, W, None)
        c = data.covariates()
        if c.shape[1] != self.scaler_.mean.shape[0]:
            raise ConfigError(
                f"X and W together have {c.shape[1]} column(s); the model was fitted on "
                f"{self.scaler_.mean.shape[0]}."
            )
        rows = self._latent_rows(self.scaler_(c), data.T, (data.Y - self.y_mean_) / self.y_scale_)
        return rows[0] if len(rows) == 1 else rows

    def _fitted_seed(self) -> int:
        """The seed the fit resolved (a fixed stream of later draws hangs off it)."""
        seed = getattr(self, "seed_", None)
        return 0 if seed is None else int(seed)

    # ------------------------------------------------------------------- effects
    def _posterior_rows(self, X: torch.Tensor | None) -> tuple[tuple[torch.Tensor, ...], bool]:
        if X is None and getattr(self, "train_rows_", None) is not None:
            return self.train_rows_, True
        c = effect_covariates(self, X)
        return tuple(r.float() for r in self._covariate_inputs(self.scaler_(c))), False

    @torch.no_grad()
    def effect_samples(self, X: Any = None, T0: Any = 0, T1: Any = 1) -> Any:
        """``(n_samples, n)`` draws of each row's effect, one per posterior draw of the latent.

        ``effect`` is their mean and ``effect_interval`` their quantiles. ``T0`` and ``T1``
        must be 0 or 1 (a number or one per row), as for ``effect``.
        """
        x = self._check_x(X)
        t0, t1 = self._treatment_levels(T0, T1, self._rows(x))
        return self._out(self._effect_draws(x, t0, t1))

    def _effect_draws(
        self, X: torch.Tensor | None, T0: torch.Tensor, T1: torch.Tensor
    ) -> torch.Tensor:
        rows, factual = self._posterior_rows(X)
        self.eval()
        with torch.no_grad(), rng_scope(derive_seed(self._fitted_seed(), 23)):
            pot = self._potential_outcomes(rows, factual, self.n_samples).double()
        if not factual:  # new rows of a model fitted with W: average over the controls
            pot = mean_over_controls(pot, controls_per_row(self, X), dim=1)
        pick = torch.stack([T0, T1]).long().clamp(0, 1)  # (2, n)
        y0 = pot.gather(2, pick[0].expand(pot.shape[0], -1).unsqueeze(-1))[..., 0]
        y1 = pot.gather(2, pick[1].expand(pot.shape[0], -1).unsqueeze(-1))[..., 0]
        return self.y_scale_ * (y1 - y0)

    def _effect(self, X: torch.Tensor | None, T0: torch.Tensor, T1: torch.Tensor) -> torch.Tensor:
        return self._effect_draws(X, T0, T1).mean(0)

    def _effect_interval(
        self, X: torch.Tensor | None, T0: torch.Tensor, T1: torch.Tensor, alpha: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        draws = self._effect_draws(X, T0, T1)
        q = torch.tensor([alpha / 2, 1 - alpha / 2], dtype=draws.dtype)
        lo, hi = torch.quantile(draws, q, dim=0)
        return lo, hi

    # -------------------------------------------------------------- persistence
    def describe(self) -> dict[str, Any]:
        d = super().describe()
        for k, v in list(d["params"].items()):
            if not _jsonable(v):
                d["params"][k] = None
                d.setdefault("not_saved", {})[k] = repr(v)
        return d

    def _fitted_state(self) -> dict[str, Any]:
        return {
            "y_mean_": self.y_mean_,
            "y_scale_": self.y_scale_,
            "scaler_": self.scaler_.to_dict(),
            "n_features_x_": self.n_features_x_,
            "n_features_w_": self.n_features_w_,
        }

    def _load_fitted_state(self, state: dict[str, Any]) -> None:
        if not state:
            return
        self.y_mean_ = float(state["y_mean_"])
        self.y_scale_ = float(state["y_scale_"])
        self.scaler_ = Standardizer.from_dict(state["scaler_"])
        self.n_features_x_ = int(state["n_features_x_"])
        self.n_features_w_ = int(state["n_features_w_"])
        self.X_train_ = None
        self.n_train_ = 0
        self.fitted_ = True

    def _chunks(self, n: int, n_samples: int, budget: int = 2**16) -> list[slice]:
        step = max(1, budget // max(1, n_samples))
        return [slice(s, min(n, s + step)) for s in range(0, n, step)]
