"""MoPPS prompt selection in a bandit simulation of RL fine-tuning (Qu et al., 2025).

The unit-level check of issue 7, no language model: 2,000 prompts with difficulty
d ~ U(−4, 4); a policy whose ability rises linearly from −2 to 2 over 200 steps; a rollout of
prompt i at step t succeeds with probability p_it = σ(ability_t − d_i). Each step selects 64
prompts and draws 8 rollouts of each, then updates the Beta-Bernoulli filter with the
counts. Compared:

- uniform: 64 prompts uniformly at random (a λ = 0.5 filter watches passively, for the
  Spearman column only);
- MoPPS λ = 0.5 (the published Countdown/Geometry setting) and λ = 1 (no forgetting): a pool
  of 8 × 64 candidates, one Thompson draw each, the 64 closest to 0.5 kept;
- MoPPS λ = 1 with a pool of 16 × 64 (the published MATH setting), for information;
- MoPPS λ = 0.5 with the interval rule (draws in [0.3, 0.7] kept first), for information;
- oracle: the 64 prompts whose true p_it is closest to 0.5 (a floor for the all-agree
  fraction, not a method; it has no filter, so no Spearman).

Measured over seeds: the fraction of groups whose 8 rollouts all agree (all 0 or all 1: no
GRPO learning signal; claim: MoPPS at least halves uniform's), and the Spearman correlation
between the posterior mean and the true current p_it over prompts observed at least once,
after each step's update (claim: > 0.8), at the last step and averaged over the run. Also
reported: the share of groups that are a prompt's first visit (its Thompson draw comes from
the prior, so it is picked blind) and the all-agree groups among them, as a share of all
groups: the part of the waste that no posterior can remove.

    python benchmarks/bayes/mopps_filter.py            # full run (5 seeds, ~1 min, 1 thread)
    python benchmarks/bayes/mopps_filter.py --quick
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch
from scipy.stats import spearmanr

from _common import print_table, setup, write_result
from latentinfer.bayes import BetaBernoulliFilter
from latentinfer.core.seeding import derive_seed

N_PROMPTS, BATCH, ROLLOUTS, POOL_RATIO, TARGET = 2000, 64, 8, 8, 0.5
METHODS = {  # name: (selection rule, forgetting λ of the filter, pool ratio)
    "uniform": ("uniform", 0.5, POOL_RATIO),
    "MoPPS λ=0.5": ("closest", 0.5, POOL_RATIO),
    "MoPPS λ=1": ("closest", 1.0, POOL_RATIO),
    "MoPPS λ=1, pool 16 (MATH recipe)": ("closest", 1.0, 16),
    "MoPPS λ=0.5, interval [0.3, 0.7]": ("interval", 0.5, POOL_RATIO),
    "oracle": ("oracle", 0.5, POOL_RATIO),
}


def simulate(rule: str, lam: float, pool: int, seed: int, steps: int) -> dict[str, Any]:
    """One run; the environment (difficulties, rewards) depends on ``seed`` only."""
    env = torch.Generator().manual_seed(derive_seed(seed, 0))
    picker = torch.Generator().manual_seed(derive_seed(seed, 1))
    d = torch.rand(N_PROMPTS, generator=env, dtype=torch.float64) * 8 - 4
    filt = BetaBernoulliFilter(
        N_PROMPTS,
        forgetting=lam,
        pool_ratio=pool,
        target=TARGET,
        rule="uniform" if rule == "oracle" else rule,
    )
    seen = torch.zeros(N_PROMPTS, dtype=torch.bool)
    agree, rhos = 0, []
    agree_unseen = picked_unseen = 0  # groups of prompts never rolled out before
    for t in range(steps):
        ability = -2.0 + 4.0 * t / (steps - 1)
        p = torch.sigmoid(ability - d)
        if rule == "oracle":
            arms = (p - TARGET).abs().argsort()[:BATCH]
        else:
            arms = filt.select(BATCH, generator=picker).arms
        successes = torch.binomial(
            torch.full((BATCH,), float(ROLLOUTS), dtype=torch.float64), p[arms], generator=env
        )
        same = (successes == 0) | (successes == ROLLOUTS)
        agree += int(same.sum())
        agree_unseen += int(same[~seen[arms]].sum())
        picked_unseen += int((~seen[arms]).sum())
        filt.update(arms, successes, ROLLOUTS)
        seen[arms] = True
        rhos.append(float(spearmanr(filt.mean[seen].numpy(), p[seen].numpy()).statistic))
    groups = steps * BATCH
    oracle = rule == "oracle"
    return {
        "all_agree": agree / groups,
        # the all-agree groups of first visits (the prior's draws), as a share of all groups
        "all_agree_first_visits": agree_unseen / groups,
        "first_visit_share": picked_unseen / groups,
        "informative_groups": groups - agree,
        "rollouts": groups * ROLLOUTS,
        "rollouts_per_informative_group": groups * ROLLOUTS / max(groups - agree, 1),
        "spearman_end": None if oracle else rhos[-1],
        "spearman_mean": None if oracle else float(np.mean(rhos[1:])),  # skip step 0's 64
        "prompts_seen": int(seen.sum()),
    }


def main() -> None:
    args = setup(__doc__.splitlines()[0], seeds=(int, 5, "number of seeds"))
    steps, seeds = (50, min(args.seeds, 2)) if args.quick else (200, args.seeds)
    runs = []
    for name, (rule, lam, pool) in METHODS.items():
        for seed in range(seeds):
            runs.append({"method": name, "seed": seed, **simulate(rule, lam, pool, seed, steps)})
    keys = ("all_agree", "rollouts_per_informative_group", "spearman_end", "spearman_mean")
    keys += ("all_agree_first_visits", "first_visit_share")
    summary = {}
    for name in METHODS:
        rows = [r for r in runs if r["method"] == name]
        have = [k for k in keys if rows[0][k] is not None]
        summary[name] = {k: None for k in keys} | {f"{k}_sd": None for k in keys}
        summary[name].update({k: float(np.mean([r[k] for r in rows])) for k in have})
        summary[name].update({f"{k}_sd": float(np.std([r[k] for r in rows])) for k in have})
        summary[name]["rollouts"] = rows[0]["rollouts"]
        summary[name]["prompts_seen"] = float(np.mean([r["prompts_seen"] for r in rows]))
    headers = ["method", "all-agree", "± sd", "rollouts", "rollouts/informative group"]
    headers += ["Spearman end", "Spearman mean", "prompts seen", "first visits"]
    headers += ["all-agree on first visits"]
    print_table(
        headers,
        [
            [
                name,
                s["all_agree"],
                s["all_agree_sd"],
                s["rollouts"],
                s["rollouts_per_informative_group"],
                s["spearman_end"],
                s["spearman_mean"],
                s["prompts_seen"],
                s["first_visit_share"],
                s["all_agree_first_visits"],
            ]
            for name, s in summary.items()
        ],
    )
    uni, mopps = summary["uniform"], summary["MoPPS λ=0.5"]
    ratio = mopps["all_agree"] / uni["all_agree"]
    halves = all(  # per seed, not only on average
        m["all_agree"] <= 0.5 * u["all_agree"]
        for u, m in zip(
            [r for r in runs if r["method"] == "uniform"],
            [r for r in runs if r["method"] == "MoPPS λ=0.5"],
        )
    )
    ratio_1 = summary["MoPPS λ=1"]["all_agree"] / uni["all_agree"]
    print(f"all-agree ratio MoPPS λ=0.5 / uniform: {ratio:.3f} (claim ≤ 0.5); every seed: {halves}")
    print(f"all-agree ratio MoPPS λ=1 / uniform: {ratio_1:.3f}")
    ratios = {name: summary[name]["all_agree"] / uni["all_agree"] for name in METHODS}
    write_result(
        "mopps_filter",
        args,
        {
            "setting": {
                "prompts": N_PROMPTS,
                "steps": steps,
                "batch": BATCH,
                "rollouts_per_prompt": ROLLOUTS,
                "pool_ratio": POOL_RATIO,
                "target": TARGET,
                "seeds": seeds,
            },
            "summary": summary,
            "all_agree_ratio": ratio,
            "all_agree_ratio_lambda1": ratio_1,
            "all_agree_ratio_by_method": ratios,
            "halves_every_seed": halves,
            "spearman_claim_met": mopps["spearman_end"] > 0.8 and mopps["spearman_mean"] > 0.8,
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
