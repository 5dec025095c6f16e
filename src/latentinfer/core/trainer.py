"""The one training loop every gradient-trained method shares, built on Hugging Face Accelerate.

:func:`train` takes a module whose ``forward(batch)`` returns a
:class:`~latentinfer.core.output.LossOutput`, the training data as in-memory tensors, and
a :class:`~latentinfer.core.config.TrainConfig`. The same call runs on a CPU, one GPU, or
several processes started by ``accelerate launch``.

How a step is cut up. Each optimiser step takes ``batch_size`` rows (the effective batch)
from a per-epoch permutation. Those rows are split into ``num_processes × grad_accum``
contiguous micro-batches; micro-batch ``j`` runs on process ``j // grad_accum``. Before it
runs, the global RNG is seeded from ``(seed, step, j)``, so the reparameterisation noise of
every row depends only on the seed, the step and the row's place in the batch, not on how
many processes share the work. Each micro-batch's mean loss is weighted by its share of
the rows, so the summed gradient is the gradient of the mean over the whole batch. Hence:
2 processes × 1 micro-batch and 1 process × 2 micro-batches follow the same trajectory, and a
run resumed from a checkpoint continues exactly as the uninterrupted run would have.

Nothing waits for the device between metric flushes (every ``log_every`` steps and at each
epoch's end). At a flush the per-step losses are gathered, checked for NaN/Inf (the error
names the first bad step and loss part), written to ``metrics.jsonl``, shown on the progress
bar and sent to any trackers. Checkpoints are written only right after a clean flush, so
the last checkpoint on disk is always a good one.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim import optimizer as _optim

from latentinfer.core.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    restore_int_keys,
    save_checkpoint,
)
from latentinfer.core.config import TrainConfig
from latentinfer.core.denormals import flushing_denormals
from latentinfer.core.errors import (
    CheckpointError,
    ConfigError,
    NonFiniteError,
    ShapeError,
    ValidationError,
)
from latentinfer.core.metrics import MetricsWriter
from latentinfer.core.output import LossOutput
from latentinfer.core.progress import TrainProgress
from latentinfer.core.seeding import derive_seed, resolve_seed, seed_device

__all__ = [
    "Batch",
    "Callback",
    "TrainResult",
    "TrainState",
    "is_main_process",
    "split_validation",
    "take_rows",
    "train",
]

Batch = torch.Tensor | tuple[torch.Tensor, ...]

logger = logging.getLogger("latentinfer")

# Namespaces for derive_seed, so the streams never overlap.
_SPLIT, _EPOCH, _STEP, _EVAL = 0, 1, 2, 3
# Config fields that change the trajectory: a resumed run must keep them.
_TRAJECTORY_FIELDS = (
    "batch_size",
    "lr",
    "weight_decay",
    "lr_schedule",
    "warmup_steps",
    "grad_accum",
    "max_grad_norm",
    "val_fraction",
    "min_delta",
    "mixed_precision",
)


@dataclass
class TrainState:
    """Bookkeeping saved with every checkpoint (all JSON-able)."""

    step: int = 0
    epoch: int = 0
    best_val: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    stopped_early: bool = False
    epoch_loss_sum: float = 0.0
    epoch_loss_steps: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    #: wall-clock seconds of training, summed over the run and its resumes (up to the
    #: last checkpoint of a call that was killed)
    seconds: float = 0.0


@dataclass(frozen=True)
class TrainResult:
    """What a finished training run reports.

    Attributes:
        steps: optimiser steps taken in total (a resumed run counts the earlier ones).
        epochs: epochs completed.
        best_val_loss: the lowest validation loss seen (``None`` without validation).
        best_epoch: the epoch it was seen at.
        stopped_early: whether early stopping ended the run.
        history: one dict per epoch: ``epoch``, ``step``, ``train_loss`` and, with
            validation, ``val_loss``.
        seconds: wall-clock time of this call.
        rows_per_second: training rows processed per second in this call.
        total_seconds: training time of the whole run, over this call and the calls it
            resumed (what a killed call spent after its last checkpoint is not counted).
        run_dir: the run folder, if one was used.
    """

    steps: int
    epochs: int
    best_val_loss: float | None
    best_epoch: int | None
    stopped_early: bool
    history: list[dict[str, float]] = field(repr=False)
    seconds: float
    rows_per_second: float
    run_dir: Path | None
    total_seconds: float = 0.0


class Callback:
    """Hooks called by :func:`train`; subclass and override either method (or both).

    Any object with these methods works too (they are looked up by name).
    """

    def on_step_end(self, state: TrainState, model: nn.Module) -> None:
        """After every optimiser step (and its metric flush, before any checkpoint)."""

    def on_epoch_end(self, state: TrainState, model: nn.Module) -> None:
        """After every epoch, before validation and the epoch's checkpoint."""


