"""Training configuration shared by every method that trains by gradient descent."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from latentinfer.core.errors import ConfigError
from latentinfer.core.validation import check_bool, check_choice, check_number

__all__ = ["TrainConfig"]

Schedule = Literal["constant", "cosine", "linear"]


@dataclass
class TrainConfig:
    """How to train: optimiser, schedule, stopping, logging and checkpointing.

    The defaults train a small model on a few thousand rows to convergence on a CPU in
    minutes: Adam at 1e-3, batches of 128, up to 500 epochs, early stopping when the
    held-out loss has not improved for 30 epochs, and the best weights restored.

    Attributes:
        max_epochs: the most passes over the training rows.
        max_steps: the most optimiser steps (``None``: no limit besides ``max_epochs``).
        batch_size: rows per optimiser step, over all processes and accumulation steps.
        lr: learning rate.
        weight_decay: decoupled weight decay (AdamW); 0 gives plain Adam.
        lr_schedule: ``"constant"``, ``"cosine"`` (to 0 at the last step) or ``"linear"``.
        warmup_steps: linear warm-up steps before the schedule.
        grad_accum: micro-batches per optimiser step (each ``batch_size / grad_accum`` rows
            divided over the processes).
        max_grad_norm: clip the global gradient norm to this value (``None``: no clipping).
        val_fraction: share of rows held out for validation and early stopping when no
            validation data is given (0 disables both).
        patience: epochs without a validation improvement before stopping (``None``: never).
        min_delta: relative improvement of the validation loss that counts as progress.
        restore_best: load the weights of the best validation epoch when training ends.
        log_every: steps between metric flushes; also how often the NaN/Inf guard looks
            (between flushes nothing waits for the device).
        checkpoint_every: steps between checkpoints when a run folder is given; ``None``
            saves at the end of an epoch when ``checkpoint_interval_s`` has passed since
            the last one, and always at the end.
        checkpoint_interval_s: see ``checkpoint_every``.
        keep_checkpoints: how many step checkpoints to keep.
        mixed_precision: ``"no"`` or ``"bf16"`` (autocast matrix products to bfloat16).
        flush_denormal: treat subnormal floats (below 1.2e-38 in float32) as zero on the
            CPU during the fit (:mod:`~latentinfer.core.denormals`): they make Adam steps up
            to ten times slower on many x86 CPUs, and flushing them changes nothing above
            that range. The caller's setting is restored afterwards.
        device: ``"auto"`` (a GPU when Accelerate finds one), ``"cpu"`` or ``"cuda"``.
        trackers: extra metric sinks through Accelerate: ``"tensorboard"``, ``"mlflow"``.
        progress: show a progress bar; ``None`` shows one when stderr is a terminal.
    """

    max_epochs: int = 500
    max_steps: int | None = None
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    lr_schedule: Schedule = "constant"
    warmup_steps: int = 0
    grad_accum: int = 1
    max_grad_norm: float | None = None
    val_fraction: float = 0.1
    patience: int | None = 30
    min_delta: float = 1e-4
    restore_best: bool = True
    log_every: int = 25
    checkpoint_every: int | None = None
    checkpoint_interval_s: float = 60.0
    keep_checkpoints: int = 2
    mixed_precision: Literal["no", "bf16"] = "no"
    flush_denormal: bool = True
    device: Literal["auto", "cpu", "cuda"] = "auto"
    trackers: tuple[str, ...] = field(default_factory=tuple)
    progress: bool | None = None

    def __post_init__(self) -> None:
        check_number(self.max_epochs, name="max_epochs", low=1, integer=True)
        check_number(self.max_steps, name="max_steps", low=1, integer=True, allow_none=True)
        check_number(self.batch_size, name="batch_size", low=1, integer=True)
        check_number(self.lr, name="lr", low=0, low_inclusive=False)
        check_number(self.weight_decay, name="weight_decay", low=0)
        check_choice(self.lr_schedule, name="lr_schedule", choices=("constant", "cosine", "linear"))
        check_number(self.warmup_steps, name="warmup_steps", low=0, integer=True)
        check_number(self.grad_accum, name="grad_accum", low=1, integer=True)
        check_number(
            self.max_grad_norm, name="max_grad_norm", low=0, low_inclusive=False, allow_none=True
        )
        check_number(self.val_fraction, name="val_fraction", low=0, high=1, high_inclusive=False)
        check_number(self.patience, name="patience", low=1, integer=True, allow_none=True)
        check_number(self.min_delta, name="min_delta", low=0)
        check_number(self.log_every, name="log_every", low=1, integer=True)
        check_number(
            self.checkpoint_every, name="checkpoint_every", low=1, integer=True, allow_none=True
        )
        check_number(self.checkpoint_interval_s, name="checkpoint_interval_s", low=0)
        check_number(self.keep_checkpoints, name="keep_checkpoints", low=1, integer=True)
        check_choice(self.mixed_precision, name="mixed_precision", choices=("no", "bf16"))
        check_bool(self.flush_denormal, name="flush_denormal")
        check_bool(self.restore_best, name="restore_best")
        check_bool(self.progress, name="progress", allow_none=True)
        check_choice(self.device, name="device", choices=("auto", "cpu", "cuda"))
        # one tracker may be given by name alone
        self.trackers = (self.trackers,) if isinstance(self.trackers, str) else tuple(self.trackers)
        for t in self.trackers:
            check_choice(t, name="trackers", choices=("tensorboard", "mlflow"))
        if self.grad_accum > self.batch_size:
            raise ConfigError(
                f"grad_accum must be at most batch_size ({self.batch_size}): each of the "
                f"accumulated micro-batches needs a row at least; got {self.grad_accum}."
            )

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (and checked)."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ConfigError(f"unknown training option(s) {unknown}; accepted: {sorted(names)}.")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-able values."""
        d = dataclasses.asdict(self)
        d["trackers"] = list(self.trackers)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Build from :meth:`to_dict` output (unknown keys are an error)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown training option(s) {unknown}; accepted: {sorted(names)}.")
        d = dict(d)
        if "trackers" in d:
            d["trackers"] = tuple(d["trackers"])
        return cls(**d)
