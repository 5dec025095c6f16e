"""What STaR and TRICE share: processes, weighted sequence losses, optimiser steps, checkpoints.

Both trainers fit a Hugging Face causal LM on rationales it sampled itself, scored with the
family's one scoring path (:func:`~latentinfer.reasoning.generation.log_prob`). The loss of
a set of (prompt, completion) pairs with weights w is ``−Σ_k w_k log p(c_k | p_k) / denom``
(per-sequence log-probabilities, eos included), so its gradient is the estimator's
``−(1/M) Σ w ∇ log p``. Checkpoints hold the model, optimiser and random streams in
safetensors and the trainer's bookkeeping (a TRICE memory included) as JSON, through
:mod:`latentinfer.core.checkpoint`.

Several processes (``accelerate launch``). Both trainers run under one Hugging Face
``Accelerator`` (:class:`Processes`, made by the core trainer's ``_make_accelerator``: the
CPU when there is no GPU), with ``accelerator.prepare(model, optimizer)`` and
``accelerator.backward``. Every process runs the same control flow on the same global
bookkeeping (the selector, the TRICE memory, STaR's kept set): the global minibatch of M
items is cut into contiguous shards (:meth:`Processes.shard`: the first ``M mod W`` of the
W processes take one item more), each process samples and scores only its shard, and
what the shards produce (proposals, their correctness) is gathered so that every process
holds the whole of it. A process's loss is its shard's share of the global loss
(``−Σ_{k∈shard} w_k log p_k / denom``, the same ``denom`` as one process would use);
:func:`optimizer_step` backpropagates ``W ×`` that share, so the gradient that DDP
averages over the processes is the gradient of the global loss, as in one process.
With one process every shard is the whole batch and nothing is gathered: the numbers are
those of plain PyTorch.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from latentinfer.core.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    restore_int_keys,
    save_checkpoint,
)
from latentinfer.core.errors import CheckpointError, ConfigError, NonFiniteError, ValidationError
from latentinfer.core.metrics import MetricsWriter
from latentinfer.core.validation import check_choice, check_number
from latentinfer.reasoning.generation import log_prob
from latentinfer.reasoning.prompt_selection import check_selector_options
from latentinfer.reasoning.tasks import Task

__all__ = [
    "Processes",
    "RunFiles",
    "check_examples",
    "check_minibatch",
    "check_trainer_options",
    "make_optimizer",
    "optimizer_step",
    "save_trainer_state",
    "weighted_nll",
    "zero_loss",
]

Tensor = torch.Tensor


def check_lm(model: Any, tokenizer: Any) -> None:
    """A causal LM module and its tokenizer, as every reasoning trainer's ``fit`` takes."""
    if not isinstance(model, torch.nn.Module):
        hint = (
            "; load it first with latentinfer.reasoning.load_lm(path)"
            if isinstance(model, str | Path)
            else ""
        )
        raise ValidationError(
            "model must be a causal language model (a torch.nn.Module such as a Hugging Face "
            f"...ForCausalLM, or latentinfer.reasoning.tiny_lm(tokenizer)); got "
            f"{type(model).__name__}{hint}."
        )
    if tokenizer is None or not callable(tokenizer):
        raise ValidationError(
            "tokenizer must be the model's tokenizer (callable on text, with an eos token); "
            f"got {type(tokenizer).__name__}."
        )


def check_fit_args(model: Any, tokenizer: Any, task: Any) -> None:
    """:func:`check_lm`, and a :class:`Task`."""
    check_lm(model, tokenizer)
    if not isinstance(task, Task):
        raise ValidationError(
            "task must be a latentinfer Task (for instance get_task('arithmetic')); got "
            f"{type(task).__name__}."
        )


def check_examples(examples: Any, *, name: str = "examples") -> list[Any]:
    """A non-empty list of examples with ``question`` and ``answer`` text."""
    try:
        items = list(examples)
    except TypeError:
        raise ValidationError(f"{name} must be a list of Example; got {examples!r}.") from None
    if not items:
        raise ValidationError(f"{name} is empty; pass at least one Example.")
    for i, ex in enumerate(items):
        if not isinstance(getattr(ex, "question", None), str) or not isinstance(
            getattr(ex, "answer", None), str
        ):
            raise ValidationError(
                f"{name}[{i}] must be an Example with question and answer strings; got {ex!r}."
            )
    return items