def is_main_process() -> bool:
    """Whether this is the main process of an ``accelerate launch`` run (True when alone).

    Does not initialise Accelerate's process state (which must happen in the trainer, with
    the right device): before that, the launcher's rank variables decide.
    """
    from accelerate import PartialState

    if PartialState._shared_state:
        return bool(PartialState().is_main_process)
    for var in ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK"):
        if var in os.environ:
            return int(os.environ[var]) == 0
    return True


def take_rows(data: Batch, index: torch.Tensor) -> Batch:
    """Rows ``index`` of a tensor or of each tensor in a tuple."""
    if isinstance(data, torch.Tensor):
        return data.index_select(0, index)
    return tuple(t.index_select(0, index) for t in data)


def _check_train_args(model: Any, data: Any, config: Any, val_data: Any) -> None:
    """What :func:`train` takes, checked before anything runs."""
    if not isinstance(model, nn.Module):
        raise ValidationError(
            f"model must be a torch.nn.Module whose forward(batch) returns a LossOutput; got "
            f"{type(model).__name__}."
        )
    if not any(p.requires_grad for p in model.parameters()):
        raise ValidationError(
            f"model ({type(model).__name__}) has no trainable parameters; build its layers "
            "before training (or unfreeze them)."
        )
    if not isinstance(config, TrainConfig):
        hint = " (TrainConfig(**options) makes one from a dict)" if isinstance(config, dict) else ""
        raise ConfigError(
            f"config must be a TrainConfig or None; got {type(config).__name__}{hint}."
        )
    _check_batch(data, name="data")
    if val_data is not None:
        _check_batch(val_data, name="val_data")
        n_data = 1 if isinstance(data, torch.Tensor) else len(data)
        n_val = 1 if isinstance(val_data, torch.Tensor) else len(val_data)
        if n_data != n_val:
            raise ShapeError(
                f"val_data must have the structure of data ({n_data} tensor(s)); got {n_val}."
            )


def _check_batch(data: Any, *, name: str) -> None:
    """``data`` is a tensor, or a non-empty tuple of tensors, all with the same rows ≥ 1."""
    tensors = (data,) if isinstance(data, torch.Tensor) else data
    if (
        not isinstance(tensors, tuple)
        or not tensors
        or not all(isinstance(t, torch.Tensor) for t in tensors)
    ):
        kind = type(data).__name__
        if isinstance(data, tuple | list) and data:
            kind += " of " + ", ".join(type(t).__name__ for t in data)
        raise ValidationError(
            f"{name} must be a tensor, or a tuple of tensors, with one row per sample; got "
            f"{kind}. Convert NumPy arrays with torch.as_tensor(x, dtype=torch.float32)."
        )
    rows = [int(t.shape[0]) if t.ndim else None for t in tensors]
    if None in rows:
        raise ShapeError(f"{name} must have rows (a dimension 0); got a 0-d tensor.")
    if len(set(rows)) > 1:
        raise ShapeError(f"{name}'s tensors must have the same number of rows; got {rows}.")
    if rows[0] == 0:
        raise ValidationError(f"{name} has no rows; pass at least one.")


def _n_rows(data: Batch) -> int:
    return int(data.shape[0] if isinstance(data, torch.Tensor) else data[0].shape[0])


def _to_device(data: Batch, device: torch.device) -> Batch:
    if isinstance(data, torch.Tensor):
        return data.to(device)
    return tuple(t.to(device) for t in data)


def _make_accelerator(config: TrainConfig, run_dir: Path | None) -> Any:
    from accelerate import Accelerator

    kwargs: dict[str, Any] = {}
    # On a machine without CUDA, processes started by `accelerate launch` / torchrun only
    # join one process group when Accelerate is told to use the CPU.
    if config.device == "cpu" or (config.device == "auto" and not torch.cuda.is_available()):
        kwargs["cpu"] = True
    if config.trackers:
        if run_dir is None:
            raise ConfigError(
                f"trackers={list(config.trackers)} need a run folder; pass run_dir=... ."
            )
        check_trackers(config.trackers)
        kwargs["log_with"] = list(config.trackers)
        kwargs["project_dir"] = str(run_dir)
    acc = Accelerator(**kwargs)
    if config.device == "cuda" and acc.device.type != "cuda":
        raise ConfigError("device='cuda' was asked for but no CUDA device is available.")
    return acc


