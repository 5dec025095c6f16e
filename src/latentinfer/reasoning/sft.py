"""Supervised fine-tuning of a causal LM on (prompt, target) texts: with or without rationales.

:class:`SFT` trains on ``task.prompt(question)`` → ``task.target(example)`` + eos, the loss
being the negative log-likelihood of the target tokens only (the prompt is context). It
runs on :func:`latentinfer.core.trainer.train`: the LM is wrapped in :class:`LMLoss`, whose
``forward(batch)`` returns a :class:`~latentinfer.core.output.LossOutput`, and the texts are
tokenized once into padded tensors, so checkpoints, resume, progress, metrics, the NaN
guard and Accelerate (several GPUs or nodes) come from the shared loop.

The loss of a batch is the mean over its rows of each row's mean token NLL (every example
weighs the same, whatever its length). Optimiser: AdamW at a constant rate by default
(the setting that trained the arithmetic scratchpads of ``benchmarks/reasoning``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from latentinfer.core.config import TrainConfig
from latentinfer.core.errors import ConfigError, ShapeError, ValidationError
from latentinfer.core.output import LossOutput
from latentinfer.core.trainer import TrainResult, is_main_process, train
from latentinfer.core.validation import check_choice, check_number
from latentinfer.reasoning._training import check_fit_args, check_lm
from latentinfer.reasoning.generation import _check_texts, _encode, _special_id
from latentinfer.reasoning.tasks.base import Example, Task

__all__ = ["SFT", "LMLoss", "SFTConfig", "SFTResult", "encode_pairs"]

Tensor = torch.Tensor
MODEL_DIR = "model"


@dataclass
class SFTConfig:
    """Options of :class:`SFT` (each maps to a command-line flag of ``latentinfer reason``).

    Attributes:
        steps: optimiser steps.
        batch_size: examples per step.
        lr: learning rate (constant after ``warmup_steps`` unless ``lr_schedule`` says).
        weight_decay: AdamW's decoupled weight decay (0: Adam).
        with_rationale: train on rationale + answer (``True``) or the answer alone.
        seed: seeds the batch order (and dropout, if the model has any).
        max_grad_norm: gradient-norm clipping (``None``: none).
        lr_schedule: ``"constant"``, ``"cosine"`` or ``"linear"``.
        warmup_steps: linear warm-up steps.
        max_len: the longest prompt + target + eos in tokens (longer examples are an error).
        log_every: steps between metric flushes (and NaN checks).
        checkpoint_every: steps between checkpoints with a run folder (``None``: at the end,
            and at epoch ends once a minute).
        mixed_precision: ``"no"`` or ``"bf16"``.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        progress: show a progress bar (``None``: when stderr is a terminal).
    """

    steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    with_rationale: bool = True
    seed: int = 0
    max_grad_norm: float | None = 1.0
    lr_schedule: str = "constant"
    warmup_steps: int = 0
    max_len: int = 256
    log_every: int = 25
    checkpoint_every: int | None = None
    mixed_precision: str = "no"
    device: str = "auto"
    progress: bool | None = None

    def __post_init__(self) -> None:
        check_number(self.steps, name="steps", low=1, integer=True)
        check_number(self.max_len, name="max_len", low=2, integer=True)
        check_number(self.seed, name="seed", low=0, integer=True)
        if not isinstance(self.with_rationale, bool):
            raise ValidationError(
                f"with_rationale must be True or False; got {self.with_rationale!r}."
            )
        check_choice(self.lr_schedule, name="lr_schedule", choices=("constant", "cosine", "linear"))
        self.train_config()  # checks the remaining options

    def train_config(self) -> TrainConfig:
        """The core :class:`TrainConfig` these options give."""
        return TrainConfig(
            max_epochs=10**9,
            max_steps=self.steps,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            lr_schedule=self.lr_schedule,  # type: ignore[arg-type]
            warmup_steps=self.warmup_steps,
            max_grad_norm=self.max_grad_norm,
            val_fraction=0.0,
            patience=None,
            restore_best=False,
            log_every=self.log_every,
            checkpoint_every=self.checkpoint_every,
            mixed_precision=self.mixed_precision,  # type: ignore[arg-type]
            device=self.device,  # type: ignore[arg-type]
            progress=self.progress,
        )

    def to_dict(self) -> dict[str, Any]:
        """The options as JSON-able values."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SFTResult:
    """What :meth:`SFT.fit` reports.

    Attributes:
        train: the core loop's :class:`~latentinfer.core.trainer.TrainResult` (steps,
            per-epoch ``history`` of ``train_loss``, timing).
        n_examples: training examples.
        n_tokens: target tokens (eos included) over all examples.
        final_loss: the loss of the trained model on (up to 1,024 of) the training
            examples, in eval mode.
        model_dir: where the model and tokenizer were saved (``run_dir/model``), if anywhere.
    """

    train: TrainResult
    n_examples: int
    n_tokens: int
    final_loss: float
    model_dir: Path | None

    @property
    def steps(self) -> int:
        """Optimiser steps taken in total."""
        return self.train.steps