class Processes:
    """The processes of one training run, under one Hugging Face ``Accelerator``.

    Made with the core trainer's ``_make_accelerator`` (so ``device="auto"`` is the CPU when
    no GPU is found, and processes started by ``accelerate launch`` join one process group
    even without CUDA). Alone (no launcher) this is one process and every method below is
    the identity.

    Args:
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
    """

    def __init__(self, device: str = "auto") -> None:
        from latentinfer.core.config import TrainConfig
        from latentinfer.core.trainer import _make_accelerator

        self.acc = _make_accelerator(TrainConfig(device=device), None)  # type: ignore[arg-type]
        self.rank = int(self.acc.process_index)
        self.world = int(self.acc.num_processes)
        self.main = bool(self.acc.is_main_process)
        self.device = self.acc.device

    def shard(self, n: int) -> tuple[int, int]:
        """``(start, stop)`` of this process's contiguous share of ``n`` items.

        The first ``n mod W`` processes take ``n // W + 1`` items, the others ``n // W``
        (``torch.tensor_split``'s rule); one process takes ``(0, n)``.
        """
        q, r = divmod(n, self.world)
        start = self.rank * q + min(self.rank, r)
        return start, start + q + (1 if self.rank < r else 0)

    def gather(self, items: Sequence[Any]) -> list[Any]:
        """Every process's ``items`` (picklable), concatenated in rank order, on every process."""
        if self.world == 1:
            return list(items)
        from accelerate.utils import gather_object

        return list(gather_object(list(items)))

    def broadcast(self, obj: Any) -> Any:
        """The main process's ``obj`` (picklable), on every process."""
        if self.world == 1:
            return obj
        from accelerate.utils import broadcast_object_list

        return broadcast_object_list([obj], from_process=0)[0]

    def sum(self, value: Tensor) -> Tensor:
        """``value`` summed over the processes (on every process)."""
        if self.world == 1:
            return value
        return self.acc.reduce(value.to(self.device), reduction="sum")  # type: ignore[no-any-return]

    def wait(self) -> None:
        """Barrier: every process reaches this point before any goes on."""
        if self.world > 1:
            self.acc.wait_for_everyone()

    def prepare(self, model: Any, optimizer: torch.optim.Optimizer) -> tuple[Any, Any]:
        """``accelerator.prepare(model, optimizer)``: DDP-wrapped model (the model itself in
        one process) and the wrapped optimizer, both on the accelerator's device."""
        net, opt = self.acc.prepare(model, optimizer)
        return net, opt

    def unwrap(self, net: Any) -> Any:
        """The model inside ``net`` (for sampling, scoring without DDP, saving)."""
        return self.acc.unwrap_model(net)

    def generator(self, seed: int) -> torch.Generator:
        """This process's sampling stream: ``derive_seed(seed, 1)`` on the main process (the
        stream of a single-process run) and ``derive_seed(seed, 1, rank)`` on the others."""
        from latentinfer.core.seeding import derive_seed, make_generator

        keys = (1,) if self.rank == 0 else (1, self.rank)
        return make_generator(derive_seed(seed, *keys))

    def generator_states(self, g: torch.Generator) -> list[Tensor]:
        """Every process's state of its stream ``g``, in rank order (for a checkpoint)."""
        return self.gather([g.get_state()])

    def stream_state(self, g: torch.Generator) -> dict[str, Any]:
        """Checkpoint entries for every process's stream ``g``: ``"generator"`` (the main
        process's) and, with several processes, ``"rank_generators"`` (the others', in rank
        order), as :meth:`restore_generator` reads them. Every process must call it."""
        streams = self.generator_states(g)
        state: dict[str, Any] = {"generator": streams[0]}
        if self.world > 1:
            state["rank_generators"] = streams[1:]
        return state

    def restore_generator(self, g: torch.Generator, state: dict[str, Any], saved: int) -> None:
        """Set this process's stream from a checkpoint written by ``saved`` processes.

        The main process takes ``state["generator"]``; process r > 0 takes
        ``state["rank_generators"][r - 1]`` when the checkpoint was written by as many
        processes, else it keeps its fresh stream (a run resumed on another number of
        processes continues correctly but not along the same random numbers).
        """
        if self.rank == 0:
            g.set_state(state["generator"])
            return
        others = state.get("rank_generators") or []
        if saved == self.world and len(others) >= self.rank:
            g.set_state(others[self.rank - 1])