def check_trackers(trackers: Sequence[str]) -> None:
    """Raise :class:`ConfigError` for a tracker whose package is not installed (Accelerate
    would drop it without a word)."""
    import importlib.util

    packages = {"tensorboard": "tensorboard", "mlflow": "mlflow"}
    absent = [t for t in trackers if importlib.util.find_spec(packages.get(t, t)) is None]
    if absent:
        names = [packages.get(t, t) for t in absent]
        raise ConfigError(
            f"trackers={absent} need the package(s) {names}, which are not installed: "
            f"pip install {' '.join(names)}."
        )


def _make_optimizer(params: Sequence[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
    cls = torch.optim.AdamW if config.weight_decay > 0 else torch.optim.Adam
    return cls(params, lr=config.lr, weight_decay=config.weight_decay, fused=fused)


class _AdamStep:
    """``optimizer.step()`` for the trainer's own fused CPU Adam, minus the per-call overhead.

    ``torch.optim.Adam.step`` spends about twice as long in Python (hooks, profiler ranges,
    regrouping the tensors, wrapping the scalar of the step-count update) as in its fused
    kernel on a small model. This calls the same kernel, ``torch._fused_adam_`` (or
    ``_fused_adamw_``), on the same state tensors, with the same arguments, so the update
    and the optimiser's ``state_dict`` are identical. It falls back to ``optimizer.step()``
    whenever that could do something else: the first step of a parameter (lazy state
    creation), optimizer hooks, another device, several dtypes or param groups, or options
    other than the trainer's (amsgrad, maximize, capturable, differentiable, a tensor lr).
    """

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        groups = optimizer.param_groups
        params = [p for g in groups for p in g["params"]]
        g0 = groups[0]
        self.enabled = (
            type(optimizer) in (torch.optim.Adam, torch.optim.AdamW)
            and len(groups) == 1
            and bool(params)
            and all(p.device.type == "cpu" and p.dtype == params[0].dtype for p in params)
            and g0.get("fused") is True
            and not any(g0.get(k) for k in ("amsgrad", "maximize", "capturable", "differentiable"))
            and not isinstance(g0["lr"], torch.Tensor)
        )
        self.params = params
        self.one = torch.ones((), dtype=torch.float32)

    def __call__(self) -> None:
        opt = self.optimizer
        if (
            not self.enabled
            or opt._optimizer_step_pre_hooks
            or opt._optimizer_step_post_hooks
            or _optim._global_optimizer_pre_hooks
            or _optim._global_optimizer_post_hooks
        ):
            opt.step()
            return
        state = opt.state
        params, grads, exp_avgs, exp_avg_sqs, steps = [], [], [], [], []
        for p in self.params:
            grad = p.grad
            if grad is None:
                continue
            st = state.get(p)
            if not st:  # first step of this parameter: let Adam create its state
                opt.step()
                return
            params.append(p)
            grads.append(grad)
            exp_avgs.append(st["exp_avg"])
            exp_avg_sqs.append(st["exp_avg_sq"])
            steps.append(st["step"])
        if not params:
            return
        if grads[0].is_sparse or steps[0].dtype != self.one.dtype:
            opt.step()
            return
        group = opt.param_groups[0]
        beta1, beta2 = group["betas"]
        # what _fused_adam does: step += 1 (a tensor one avoids wrapping the scalar 14 times)
        torch._foreach_add_(steps, [self.one] * len(steps))
        kernel = torch._fused_adamw_ if group["decoupled_weight_decay"] else torch._fused_adam_
        with torch.no_grad():
            kernel(
                params,
                grads,
                exp_avgs,
                exp_avg_sqs,
                [],
                steps,
                amsgrad=False,
                lr=group["lr"],
                beta1=float(beta1),
                beta2=float(beta2),
                weight_decay=group["weight_decay"],
                eps=group["eps"],
                maximize=False,
                grad_scale=None,
                found_inf=None,
            )
        opt._opt_called = True  # type: ignore[attr-defined]  # what LRScheduler's wrapper sets

    def zero_grad(self) -> None:
        """``optimizer.zero_grad(set_to_none=True)`` without its profiler range."""
        for p in self.params:
            p.grad = None


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without oneDNN: assume not
        return False


def warn_if_cpu_lacks_bf16() -> None:
    """Warn that bf16 autocast is emulated, and slow, on a CPU without native bfloat16."""
    if not cpu_has_native_bf16():
        warnings.warn(
            "mixed_precision='bf16' on a CPU without native bfloat16 (no AVX512-BF16 or AMX): "
            "PyTorch emulates the bfloat16 matrix products, which here run many times slower "
            "than float32 (10x on benchmarks/vae/speed_vs_pythae.py); use "
            "mixed_precision='no' on this machine.",
            RuntimeWarning,
            stacklevel=3,
        )


def _lr_factor(config: TrainConfig, total_steps: int) -> Callable[[int], float]:
    warm = config.warmup_steps
    kind = config.lr_schedule

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if kind == "constant":
            return 1.0
        frac = min(1.0, (step - warm) / max(1, total_steps - warm))
        if kind == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * frac))
        return 1.0 - frac

    return factor


