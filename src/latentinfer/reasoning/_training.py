"""What STaR and TRICE share: weighted sequence losses, optimiser steps, checkpoints.

Both trainers fit a Hugging Face causal LM on rationales it sampled itself, scored with the
family's one scoring path (:func:`~latentinfer.reasoning.generation.log_prob`). The loss of
a set of (prompt, completion) pairs with weights w is ``−Σ_k w_k log p(c_k | p_k) / denom``
(per-sequence log-probabilities, eos included), so its gradient is the estimator's
``−(1/M) Σ w ∇ log p``. Checkpoints hold the model, optimiser and random streams in
safetensors and the trainer's bookkeeping (a TRICE memory included) as JSON, through
:mod:`latentinfer.core.checkpoint`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
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
from latentinfer.reasoning.generation import log_prob

__all__ = [
    "RunFiles",
    "check_examples",
    "make_optimizer",
    "optimizer_step",
    "weighted_nll",
]

Tensor = torch.Tensor


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
) -> float:
    """Backpropagate ``loss``, clip, step; returns the gradient norm before clipping.

    Raises:
        NonFiniteError: the loss or the gradient is NaN/Inf (nothing is stepped).
    """
    value = loss.detach()
    if not bool(torch.isfinite(value)):
        raise NonFiniteError(f"loss is {float(value)} at step {step}.", step=step, part="loss")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    params = [p for p in model.parameters() if p.grad is not None]
    norm = torch.nn.utils.clip_grad_norm_(
        params, max_grad_norm if max_grad_norm is not None else float("inf")
    )
    if not bool(torch.isfinite(norm)):
        raise NonFiniteError(f"gradient norm is {float(norm)} at step {step}.", step=step)
    optimizer.step()
    return float(norm)


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

    def latest(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """``(state, meta)`` of the newest checkpoint, or ``None`` when there is none."""
        if self.checkpoints is None:
            raise ConfigError("resume=True needs a run_dir holding checkpoints; got run_dir=None.")
        where = latest_checkpoint(self.checkpoints)
        return None if where is None else load_checkpoint(where)

    def save_model(self, model: Any, tokenizer: Any) -> Path | None:
        """``save_pretrained`` the model and tokenizer into ``model/``."""
        if self.root is None:
            return None
        out = self.root / "model"
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        return out


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
