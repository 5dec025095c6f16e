"""What the MoPPS rollout benchmarks share: selectors, rollouts to a target, the summary.

``mopps_rollouts.py`` (TRICE) and ``mopps_grpo.py`` (GRPO) differ only in the trainer they
run; each run is scored here the same way: the rollouts until the held-out accuracy first
reaches the target (``None``: never, censored at the budget in the summary) and the final
held-out accuracy.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from _common import print_table
from _reasoning_base import Setting
from latentinfer.reasoning.evaluate import accuracy

SELECTORS = {"uniform": ("uniform", {}), "MoPPS λ=0.5": ("mopps", {"forgetting": 0.5})}


def score_run(
    name: str, seed: int, setting: Setting, model: Any, res: Any, target: float
) -> dict[str, Any]:
    """The record of one trained run: rollouts to ``target``, final accuracy, the curve."""
    s = setting
    curve = [[r["rollouts"], r["test_accuracy"]] for r in res.metrics if "test_accuracy" in r]
    hit = next((ro for ro, a in curve if a >= target - 1e-9), None)
    final = accuracy(model, s.tokenizer, s.task, s.test, max_new_tokens=s.max_new_tokens)
    print(f"{name} seed {seed}: target reached at {hit} rollouts; final {final:.3f}", flush=True)
    return {
        "selector": name,
        "seed": seed,
        "rollouts_to_target": hit,
        "reached": hit is not None,
        "rollouts": res.rollouts,
        "test_accuracy": float(final),
        "curve": curve,
    }


def run_all(
    run: Callable[[tuple[str, int]], dict[str, Any]], seeds: int, jobs: int, first_seed: int = 0
) -> list[dict[str, Any]]:
    """Every selector for seeds ``first_seed, …``, ``jobs`` processes at a time (forked)."""
    todo = [(n, s) for s in range(first_seed, first_seed + seeds) for n in SELECTORS]
    if jobs > 1:
        with mp.get_context("fork").Pool(jobs) as pool:
            return pool.map(run, todo, chunksize=1)
    return [run(j) for j in todo]


def summarise(
    runs: list[dict[str, Any]],
    budget: int,
    setting: Setting,
    target: float,
    extra: Sequence[tuple[str, str, str]] = (),
) -> dict[str, Any]:
    """Per selector: rollouts to the target (censored at ``budget``), accuracy; printed.

    ``extra``: ``(run key, summary key, column)`` of more per-run numbers to average.
    Returns the ``summary``, ``rollout_ratio`` and ``mopps_fewer_rollouts`` of the result.
    """
    summary = {}
    for name in SELECTORS:
        rows = [r for r in runs if r["selector"] == name]
        censored = [r["rollouts_to_target"] if r["reached"] else budget for r in rows]
        summary[name] = {
            "rollouts_to_target_mean": float(np.mean(censored)),
            "rollouts_to_target_sd": float(np.std(censored)),
            "reached": sum(r["reached"] for r in rows),
            "runs": len(rows),
            "per_seed": [r["rollouts_to_target"] for r in rows],
            "final_accuracy_mean": float(np.mean([r["test_accuracy"] for r in rows])),
            "final_accuracy_sd": float(np.std([r["test_accuracy"] for r in rows])),
            **{key: float(np.mean([r[k] for r in rows])) for k, key, _ in extra},
        }
    print(
        f"base accuracy {setting.base_accuracy:.3f}; target {target:.3f}; budget {budget} rollouts"
    )
    print_table(
        [
            "selector",
            "rollouts to target",
            "sd",
            "reached",
            "final accuracy",
            "sd",
            *(c for _, _, c in extra),
        ],
        [
            [
                n,
                v["rollouts_to_target_mean"],
                v["rollouts_to_target_sd"],
                f"{v['reached']}/{v['runs']}",
                v["final_accuracy_mean"],
                v["final_accuracy_sd"],
                *(v[key] for _, key, _ in extra),
            ]
            for n, v in summary.items()
        ],
    )
    uni, mop = summary["uniform"], summary["MoPPS λ=0.5"]
    return {
        "summary": summary,
        "rollout_ratio": mop["rollouts_to_target_mean"] / uni["rollouts_to_target_mean"],
        "mopps_fewer_rollouts": mop["rollouts_to_target_mean"] < uni["rollouts_to_target_mean"],
    }