def split_validation(
    data: Batch, val_data: Batch | None, config: TrainConfig, seed: int
) -> tuple[Batch, Batch | None]:
    """Hold out ``config.val_fraction`` of the rows (seeded) unless ``val_data`` is given.

    Returns:
        ``(train_rows, validation_rows)``; validation is ``None`` when ``val_fraction`` is 0.
        Splitting twice with the same seed is idempotent only through ``val_data``: pass
        the returned validation rows back to skip a second split.
    """
    if val_data is not None or config.val_fraction == 0:
        return data, val_data
    n = _n_rows(data)
    n_val = max(1, round(config.val_fraction * n))
    if n - n_val < 1:
        raise ValidationError(
            f"cannot hold out {n_val} validation row(s) from {n} row(s); pass more data or "
            "val_fraction=0."
        )
    g = torch.Generator().manual_seed(derive_seed(seed, _SPLIT))
    perm = torch.randperm(n, generator=g)
    data_cpu = _to_device(data, torch.device("cpu"))
    return take_rows(data_cpu, perm[n_val:]), take_rows(data_cpu, perm[:n_val])


class _Loop:
    """State of one call to :func:`train` (private; :func:`train` is the entry point)."""

    def __init__(
        self,
        model: nn.Module,
        data: Batch,
        val_data: Batch | None,
        config: TrainConfig,
        seed: int,
        run_dir: Path | None,
        callbacks: Sequence[Callback],
        run_config: dict[str, Any] | None,
    ) -> None:
        self.config = config
        self.seed = seed
        self.run_dir = run_dir
        self.callbacks = list(callbacks)
        self.run_config = run_config or {}
        self.acc = _make_accelerator(config, run_dir)
        self.device = self.acc.device
        self.n_proc = self.acc.num_processes
        self.rank = self.acc.process_index
        self.main = self.acc.is_main_process

        self.model = model.to(self.device)
        self.data = _to_device(data, self.device)
        self.val_data = None if val_data is None else _to_device(val_data, self.device)
        self.n_train = _n_rows(self.data)
        self.n_micro = self.n_proc * config.grad_accum
        if self.n_train < self.n_micro:
            raise ValidationError(
                f"{self.n_train} training row(s) cannot be split over {self.n_proc} process(es) "
                f"× grad_accum={config.grad_accum}; pass more rows."
            )
        full, rest = divmod(self.n_train, config.batch_size)
        # With several processes a last batch too small to give every micro-batch a row is
        # dropped (an empty micro-batch would stall the gradient all-reduce).
        self.steps_per_epoch = full + (1 if rest >= self.n_micro else 0)
        self.total_steps = config.max_epochs * self.steps_per_epoch
        if config.max_steps is not None:
            self.total_steps = min(self.total_steps, config.max_steps)

        self.optimizer = _make_optimizer(list(self.model.parameters()), config)
        self.adam_step = _AdamStep(self.optimizer)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, _lr_factor(config, self.total_steps)
        )
        # a constant rate without warm-up needs no per-step scheduler call
        self.schedule_active = config.lr_schedule != "constant" or config.warmup_steps > 0
        self.wrapped = self.acc.prepare_model(self.model)
        self.state = TrainState()
        self._clock = time.perf_counter()  # state.seconds counts from here (see _tick)
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.autocast = (
            (lambda: torch.autocast(self.device.type, dtype=torch.bfloat16))
            if config.mixed_precision == "bf16"
            else contextlib.nullcontext
        )
        if config.mixed_precision == "bf16" and self.device.type == "cpu":
            warn_if_cpu_lacks_bf16()
        self.part_names: list[str] | None = None
        self.pending: list[torch.Tensor] = []  # per step: [total, *parts] summed over rows
        self.pending_steps: list[int] = []
        self.rows_done = 0
        self.metrics: MetricsWriter | None = None
        self.last_checkpoint: Path | None = None
        self.last_save_time = time.perf_counter()
        self.flush_time = time.perf_counter()
        self.flush_rows = 0
        self.last_loss: float | None = None

    # ----------------------------------------------------------------- checkpoints
    def _checkpoint_root(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / "checkpoints"

    def save(self) -> None:
        root = self._checkpoint_root()
        if root is None:
            return
        if self.main:
            state: dict[str, Any] = {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "rng": {"torch": torch.get_rng_state()},
            }
            if self.best_weights is not None:
                state["best_model"] = self.best_weights
            self._tick()
            meta = {
                "step": self.state.step,
                "seed": self.seed,
                "train_config": self.config.to_dict(),
                "trainer_state": asdict(self.state),
                "scheduler": self.scheduler.state_dict(),
                "run_config": self.run_config,
            }
            path = save_checkpoint(root / f"step-{self.state.step:08d}", state, meta=meta)
            prune_checkpoints(root, self.config.keep_checkpoints)
            self.last_checkpoint = path
        self.acc.wait_for_everyone()
        self.last_save_time = time.perf_counter()

    def _tick(self) -> None:
        """Add the time since the last tick to ``state.seconds`` (saved with checkpoints)."""
        now = time.perf_counter()
        self.state.seconds += now - self._clock
        self._clock = now

    def restore(self, where: Path) -> None:
        state, meta = load_checkpoint(where)
        saved = meta.get("train_config", {})
        changed = [
            f"{k} ({saved.get(k)!r} → {getattr(self.config, k)!r})"
            for k in _TRAJECTORY_FIELDS
            if k in saved and _normalise(saved[k]) != _normalise(getattr(self.config, k))
        ]
        if changed:
            raise ConfigError(
                "cannot resume with different training options that change the trajectory: "
                + ", ".join(changed)
                + ". Resume with the saved options, or start a new run folder."
            )
        if int(meta.get("seed", self.seed)) != self.seed:
            raise ConfigError(
                f"cannot resume run seeded {meta.get('seed')} with seed={self.seed}; "
                "use the saved seed or a new run folder."
            )
        saved_run = meta.get("run_config") or {}
        if saved_run.get("params") and self.run_config.get("params"):
            diff = [
                f"{k} ({saved_run['params'].get(k)!r} → {v!r})"
                for k, v in self.run_config["params"].items()
                if k not in ("seed", "train_config") and saved_run["params"].get(k) != v
            ]
            if saved_run.get("class") != self.run_config.get("class"):
                diff.insert(0, f"class ({saved_run.get('class')} → {self.run_config.get('class')})")
            if saved_run.get("feature_shape") != self.run_config.get("feature_shape"):
                diff.append(
                    f"data feature shape ({saved_run.get('feature_shape')} → "
                    f"{self.run_config.get('feature_shape')})"
                )
            if diff:
                raise ConfigError(
                    f"cannot resume {str(where)!r}: it was written by a different model or data: "
                    + ", ".join(diff)
                    + ". Resume with the same options, or start a new run folder."
                )
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise CheckpointError(
                f"checkpoint {str(where)!r} does not fit this model ({first}); was it written "
                "by a model with other options or other data?"
            ) from exc
        opt_state = state["optimizer"]
        opt_state["state"] = restore_int_keys(opt_state["state"])
        self.optimizer.load_state_dict(opt_state)
        self.scheduler.load_state_dict(meta["scheduler"])
        torch.set_rng_state(state["rng"]["torch"])
        self.best_weights = state.get("best_model")
        ts = meta["trainer_state"]
        self.state = TrainState(**ts)
        self.last_checkpoint = where

    # --------------------------------------------------------------------- steps
    def _micro_slices(self, rows: torch.Tensor) -> list[torch.Tensor]:
        return list(torch.tensor_split(rows, self.n_micro))

    def run_step(self, rows: torch.Tensor) -> None:
        cfg = self.config
        step = self.state.step
        n_global = rows.shape[0]
        # one micro-batch (the common case): no splitting, weighting or no_sync needed
        slices = [rows] if self.n_micro == 1 else self._micro_slices(rows)
        summed: torch.Tensor | None = None
        for a in range(cfg.grad_accum):
            j = self.rank * cfg.grad_accum + a
            idx = slices[j]
            batch = take_rows(self.data, idx)
            seed_device(derive_seed(self.seed, _STEP, step, j), self.device)
            sync = a == cfg.grad_accum - 1 or self.n_proc == 1
            ctx = contextlib.nullcontext() if sync else self.acc.no_sync(self.wrapped)
            with ctx:
                with self.autocast():
                    out: LossOutput = self.wrapped(batch)
                if not isinstance(out, LossOutput):
                    raise ValidationError(
                        "the model's forward(batch) must return a latentinfer LossOutput "
                        "(LossOutput(total=loss, parts={'loss': loss})); got "
                        f"{type(out).__name__}."
                    )
                n = idx.shape[0]
                weight = n * self.n_proc / n_global
                (out.total if weight == 1.0 else out.total * weight).backward()
            if self.part_names is None:
                self.part_names = list(out.parts)
            with torch.no_grad():  # no autograd node for the logged copy
                vec = torch.stack([out.total, *out.parts.values()])
            if vec.dtype != torch.float32:
                vec = vec.float()
            if self.n_micro > 1:
                vec = vec * (n / n_global)
            summed = vec if summed is None else summed + vec
        if cfg.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
        self.adam_step()
        if self.schedule_active:
            self.scheduler.step()
        self.adam_step.zero_grad()
        assert summed is not None
        self.pending.append(summed)
        self.pending_steps.append(step + 1)
        self.state.step = step + 1
        self.rows_done += n_global
        self.flush_rows += n_global

    def flush(self) -> None:
        """Gather pending per-step losses, check them, log them."""
        if not self.pending:
            return
        losses = torch.stack(self.pending)  # (steps, 1 + parts), this process's share
        if self.n_proc > 1:
            losses = self.acc.reduce(losses, reduction="sum")
        losses = losses.cpu()
        steps = self.pending_steps
        self.pending, self.pending_steps = [], []
        names = ["loss", *(self.part_names or [])]
        bad = ~torch.isfinite(losses)
        if bool(bad.any()):
            row, col = (int(i) for i in torch.nonzero(bad)[0])
            # Name the part that went bad (the total is only bad because a part is).
            part_cols = [c for c in range(1, len(names)) if bool(bad[row, c])]
            part = names[part_cols[0]] if part_cols else names[col]
            where = (
                f"; the last good checkpoint is kept at {self.last_checkpoint}"
                if self.last_checkpoint
                else ""
            )
            raise NonFiniteError(
                f"the training loss became non-finite at step {steps[row]}: loss part {part!r} "
                f"is {losses[row, names.index(part)].item()}{where}. Lower the learning rate, "
                "set max_grad_norm, or check the data for extreme values.",
                step=steps[row],
                part=part,
                checkpoint=None if self.last_checkpoint is None else str(self.last_checkpoint),
            )
        now = time.perf_counter()
        rate = self.flush_rows / max(now - self.flush_time, 1e-9)
        self.flush_time, self.flush_rows = now, 0
        self.last_loss = float(losses[-1, 0])
        self.state.epoch_loss_sum += float(losses[:, 0].sum())
        self.state.epoch_loss_steps += losses.shape[0]
        if self.main:
            lr = float(self.scheduler.get_last_lr()[0])
            epoch = self.state.step / self.steps_per_epoch
            if self.metrics is not None:
                records = [
                    {
                        "step": s,
                        "epoch": round((s - 1) / self.steps_per_epoch + 1e-12, 6),
                        "split": "train",
                        **{n: float(v) for n, v in zip(names, row.tolist())},
                    }
                    for s, row in zip(steps, losses)
                ]
                records[-1]["lr"] = lr
                records[-1]["rows_per_s"] = rate
                self.metrics.write(records)
            if self.config.trackers:
                means = losses.mean(0).tolist()
                self.acc.log(
                    {f"train/{n}": v for n, v in zip(names, means)} | {"lr": lr},
                    step=self.state.step,
                )
            self.progress.update(
                self.state.step, loss=self.last_loss, rate=rate, note=f"epoch {epoch:.1f}"
            )

    # ----------------------------------------------------------------- evaluation
    @torch.no_grad()
    def evaluate(self, data: Batch) -> float:
        n = _n_rows(data)
        chunk = 4096
        starts = list(range(0, n, chunk))
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        for c, start in enumerate(starts):
            if c % self.n_proc != self.rank:
                continue
            stop = min(n, start + chunk)
            # all rows in one chunk: the data itself (the same rows as take_rows would give)
            rows = (
                data
                if stop - start == n
                else take_rows(data, torch.arange(start, stop, device=self.device))
            )
            seed_device(derive_seed(self.seed, _EVAL, c), self.device)
            with self.autocast():
                out = self.model(rows)
            total += out.total.double() * (stop - start)
        if self.n_proc > 1:
            total = self.acc.reduce(total, reduction="sum")
        return float(total) / n

    def end_epoch(self) -> bool:
        """Validation, early stopping, hooks. Returns True when training should stop."""
        cfg = self.config
        st = self.state
        st.epoch += 1
        record: dict[str, float] = {
            "epoch": st.epoch,
            "step": st.step,
            "train_loss": st.epoch_loss_sum / max(1, st.epoch_loss_steps),
        }
        st.epoch_loss_sum, st.epoch_loss_steps = 0.0, 0
        stop = False
        for cb in self.callbacks:
            if hasattr(cb, "on_epoch_end"):
                cb.on_epoch_end(st, self.model)
        if self.val_data is not None:
            self.model.eval()
            val = self.evaluate(self.val_data)
            self.model.train()
            if not math.isfinite(val):
                raise NonFiniteError(
                    f"the validation loss became non-finite after epoch {st.epoch} "
                    f"(step {st.step}).",
                    step=st.step,
                    part="validation loss",
                    checkpoint=None if self.last_checkpoint is None else str(self.last_checkpoint),
                )
            record["val_loss"] = val
            if st.best_val is None or val < st.best_val - cfg.min_delta * abs(st.best_val):
                st.best_val, st.best_epoch, st.bad_epochs = val, st.epoch, 0
                if cfg.restore_best:
                    self.best_weights = {
                        k: v.detach().to("cpu", copy=True)
                        for k, v in self.model.state_dict().items()
                    }
            else:
                st.bad_epochs += 1
                if cfg.patience is not None and st.bad_epochs >= cfg.patience:
                    st.stopped_early = stop = True
            if self.main and self.metrics is not None:
                self.metrics.write(
                    [{"step": st.step, "epoch": st.epoch, "split": "val", "loss": val}]
                )
            if self.main and cfg.trackers:
                self.acc.log({"val/loss": val}, step=st.step)
        st.history.append(record)
        return stop

    # ------------------------------------------------------------------------ run
    def run(self, resume: bool | str | Path) -> TrainResult:
        cfg = self.config
        start_time = time.perf_counter()
        resume_from: Path | None = None
        root = self._checkpoint_root()
        if resume:
            if isinstance(resume, (str, Path)) and not isinstance(resume, bool):
                resume_from = Path(resume)
            else:
                if root is None:
                    raise ConfigError("resume=True needs a run folder; pass run_dir=... .")
                resume_from = latest_checkpoint(root)
                if resume_from is None and self.main:
                    logger.warning("no checkpoint in %s; starting a new run", root)
            if resume_from is not None:
                self.restore(resume_from)
                if self.state.step > self.total_steps:
                    raise ConfigError(
                        f"the checkpoint {str(resume_from)!r} is at step {self.state.step}, past "
                        f"this run's end ({self.total_steps} steps from max_epochs="
                        f"{cfg.max_epochs}, max_steps={cfg.max_steps}); raise max_epochs or "
                        "max_steps to train further."
                    )
        elif root is not None and latest_checkpoint(root) is not None:
            raise ConfigError(
                f"run folder {str(self.run_dir)!r} already holds checkpoints; pass resume=True "
                "(--resume) to continue that run, or choose a new folder."
            )
        if self.run_dir is not None and self.main:
            self.metrics = MetricsWriter(
                self.run_dir / "metrics.jsonl",
                resume_step=self.state.step if resume_from is not None else None,
            )
        if cfg.trackers and self.main:
            self.acc.init_trackers(
                self.run_dir.name if self.run_dir else "latentinfer",
                config=_flat_for_trackers(cfg.to_dict() | self.run_config),
            )
        self.model.train()
        self.progress = TrainProgress(
            self.total_steps,
            enabled=cfg.progress if self.main else False,
            completed=self.state.step,
        )
        stopped = self.state.stopped_early
        interrupt = _InterruptAtStepEnd(self.run_dir is not None and self.n_proc == 1)
        try:
            with self.progress, interrupt:
                while not stopped and self.state.step < self.total_steps:
                    epoch = self.state.step // self.steps_per_epoch
                    g = torch.Generator().manual_seed(derive_seed(self.seed, _EPOCH, epoch))
                    perm = torch.randperm(self.n_train, generator=g).to(self.device)
                    first = self.state.step % self.steps_per_epoch
                    for b in range(first, self.steps_per_epoch):
                        rows = perm[b * cfg.batch_size : (b + 1) * cfg.batch_size]
                        self.run_step(rows)
                        end_of_epoch = b == self.steps_per_epoch - 1
                        last = self.state.step >= self.total_steps
                        save_now = self._due_checkpoint(end_of_epoch) and not last
                        # a checkpoint is only written right after a clean flush
                        if end_of_epoch or last or save_now or self.state.step % cfg.log_every == 0:
                            self.flush()
                        for cb in self.callbacks:
                            if hasattr(cb, "on_step_end"):
                                cb.on_step_end(self.state, self.model)
                        if end_of_epoch:
                            stopped = self.end_epoch()
                        if save_now and not stopped:
                            self.save()
                        if interrupt.pressed and not (last or stopped):
                            self.flush()  # a checkpoint is only written after a clean flush
                            self.save()
                            raise KeyboardInterrupt(
                                f"interrupted at step {self.state.step}; saved "
                                f"{self.last_checkpoint}: resume=True (on the command line: "
                                "the same command with --resume) continues it exactly"
                            )
                        if last or stopped:
                            break
                self.flush()
                self.progress.finish(self.state.step)
                self.save()
        finally:
            if self.metrics is not None:
                self.metrics.close()
            if cfg.trackers and self.main:
                # not acc.end_training(): it also destroys this process's group, on the main
                # process alone, while the others still use theirs (and a later fit would too)
                for tracker in self.acc.trackers:
                    tracker.finish()
        if cfg.restore_best and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        self._tick()
        seconds = time.perf_counter() - start_time
        return TrainResult(
            steps=self.state.step,
            epochs=self.state.epoch,
            best_val_loss=self.state.best_val,
            best_epoch=self.state.best_epoch,
            stopped_early=self.state.stopped_early,
            history=list(self.state.history),
            seconds=seconds,
            rows_per_second=self.rows_done / max(seconds, 1e-9),
            run_dir=self.run_dir,
            total_seconds=self.state.seconds,
        )

    def _due_checkpoint(self, end_of_epoch: bool) -> bool:
        if self.run_dir is None:
            return False
        if self.config.checkpoint_every is not None:
            return self.state.step % self.config.checkpoint_every == 0
        interval = self.config.checkpoint_interval_s
        return end_of_epoch and time.perf_counter() - self.last_save_time >= interval


class _InterruptAtStepEnd:
    """While active, the first Ctrl-C (SIGINT) only sets :attr:`pressed`, so that the loop
    checkpoints at the end of the current step and stops; a second one interrupts at once
    (checkpoint writes are atomic). Only for one process, in the main thread, with a run
    folder: several processes would each stop at a different step."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.pressed = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        self.pressed = True
        signal.signal(signal.SIGINT, self._previous)  # a second press is a plain interrupt
        logger.warning("interrupted: saving a checkpoint at the end of this step ...")

    def __enter__(self) -> _InterruptAtStepEnd:
        if self.enabled:
            self._previous = signal.getsignal(signal.SIGINT) or signal.default_int_handler
            signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled and not self.pressed:
            signal.signal(signal.SIGINT, self._previous)


def _normalise(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _flat_for_trackers(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, (int, float, str, bool)) or v is None:
            out[k] = v if v is not None else "None"
        else:
            out[k] = str(v)
    return out


def train(
    model: nn.Module,
    data: Batch,
    config: TrainConfig | None = None,
    *,
    seed: int | None = None,
    val_data: Batch | None = None,
    run_dir: str | Path | None = None,
    resume: bool | str | Path = False,
    callbacks: Sequence[Callback] = (),
    run_config: dict[str, Any] | None = None,
) -> TrainResult:
    """Train ``model`` on in-memory ``data`` with Adam, early stopping and checkpoints.

    Args:
        model: a module whose ``forward(batch)`` returns a :class:`LossOutput`; ``batch``
            has the structure of ``data`` (a tensor, or a tuple of tensors), restricted to
            some rows. The module is trained in place.
        data: the training data, shape ``(n_rows, ...)`` (or a tuple of such tensors with the
            same number of rows).
        config: training options (defaults: :class:`TrainConfig`'s).
        seed: seeds the validation split, the batch order and the per-step noise.
        val_data: held-out data for early stopping; ``None`` holds out
            ``config.val_fraction`` of ``data``.
        run_dir: a folder for ``metrics.jsonl`` and ``checkpoints/`` (``None``: no files).
        resume: ``True`` resumes from the newest checkpoint in ``run_dir`` (starting fresh
            if there is none); a path resumes from that checkpoint folder.
        callbacks: objects with ``on_step_end(state, model)`` / ``on_epoch_end(state, model)``.
        run_config: JSON-able description of the run (model options, data name) stored in
            every checkpoint and sent to trackers.

    Returns:
        A :class:`TrainResult`. The model holds the best validation weights when
        ``config.restore_best`` (else the last ones).

    Raises:
        NonFiniteError: a loss part became NaN/Inf (the message names the step and part).
        ConfigError: resuming with options that would change the trajectory.
    """
    config = TrainConfig() if config is None else config
    _check_train_args(model, data, config, val_data)
    seed = resolve_seed(seed)
    train_data, held_out = split_validation(data, val_data, config, seed)
    loop = _Loop(
        model,
        train_data,
        held_out,
        config,
        seed,
        None if run_dir is None else Path(run_dir),
        callbacks,
        run_config,
    )
    with flushing_denormals(config.flush_denormal):
        return loop.run(resume)