def zero_loss(model: Any, tokenizer: Any, prompt: str, completion: str) -> Tensor:
    """``0 × log p(completion | prompt)``: a zero loss that still runs a forward through
    ``model``. A process with nothing to learn from this step uses it, so that DDP's
    gradient all-reduce, which every process must join, still happens."""
    return log_prob(model, tokenizer, [prompt], [completion]).sum() * 0.0


def make_optimizer(model: Any, *, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW over the model's trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def weighted_nll(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    completions: Sequence[str],
    weights: Sequence[float] | Tensor,
    *,
    denom: float,
    batch_size: int | None = None,
) -> Tensor:
    """``−Σ_k w_k log p(completion_k (+ eos) | prompt_k) / denom``; terms with w = 0 skipped.

    Returns a scalar tensor with the graph (a zero tensor with the graph when every weight
    is 0, so ``backward`` always works).
    """
    w = torch.as_tensor(weights, dtype=torch.float32)
    keep = [k for k in range(len(prompts)) if float(w[k]) != 0.0]
    if not keep:
        return next(model.parameters()).sum() * 0.0
    lp = log_prob(
        model,
        tokenizer,
        [prompts[k] for k in keep],
        [completions[k] for k in keep],
        batch_size=batch_size,
    )
    return -(w[keep].to(lp.device) * lp).sum() / denom


def optimizer_step(
    model: Any,
    optimizer: torch.optim.Optimizer,
    loss: Tensor,
    *,
    max_grad_norm: float | None,
    step: int,
    processes: Processes | None = None,
) -> tuple[float, float]:
    """Backpropagate ``loss``, clip, step; returns ``(gradient norm before clipping, loss)``.

    With ``processes``, ``loss`` is this process's share of the global loss: the returned
    loss is the sum of the shares, the backward pass goes through
    ``accelerator.backward(W × share)`` so that DDP's average is the gradient of the global
    loss, and the norm (taken after the all-reduce) is the global gradient's. Every check
    is made on global values, so all processes stop together.

    Raises:
        NonFiniteError: the loss or the gradient is NaN/Inf (nothing is stepped).
    """
    value = loss.detach()
    if processes is not None:
        value = processes.sum(value)
    if not bool(torch.isfinite(value)):
        raise NonFiniteError(f"loss is {float(value)} at step {step}.", step=step, part="loss")
    optimizer.zero_grad(set_to_none=True)
    if processes is None:
        loss.backward()
    else:
        processes.acc.backward(loss * processes.world if processes.world > 1 else loss)
    params = [p for p in model.parameters() if p.grad is not None]
    norm = torch.nn.utils.clip_grad_norm_(
        params, max_grad_norm if max_grad_norm is not None else float("inf")
    )
    if not bool(torch.isfinite(norm)):
        raise NonFiniteError(f"gradient norm is {float(norm)} at step {step}.", step=step)
    optimizer.step()
    return float(norm), float(value)


