"""What a reasoning trainer's ``fit`` opens before its loop, and the log it keeps in it.

GRPO, TRICE and STaR each train a causal LM in place with a prompt selector and an AdamW
optimiser under :class:`~latentinfer.reasoning._training.Processes`, in a run folder whose
checkpoints resume and whose ``metrics.jsonl`` logs every step. :class:`TrainerSession`
sets these up in one place (restoring the model, optimiser, random stream and selector
from the newest checkpoint when resuming) and writes their checkpoints;
:class:`StepLog` keeps a fit's records and writes them to ``metrics.jsonl``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from latentinfer.core.metrics import MetricsWriter
from latentinfer.core.seeding import derive_seed
from latentinfer.reasoning._training import (
    Processes,
    RunFiles,
    check_resume_config,
    config_dict,
    make_optimizer,
    restore_training_state,
    save_trainer_state,
)
from latentinfer.reasoning.prompt_selection import PromptSelector, make_selector

__all__ = ["StepLog", "TrainerSession"]


@dataclass
class TrainerSession:
    """A fit's processes, run folder, random stream, prompt selector and optimiser.

    Attributes:
        procs: the processes the fit runs on.
        files: the run folder (``files.root`` is ``None`` without one).
        generator: the sampling stream (one per process).
        selector: the prompt selector over the training examples.
        optimizer: the prepared AdamW optimiser.
        net: what the loss goes through (the DDP wrapper with several processes).
        model: the unwrapped model, what samples.
        config: the trainer's options as JSON (written to ``trainer.json`` and into every
            checkpoint).
        meta: the resumed checkpoint's bookkeeping (``None`` on a fresh start).
        state: the resumed checkpoint's tensors (``None`` on a fresh start).
        initial: a copy of the model's weights before any resume (only when asked for).
    """

    procs: Processes
    files: RunFiles
    generator: torch.Generator
    selector: PromptSelector
    optimizer: Any
    net: Any
    model: Any
    config: dict[str, Any]
    meta: dict[str, Any] | None = None
    state: dict[str, Any] | None = None
    initial: dict[str, Any] | None = None

    @classmethod
    def open(
        cls,
        cfg: Any,
        model: Any,
        n_examples: int,
        procs: Processes,
        *,
        run_dir: str | Path | None,
        resume: bool,
        trajectory: Sequence[str],
        restore_optimizer: bool = True,
        keep_initial: bool = False,
    ) -> TrainerSession:
        """Set up a fit of ``model`` on ``n_examples`` examples under the options ``cfg``.

        Args:
            cfg: the trainer's config (``seed``, ``selector``, ``selector_options``, ``lr``,
                ``weight_decay``, ``keep_checkpoints``).
            model: the model, trained in place.
            n_examples: the number of training examples (the selector's arms).
            procs: the processes (made first, so that the caller can check its options
                against them before any folder is created).
            run_dir: the run folder, or ``None``.
            resume: continue from the newest checkpoint in ``run_dir`` (a fresh start when
                there is none); without it, a ``run_dir`` holding checkpoints is refused.
            trajectory: the options a resumed run must share with the checkpoint's.
            restore_optimizer: load the optimiser's state on resume.
            keep_initial: keep a copy of the model's weights as passed in (``initial``).
        """
        files = RunFiles(run_dir, keep=cfg.keep_checkpoints)
        files.check_fresh(resume)
        g = procs.generator(cfg.seed)
        selector = make_selector(
            cfg.selector, n_examples, seed=derive_seed(cfg.seed, 2), **cfg.selector_options
        )
        optimizer = make_optimizer(model, lr=cfg.lr, weight_decay=cfg.weight_decay)
        net, optimizer = procs.prepare(model, optimizer)
        model = procs.unwrap(net)
        session = cls(
            procs=procs,
            files=files,
            generator=g,
            selector=selector,
            optimizer=optimizer,
            net=net,
            model=model,
            config=config_dict(cfg),
            initial=copy.deepcopy(model.state_dict()) if keep_initial else None,
        )
        saved = files.latest() if resume else None
        if saved is not None:
            state, meta = saved
            check_resume_config(meta["config"], session.config, fields=tuple(trajectory))
            restore_training_state(
                model, optimizer if restore_optimizer else None, state, where=str(files.root)
            )
            procs.restore_generator(g, state, int(meta.get("processes", 1)))
            selector.load_state_dict(state["selector"])
            session.state, session.meta = state, meta
        return session

    @property
    def resumed(self) -> bool:
        """Whether the fit continues from a checkpoint."""
        return self.meta is not None

    def checkpoint_due(self, step: int, every: int | None) -> bool:
        """Whether step ``step`` ends with a checkpoint (every ``every`` steps, with a folder)."""
        return self.files.root is not None and every is not None and every > 0 and step % every == 0

    def save(self, step: int, meta: dict[str, Any], **tensors: Any) -> None:
        """Checkpoint the model, optimiser, selector and ``tensors`` as step ``step``, with
        ``meta`` beside the options; every process takes part (see ``save_trainer_state``)."""
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "selector": self.selector.state_dict(),
            **tensors,
        }
        meta = {"config": self.config, **meta, "processes": self.procs.world}
        save_trainer_state(self.files, self.procs, self.generator, step, state, meta)

    def step_log(self, resume_step: int) -> StepLog:
        """The fit's log; on resume, ``metrics.jsonl`` loses its records after ``resume_step``."""
        return StepLog(
            self.files.metrics_writer(resume_step if self.resumed else None, main=self.procs.main)
        )


class StepLog:
    """A fit's per-step records: all kept in ``records``, written to ``metrics.jsonl`` in
    batches (``writer`` is ``None`` without a run folder or off the main process).

    Use as a context manager: the file is closed on the way out, whatever happens; records
    added since the last flush are written only by :meth:`finish`.
    """

    def __init__(self, writer: MetricsWriter | None) -> None:
        self.writer = writer
        self.records: list[dict[str, Any]] = []
        self._pending: list[dict[str, Any]] = []

    def add(self, record: dict[str, Any], *, flush: bool) -> None:
        """Keep ``record``; write it and any before it when ``flush``."""
        self.records.append(record)
        self._pending.append(record)
        if flush:
            self._write()

    def finish(self, final: dict[str, Any] | None = None) -> None:
        """Write what is pending, then ``final`` (a closing record, not kept in ``records``)."""
        if final is not None:
            self._pending.append(final)
        self._write()

    def _write(self) -> None:
        if self.writer is not None and self._pending:
            self.writer.write(self._pending)
        self._pending = []

    def __enter__(self) -> StepLog:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.writer is not None:
            self.writer.close()
