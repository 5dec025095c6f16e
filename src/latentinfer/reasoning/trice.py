"""TRICE: chain-of-thought training by MCMC-EM with a control variate (Phan, Hoffman et al.).

The rationale z is a latent variable of p_θ(z, y | x) = p_θ(z | x) 1[ans(z) = y]; TRICE
ascends log p_θ(y | x) with the posterior gradient E_{p_θ(z|x,y)}[∇ log p_θ(z | x)]:

- a **memory** holds one rationale per training example (a persistent Markov chain),
  initialised by sampling with the answer given as a hint (``init="hint"``), from the gold
  rationales (``init="gold"``) or empty (``init="none"``);
- each step draws a minibatch of M examples (uniformly or by MoPPS, the ``selector``
  option), **proposes** one rationale per example from the current model at temperature 1
  (the independence Metropolis–Hastings proposal, so the temperature is not an option) and
  **accepts** it when its answer is correct;
- the gradient is the per-sequence weighted sum of
  :func:`~latentinfer.inference.mcmc_em.trice_weights` (with or without the leave-one-out
  control variate), optionally subsampled to M' terms by systematic resampling
  (``subsample``); the loss is ``−Σ w · log p / M``.

Logged per step (``metrics.jsonl``): proposal accuracy, accepted proposals, the fraction of
examples with a valid memory, β, the loss, sampled rationales so far; every
``variance_every`` steps also the gradient variance of the two estimators on the *same*
memory and proposals (see :func:`~latentinfer.reasoning.gradient_variance.gradient_variance`).

Several processes (``accelerate launch``; see :mod:`latentinfer.reasoning._training`). The
selector runs identically on every process, so all agree on each step's M examples; process
r proposes rationales for its contiguous shard of them (M is split over the W processes,
the first ``M mod W`` taking one more; ``batch_size`` must be at least W) from the
unwrapped model with its own stream (``derive_seed(seed, 1)`` on the main process, the
single-process stream, ``derive_seed(seed, 1, r)`` on the others). The proposals and their
correctness are gathered, so every process updates the *whole* memory the same way and
computes β, the weights and the MoPPS update over the **global** minibatch: the estimator
is the single-process one. Each process then scores its shard's 2·M/W terms; DDP averages
the gradients into the gradient of ``−Σ w · log p / M`` over the global batch. Systematic
resampling (``subsample``) is drawn by the main process and broadcast. The variance probe
scores each process's shard and all-reduces the sums. Metrics, the progress bar,
``trainer.json``, checkpoints (which hold every process's stream) and ``model/`` come from
the main process only. What can differ from one process: the proposals (other random
streams on processes r > 0) and float rounding (the all-reduce sums in another order).

References:
    D. Phan, M. D. Hoffman, D. Dohan, S. Douglas, T. A. Le, A. Parisi, P. Sountsov,
    C. Sutton, S. Vikram, R. A. Saurous. "Training Chain-of-Thought via Latent-Variable
    Inference." NeurIPS 2023, arXiv:2312.02179.
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
from latentinfer.core.validation import check_choice, check_number
from latentinfer.inference.mcmc_em import FIRST_VALID, systematic_resample, trice_weights
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
from latentinfer.reasoning.gradient_variance import gradient_variance

__all__ = ["TRICE", "TRICEConfig", "TRICEResult"]

Tensor = torch.Tensor
INITS = ("hint", "gold", "none")
_TRAJECTORY = (
    "batch_size",
    "lr",
    "weight_decay",
    "max_grad_norm",
    "control_variate",
    "first_valid",
    "subsample",
    "max_new_tokens",
    "init",
    "init_attempts",
    "selector",
    "selector_options",
    "seed",
)


@dataclass
class TRICEConfig:
    """Options of :class:`TRICE` (each maps to a ``latentinfer reason train trice`` flag).

    Attributes:
        steps: optimiser steps (the run also ends when ``max_samples`` is reached).
        batch_size: M, examples per step (one proposal each).
        lr: AdamW learning rate. The default, 3e-4, is the best of 1e-4, 3e-4 and 1e-3 in
            the validation pilot of ``benchmarks/reasoning/trice_vs_star.py``; 1e-3
            collapsed a fine-tuned model's accuracy there (0.36 → 0.18) and after the
            README's SFT run.
        weight_decay: AdamW decoupled weight decay.
        max_grad_norm: clip the gradient norm (``None``: no clipping).
        control_variate: use the leave-one-out control variate (ĝ_cv) or the basic ĝ.
        first_valid: ``"no_cv"`` or ``"paper"``: the control variate for an example whose
            first valid rationale is this step's proposal (see
            :mod:`latentinfer.inference.mcmc_em`).
        subsample: M' ≤ 2M, the sequences kept for the backward pass by systematic
            resampling (``None``: all 2M).
        max_new_tokens: the longest sampled rationale, in tokens.
        init: how the memory starts: ``"hint"`` (sample with the answer as a hint),
            ``"gold"`` (the examples' gold rationales where present) or ``"none"``.
        init_attempts: hinted samples per example at most, until one is correct.
        selector: ``"uniform"`` or ``"mopps"``: how each step's examples are chosen.
        selector_options: options of the MoPPS selector (``forgetting``, ``target``, ...).
        max_samples: stop once this many rationales have been sampled (initialisation
            included; ``None``: no budget).
        variance_every: steps between gradient-variance probes (0: never).
        log_every: steps between metric flushes and progress updates.
        eval_every: steps between held-out greedy accuracies (0: at the end only, when
            held-out examples are given).
        checkpoint_every: steps between checkpoints in the run folder (``None``: at the end).
        keep_checkpoints: step checkpoints kept.
        eval_max: held-out examples used by the periodic evaluations (``None``: all).
        seed: seeds sampling and selection.
        progress: show a progress bar (``None``: when stderr is a terminal).
        device: ``"auto"`` (a GPU when Accelerate finds one, else the CPU), ``"cpu"`` or
            ``"cuda"``; the model is moved there.
    """

    steps: int = 500
    batch_size: int = 16
    lr: float = 3e-4
    weight_decay: float = 0.0
    max_grad_norm: float | None = 1.0
    control_variate: bool = True
    first_valid: str = "no_cv"
    subsample: int | None = None
    max_new_tokens: int = 64
    init: str = "hint"
    init_attempts: int = 1
    selector: str = "uniform"
    selector_options: dict[str, Any] = field(default_factory=dict)
    max_samples: int | None = None
    variance_every: int = 0
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
        if not isinstance(self.control_variate, bool):
            raise ConfigError(
                f"control_variate must be True or False; got {self.control_variate!r}."
            )
        check_choice(self.first_valid, name="first_valid", choices=FIRST_VALID)
        check_number(self.subsample, name="subsample", low=1, integer=True, allow_none=True)
        if self.subsample is not None and self.subsample > 2 * self.batch_size:
            raise ConfigError(
                f"subsample (M') must be at most 2 × batch_size = {2 * self.batch_size}, the "
                f"memory and proposed sequences it resamples from; got {self.subsample}."
            )
        check_choice(self.init, name="init", choices=INITS)
        check_number(self.init_attempts, name="init_attempts", low=1, integer=True)
        check_number(self.max_samples, name="max_samples", low=1, integer=True, allow_none=True)
        check_number(self.variance_every, name="variance_every", low=0, integer=True)
        check_number(self.log_every, name="log_every", low=1, integer=True)
        check_number(
            self.checkpoint_every, name="checkpoint_every", low=1, integer=True, allow_none=True
        )


@dataclass
class TRICEResult:
    """What :meth:`TRICE.fit` returns.

    Attributes:
        model: the trained model (the one passed in, trained in place).
        memory: one rationale (completion text) per training example, ``None`` if never set.
        valid: whether each memory gives the right answer.
        steps: optimiser steps taken in total.
        samples: rationales sampled in total (initialisation included).
        rollouts: rollouts reported to the selector (the proposals).
        metrics: the per-step records (also in ``metrics.jsonl``).
        test_accuracy: held-out greedy accuracy at the end (``None`` without held-out data).
        run_dir: the run folder, if any.
    """

    model: Any = field(repr=False)  # a whole network: too long to print
    memory: list[str | None]
    valid: list[bool]
    steps: int
    samples: int
    rollouts: int
    metrics: list[dict[str, Any]]
    test_accuracy: float | None = None
    run_dir: Path | None = None


class TRICE:
    """Train a causal LM's chain of thought by MCMC-EM (TRICE), with or without the CV.

    Args:
        config: a :class:`TRICEConfig` (``None``: the defaults).

    Example:
        >>> from latentinfer.reasoning import char_tokenizer, tiny_lm, get_task
        >>> task = get_task("arithmetic")
        >>> tok = char_tokenizer()
        >>> lm = tiny_lm(tok, d_model=32, n_layers=1, n_heads=2)
        >>> cfg = TRICEConfig(steps=2, batch_size=2, max_new_tokens=8, progress=False)
        >>> res = TRICE(cfg).fit(lm, tok, task, task.examples("train", 4))
        >>> res.steps, res.samples
        (2, 8)
    """

    def __init__(self, config: TRICEConfig | None = None) -> None:
        self.config = TRICEConfig() if config is None else config
        if not isinstance(self.config, TRICEConfig):
            raise ConfigError(f"config must be a TRICEConfig; got {type(config).__name__}.")

    # ------------------------------------------------------------------ memory
    def _init_memory(
        self,
        model: Any,
        tokenizer: Any,
        task: Any,
        examples: list[Any],
        g: torch.Generator,
        procs: Processes,
    ) -> tuple[list[str | None], list[bool], int]:
        cfg = self.config
        n = len(examples)
        memory: list[str | None] = [None] * n
        valid = [False] * n
        if cfg.init == "gold":
            for i, ex in enumerate(examples):
                if getattr(ex, "rationale", None) is not None:
                    memory[i] = task.target(ex, with_rationale=True)
                    valid[i] = task.is_correct(memory[i], ex.answer)
            return memory, valid, 0
        if cfg.init == "none":
            return memory, valid, 0
        used = 0
        for _ in range(cfg.init_attempts):
            todo = [i for i in range(n) if not valid[i]]
            if cfg.max_samples is not None:
                todo = todo[: max(cfg.max_samples - used, 0)]
            if not todo:
                break
            lo, hi = procs.shard(len(todo))
            mine = todo[lo:hi]
            hinted = [task.prompt(examples[i].question, hint=examples[i].answer) for i in mine]
            out = (
                sample(model, tokenizer, hinted, max_new_tokens=cfg.max_new_tokens, generator=g)
                if mine
                else []
            )
            local = [(z, task.is_correct(z, examples[i].answer)) for i, (z,) in zip(mine, out)]
            used += len(todo)
            for i, (z, ok) in zip(todo, procs.gather(local)):
                if ok:
                    memory[i], valid[i] = z, True
        return memory, valid, used

    # --------------------------------------------------------------------- fit
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
    ) -> TRICEResult:
        """Train ``model`` in place on answer-only ``examples`` of ``task``.

        Args:
            model: a Hugging Face causal LM.
            tokenizer: its tokenizer.
            task: a :class:`~latentinfer.reasoning.tasks.Task` (prompt, checker).
            examples: the training examples (rationales are not used unless
                ``init="gold"``).
            eval_examples: held-out examples for greedy accuracy.
            run_dir: folder for ``trainer.json`` (the options), ``metrics.jsonl``,
                checkpoints and the final ``model/``.
            resume: continue from the newest checkpoint in ``run_dir`` (a fresh start when
                there is none).

        Returns:
            :class:`TRICEResult`.
        """
        cfg = self.config
        check_fit_args(model, tokenizer, task)
        train = check_examples(examples)
        held = (
            None if eval_examples is None else check_examples(eval_examples, name="eval_examples")
        )
        procs = Processes(cfg.device)
        check_minibatch(
            cfg.batch_size, len(train), procs.world, each="proposes for at least one example"
        )
        run = TrainerSession.open(
            cfg, model, len(train), procs, run_dir=run_dir, resume=resume, trajectory=_TRAJECTORY
        )
        net, model, selector, g = run.net, run.model, run.selector, run.generator
        prompts = [task.prompt(ex.question) for ex in train]
        if run.meta is not None:
            memory, valid = list(run.meta["memory"]), [bool(v) for v in run.meta["valid"]]
            start, samples = int(run.meta["step"]), int(run.meta["samples"])
            if len(memory) != len(train):
                raise ConfigError(
                    f"cannot resume: the checkpoint's memory has {len(memory)} examples, "
                    f"examples has {len(train)}; resume with the same examples."
                )
        else:
            memory, valid, samples = self._init_memory(model, tokenizer, task, train, g, procs)
            start = 0
        run.files.write_options("trice", run.config, task, main=procs.main)
        m = cfg.batch_size
        step = start
        net.train()
        t0 = time.perf_counter()

        lo, hi = procs.shard(m)  # this process's examples of each step's minibatch

        def checkpoint() -> None:
            run.save(step, {"step": step, "samples": samples, "memory": memory, "valid": valid})

        with run.step_log(start) as log:
            with TrainProgress(
                cfg.steps,
                enabled=cfg.progress if procs.main else False,
                description="trice",
                completed=start,
            ) as bar:
                while step < cfg.steps:
                    if cfg.max_samples is not None and samples + m > cfg.max_samples:
                        break
                    idx = selector.select(m).tolist()
                    forecast = selector.forecast(idx)
                    batch_prompts = [prompts[i] for i in idx]
                    mine = sample(
                        model,
                        tokenizer,
                        batch_prompts[lo:hi],
                        max_new_tokens=cfg.max_new_tokens,
                        generator=g,
                    )
                    local = [
                        (z[0], task.is_correct(z[0], train[i].answer))
                        for z, i in zip(mine, idx[lo:hi])
                    ]
                    gathered = procs.gather(local)
                    proposals = [z for z, _ in gathered]
                    correct = [ok for _, ok in gathered]
                    samples += m
                    old = torch.tensor([valid[i] for i in idx])
                    acc = torch.tensor(correct)
                    w = trice_weights(
                        old, acc, control_variate=cfg.control_variate, first_valid=cfg.first_valid
                    )
                    for j, i in enumerate(idx):
                        if correct[j]:
                            memory[i], valid[i] = proposals[j], True
                    mem_texts = [memory[i] for i in idx]
                    record: dict[str, Any] = {}
                    if cfg.variance_every and (step + 1) % cfg.variance_every == 0:
                        basic = trice_weights(old, acc, control_variate=False)
                        cv = trice_weights(
                            old, acc, control_variate=True, first_valid=cfg.first_valid
                        )
                        record.update(
                            gradient_variance(
                                model,
                                tokenizer,
                                batch_prompts,
                                mem_texts,
                                proposals,
                                {
                                    "cv": (cv.memory, cv.proposal),
                                    "nocv": (basic.memory, basic.proposal),
                                },
                                rows=(lo, hi) if procs.world > 1 else None,
                                all_reduce=procs.sum if procs.world > 1 else None,
                            )
                        )
                    term_w = torch.cat([w.memory, w.proposal])
                    if cfg.subsample is not None:
                        # one draw for the global batch: the main process's, broadcast
                        if procs.main:
                            term_w = (
                                systematic_resample(term_w.double(), cfg.subsample, generator=g)
                                .dense(2 * m)
                                .float()
                            )
                        term_w = procs.broadcast(term_w)
                    texts = [t if t is not None else "" for t in mem_texts] + proposals
                    # this process's terms: its shard's memories, then its shard's proposals
                    terms = [*range(lo, hi), *range(m + lo, m + hi)]
                    term_prompts = [batch_prompts[k % m] for k in terms]
                    term_texts = [texts[k] for k in terms]
                    term_wk = term_w[terms]
                    if procs.world > 1 and not bool((term_wk != 0).any()):
                        loss = zero_loss(net, tokenizer, term_prompts[0], term_texts[0])
                    else:
                        loss = weighted_nll(
                            net, tokenizer, term_prompts, term_texts, term_wk, denom=float(m)
                        )
                    norm, loss_value = optimizer_step(
                        net,
                        run.optimizer,
                        loss,
                        max_grad_norm=cfg.max_grad_norm,
                        step=step,
                        processes=procs,
                    )
                    selector.update(idx, acc.to(torch.float64), 1)
                    step += 1
                    record.update(
                        step=step,
                        samples=samples,
                        rollouts=selector.rollouts_,
                        loss=loss_value,
                        grad_norm=norm,
                        proposal_accuracy=float(acc.float().mean()),
                        accepted=int(acc.sum()),
                        first_valid=int(w.first_valid.sum()),
                        memory_valid=sum(valid) / len(valid),
                        beta=float(w.beta.mean()),
                        seconds=round(time.perf_counter() - t0, 2),
                        **forecast,  # MoPPS: its predicted proposal_accuracy
                    )
                    record.update(periodic_accuracy(model, tokenizer, task, held, cfg, step, procs))
                    flush = step % cfg.log_every == 0 or step == cfg.steps
                    log.add(record, flush=flush)
                    if flush:
                        bar.update(
                            step,
                            loss=record["loss"],
                            note=(
                                f"acc {record['proposal_accuracy']:.2f} "
                                f"mem {record['memory_valid']:.2f}"
                            ),
                        )
                    if run.checkpoint_due(step, cfg.checkpoint_every):
                        checkpoint()
                bar.finish(step)
            test_accuracy = final_accuracy(
                model, tokenizer, task, held, max_new_tokens=cfg.max_new_tokens, procs=procs
            )
            log.finish(
                None
                if test_accuracy is None
                else {"step": step, "samples": samples, "final_test_accuracy": test_accuracy}
            )
        save_final(run.files, procs, model, tokenizer, checkpoint)
        return TRICEResult(
            model=model,
            memory=memory,
            valid=valid,
            steps=step,
            samples=samples,
            rollouts=selector.rollouts_,
            metrics=log.records,
            test_accuracy=test_accuracy,
            run_dir=run.files.root,
        )