def encode_pairs(
    tokenizer: Any,
    prompts: Sequence[str],
    targets: Sequence[str],
    *,
    add_eos: bool = True,
    max_len: int | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Tokenize (prompt, target) pairs into right-padded training tensors.

    Returns:
        ``(input_ids, attention_mask, loss_mask)``, each ``(n, max length)`` int64; the
        loss mask is 1 on target tokens (and eos), 0 on prompt tokens and padding.

    Raises:
        ShapeError: ``prompts`` and ``targets`` differ in length.
        ValidationError: empty texts, or a pair longer than ``max_len`` tokens.
    """
    p_texts = _check_texts(prompts, name="prompts", allow_empty=False)
    t_texts = _check_texts(targets, name="targets", allow_empty=True)
    if len(p_texts) != len(t_texts):
        raise ShapeError(
            f"prompts and targets must have the same length; got {len(p_texts)} and {len(t_texts)}."
        )
    eos, pad = _special_id(tokenizer, "eos"), _special_id(tokenizer, "pad")
    p_ids = _encode(tokenizer, p_texts, special=True, name="prompts")
    t_ids = _encode(tokenizer, t_texts, special=False, name="targets")
    rows = [(p, [*t, eos] if add_eos else t) for p, t in zip(p_ids, t_ids)]
    width = max(len(p) + len(t) for p, t in rows)
    if max_len is not None and width > max_len:
        i = max(range(len(rows)), key=lambda r: len(rows[r][0]) + len(rows[r][1]))
        raise ValidationError(
            f"example {i} has {width} tokens (prompt + target + eos), more than max_len="
            f"{max_len}; raise max_len (and the model's max_len) or shorten the texts."
        )
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    attn = torch.zeros((len(rows), width), dtype=torch.long)
    loss = torch.zeros((len(rows), width), dtype=torch.long)
    for r, (p, t) in enumerate(rows):
        n = len(p) + len(t)
        ids[r, :n] = torch.tensor(p + t, dtype=torch.long)
        attn[r, :n] = 1
        loss[r, len(p) : n] = 1
    return ids, attn, loss


class LMLoss(nn.Module):
    """A causal LM as a core-trainer model: ``forward(batch)`` → mean target-token NLL.

    Args:
        lm: a Hugging Face causal LM (kept as ``self.lm``; trained in place).

    ``batch`` is ``(input_ids, attention_mask, loss_mask)``, each ``(rows, length)``, as made
    by :func:`encode_pairs`.
    """

    def __init__(self, lm: Any) -> None:
        super().__init__()
        self.lm = lm

    def forward(self, batch: tuple[Tensor, Tensor, Tensor]) -> LossOutput:
        ids, attn, loss_mask = batch
        width = int(attn.sum(-1).max())  # drop padding columns no row of this batch uses
        ids, attn, loss_mask = ids[:, :width], attn[:, :width], loss_mask[:, :width]
        logits = self.lm(input_ids=ids, attention_mask=attn).logits[:, :-1, :]
        nll = nn.functional.cross_entropy(
            logits.float().transpose(1, 2), ids[:, 1:], reduction="none"
        )  # (rows, width - 1)
        mask = loss_mask[:, 1:].to(nll.dtype)
        per_row = (nll * mask).sum(-1) / mask.sum(-1).clamp(min=1)
        total = per_row.mean()
        return LossOutput(total=total, parts={"nll": total})


class SFT:
    """Supervised fine-tuning on gold targets (rationale + answer, or answer only).

    Args:
        config: the options (defaults: :class:`SFTConfig`'s).

    Example:
        >>> from latentinfer.reasoning import char_tokenizer, tiny_lm
        >>> from latentinfer.reasoning.tasks import get_task
        >>> tok = char_tokenizer()
        >>> lm = tiny_lm(tok, d_model=32, n_layers=1, n_heads=2)
        >>> task = get_task("arithmetic", n_ops=2)
        >>> cfg = SFTConfig(steps=3, batch_size=4, progress=False)
        >>> SFT(cfg).fit(lm, tok, task, task.examples("train", 8)).steps
        3
    """

    def __init__(self, config: SFTConfig | None = None) -> None:
        self.config = SFTConfig() if config is None else config
        if not isinstance(self.config, SFTConfig):
            raise ConfigError(f"config must be an SFTConfig; got {type(config).__name__}.")

    def fit(
        self,
        model: Any,
        tokenizer: Any,
        task: Task,
        examples: Sequence[Example],
        *,
        run_dir: str | Path | None = None,
        resume: bool = False,
    ) -> SFTResult:
        """Fine-tune ``model`` in place on ``examples`` of ``task``.

        Args:
            model: a Hugging Face causal LM.
            tokenizer: its tokenizer.
            task: gives the prompt and target texts.
            examples: the training examples (with rationales when
                ``config.with_rationale``).
            run_dir: a folder for metrics, checkpoints and the final ``model/`` (written
                with ``save_pretrained``, tokenizer included).
            resume: continue from the newest checkpoint in ``run_dir``.

        Returns:
            An :class:`SFTResult`.
        """
        check_fit_args(model, tokenizer, task)
        items = list(examples)
        if not items:
            raise ValidationError("examples is empty; pass at least one Example.")
        prompts = [task.prompt(e.question) for e in items]
        targets = [task.target(e, with_rationale=self.config.with_rationale) for e in items]
        return self.fit_texts(
            model,
            tokenizer,
            prompts,
            targets,
            run_dir=run_dir,
            resume=resume,
            run_info={"task": task.name},
        )

    def fit_texts(
        self,
        model: Any,
        tokenizer: Any,
        prompts: Sequence[str],
        targets: Sequence[str],
        *,
        run_dir: str | Path | None = None,
        resume: bool = False,
        run_info: dict[str, Any] | None = None,
    ) -> SFTResult:
        """Fine-tune on explicit (prompt, target) texts (eos is appended to each target).

        What :meth:`fit` calls; trainers that build their own targets (STaR's kept
        rationales) call it directly. ``run_info`` is stored in the checkpoints.
        """
        cfg = self.config
        check_lm(model, tokenizer)
        data = encode_pairs(tokenizer, prompts, targets, max_len=cfg.max_len)
        wrapper = LMLoss(model)
        result = train(
            wrapper,
            data,
            cfg.train_config(),
            seed=cfg.seed,
            run_dir=run_dir,
            resume=resume,
            run_config={
                "class": "SFT",
                # what must match on resume besides the trainer's own trajectory options
                "params": {"with_rationale": cfg.with_rationale, "max_len": cfg.max_len},
                "feature_shape": None,
                **(run_info or {}),
            },
        )
        model.eval()
        with torch.no_grad():
            head = tuple(t[:1024].to(_device(model)) for t in data)
            final_loss = float(wrapper(head).total)
        model_dir = None
        if run_dir is not None:
            model_dir = Path(run_dir) / MODEL_DIR
            if is_main_process():
                save_model(model, tokenizer, model_dir)
        return SFTResult(
            train=result,
            n_examples=len(prompts),
            n_tokens=int(data[2].sum()),
            final_loss=final_loss,
            model_dir=model_dir,
        )


def _device(model: Any) -> torch.device:
    return next(model.parameters()).device


def save_model(model: Any, tokenizer: Any, folder: str | Path) -> Path:
    """``save_pretrained`` the model and its tokenizer into ``folder`` (no progress bars)."""
    from transformers.utils import logging as hf_logging

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
    finally:
        if enabled:
            hf_logging.enable_progress_bar()
    return out
