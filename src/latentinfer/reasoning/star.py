"""STaR: the self-taught reasoner (Zelikman et al., 2022), rejection sampling of rationales.

Outer rounds; in round r:

1. sample one rationale per training question from the current model (all questions, or
   ``questions_per_round`` of them chosen by the ``selector``: uniform or MoPPS);
2. keep the ones whose answer is correct;
3. **rationalize** the failures: sample again with the gold answer shown as a hint
   (``task.prompt(question, hint=answer)``) and keep the correct ones, paired with the
   *plain* prompt (the hint is not part of what is learned);
4. fine-tune on the kept set for ``base_steps · step_growth^r`` steps, either restarting
   from the base model each round (``restart=True``, the paper's choice, which limits
   overfitting to early rationales; ``step_growth=1.2``: the paper's +20% a round, from
   memory of it) or continuing from the current model (``restart=False``).

Every rationale sampled (rationalizations included) counts toward ``samples`` and the
``max_samples`` budget, so STaR and TRICE can be compared at equal sampling cost.

Several processes (``accelerate launch``; see :mod:`latentinfer.reasoning._training`). Every
process runs the selector and the budget identically; process r samples its contiguous
shard of the round's questions (from the unwrapped model, with its own stream:
``derive_seed(seed, 1)`` on the main process, ``derive_seed(seed, 1, r)`` on the others),
the results are gathered, the global list of failures (cut to the budget as in one
process) is sharded again for rationalization and gathered, so every process holds the
same kept set. Fine-tuning is the same prepared loop: the minibatch of ``batch_size`` kept
pairs is drawn from one stream shared by all processes, each scores its shard, and DDP
averages the gradients into those of ``−Σ log p / B`` over the whole minibatch. Metrics,
the progress bar, ``trainer.json``, checkpoints and ``model/`` come from the main process.

References:
    E. Zelikman, Y. Wu, J. Mu, N. D. Goodman. "STaR: Bootstrapping Reasoning With
    Reasoning." NeurIPS 2022, arXiv:2203.14465.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from latentinfer.core.errors import ConfigError
from latentinfer.core.progress import TrainProgress
from latentinfer.core.seeding import derive_seed, make_generator
from latentinfer.core.validation import check_number
from latentinfer.reasoning._session import TrainerSession
from latentinfer.reasoning._training import (
    Processes,
    check_examples,
    check_fit_args,
    check_trainer_options,
    final_accuracy,
    optimizer_step,
    periodic_accuracy,
    save_final,
    weighted_nll,
    zero_loss,
)
from latentinfer.reasoning.generation import sample

__all__ = ["STaR", "STaRConfig", "STaRResult"]

_TRAJECTORY = (
    "base_steps",
    "step_growth",
    "restart",
    "batch_size",
    "lr",
    "weight_decay",
    "max_grad_norm",
    "temperature",
    "max_new_tokens",
    "rationalize",
    "questions_per_round",
    "selector",
    "selector_options",
    "seed",
)


@dataclass
class STaRConfig:
    """Options of :class:`STaR` (each maps to a ``latentinfer reason train star`` flag).

    Attributes:
        rounds: outer rounds (the run also ends when ``max_samples`` is reached).
        base_steps: fine-tuning steps in round 0 (40 in the paper).
        step_growth: factor on the step count per round (1.2: +20% a round).
        restart: fine-tune from the base model each round (the paper) or continue.
        batch_size: kept rationales per fine-tuning step.
        lr: AdamW learning rate. The default, 3e-4, is the best of 1e-4, 3e-4 and 1e-3 in
            the validation pilot of ``benchmarks/reasoning/trice_vs_star.py`` (as TRICE's).
        weight_decay: AdamW decoupled weight decay.
        max_grad_norm: clip the gradient norm (``None``: no clipping).
        temperature: sampling temperature of the rationales (0: greedy).
        max_new_tokens: the longest sampled rationale, in tokens.
        rationalize: resample failures with the answer as a hint.
        questions_per_round: questions sampled per round, chosen by the selector
            (``None``: every training question, each round).
        selector: ``"uniform"`` or ``"mopps"`` (used when ``questions_per_round`` is set).
        selector_options: options of the MoPPS selector.
        max_samples: stop once this many rationales have been sampled (``None``: no budget).
        eval_every: rounds between held-out greedy accuracies (0: at the end only).
        eval_max: held-out examples used by the periodic evaluations (``None``: all).
        keep_checkpoints: round checkpoints kept in the run folder.
        seed: seeds sampling, selection and minibatches.
        progress: show a progress bar (``None``: when stderr is a terminal).
        device: ``"auto"`` (a GPU when Accelerate finds one, else the CPU), ``"cpu"`` or
            ``"cuda"``; the model is moved there.
    """

    rounds: int = 5
    base_steps: int = 40
    step_growth: float = 1.2
    restart: bool = True
    batch_size: int = 16
    lr: float = 3e-4
    weight_decay: float = 0.0
    max_grad_norm: float | None = 1.0
    temperature: float = 1.0
    max_new_tokens: int = 64
    rationalize: bool = True
    questions_per_round: int | None = None
    selector: str = "uniform"
    selector_options: dict[str, Any] = field(default_factory=dict)
    max_samples: int | None = None
    eval_every: int = 0
    eval_max: int | None = None
    keep_checkpoints: int = 2
    seed: int = 0
    progress: bool | None = None
    device: str = "auto"

    def __post_init__(self) -> None:
        check_trainer_options(self)
        check_number(self.rounds, name="rounds", low=1, integer=True)
        check_number(self.base_steps, name="base_steps", low=1, integer=True)
        check_number(self.step_growth, name="step_growth", low=1.0)
        for name in ("restart", "rationalize"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be True or False; got {getattr(self, name)!r}.")
        check_number(self.temperature, name="temperature", low=0)
        check_number(
            self.questions_per_round,
            name="questions_per_round",
            low=1,
            integer=True,
            allow_none=True,
        )
        if self.selector != "uniform" and self.questions_per_round is None:
            raise ConfigError(
                f"selector={self.selector!r} needs questions_per_round (the number of questions "
                "it picks each round); with questions_per_round=None every question is sampled."
            )
        check_number(self.max_samples, name="max_samples", low=1, integer=True, allow_none=True)

    def steps_in_round(self, r: int) -> int:
        """Fine-tuning steps of round ``r`` (0-based): ``round(base_steps · growth^r)``."""
        return max(1, round(self.base_steps * self.step_growth**r))


@dataclass
class STaRResult:
    """What :meth:`STaR.fit` returns.

    Attributes:
        model: the trained model (the one passed in, trained in place).
        rounds: outer rounds completed.
        steps: fine-tuning steps taken in total.
        samples: rationales sampled in total (rationalizations included).
        rollouts: rollouts reported to the selector (the unhinted samples).
        kept: the last round's kept (question index, completion, rationalized) triples.
        metrics: one record per round (also in ``metrics.jsonl``).
        test_accuracy: held-out greedy accuracy at the end (``None`` without held-out data).
        run_dir: the run folder, if any.
    """

    model: Any = field(repr=False)  # a whole network: too long to print
    rounds: int
    steps: int
    samples: int
    rollouts: int
    kept: list[tuple[int, str, bool]]
    metrics: list[dict[str, Any]]
    test_accuracy: float | None = None
    run_dir: Path | None = None


class STaR:
    """Train a causal LM's chain of thought by rejection sampling with rationalization.

    Args:
        config: a :class:`STaRConfig` (``None``: the defaults).

    Example:
        >>> from latentinfer.reasoning import char_tokenizer, tiny_lm, get_task
        >>> task = get_task("arithmetic")
        >>> tok = char_tokenizer()
        >>> lm = tiny_lm(tok, d_model=32, n_layers=1, n_heads=2)
        >>> cfg = STaRConfig(rounds=1, base_steps=1, batch_size=2, max_new_tokens=8,
        ...                  progress=False)
        >>> res = STaR(cfg).fit(lm, tok, task, task.examples("train", 4))
        >>> res.rounds, res.samples >= 4
        (1, True)
    """

    def __init__(self, config: STaRConfig | None = None) -> None:
        self.config = STaRConfig() if config is None else config
        if not isinstance(self.config, STaRConfig):
            raise ConfigError(f"config must be a STaRConfig; got {type(config).__name__}.")

    def _collect(
        self,
        model: Any,
        tokenizer: Any,
        task: Any,
        train: list[Any],
        idx: list[int],
        g: torch.Generator,
        budget: int | None,
        procs: Processes | None = None,
    ) -> tuple[list[tuple[int, str, bool]], list[bool], int]:
        """Sample, keep the correct, rationalize the rest; returns (kept, correct, used).

        With several processes each samples its shard of ``idx`` (then of the failures) and
        the results are gathered: every process returns the global lists.
        """
        cfg = self.config
        procs = procs or Processes()

        def run(items: list[int], hint: bool) -> list[tuple[str, bool]]:
            lo, hi = procs.shard(len(items))
            mine = items[lo:hi]
            texts = [
                task.prompt(train[i].question, hint=train[i].answer)
                if hint
                else task.prompt(train[i].question)
                for i in mine
            ]
            out = (
                sample(
                    model,
                    tokenizer,
                    texts,
                    temperature=cfg.temperature,
                    max_new_tokens=cfg.max_new_tokens,
                    generator=g,
                )
                if mine
                else []
            )
            local = [(z[0], task.is_correct(z[0], train[i].answer)) for z, i in zip(out, mine)]
            return procs.gather(local)

        plain = run(idx, hint=False)
        used = len(idx)
        correct = [ok for _, ok in plain]
        kept = [(i, z, False) for (z, ok), i in zip(plain, idx) if ok]
        failed = [i for i, ok in zip(idx, correct) if not ok]
        if budget is not None:
            failed = failed[: max(budget - used, 0)]
        if cfg.rationalize and failed:
            again = run(failed, hint=True)
            used += len(failed)
            kept += [(i, z, True) for (z, ok), i in zip(again, failed) if ok]
        return kept, correct, used

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
    ) -> STaRResult:
        """Train ``model`` in place on answer-only ``examples`` of ``task``.

        Args:
            model: a Hugging Face causal LM; with ``restart=True`` its weights at the call
                are the base every round restarts from.
            tokenizer: its tokenizer.
            task: a :class:`~latentinfer.reasoning.tasks.Task`.
            examples: the training examples (only questions and answers are used).
            eval_examples: held-out examples for greedy accuracy.
            run_dir: folder for ``trainer.json`` (the options), ``metrics.jsonl``,
                checkpoints and ``model/``.
            resume: continue from the newest round checkpoint in ``run_dir``.

        Returns:
            :class:`STaRResult`.
        """
        cfg = self.config
        check_fit_args(model, tokenizer, task)
        train = check_examples(examples)
        held = (
            None if eval_examples is None else check_examples(eval_examples, name="eval_examples")
        )
        if cfg.questions_per_round is not None and cfg.questions_per_round > len(train):
            raise ConfigError(
                f"questions_per_round must be at most the number of examples ({len(train)}); "
                f"got {cfg.questions_per_round}."
            )
        procs = Processes(cfg.device)
        run = TrainerSession.open(
            cfg,
            model,
            len(train),
            procs,
            run_dir=run_dir,
            resume=resume,
            trajectory=_TRAJECTORY,
            restore_optimizer=not cfg.restart,
            keep_initial=cfg.restart,
        )
        net, model, selector, g = run.net, run.model, run.selector, run.generator
        batches = make_generator(derive_seed(cfg.seed, 3))  # the same on every process
        start, samples, steps = 0, 0, 0
        if run.meta is not None:
            assert run.state is not None
            batches.set_state(run.state["batches"])
            start = int(run.meta["round"])
            samples, steps = int(run.meta["samples"]), int(run.meta["steps"])
        run.files.write_options("star", run.config, task, main=procs.main)
        kept: list[tuple[int, str, bool]] = []
        r = start
        t0 = time.perf_counter()
        with run.step_log(start) as log:
            with TrainProgress(
                cfg.rounds,
                enabled=cfg.progress if procs.main else False,
                description="star",
                completed=start,
            ) as bar:
                while r < cfg.rounds:
                    budget = None if cfg.max_samples is None else cfg.max_samples - samples
                    if budget is not None and budget <= 0:
                        break
                    if cfg.questions_per_round is None:
                        idx = list(range(len(train)))
                    else:
                        idx = selector.select(cfg.questions_per_round).tolist()
                    if budget is not None:
                        idx = idx[:budget]
                    forecast = selector.forecast(idx)
                    kept, correct, used = self._collect(
                        model, tokenizer, task, train, idx, g, budget, procs
                    )
                    samples += used
                    selector.update(idx, torch.tensor(correct, dtype=torch.float64), 1)
                    n_steps = cfg.steps_in_round(r)
                    if cfg.restart:
                        assert run.initial is not None
                        model.load_state_dict(run.initial)
                        # a fresh AdamW state, what a new optimizer would start from (Accelerate
                        # keeps every optimizer it prepared, so the prepared one is reused)
                        run.optimizer.state.clear()
                    loss = self._finetune(
                        net,
                        tokenizer,
                        task,
                        train,
                        kept,
                        run.optimizer,
                        n_steps,
                        batches,
                        steps,
                        procs,
                    )
                    steps += n_steps if kept else 0
                    r += 1
                    record: dict[str, Any] = {
                        "step": r,
                        "round": r,
                        "samples": samples,
                        "rollouts": selector.rollouts_,
                        "train_accuracy": sum(correct) / len(correct),
                        "kept": len(kept),
                        "kept_rationalized": sum(1 for k in kept if k[2]),
                        "finetune_steps": n_steps if kept else 0,
                        "loss": loss,
                        "seconds": round(time.perf_counter() - t0, 2),
                        **forecast,  # MoPPS: its predicted train_accuracy
                    }
                    record.update(periodic_accuracy(model, tokenizer, task, held, cfg, r, procs))
                    log.add(record, flush=True)
                    run.save(
                        r,
                        {"round": r, "samples": samples, "steps": steps},
                        batches=batches.get_state(),
                    )
                    bar.update(
                        r, loss=loss, note=f"acc {record['train_accuracy']:.2f} kept {len(kept)}"
                    )
                bar.finish(r)
            test_accuracy = final_accuracy(
                model, tokenizer, task, held, max_new_tokens=cfg.max_new_tokens, procs=procs
            )
            log.finish(
                None
                if test_accuracy is None
                else {"step": r, "samples": samples, "final_test_accuracy": test_accuracy}
            )
        save_final(run.files, procs, model, tokenizer)
        return STaRResult(
            model=model,
            rounds=r,
            steps=steps,
            samples=samples,
            rollouts=selector.rollouts_,
            kept=kept,
            metrics=log.records,
            test_accuracy=test_accuracy,
            run_dir=run.files.root,
        )

    def _finetune(
        self,
        model: Any,
        tokenizer: Any,
        task: Any,
        train: list[Any],
        kept: list[tuple[int, str, bool]],
        optimizer: torch.optim.Optimizer,
        n_steps: int,
        batches: torch.Generator,
        step0: int,
        procs: Processes | None = None,
    ) -> float:
        """``n_steps`` steps of −Σ log p / B on minibatches of the kept set; the last loss.

        ``model`` is what the loss goes through (the DDP wrapper with several processes):
        every process draws the same minibatch and scores its shard of it.
        """
        if not kept:
            return math.nan
        cfg = self.config
        procs = procs or Processes()
        model.train()
        b = min(cfg.batch_size, len(kept))
        lo, hi = procs.shard(b)
        loss_value = math.nan
        for s in range(n_steps):
            pick = torch.randperm(len(kept), generator=batches)[:b].tolist()
            prompts = [task.prompt(train[kept[k][0]].question) for k in pick]
            texts = [kept[k][1] for k in pick]
            if hi > lo:
                loss = weighted_nll(
                    model,
                    tokenizer,
                    prompts[lo:hi],
                    texts[lo:hi],
                    [1.0] * (hi - lo),
                    denom=float(b),
                )
            else:  # fewer pairs than processes: this one only joins the all-reduce
                loss = zero_loss(model, tokenizer, prompts[0], texts[0])
            _, loss_value = optimizer_step(
                model,
                optimizer,
                loss,
                max_grad_norm=cfg.max_grad_norm,
                step=step0 + s,
                processes=procs,
            )
        return loss_value
