"""IV-like regression with a neural causal function, trained on the IVL risk per mini-batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, final

import torch
from torch import nn

from latentinfer.causal._latent import ACTIVATIONS
from latentinfer.causal.base import CausalData
from latentinfer.causal.iv import (
    _check_augmentation,
    _check_seed,
    _StructuralEstimator,
    projection_basis,
)
from latentinfer.core.config import TrainConfig
from latentinfer.core.errors import ConfigError, ValidationError
from latentinfer.core.output import LossOutput
from latentinfer.core.seeding import rng_scope
from latentinfer.core.trainer import Batch, train
from latentinfer.core.validation import check_choice, check_number, check_widths
from latentinfer.nn.mlp import MLP

__all__ = ["NeuralIVL"]

_DEFAULT_TRAINING: dict[str, Any] = {"max_epochs": 200, "batch_size": 256, "patience": 20}


class _IVLNet(nn.Module):
    """``h(t, x) + wᵀγ`` and its per-batch IVL loss (inputs standardised by the estimator)."""

    def __init__(
        self, d_t: int, d_x: int, d_w: int, hidden: Sequence[int], act: str, alpha: float
    ) -> None:
        super().__init__()
        self.h = MLP(d_t + d_x, hidden, 1, act)
        self.control = nn.Linear(d_w, 1, bias=False) if d_w else None
        self.alpha = alpha

    def causal(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.h(torch.cat([t, x], dim=1))[:, 0]  # (B,)

    def structural(self, t: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        out = self.causal(t, x)
        return out if self.control is None else out + self.control(w)[:, 0]

    def forward(self, batch: Batch) -> LossOutput:
        gt, x, w, instruments, y = batch
        r = y - self.structural(gt, x, w)  # (B,)
        with torch.no_grad():
            q = projection_basis(instruments)  # (B, r): P_G of this batch only
        n = r.shape[0]
        projected = (q.T @ r).pow(2).sum() / n
        ridge = self.alpha * r.pow(2).sum() / n
        return LossOutput(total=projected + ridge, parts={"projected": projected, "ridge": ridge})


def _standardise(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if v.ndim == 2 and v.shape[1] == 0:
        return v.new_zeros(0), v.new_ones(0)
    mu = v.mean(0)
    sd = v.std(0) if v.shape[0] > 1 else torch.ones_like(mu)
    return mu, torch.where(sd > 0, sd, torch.ones_like(sd))


@final
class NeuralIVL(_StructuralEstimator):
    """IVL with a neural causal function: an MLP ``h`` trained on ``‖P_G r‖² + α‖r‖²``.

    As :class:`~latentinfer.causal.IVL`, the treatments are augmented once by an
    outcome-invariant augmentation and its parameters ``G`` are the IV-like instrument, but
    ``h`` is an MLP of ``[T, X]`` (plus a linear term in the controls ``W``) trained by
    Adam through :func:`latentinfer.core.trainer.train`. The projection is computed per
    mini-batch, as in the paper's neural version: the loss of a batch of ``B`` rows is
    ``(‖P_{G_B} r_B‖² + α‖r_B‖²) / B`` with ``P_{G_B}`` the projection on the span of that
    batch's ``[1, G, Z, X, W]`` (a thin QR, never a ``B × B`` matrix), so it estimates the
    IV moment with an error of order ``k/B`` that pulls towards ERM: keep ``batch_size``
    well above the number of instrument columns. Early stopping uses the same loss on the
    held-out rows, projected over the held-out set.

    Args:
        augmentation: a callable ``(T, generator) -> (GT, G)``.
        alpha: α ≥ 0 (no cross-validation: fix it).
        hidden: hidden-layer widths of ``h``.
        activation: ``relu``, ``gelu``, ``tanh``, ``silu`` or ``elu``.
        train_config: training options (default: 200 epochs, batches of 256, patience 20).
        seed: seeds the augmentation, the initialisation and the training.

    ``fit(Y, T, *, X=None, W=None, Z=None, **train_options)``: as
    :class:`~latentinfer.causal.IVL`, with training options overriding ``train_config``.
    Inputs and ``Y`` are standardised inside (undone for effects and predictions).

    Learned attributes: ``model_`` (the network), ``train_result_``, ``history_``,
    ``n_treatments_``, ``seed_``.

    Example:
        >>> import torch
        >>> from latentinfer.causal import NeuralIVL, SignFlip
        >>> T = torch.randn(256, 1, generator=torch.Generator().manual_seed(0))
        >>> est = NeuralIVL(SignFlip(), hidden=(16,)).fit(
        ...     T[:, 0].abs(), T, max_epochs=2, progress=False)
        >>> est.effect(None, 0.0, 1.0).shape
        torch.Size([256])
    """

    uses_instrument = True

    def __init__(
        self,
        augmentation: Any,
        *,
        alpha: float = 1.0,
        hidden: Sequence[int] = (64, 64),
        activation: str = "relu",
        train_config: TrainConfig | dict[str, Any] | None = None,
        seed: int | None = 0,
    ) -> None:
        _check_augmentation(augmentation)
        check_number(alpha, name="alpha", low=0)
        check_widths(hidden, name="hidden", example="(64, 64)")
        check_choice(activation, name="activation", choices=ACTIVATIONS)
        _check_seed(seed)
        self.augmentation = augmentation
        self.alpha = alpha
        self.hidden = tuple(hidden)
        self.activation = activation
        self.train_config = train_config
        self.seed = seed
        self._config({})  # a bad train_config fails here, not at fit

    def _config(self, overrides: dict[str, Any]) -> TrainConfig:
        cfg = self.train_config
        if cfg is None:
            base = dict(_DEFAULT_TRAINING)
        elif isinstance(cfg, TrainConfig):
            base = cfg.to_dict()
        elif isinstance(cfg, dict):
            base = {**_DEFAULT_TRAINING, **cfg}
        else:
            raise ConfigError(f"train_config must be a TrainConfig, a dict or None; got {cfg!r}.")
        return TrainConfig.from_dict({**base, **overrides})

    def fit(  # type: ignore[override]
        self, Y: Any, T: Any, *, X: Any = None, W: Any = None, Z: Any = None, **train_options: Any
    ) -> NeuralIVL:
        """Fit ``h``; returns ``self``.

        ``**train_options`` override ``train_config`` for this fit (``max_epochs=50``,
        ``progress=False``, ...), as ``fit`` does for CEVAE and VLUCI.
        """
        self._fit_config = self._config(train_options)  # unknown options fail before any work
        try:
            super().fit(Y, T, X=X, W=W, Z=Z)
        finally:
            del self._fit_config
        return self

    def _fit(self, data: CausalData) -> None:
        alpha = float(check_number(self.alpha, name="alpha", low=0))  # set_params may change it
        cfg = self._fit_config  # set by fit, the only caller
        data = self._cpu(data)
        self.n_treatments_ = int(data.T.shape[1])
        gt, g, seed = self._augment(data)
        n = data.n
        x = data.X if data.X is not None else gt[:, :0]
        w = data.W if data.W is not None else gt[:, :0]
        parts = [torch.ones(n, 1, dtype=gt.dtype), g, x, w]
        instruments = torch.cat(parts if data.Z is None else [*parts, data.Z], dim=1)
        if cfg.batch_size <= instruments.shape[1] or n <= instruments.shape[1]:
            raise ValidationError(
                f"the per-batch projection needs more rows than the {instruments.shape[1]} "
                f"instrument columns [1, G, X, W, Z]; got batch_size={cfg.batch_size} and "
                f"{n} rows. Raise train_config.batch_size (well above the columns)."
            )
        self._t_stats = _standardise(gt)
        self._x_stats = _standardise(x)
        self._w_stats = _standardise(w)
        self._y_stats = _standardise(data.Y)
        batch = (
            self._scaled(gt, self._t_stats),
            self._scaled(x, self._x_stats),
            self._scaled(w, self._w_stats),
            instruments.float(),
            self._scaled(data.Y, self._y_stats),
        )
        with rng_scope(seed):
            self.model_ = _IVLNet(
                gt.shape[1], x.shape[1], w.shape[1], tuple(self.hidden), self.activation, alpha
            )
            result = train(self.model_, batch, cfg, seed=seed)
        self.model_.eval()
        self.train_result_ = result
        self.history_ = result.history

    @staticmethod
    def _scaled(v: torch.Tensor, stats: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return ((v - stats[0]) / stats[1]).float()

    def _device(self) -> torch.device:
        return next(self.model_.parameters()).device

    @torch.no_grad()
    def _causal(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        dev = self._device()
        out = self.model_.causal(
            self._scaled(t, self._t_stats).to(dev), self._scaled(x, self._x_stats).to(dev)
        )
        return out.double().cpu() * self._y_stats[1]

    def _effect(self, X: torch.Tensor | None, T0: torch.Tensor, T1: torch.Tensor) -> torch.Tensor:
        x = T0[:, :0] if X is None else X.cpu()
        return self._causal(T1, x) - self._causal(T0, x)

    @torch.no_grad()
    def predict(self, T: Any, X: Any = None, W: Any = None) -> Any:
        """The fitted structural function ``h(T, X) + Wᵀγ`` at each row, shape ``(k,)``.

        Args:
            T: treatments ``(k,)`` or ``(k, m)``; ``X`` ``(k, d_x)`` and ``W`` ``(k, d_w)``
                when the fit had them.
        """
        t, x, w = self._predict_inputs(T, X, W)
        dev = self._device()
        out = self.model_.structural(
            self._scaled(t, self._t_stats).to(dev),
            self._scaled(x, self._x_stats).to(dev),
            self._scaled(w, self._w_stats).to(dev),
        )
        mu, sd = self._y_stats
        return self._out(out.double().cpu() * sd + mu)
