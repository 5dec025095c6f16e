"""Rollouts GRPO needs to reach a held-out accuracy with MoPPS vs uniform prompt selection.

The claim (Qu et al. 2025, MoPPS), in the setting it was made for: in group-based RL
fine-tuning, a question whose k rollouts all get the same reward gives no gradient, so
choosing the questions whose predicted success rate is nearest 0.5 (Thompson samples of a
streaming Beta-Bernoulli posterior per question, λ = 0.5, pool 8× the batch) reaches the
same accuracy with fewer rollouts than uniform sampling. Its premise is in the paper's
title: a prompt's difficulty can be predicted online from its past rollouts.

Setting (``benchmarks/_reasoning_base.py``, the one of ``trice_vs_star.py``): from the same
SFT base model, on-policy GRPO (``latentinfer.reasoning.grpo``: group mean and sd as the
baseline) on 1,000 answer-only questions, 32 questions per step chosen uniformly or by
MoPPS, a group of 8 rollouts per question (256 per step), each rollout's correctness the
reward the selector sees; 600 steps; AdamW at each of three learning rates, 3e-4, 1e-4 and
3e-5, with 10 seeds each. Held-out greedy accuracy on the 300 test questions every 10
steps; reported per rate: rollouts until it first reaches the target (the base's accuracy +
0.15, as in ``mopps_rollouts.py``; runs that never reach it are censored at the budget and
flagged), paired per seed; the share of groups whose rewards all agree; final accuracy; and
how well MoPPS predicted: its mean forecast of the chosen questions' success rate (the
posterior mean, logged by the trainer as ``predicted_success``) against the rate their
rollouts then had.

Why a sweep over the rate. A first version (8 questions per step, lr 3e-4 only, 10 seeds)
gave 17,088 against 20,672 rollouts, within noise, with groups all agreeing 0.79 vs 0.81.
Logging the forecast showed why (a pilot at 32 questions per step and 1e-4): the questions
MoPPS chose while their posterior mean lay in [0.45, 0.55) were solved 73% of the time,
because the GRPO steps since their last visit had raised their success rates. Whether a
difficulty estimate from the last visit still holds at the next one depends on how far
the policy moves between visits, which the learning rate sets (the paper's LLMs train at
about 1e-6). In pilots on seeds 100-101 (not reported) a larger batch
alone (32 or 64 per step at 1e-4) did not change the picture and 3e-5 did; the sweep
reports all three rates on seeds 0-9, fixed before it ran.

    python benchmarks/reasoning/mopps_grpo.py     # 3 rates × 10 seeds, ~30 min, 2 processes
    python benchmarks/reasoning/mopps_grpo.py --quick

The 3e-5 difference came out at 1.9 standard errors; a follow-up with 10 more seeds at that
rate, decided after seeing it (reported as such, beside the run):

    python benchmarks/reasoning/mopps_grpo.py --lrs 3e-5 --seeds 10 --seed-offset 10 \
        --out benchmarks/results/mopps_grpo_followup.json
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from _common import setup, write_result
from _reasoning_base import Setting, build
from _rollouts import SELECTORS, run_all, score_run, summarise
from latentinfer.reasoning.grpo import GRPO, GRPOConfig

SETTING: Setting | None = None
OPTS: dict[str, Any] = {}


def run(job: tuple[str, int]) -> dict[str, Any]:
    """One selector and seed from the shared base model, at ``OPTS["lr"]``."""
    name, seed = job
    assert SETTING is not None
    torch.set_num_threads(1)
    s = SETTING
    model = s.model()
    selector, options = SELECTORS[name]
    cfg = GRPOConfig(
        steps=OPTS["steps"],
        batch_size=OPTS["batch"],
        group_size=OPTS["group"],
        lr=OPTS["lr"],
        max_new_tokens=s.max_new_tokens,
        selector=selector,
        selector_options=options,
        eval_every=OPTS["eval_every"],
        eval_max=OPTS["eval_max"],
        log_every=50,
        seed=seed,
        progress=False,
    )
    res = GRPO(cfg).fit(
        model, s.tokenizer, s.task, s.train, eval_examples=s.test[: OPTS["eval_max"]]
    )
    out = score_run(name, seed, s, model, res, OPTS["target"])
    steps = [r for r in res.metrics if "reward" in r]
    reward = np.array([r["reward"] for r in steps])
    out["reward_by_tenth"] = [float(c.mean()) for c in np.array_split(reward, 10)]
    out["observed_success"] = float(reward.mean())
    out["all_agree"] = float(np.mean([r["all_agree"] for r in steps]))
    if "predicted_success" in steps[0]:
        out["predicted_success"] = float(np.mean([r["predicted_success"] for r in steps]))
    return out


def main() -> None:
    global SETTING
    args = setup(
        __doc__.splitlines()[0],
        seeds=(int, 10, "number of seeds per learning rate"),
        steps=(int, 600, "GRPO steps per run"),
        batch=(int, 32, "questions per step (each gets a group of 8 rollouts)"),
        lrs=(str, "3e-4,1e-4,3e-5", "comma-separated AdamW learning rates"),
        gain=(float, 0.15, "target = base accuracy + gain"),
        n_train=(int, 1000, "answer-only training questions"),
        seed_offset=(int, 0, "first seed (a pilot uses seeds the reported run does not)"),
        jobs=(int, 2, "runs in parallel"),
    )
    quick = args.quick
    lrs = [float(x) for x in args.lrs.split(",")]
    SETTING = build(
        n_train=args.n_train,
        target=0.2 if quick else 0.35,
        max_base_steps=300 if quick else 2000,
    )
    OPTS.update(
        steps=15 if quick else args.steps,
        batch=8 if quick else args.batch,
        group=8,
        eval_every=5 if quick else 10,
        eval_max=300,
        target=SETTING.base_accuracy + args.gain,  # not rounded: 0.4067 must reach 0.4067
    )
    seeds = min(args.seeds, 1) if quick else args.seeds
    budget = OPTS["steps"] * OPTS["batch"] * OPTS["group"]
    extra = [
        ("all_agree", "all_agree_mean", "all agree"),
        ("observed_success", "observed_success_mean", "success of chosen"),
    ]
    by_lr = {}
    for lr in lrs[:1] if quick else lrs:
        OPTS["lr"] = lr  # read by the forked workers
        print(f"--- lr {lr:g}", flush=True)
        runs = run_all(run, seeds, args.jobs, first_seed=args.seed_offset)
        scored = summarise(runs, budget, SETTING, OPTS["target"], extra=extra)
        mopps = [r for r in runs if "predicted_success" in r]
        scored["forecast"] = {
            "predicted": float(np.mean([r["predicted_success"] for r in mopps])),
            "observed": float(np.mean([r["observed_success"] for r in mopps])),
        }
        by_lr[f"{lr:g}"] = {**scored, "runs": runs}
    write_result(
        "mopps_grpo",
        args,
        {
            "setting": {
                **SETTING.options,
                "steps": OPTS["steps"],
                "batch": OPTS["batch"],
                "group": OPTS["group"],
                "lrs": list(by_lr),
                "budget_rollouts": budget,
                "target": OPTS["target"],
                "gain": args.gain,
                "seeds": seeds,
                "first_seed": args.seed_offset,
                "visits_per_question": OPTS["steps"] * OPTS["batch"] / args.n_train,
                "base_accuracy": SETTING.base_accuracy,
                "base_sft_steps": SETTING.base_steps,
            },
            "by_lr": by_lr,
        },
    )


if __name__ == "__main__":
    main()