def config_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as JSON-able values (tuples become lists)."""
    return {
        k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(config).items()
    }


class RunFiles:
    """A trainer's run folder: ``trainer.json``, ``metrics.jsonl``, ``checkpoints/``, ``model/``.

    Args:
        run_dir: the folder (created), or ``None`` for no files.
        keep: how many step checkpoints to keep.
    """

    def __init__(self, run_dir: str | os.PathLike[str] | None, *, keep: int = 2) -> None:
        self.root = None if run_dir is None else Path(run_dir)
        self.keep = keep
        if self.root is not None:
            self.root.mkdir(parents=True, exist_ok=True)

    @property
    def checkpoints(self) -> Path | None:
        return None if self.root is None else self.root / "checkpoints"

    def save(self, step: int, state: dict[str, Any], meta: dict[str, Any]) -> Path | None:
        """Write checkpoint ``step-<step>`` (tensors in ``state``, JSON in ``meta``)."""
        if self.checkpoints is None:
            return None
        path = save_checkpoint(self.checkpoints / f"step-{step:08d}", state, meta=meta)
        prune_checkpoints(self.checkpoints, self.keep)
        return path

    def check_fresh(self, resume: bool) -> None:
        """Refuse to start a new run over a folder that holds one (``resume=False`` would
        otherwise overwrite its checkpoints and metrics)."""
        if resume or self.checkpoints is None or latest_checkpoint(self.checkpoints) is None:
            return
        raise ConfigError(
            f"run_dir {str(self.root)!r} already holds a run's checkpoints; pass resume=True "
            "to continue it, or choose a new run_dir."
        )

    def latest(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """``(state, meta)`` of the newest checkpoint, or ``None`` when there is none."""
        if self.checkpoints is None:
            raise ConfigError("resume=True needs a run_dir holding checkpoints; got run_dir=None.")
        where = latest_checkpoint(self.checkpoints)
        return None if where is None else load_checkpoint(where)

    def write_options(self, trainer: str, config: dict[str, Any], task: Any, *, main: bool) -> None:
        """Write ``trainer.json`` (the trainer's name, options and task) on the main process."""
        if self.root is not None and main:
            (self.root / "trainer.json").write_text(
                json.dumps(
                    {"trainer": trainer, "config": config, "task": getattr(task, "name", "")},
                    indent=1,
                )
            )

    def metrics_writer(self, resume_step: int | None, *, main: bool) -> MetricsWriter | None:
        """The ``metrics.jsonl`` writer on the main process (``None`` elsewhere or without a
        folder); ``resume_step`` drops the records after it, as on resume."""
        if self.root is None or not main:
            return None
        return MetricsWriter(self.root / "metrics.jsonl", resume_step=resume_step)

    def save_model(self, model: Any, tokenizer: Any) -> Path | None:
        """``save_pretrained`` the model and tokenizer into ``model/``."""
        if self.root is None:
            return None
        from latentinfer.reasoning.sft import save_model  # no progress bars

        return save_model(model, tokenizer, self.root / "model")


def held_out_accuracy(
    model: Any,
    tokenizer: Any,
    task: Any,
    held: list[Any],
    *,
    eval_max: int | None,
    max_new_tokens: int,
    procs: Processes | None = None,
) -> float:
    """Greedy accuracy on the first ``eval_max`` held-out examples (all when ``None``);
    leaves ``model`` in training mode.

    With ``procs`` of several processes each decodes its shard and the hits are summed, so
    every process returns the same accuracy at a ``1/W`` share of the work; every process
    must call it (it is a collective).
    """
    from latentinfer.reasoning.evaluate import accuracy

    subset = held if eval_max is None else held[:eval_max]
    if procs is None or procs.world == 1:
        value = float(
            accuracy(model, tokenizer, task, subset, mode="greedy", max_new_tokens=max_new_tokens)
        )
    else:
        start, stop = procs.shard(len(subset))
        part = subset[start:stop]
        hits = 0.0
        if part:  # accuracy is k / n: k back exactly by rounding
            share = accuracy(
                model, tokenizer, task, part, mode="greedy", max_new_tokens=max_new_tokens
            )
            hits = float(round(share * len(part)))
        total = procs.sum(torch.tensor([hits, float(len(part))], dtype=torch.float64))
        value = float(total[0] / total[1])
    model.train()
    return value


def periodic_accuracy(
    model: Any,
    tokenizer: Any,
    task: Any,
    held: list[Any] | None,
    cfg: Any,
    step: int,
    procs: Processes,
) -> dict[str, float]:
    """``{"test_accuracy": ...}`` on the first ``cfg.eval_max`` held-out examples when
    ``step`` is a multiple of ``cfg.eval_every`` (0: never) and there are any, else ``{}``;
    for a trainer's metrics record (a collective, as :func:`held_out_accuracy`)."""
    if held is None or not cfg.eval_every or step % cfg.eval_every:
        return {}
    acc = held_out_accuracy(
        model,
        tokenizer,
        task,
        held,
        eval_max=cfg.eval_max,
        max_new_tokens=cfg.max_new_tokens,
        procs=procs,
    )
    return {"test_accuracy": acc}


def final_accuracy(
    model: Any,
    tokenizer: Any,
    task: Any,
    held: list[Any] | None,
    *,
    max_new_tokens: int,
    procs: Processes,
) -> float | None:
    """Greedy accuracy on every held-out example at the end of a fit; ``None`` without any."""
    if held is None:
        return None
    return held_out_accuracy(
        model, tokenizer, task, held, eval_max=None, max_new_tokens=max_new_tokens, procs=procs
    )


def save_final(
    files: RunFiles,
    procs: Processes,
    model: Any,
    tokenizer: Any,
    checkpoint: Callable[[], None] | None = None,
) -> None:
    """End a fit: the last checkpoint (when given) and ``model/`` in the run folder, if any;
    every process waits for the main one; ``model`` is left in eval mode."""
    if files.root is not None:
        if checkpoint is not None:
            checkpoint()
        if procs.main:
            files.save_model(model, tokenizer)
    procs.wait()
    model.eval()


def check_trainer_options(cfg: Any) -> None:
    """Check the options every reasoning trainer's config has (batch, optimiser, sampling
    length, prompt selector, evaluation, checkpoints, seed, device); each config checks its
    own fields after this."""
    check_number(cfg.batch_size, name="batch_size", low=1, integer=True)
    check_number(cfg.lr, name="lr", low=0, low_inclusive=False)
    check_number(cfg.weight_decay, name="weight_decay", low=0)
    check_number(
        cfg.max_grad_norm, name="max_grad_norm", low=0, low_inclusive=False, allow_none=True
    )
    check_number(cfg.max_new_tokens, name="max_new_tokens", low=1, integer=True)
    check_selector_options(cfg.selector, cfg.selector_options)
    check_number(cfg.eval_every, name="eval_every", low=0, integer=True)
    check_number(cfg.eval_max, name="eval_max", low=1, integer=True, allow_none=True)
    check_number(cfg.keep_checkpoints, name="keep_checkpoints", low=1, integer=True)
    check_number(cfg.seed, name="seed", low=0, integer=True)
    check_choice(cfg.device, name="device", choices=("auto", "cpu", "cuda"))


def check_minibatch(batch_size: int, n_examples: int, world: int, *, each: str) -> None:
    """A step's minibatch must fit the examples and give every process a share.

    ``each`` ends the message on too few rows: what each process must have something to do
    (``"proposes for at least one example"``).
    """
    if batch_size > n_examples:
        raise ConfigError(
            f"batch_size must be at most the number of examples ({n_examples}); got {batch_size}."
        )
    if batch_size < world:
        raise ConfigError(
            f"batch_size must be at least the number of processes ({world}), so that "
            f"each {each}; got {batch_size}."
        )


def save_trainer_state(
    files: RunFiles,
    procs: Processes,
    g: torch.Generator,
    step: int,
    state: dict[str, Any],
    meta: dict[str, Any],
) -> None:
    """Checkpoint ``state`` (model, optimiser, selector, ...) with every process's stream.

    Every process takes part (its random stream goes into the checkpoint); the main one
    writes ``state`` plus the streams, and ``meta``, as step ``step``.
    """
    streams = procs.stream_state(g)
    if procs.main:
        files.save(step, {**state, **streams}, meta)
    procs.wait()


def restore_training_state(
    model: Any, optimizer: torch.optim.Optimizer | None, state: dict[str, Any], *, where: str
) -> None:
    """Load model (and optimiser) state saved by a trainer's checkpoint."""
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(
            f"checkpoint in {where!r} does not fit this model ({first}); resume with the model "
            "the run started from."
        ) from exc
    if optimizer is not None and "optimizer" in state:
        opt_state = state["optimizer"]
        opt_state["state"] = restore_int_keys(opt_state["state"])
        optimizer.load_state_dict(opt_state)


def check_resume_config(
    saved: dict[str, Any], current: dict[str, Any], *, fields: Sequence[str]
) -> None:
    """Refuse to resume when options that change the trajectory differ."""
    changed = [
        f"{k} ({saved.get(k)!r} → {current.get(k)!r})"
        for k in fields
        if k in saved and saved.get(k) != current.get(k)
    ]
    if changed:
        raise ConfigError(
            "cannot resume with different options that change the trajectory: "
            + ", ".join(changed)
            + ". Resume with the saved options, or start a new run folder."
        )
