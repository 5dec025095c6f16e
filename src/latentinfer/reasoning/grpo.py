"""Group-relative policy gradient (GRPO, on-policy) with a verifiable reward.

The trainer MoPPS was designed for: each step chooses B questions (uniformly or by MoPPS,
the ``selector`` option), samples a **group** of k rationales per question from the current
model at temperature 1, scores each by the task's checker (reward 1 for a right answer,
0 otherwise) and ascends

    ĝ = (1 / Bk) Σ_i Σ_j A_ij ∇ log p_θ(z_ij | x_i),   A_ij = (r_ij − r̄_i) / (s_i + ε),

the REINFORCE gradient with the group's mean reward r̄_i as baseline, scaled by the group's
reward standard deviation s_i (``scale="std"``, GRPO's choice) or not (``scale="none"``).
One update per batch of samples, so the importance ratio of PPO-style clipping is 1 and the
clip never acts; there is no KL term. A group whose k rewards all agree has A = 0: its k
rollouts cost sampling and give no gradient. Those are the rollouts MoPPS saves by choosing
questions whose predicted success rate is near ``selector_options["target"]`` (0.5).

Logged per step: reward (the rollouts' accuracy), the share of groups whose rewards all
agree, the loss, rollouts so far; held-out greedy accuracy every ``eval_every`` steps.

Several processes (``accelerate launch``): as :mod:`~latentinfer.reasoning.trice`, each
process samples the groups of its contiguous shard of the B questions, the rewards are
gathered so every process computes the same advantages and MoPPS update, each scores its
shard's B·k/W terms, and DDP averages the gradients.

References:
    Z. Shao et al. "DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open
    Language Models." arXiv:2402.03300 (GRPO). Y. Qu et al. "Can Prompt Difficulty be Online
    Predicted for Accelerating RL Finetuning of Reasoning Models?" arXiv:2507.04632 (MoPPS).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from latentinfer.core.errors import ConfigError
from latentinfer.core.progress import TrainProgress
from latentinfer.core.validation import check_choice, check_finite, check_number
from latentinfer.reasoning._session import TrainerSession
from latentinfer.reasoning._training import (
    Processes,
    check_examples,
    check_fit_args,
    check_minibatch,
    check_trainer_options,
    final_accuracy,
    optimizer_step,
    periodic_accuracy,
    save_final,
    weighted_nll,
    zero_loss,
)
from latentinfer.reasoning.generation import sample

__all__ = ["GRPO", "GRPOConfig", "GRPOResult", "group_advantages"]

Tensor = torch.Tensor
SCALES = ("std", "none")
_TRAJECTORY = (
    "batch_size",
    "group_size",
    "lr",
    "weight_decay",
    "max_grad_norm",
    "scale",
    "max_new_tokens",
    "selector",
    "selector_options",
    "seed",
)


def group_advantages(rewards: Tensor, *, scale: str = "std", eps: float = 1e-6) -> Tensor:
    """GRPO's advantages of a ``(B, k)`` reward matrix: ``(r − mean) / (sd + eps)`` per row.

    ``sd`` is the population standard deviation of the row; ``scale="none"`` keeps
    ``r − mean``. A row whose rewards are all equal gets zeros. NaN or infinite rewards
    raise :class:`~latentinfer.core.errors.ValidationError`.
    """
    check_choice(scale, name="scale", choices=SCALES)
    if rewards.ndim != 2 or rewards.shape[1] < 2:
        raise ConfigError(
            f"rewards must be (groups, k) with k ≥ 2; got shape {tuple(rewards.shape)}."
        )
    check_finite(rewards, name="rewards")
    r = rewards.double()
    centred = r - r.mean(dim=1, keepdim=True)
    if scale == "none":
        return centred
    return centred / (r.std(dim=1, unbiased=False, keepdim=True) + eps)


@dataclass
class GRPOConfig:
    """Options of :class:`GRPO` (each maps to a ``latentinfer reason train grpo`` flag).

    Attributes:
        steps: optimiser steps (the run also ends when ``max_rollouts`` is reached).
        batch_size: B, questions per step.
        group_size: k, rationales sampled per question (≥ 2: the baseline needs a group).
        lr: AdamW learning rate.
        weight_decay: AdamW decoupled weight decay.
        max_grad_norm: clip the gradient norm (``None``: no clipping).
        scale: ``"std"`` (divide by the group's reward sd, GRPO) or ``"none"``.
        max_new_tokens: the longest sampled rationale, in tokens.
        selector: ``"uniform"`` or ``"mopps"``: how each step's questions are chosen.
        selector_options: options of the MoPPS selector (``forgetting``, ``target``, ...).
        max_rollouts: stop before a step would pass this many sampled rationales
            (``None``: no budget).
        log_every: steps between metric flushes and progress updates.
        eval_every: steps between held-out greedy accuracies (0: at the end only).
        checkpoint_every: steps between checkpoints in the run folder (``None``: at the end).
        keep_checkpoints: step checkpoints kept.
        eval_max: held-out examples used by the periodic evaluations (``None``: all).
        seed: seeds sampling and selection.
        progress: show a progress bar (``None``: when stderr is a terminal).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
    """

    steps: int = 200
    batch_size: int = 8
    group_size: int = 8
    lr: float = 1e-4
    weight_decay: float = 0.0
    max_grad_norm: float | None = 1.0
    scale: str = "std"
    max_new_tokens: int = 64
    selector: str = "uniform"
    selector_options: dict[str, Any] = field(default_factory=dict)
    max_rollouts: int | None = None
    log_every: int = 10
    eval_every: int = 0
    checkpoint_every: int | None = None
    keep_checkpoints: int = 2
    eval_max: int | None = None
    seed: int = 0
    progress: bool | None = None
    device: str = "auto"

    def __post_init__(self) -> None:
        check_trainer_options(self)
        check_number(self.steps, name="steps", low=1, integer=True)
        check_number(self.group_size, name="group_size", low=2, integer=True)
        check_choice(self.scale, name="scale", choices=SCALES)
        check_number(self.max_rollouts, name="max_rollouts", low=1, integer=True, allow_none=True)
        check_number(self.log_every, name="log_every", low=1, integer=True)
        check_number(
            self.checkpoint_every, name="checkpoint_every", low=1, integer=True, allow_none=True
        )


@dataclass
class GRPOResult:
    """What :meth:`GRPO.fit` returns.

    Attributes:
        model: the trained model (the one passed in, trained in place).
        steps: optimiser steps taken in total.
        rollouts: rationales sampled in total (B·k per step).
        metrics: the per-step records (also in ``metrics.jsonl``).
        test_accuracy: held-out greedy accuracy at the end (``None`` without held-out data).
        run_dir: the run folder, if any.
    """

    model: Any = field(repr=False)  # a whole network: too long to print
    steps: int
    rollouts: int
    metrics: list[dict[str, Any]]
    test_accuracy: float | None = None
    run_dir: Path | None = None


class GRPO:
    """Train a causal LM's chain of thought by group-relative policy gradient.

    Args:
        config: a :class:`GRPOConfig` (``None``: the defaults).

    Example:
        >>> from latentinfer.reasoning import char_tokenizer, tiny_lm, get_task
        >>> task = get_task("arithmetic")
        >>> tok = char_tokenizer()
        >>> lm = tiny_lm(tok, d_model=32, n_layers=1, n_heads=2)
        >>> cfg = GRPOConfig(steps=2, batch_size=2, group_size=2, max_new_tokens=8,
        ...                  progress=False)
        >>> res = GRPO(cfg).fit(lm, tok, task, task.examples("train", 4))
        >>> res.steps, res.rollouts
        (2, 8)
    """

    def __init__(self, config: GRPOConfig | None = None) -> None:
        self.config = GRPOConfig() if config is None else config
        if not isinstance(self.config, GRPOConfig):
            raise ConfigError(f"config must be a GRPOConfig; got {type(config).__name__}.")

    def fit(
        self,
        model: Any,
        tokenizer: Any,
        task: Any,
        examples: Sequence[Any],
        *,
        eval_examples: Sequence[Any] | None = None,
        run_dir: str | Path | None = None,
        resume: bool = False,
    ) -> GRPOResult:
        """Train ``model`` in place on answer-only ``examples`` of ``task``.

        Args:
            model: a Hugging Face causal LM.
            tokenizer: its tokenizer.
            task: a :class:`~latentinfer.reasoning.tasks.Task` (prompt, checker).
            examples: the training examples (only questions and answers are used).
            eval_examples: held-out examples for greedy accuracy.
            run_dir: folder for ``trainer.json``, ``metrics.jsonl``, checkpoints and
                ``model/``.
            resume: continue from the newest checkpoint in ``run_dir``.

        Returns:
            :class:`GRPOResult`.
        """
        cfg = self.config
        check_fit_args(model, tokenizer, task)
        train = check_examples(examples)
        held = (
            None if eval_examples is None else check_examples(eval_examples, name="eval_examples")
        )
        procs = Processes(cfg.device)
        check_minibatch(cfg.batch_size, len(train), procs.world, each="samples at least one group")
        run = TrainerSession.open(
            cfg, model, len(train), procs, run_dir=run_dir, resume=resume, trajectory=_TRAJECTORY
        )
        net, model, selector, g = run.net, run.model, run.selector, run.generator
        prompts = [task.prompt(ex.question) for ex in train]
        step = 0 if run.meta is None else int(run.meta["step"])
        run.files.write_options("grpo", run.config, task, main=procs.main)
        b, k = cfg.batch_size, cfg.group_size
        net.train()
        t0 = time.perf_counter()
        lo, hi = procs.shard(b)

        def checkpoint() -> None:
            run.save(step, {"step": step})

        with run.step_log(step) as log:
            with TrainProgress(
                cfg.steps,
                enabled=cfg.progress if procs.main else False,
                description="grpo",
                completed=step,
            ) as bar:
                while step < cfg.steps:
                    if (
                        cfg.max_rollouts is not None
                        and selector.rollouts_ + b * k > cfg.max_rollouts
                    ):
                        break
                    idx = selector.select(b).tolist()
                    forecast = selector.forecast(idx)
                    batch_prompts = [prompts[i] for i in idx]
                    mine = sample(
                        model,
                        tokenizer,
                        batch_prompts[lo:hi],
                        num_samples=k,
                        max_new_tokens=cfg.max_new_tokens,
                        generator=g,
                    )
                    local = [
                        (list(group), [task.is_correct(z, train[i].answer) for z in group])
                        for group, i in zip(mine, idx[lo:hi])
                    ]
                    gathered = procs.gather(local)
                    rewards = torch.tensor([r for _, r in gathered], dtype=torch.float64)
                    adv = group_advantages(rewards, scale=cfg.scale)
                    # this process's terms: its shard's groups, row-major
                    texts = [z for group, _ in gathered[lo:hi] for z in group]
                    term_prompts = [p for p in batch_prompts[lo:hi] for _ in range(k)]
                    term_w = adv[lo:hi].reshape(-1).float()
                    if procs.world > 1 and not bool((term_w != 0).any()):
                        loss = zero_loss(net, tokenizer, term_prompts[0], texts[0])
                    else:
                        loss = weighted_nll(
                            net, tokenizer, term_prompts, texts, term_w, denom=float(b * k)
                        )
                    norm, loss_value = optimizer_step(
                        net,
                        run.optimizer,
                        loss,
                        max_grad_norm=cfg.max_grad_norm,
                        step=step,
                        processes=procs,
                    )
                    selector.update(idx, rewards.sum(dim=1), k)
                    step += 1
                    agree = rewards.min(dim=1).values == rewards.max(dim=1).values
                    record: dict[str, Any] = {
                        "step": step,
                        "rollouts": selector.rollouts_,
                        "loss": loss_value,
                        "grad_norm": norm,
                        "reward": float(rewards.mean()),
                        "all_agree": float(agree.double().mean()),
                        "seconds": round(time.perf_counter() - t0, 2),
                        **forecast,  # MoPPS: its predicted "reward"
                    }
                    record.update(periodic_accuracy(model, tokenizer, task, held, cfg, step, procs))
                    flush = step % cfg.log_every == 0 or step == cfg.steps
                    log.add(record, flush=flush)
                    if flush:
                        note = f"reward {record['reward']:.2f} agree {record['all_agree']:.2f}"
                        bar.update(step, loss=record["loss"], note=note)
                    if run.checkpoint_due(step, cfg.checkpoint_every):
                        checkpoint()
                bar.finish(step)
            test_accuracy = final_accuracy(
                model, tokenizer, task, held, max_new_tokens=cfg.max_new_tokens, procs=procs
            )
            log.finish(
                None
                if test_accuracy is None
                else {
                    "step": step,
                    "rollouts": selector.rollouts_,
                    "final_test_accuracy": test_accuracy,
                }
            )
        save_final(run.files, procs, model, tokenizer, checkpoint)
        return GRPOResult(
            model=model,
            steps=step,
            rollouts=selector.rollouts_,
            metrics=log.records,
            test_accuracy=test_accuracy,
            run_dir=run.files.root,
        )
