"""Regenerate docs/reproductions.md from the JSON results in benchmarks/results/.

    python benchmarks/report.py

Each section states the paper's claim, our measured numbers (read from the result file,
never typed by hand) and the command that produced them. A benchmark without a full
(non-quick) result file is listed as not yet run. The result files are written by the
benchmark scripts, with one exception, flagged in its section: ``trice_lr_pilot.json`` was
transcribed by hand from three pilot runs whose own result files were not committed.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
OUT = ROOT / "docs" / "reproductions.md"


def _load(name: str) -> dict[str, Any] | None:
    """A committed result, or ``None`` when there is none or it is a quick (smoke) run."""
    path = RESULTS / f"{name}.json"
    if not path.is_file():
        return None
    d = json.loads(path.read_text())
    return None if d.get("quick") else d


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return "—" if v is None else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(fmt(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _footer(d: dict[str, Any], jobs_default: int | None = None) -> str:
    """The run's command and metadata; ``jobs_default``: the script runs ``--jobs`` processes.

    Older result files of such scripts do not record ``jobs``: it is read from the command
    when given there, else said to be unrecorded.
    """
    threads = f"{d['threads']} thread(s)"
    if jobs_default is not None:
        words = d["command"].split()
        jobs = d.get("jobs")
        if jobs is None and "--jobs" in words[:-1]:
            jobs = words[words.index("--jobs") + 1]
        threads = f"{d['threads']} thread(s) per process, " + (
            f"{jobs} process(es) in parallel"
            if jobs is not None
            else f"processes in parallel not recorded [`--jobs` defaults to {jobs_default}]"
        )
    return (
        f"Command: `{d['command']}` ({threads}, torch {d['torch']}, "
        f"{d['cpu_count']}-core {d['machine']} CPU, {d['seconds']:.0f} s, {d['date']})."
    )


def ard(d: dict[str, Any]) -> str:
    rows = [
        [
            r["data"],
            r["k"],
            r["seed"],
            r["ard_relevant"],
            r["ard_relevant_cumulative99"],
            r["vae_active_units"],
        ]
        for r in d["synthetic"]
    ]
    dig = [
        [
            r["seed"],
            r["ard_relevant"],
            r["ard_relevant_cumulative99"],
            r["ard_nll"],
            r["vae_active_units"],
            r["vae_nll"],
        ]
        for r in d["digits"]
    ]
    return "\n\n".join(
        [
            "**Claim** (Saha et al. 2025): with a latent space larger than needed, ARD-VAE's "
            "hierarchical prior identifies the relevant latent dimensions. Our bar is stricter "
            "than the paper's seed averages: exactly k in every seed.",
            f"**Result**: exactly k in **{d['exact_share']}/{d['runs']}** runs with our default "
            f"rule (axis share ≥ 0.1 %), {d['exact_cumulative99']}/{d['runs']} with the authors' "
            "99 %-cumulative rule. A plain VAE's active units are shown beside it.",
            _table(
                [
                    "data",
                    "true k",
                    "seed",
                    "ARD relevant (share)",
                    "ARD relevant (99 % cum.)",
                    "VAE active units",
                ],
                rows,
            ),
            f"Digits (1,437 training rows, 32 latent dimensions, held-out NLL = −IWAE with "
            f"K = {d['digits'][0]['iwae_k']} on 360 rows, nats):",
            _table(
                [
                    "seed",
                    "ARD relevant",
                    "ARD relevant (99 %)",
                    "ARD NLL",
                    "VAE active units",
                    "VAE NLL",
                ],
                dig,
            ),
            _footer(d),
        ]
    )


def collapse(d: dict[str, Any]) -> str:
    cv = [
        [r["rho"], r["canonical_corr_max"], r["predicted"], r["linear"], r["mlp"]]
        for r in d["cvae"]
    ]
    hv = [
        [
            r["network"],
            r["sigma1_sq"],
            r["sigma1_sq_used"],
            r["pred_z1"],
            r["obs_z1"],
            r["pred_z2"],
            r["obs_z2"],
        ]
        for r in d["hvae"]
    ]
    return "\n\n".join(
        [
            "**Claim** (Dang et al., ICLR 2024): in a linear CVAE a latent dimension collapses "
            "iff the corresponding eigenvalue of the output's residual covariance given the "
            "input falls below β·η², so stronger input–output correlation collapses more "
            "dimensions; in a two-level MHVAE the encoder variance of the first level decides "
            "whether the second level collapses; the trends carry over to nonlinear networks.",
            "**Result**: the detector (mean KL < 0.01 nats, or an inactive posterior mean) "
            "agrees with the linear theory in "
            f"**{d['linear_cvae_matches']}/{d['cvae_settings']}** CVAE settings and "
            f"**{d['linear_hvae_matches']}/{d['hvae_settings']}** MHVAE settings; the MLP "
            "CVAE's collapse count "
            f"{'never decreases' if d['mlp_cvae_monotone'] else 'is not monotone'} as ρ grows.",
            f"CVAE, 12 latent dimensions, η = {d['eta']}, β = 1, {d['n']} rows "
            "(collapsed dimensions):",
            _table(["ρ", "max canonical corr.", "theory", "linear CVAE", "MLP CVAE"], cv),
            "MHVAE, 4 + 4 latent dimensions (collapsed dimensions per level; `shared` learns "
            "σ₁², and the theory is evaluated at the learned value):",
            _table(
                [
                    "network",
                    "σ₁²",
                    "σ₁² used",
                    "theory z₁",
                    "observed z₁",
                    "theory z₂",
                    "observed z₂",
                ],
                hv,
            ),
            _footer(d),
        ]
    )


def mean_vs_sampled(d: dict[str, Any]) -> str:
    rows = [
        [
            r["beta"],
            r["seed"],
            r["active"],
            r["passive"],
            r["mixed"],
            r["corr_mean_all"],
            r["corr_sampled_all"],
            r["corr_mean_without_passive"],
            r["corr_sampled_without_passive"],
            r["mig_mean_active"],
            r["mig_sampled_active"],
            r["dci_mean_active"],
            r["dci_sampled_active"],
        ]
        for r in d["records"]
    ]
    return "\n\n".join(
        [
            "**Claim** (Bonheme & Grześ 2023): mean representations are more correlated than "
            "sampled ones because of passive variables; removing them brings the correlation "
            "down; active variables are equally disentangled in both.",
            f"**Result**: mean representations are more correlated in "
            f"**{d['mean_more_correlated']}/{d['models']}** β-VAEs; removing passive variables "
            f"lowers their correlation in **{d['removal_lowers_correlation']}/"
            f"{d['models_with_passive']}** models that have passive variables. "
            + _equally_disentangled(d["records"]),
            f"β-VAEs with 10 latents on sprites (32×32, {d['n']} images, 5 factors); r̄ is "
            "the mean absolute off-diagonal Pearson correlation between latent dimensions; MIG "
            "and DCI disentanglement are computed on the active variables:",
            _table(
                [
                    "β",
                    "seed",
                    "active",
                    "passive",
                    "mixed",
                    "r̄ mean",
                    "r̄ sampled",
                    "r̄ mean w/o passive",
                    "r̄ sampled w/o passive",
                    "MIG mean",
                    "MIG sampled",
                    "DCI-D mean",
                    "DCI-D sampled",
                ],
                rows,
            ),
            _footer(d),
        ]
    )


_EQUAL = 0.10  # two disentanglement scores count as equal within 10 % of each other


def _equally_disentangled(records: list[dict[str, Any]]) -> str:
    """The claim's third part: MIG and DCI of the active variables, mean vs sampled."""

    def gap(r: dict[str, Any], metric: str) -> float:
        return r[f"{metric}_mean_active"] / r[f"{metric}_sampled_active"] - 1

    equal = [r for r in records if all(abs(gap(r, m)) <= _EQUAL for m in ("mig", "dci"))]
    unequal = [r for r in records if r not in equal]
    text = (
        "Active variables equally disentangled in both (our bar, as the paper gives none: "
        f"mean and sampled MIG and DCI-D within {_EQUAL:.0%} of each other; the result file "
        f"holds no uncertainty for them) in **{len(equal)}/{len(records)}** models"
    )
    if unequal:
        text += "; not in " + "; ".join(
            f"β = {r['beta']:g} seed {r['seed']} (MIG {r['mig_mean_active']:.3f} vs "
            f"{r['mig_sampled_active']:.3f}, {gap(r, 'mig'):+.0%}; DCI-D "
            f"{r['dci_mean_active']:.3f} vs {r['dci_sampled_active']:.3f}, "
            f"{gap(r, 'dci'):+.0%}; mean vs sampled)"
            for r in unequal
        )
    return text + "."


def speed(d: dict[str, Any]) -> str:
    s = d["summary"]
    rows = [
        [
            name,
            v["rows_per_second_median"],
            v["ratio_vs_pythae"],
            v["nll_mean"],
            v["steps_per_second_median"],
            v["floor_steps_per_second"],
        ]
        for name, v in s.items()
    ]
    ours = s.get("latentinfer fp32", {})
    bf16 = s.get("latentinfer bf16", {})
    base = s.get("pythae 0.1.2", {})
    flushed = s.get("pythae 0.1.2, subnormals flushed")
    cpu = d.get("cpu", {})
    nan = float("nan")
    texts = [
        "**Goal**: at least 2× pythae's training throughput at equal or better held-out NLL "
        "(same MLP VAE 64-256-256-16, digits, batch 128, Adam 1e-3, 100 epochs, validation "
        "each epoch on both sides, 1 thread).",
        f"**Result** on {cpu.get('model', 'this CPU')} ({cpu.get('capability', '?')}): float32 "
        f"**{ours.get('ratio_vs_pythae', nan):.2f}×**, bfloat16 mixed precision "
        f"**{bf16.get('ratio_vs_pythae', nan):.2f}×**, at the same NLL. In float32 the matrix "
        "products alone allow the 'floor' steps per second below; pythae runs at "
        f"{100 * base.get('share_of_floor_train_only', nan):.0f}% of it and ours at "
        f"{100 * ours.get('share_of_floor_train_only', nan):.0f}%: every non-matmul cost "
        "(elementwise work, the loss, Adam, Python) must fit in the rest.",
    ]
    if flushed is not None:
        vs_flushed = ours.get("rows_per_second_median", nan) / flushed["rows_per_second_median"]
        texts.append(
            "Part of the gain is a setting, not code: our fit flushes subnormal floats to zero "
            "while it trains (`TrainConfig.flush_denormal`, on by default), because Adam's "
            "second-moment estimates otherwise fall into the subnormal range, which many x86 "
            "CPUs handle in slow microcode. The last row gives pythae the same flag: against it "
            f"ours is {vs_flushed:.2f}"
            "×, the share of the ratio that comes from the training loop itself."
        )
    return "\n\n".join(
        [
            *texts,
            _table(
                [
                    "implementation",
                    "rows/s (median)",
                    "× pythae",
                    "held-out NLL (IWAE-500)",
                    "steps/s",
                    "arithmetic floor steps/s",
                ],
                rows,
            ),
            "Single-thread 128×256×256 matmul measured in the same run: "
            + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in d["matmul_gflops_128x256x256"].items())
            + ". The floor is one step's matmul FLOPs at that rate.",
            _footer(d),
        ]
    )


def mopps(d: dict[str, Any]) -> str:
    s, st = d["summary"], d["setting"]
    uni, mop = s["uniform"], s["MoPPS λ=0.5"]
    ratios = d.get("all_agree_ratio_by_method", {})
    rows = [
        [
            name,
            v["all_agree"],
            v["all_agree_sd"],
            ratios.get(name),
            v["rollouts"],
            v["rollouts_per_informative_group"],
            v["spearman_end"],
            v["spearman_mean"],
            v.get("first_visit_share"),
            v.get("all_agree_first_visits"),
        ]
        for name, v in s.items()
    ]
    halved = "halves it" if d["all_agree_ratio"] <= 0.5 else "does not quite halve it"
    math = ratios.get("MoPPS λ=1, pool 16 (MATH recipe)")
    also = f"{d['all_agree_ratio_lambda1']:.3f} with λ = 1"
    if math is not None:
        also += f"; {math:.3f} with the published MATH setting, λ = 1 and a pool of 16×"
    parts = [
        "**Claim** (Qu et al. 2025, MoPPS): a streaming Beta-Bernoulli posterior per prompt "
        "with forgetting (λ = 0.5) predicts prompt difficulty online without extra model "
        "calls, and Thompson-sampled selection of prompts near a 0.5 success rate wastes "
        "fewer rollouts. Our unit-level bar (a bandit simulation, no language model): "
        "MoPPS at least halves the fraction of groups whose rollouts all agree (no GRPO "
        "signal), and Spearman(posterior mean, true success rate) > 0.8.",
        f"**Result**: all-agree fraction **{uni['all_agree']:.3f}** (uniform) vs "
        f"**{mop['all_agree']:.3f}** (MoPPS λ = 0.5), a ratio of "
        f"**{d['all_agree_ratio']:.3f}**: MoPPS {halved} ({also}). Spearman "
        f"**{mop['spearman_end']:.3f}** at the last step and **{mop['spearman_mean']:.3f}** "
        "averaged over the run "
        f"({'above' if d['spearman_claim_met'] else 'not above'} 0.8). The same rollouts "
        "are spent by every method.",
    ]
    if "all_agree_first_visits" in mop:
        first, first_u = mop["all_agree_first_visits"], uni["all_agree_first_visits"]
        rest, rest_u = mop["all_agree"] - first, uni["all_agree"] - first_u
        parts.append(
            "Where the rest of the waste comes from: a prompt's first visit is picked blind "
            "(its Thompson draw comes from the Beta(1, 1) prior, so about a fifth of unseen "
            f"candidates look like 0.5). MoPPS λ = 0.5 rolls out {mop['prompts_seen']:.0f} of "
            f"the {st['prompts']} prompts; first visits are {mop['first_visit_share']:.1%} of "
            f"its groups, and their all-agree groups are **{first:.3f}** of all groups, as for "
            f"uniform selection ({first_u:.3f}): {first / mop['all_agree']:.0%} of MoPPS's "
            "remaining waste, which no posterior can remove and only a warm start "
            "(`BetaBernoulliFilter.warm_start`, from offline counts) avoids. On the groups "
            f"after a prompt's first visit, MoPPS wastes {rest:.3f} of all groups against "
            f"uniform's {rest_u:.3f}, a ratio of {rest / rest_u:.2f}."
        )
    parts += [
        f"{st['prompts']} prompts, difficulty d ~ U(−4, 4), ability rising linearly from −2 "
        f"to 2 over {st['steps']} steps, p = σ(ability − d), {st['batch']} prompts × "
        f"{st['rollouts_per_prompt']} rollouts a step, pool ratio {st['pool_ratio']} unless "
        f"stated, target {st['target']}, mean over {st['seeds']} seeds. Spearman is over "
        "prompts observed at least once, after each step's update; the uniform row's comes "
        "from a λ = 0.5 filter watching passively; the oracle picks by the true rate; first "
        "visits and their all-agree groups are shares of all groups:",
        _table(
            [
                "selection",
                "all-agree fraction",
                "sd",
                "× uniform",
                "rollouts",
                "rollouts per informative group",
                "Spearman (end)",
                "Spearman (run mean)",
                "first visits",
                "all-agree on first visits",
            ],
            rows,
        ),
        _footer(d),
    ]
    return "\n\n".join(parts)


def niw_fewshot(d: dict[str, Any]) -> str:
    st, summ = d["setup"], d["summary"]
    rows = []
    for setting, block in summ.items():
        for key, v in block.items():
            if "/" not in key:
                continue
            extractor, head = key.split("/")
            rows.append(
                [
                    setting,
                    extractor,
                    head,
                    f"{v['accuracy_mean']:.3f} ± {v['ci95_mean']:.3f}",
                    ", ".join(f"{a:.3f}" for a in v["accuracy_per_seed"]),
                    v["nll_mean"],
                    v["ece_mean"],
                ]
            )
    verdicts = []
    n_pairs = n_above = n_below = 0
    for setting, block in summ.items():
        diffs = block["niw_minus_protonet_per_seed"]
        cis = block["niw_minus_protonet_ci95_per_seed"]
        pairs = ", ".join(f"{m:+.3f} ± {c:.3f}" for m, c in zip(diffs, cis))
        above = sum(m - c > 0 for m, c in zip(diffs, cis))
        below = sum(m + c < 0 for m, c in zip(diffs, cis))
        n_pairs, n_above, n_below = n_pairs + len(diffs), n_above + above, n_below + below
        verdicts.append(
            f"{setting}: NIW-Meta − ProtoNet (paired, per seed) {pairs}; significantly better in "
            f"{above}, worse in {below} of {len(diffs)} seeds; best row "
            f"`{d['best'][setting]}`"
        )
    reproduced = n_above > n_pairs / 2 and not n_below
    return "\n\n".join(
        [
            "**Claim** (Kim & Hospedales, ICLR 2024): a hierarchical NIW prior over the "
            "network's weights, with closed-form episode posteriors from a few SGD/SGLD steps "
            "and no graph through them, improves few-shot accuracy and calibration over the "
            "base meta-learner (here the prototypical network).",
            f"**Result** (accuracy {'reproduced' if reproduced else 'NOT reproduced'}"
            f"; calibration {_niw_calibration(d)[0]}): NIW-Meta is significantly more accurate "
            f"than ProtoNet in **{n_above} of {n_pairs}** seed/setting pairs and significantly "
            f"less accurate in **{n_below}**. "
            + "; ".join(verdicts)
            + ". "
            + _niw_calibration(d)[1],
            "Why: NIW-Meta's head is the prototype head plus a Bayesian correction θ; the ELBO "
            "learns a tight prior on θ (n₀γ, geometric mean over coordinates: "
            + ", ".join(
                f"{r['k_shot']}-shot seed {r['seed']}: "
                f"{r['niw_prior']['prior_precision_geomean']:.0f}"
                for r in d["records"]
            )
            + "), so the episodes' corrections stay small and NIW-Meta tracks the prototypical "
            "network. (An unrecorded observation, with no result file behind it: in pilot runs "
            "looser priors did worse.)",
            f"5-way, {st['n_query']} queries per class, {st['data']} ({st['n_classes']} "
            f"procedural classes, {st['meta_test_classes']} held out for meta-testing); one "
            f"{st['extractor']} per method trained on {st['train_episodes']} episodes "
            "(`protonet`: prototypical loss; `niw-meta`: NIW-Meta's ELBO), every head evaluated "
            f"on both extractors over the same {st['test_episodes']} test episodes per seed "
            "(NIW-Meta on the ProtoNet extractor learns only its global prior). Accuracy is "
            "the mean over seeds ± the mean 95% interval over episodes:",
            _table(
                [
                    "setting",
                    "extractor",
                    "head",
                    "accuracy",
                    "per seed",
                    "NLL",
                    "ECE",
                ],
                rows,
            ),
            _footer(d),
        ]
    )


def _niw_calibration(d: dict[str, Any]) -> tuple[str, str]:
    """The claim's calibration part: NIW-Meta vs ProtoNet ECE and NLL per seed and setting."""
    pairs = [
        (r["k_shot"], r["seed"], r["results"]["niw-meta/NIW-Meta"],
         r["results"]["protonet/prototypes"])
        for r in d["records"]
    ]  # fmt: skip
    if not pairs or "ece" not in pairs[0][2]:
        return "not measured", "Calibration was not measured in this run."
    ece = sum(a["ece"] < b["ece"] for _, _, a, b in pairs)
    nll = sum(a["nll"] < b["nll"] for _, _, a, b in pairs)
    n = len(pairs)
    word = "not reproduced on point estimates" if max(ece, nll) <= n / 2 else "mixed"
    if min(ece, nll) > n / 2:
        word = "better on point estimates only"
    detail = ", ".join(
        f"{k}-shot seed {s}: ECE {a['ece']:.4f} vs {b['ece']:.4f}, NLL {a['nll']:.3f} vs "
        f"{b['nll']:.3f}"
        for k, s, a, b in pairs
    )
    return word, (
        f"Calibration (NIW-Meta vs ProtoNet, each on its own extractor): lower ECE in "
        f"**{ece} of {n}** seed/setting pairs and lower NLL in **{nll} of {n}** ({detail}); "
        "these are point estimates over the test episodes, the result file holds no "
        "intervals for them."
    )


HGF_REFERENCE = ROOT / "tests" / "bayes" / "data" / "hgf_reference_pyhgf_0.2.12.npz"


def _committed_reference() -> str:
    """What CI checks against pyhgf's committed trajectories, counted from the npz."""
    if not HGF_REFERENCE.is_file():
        return ""
    import numpy as np

    with np.load(HGF_REFERENCE) as ref:
        cases = json.loads(str(ref["meta"]))["cases"]
    # as tests/bayes/test_hgf_exactness.py: the float32 bound skips the precision-cap case,
    # whose float32 run is checked for the clipped precision instead
    f32 = [c for c in cases if "cap" not in c]
    return (
        f"CI checks the float64 bound against pyhgf's trajectories committed in "
        f"`tests/bayes/data/` ({len(cases)} cases, including irregular time steps, missing "
        f"inputs and the precision cap) and the float32 bound on {len(f32)} of them (all but "
        + ", ".join(f"`{c}`" for c in cases if c not in f32)
        + ", whose float32 run is checked only for clipping the precision at the cap)."
    )


def hgf_exactness(d: dict[str, Any]) -> str:
    res = d["results"]
    rows = [
        [r["model"], r["draws"], r["skipped"], r["native float64"], r["eager float64"],
         r["native float32"], r.get("pyhgf float32")]
        for r in res
    ]  # fmt: skip
    f64_met = d["float64_claim_met"]
    over = [r for r in res if r["native float32"] > 1e-4]
    if "worst_pyhgf_float32" not in d:  # a result file from before pyhgf's float32 run
        f32 = f"{d['worst_float32']:.1e} in float32"
    elif not over:
        f32 = f"float32 met on every layout (worst {d['worst_float32']:.1e})"
    else:
        worst = max(over, key=lambda r: r["native float32"])
        py = worst["pyhgf float32 on our worst float32 draw"]
        f32 = (
            f"float32 met on {len(res) - len(over)} of {len(res)} layouts; on "
            f"{', '.join(r['model'] for r in over)} our worst float32 error is "
            f"{worst['native float32']:.1e}, on a draw where **pyhgf's own float32 run is off "
            f"its float64 run by {py:.1e}** ({py / worst['native float32']:.1f}× ours)"
        )
    parts = [
        "**Claim** (issue 7): for the 2- and 3-level continuous and the 3-level binary HGF, "
        "under the standard and eHGF updates, with non-default parameters, beliefs and the "
        "pyhgf-compatible surprise agree with pyhgf 0.2.12's float64 outputs to 1e-10 "
        "(float64) and 1e-4 (float32).",
        f"**Result**: float64 {'met' if f64_met else 'NOT met'} (worst error "
        f"{d['worst_float64']:.1e}); {f32}. Errors are relative to each series' largest "
        f"magnitude, over random parameter draws on {d['steps']}-step series. "
        + _committed_reference(),
    ]
    if "worst_pyhgf_float32" in d:
        ratio = max(r["native float32"] / r["pyhgf float32"] for r in res)
        same = all(r["pyhgf float32 on our worst float32 draw"] == r["pyhgf float32"] for r in res)
        parts.append(
            "The 'pyhgf f32' column scores pyhgf's own float32 run "
            "(`jax.experimental.disable_x64`) against its float64 run the same way: what float32 "
            f"arithmetic allows on those draws. Ours is at most {ratio:.2f}× pyhgf's float32 "
            "error on any layout"
            + (
                ", and both libraries' worst float32 errors fall on the same draw in every layout"
                if same
                else ""
            )
            + ": a draw that exceeds 1e-4 is one where the update amplifies rounding (its "
            "float64 error is far above the others' too), which no float32 filter avoids."
        )
    parts += [
        _table(
            [
                "model",
                "draws",
                "pyhgf NaN (skipped)",
                "native f64",
                "eager f64",
                "native f32",
                "pyhgf f32 (vs its f64)",
            ],
            rows,
        ),
        _footer(d),
    ]
    return "\n\n".join(parts)


_DERIVED = " [computed by report.py from the rows above]"


def _hgf_physics(physics: dict[str, float]) -> dict[str, float]:
    """The physics rows under honest names, with the full-overlap limit of the beliefs.

    Result files from before the benchmark named them so call the beliefs estimate, which
    adds arithmetic and write time as if they could not overlap, a "floor"; a kernel that
    overlaps them can beat it. For those files the limit that assumes full overlap,
    min(arithmetic, bandwidth / (9 · bytes per value)), is computed here from the same
    measured rates.
    """
    if not any(k.endswith("beliefs floor (M steps/s)") for k in physics):
        return dict(physics)
    out: dict[str, float] = {}
    for key, v in physics.items():
        dtype = key.split()[0]
        if key == f"{dtype} beliefs floor (M steps/s)":
            out[f"{dtype} beliefs estimate, no overlap (M steps/s)"] = v
        elif key.startswith(f"{dtype} b beliefs: ") and key.endswith(" / floor"):
            out[key.replace(" / floor", " / estimate")] = v
        else:
            out[key] = v
        if key == f"{dtype} b beliefs: pyhgf / floor":  # the last beliefs row: the limit
            estimate = physics[f"{dtype} beliefs floor (M steps/s)"]
            arith = physics[f"{dtype} arithmetic floor (M steps/s)"]
            size = 4 if dtype == "float32" else 8
            writes = physics[f"{dtype} write bandwidth (GB/s)"] * 1e3 / (9 * size)
            limit = min(arith, writes)
            out[f"{dtype} beliefs limit, full overlap (M steps/s)" + _DERIVED] = limit
            for who in ("ours", "pyhgf"):
                rate = physics[f"{dtype} b beliefs: {who} / floor"] * estimate
                out[f"{dtype} b beliefs: {who} / limit" + _DERIVED] = rate / limit
    return out


def _hgf_get(physics: dict[str, float], key: str) -> float | None:
    """A physics row by name, whether or not report.py computed it."""
    return physics.get(key, physics.get(key + _DERIVED))


def _hgf_needs(physics: dict[str, float]) -> str:
    """Where 2x pyhgf would put us on each limit, for the float32 many-series workloads."""
    parts = []
    for name, bound in (("b beliefs", "limit"), ("b surprise", "floor"), ("c", "floor")):
        theirs = _hgf_get(physics, f"float32 {name}: pyhgf / {bound}")
        ours = _hgf_get(physics, f"float32 {name}: ours / {bound}")
        if theirs is not None and ours is not None:
            parts.append(f"{name} {ours:.2f} of its {bound}, 2× pyhgf needs {2 * theirs:.2f}")
    if not parts:
        return ""
    return (
        "In float32 (ours now; what 2× pyhgf would take): "
        + "; ".join(parts)
        + ". The arithmetic floor is the faster (c) rate measured, ours here, so where 2× needs "
        "more than 1.00 of it, it needs a faster kernel than ours, not only a better-used one."
    )


def _hgf_estimate_note(physics: dict[str, float]) -> str:
    """Why a run can beat the beliefs estimate (it is not a bound), from the numbers."""
    over = [
        f"{dtype} ({v:.2f}×)"
        for dtype in ("float32", "float64")
        if (v := physics.get(f"{dtype} b beliefs: ours / estimate")) is not None and v > 1
    ]
    text = (
        "The beliefs *estimate* adds the arithmetic time and the time to write the beliefs "
        "as if the two could not overlap; the *limit* assumes they overlap fully. Both come "
        "from rates measured in the run (the (c) rate and a `fill_` of a buffer the size of "
        "the beliefs), not from hardware specifications."
    )
    if over:
        text += (
            f" Our (b) beliefs run exceeds the estimate in {', '.join(over)}, so in that run "
            "the arithmetic and the writes overlapped, or one of the measured rates understates "
            "what the machine allows: the estimate is not a bound; read the limit."
        )
    beyond = [
        f"{dtype} ({v:.2f}×)"
        for dtype in ("float32", "float64")
        if (v := _hgf_get(physics, f"{dtype} b beliefs: ours / limit")) is not None and v > 1
    ]
    if beyond:
        text += (
            f" It exceeds even the limit in {', '.join(beyond)}: there a measured rate "
            "understates what the machine allows, and neither figure bounds the workload."
        )
    return text


def hgf_speed(d: dict[str, Any]) -> str:
    rows = [
        [
            r["workload"],
            r["dtype"],
            r["ours_median_seconds"] * 1e3,
            r["pyhgf_median_seconds"] * 1e3,
            r["speedup_of_medians"],
            r["ours_seconds"] * 1e3,
            r["pyhgf_seconds"] * 1e3,
            r["speedup"],
            r["target"],
            "yes" if r["met"] else "**no**",
            r["ours_first_call_seconds"],
            r["max_relative_difference"],
        ]
        for r in d["results"]
    ]
    met = sum(r["met"] for r in d["results"])
    missed = ", ".join(
        f"{r['workload']} {r['dtype']} ({r['speedup']:.2f}×)" for r in d["results"] if not r["met"]
    )
    margin = ", ".join(
        f"{r['workload']} {r['dtype']} ({r['speedup']:.2f}× fastest, "
        f"{r['speedup_of_medians']:.2f}× medians)"
        for r in d["results"]
        if r["met"] and r["speedup_of_medians"] < r["target_speedup"]
    )
    physics = _hgf_physics(d["physics"])
    phys = [[k, v] for k, v in physics.items()]
    return "\n\n".join(
        [
            "**Claim** (issue 7): at least 2× pyhgf 0.2.12's throughput on (b) 1,000 series × "
            "1,000 steps, (c) 1,000 parameter settings on one series and (e) one gradient of "
            "1,000 per-subject fits, in float32 and float64; within 1.5× on (a) one series of "
            "100,000 steps and (d) 200 gradient-descent steps on one series, where pyhgf runs at "
            "the latency of the serial update chain. pyhgf runs its fastest path (`jax.jit` of "
            "its scan, `vmap`, `value_and_grad`), both sides at 1 thread, 2-level continuous HGF.",
            f"**Result**{_hgf_machine(d)}: {met} of {len(d['results'])} targets met (judged on "
            f"the fastest calls; medians beside them). "
            + (f"Not met: {missed}. " if missed else "")
            + (
                f"At the margin, met by the fastest calls but not by the medians: {margin}. "
                if margin
                else ""
            )
            + "The physics table shows where both libraries stand against what the machine "
            "allows: surprise-only filtering of many series is bound by the step's arithmetic "
            '(the "arithmetic floor" is a measured reference, not a bound derived from an '
            "operation count: the faster library's (c) rate), and returning beliefs "
            "also by writing 9 values per series and step to memory. "
            + _hgf_needs(physics)
            + " Our first call of each row is timed with our kernel caches emptied, as in a "
            "fresh process: it includes generating and compiling the kernel (cached "
            "afterwards, in memory and on disk).",
            _table(
                [
                    "workload",
                    "dtype",
                    "ours ms (median)",
                    "pyhgf ms (median)",
                    "× (medians)",
                    "ours ms (fastest)",
                    "pyhgf ms (fastest)",
                    "×",
                    "target",
                    "met",
                    "our first call s",
                    "max rel. diff.",
                ],
                rows,
            ),
            "What the machine allows, measured in the same run (see the benchmark's docstring). "
            + _hgf_estimate_note(physics),
            _table(["quantity", "value"], phys),
            _footer(d),
            *_hgf_other_machine(d),
        ]
    )


def _hgf_machine(d: dict[str, Any]) -> str:
    """' on CPU (kernel: ...)' from a result that records them; '' from an older one."""
    cpu, kernel = d.get("cpu"), d.get("kernel")
    if not cpu:
        return ""
    what = f" on {cpu['model']}"
    if kernel:
        what += f" (kernel: {kernel['chains']} chains of {kernel['vector_bytes']}-byte vectors)"
    return what


def _hgf_other_machine(d: dict[str, Any]) -> list[str]:
    """The ratios of the committed run on the other benchmark machine, if there is one."""
    other = _load("hgf_speed_intel_xeon")
    if other is None:
        return []

    def pyhgf_ms(res: dict[str, Any]) -> float:
        row = next(r for r in res["results"] if r["workload"] == "c" and r["dtype"] == "float32")
        return float(row["pyhgf_seconds"]) * 1e3

    cells = "; ".join(
        f"{r['workload']} {r['dtype']} {r['speedup']:.2f}×{'' if r['met'] else ' (not met)'}"
        for r in other["results"]
    )
    met = sum(r["met"] for r in other["results"])
    return [
        "The same benchmark on the other machine this project's sessions ran on, an Intel Xeon "
        "with AVX-512 (kernel: 4 chains of 32-byte vectors, which that CPU still gets; an "
        f"earlier commit, `benchmarks/results/hgf_speed_intel_xeon.json`): {met} of "
        f"{len(other['results'])} met, fastest-call ratios {cells}. pyhgf's own times differ "
        f"between the two machines as much as ours do (c float32: {pyhgf_ms(other):.2f} ms "
        f"there, {pyhgf_ms(d):.2f} ms here), so each ratio holds for its machine.",
        _footer(other),
    ]


def _which(flags: dict[str, bool]) -> str:
    good = [f"κ = {k}" for k, v in flags.items() if v]
    bad = [f"κ = {k}" for k, v in flags.items() if not v]
    return ", ".join(good) + (f" (not at {', '.join(bad)})" if bad else "") if good else "none"


def _ivl_ordering(d: dict[str, Any]) -> tuple[str, str]:
    """The ordering per κ from the means, and the unconfounded κ = 0 apart (a sentence)."""
    lin = d["linear"]
    ivl = "DA+IVL (α = 0.01)"

    def m(k: str, a: str) -> float:
        return lin[k][a]["mean"]

    da_erm = [k for k in lin if m(k, "DA+ERM") <= m(k, "ERM")]
    da_erm_text = (
        "DA+ERM ≤ ERM at every κ"
        if len(da_erm) == len(lin)
        else "DA+ERM ≤ ERM at " + ", ".join(f"κ = {k}" for k in da_erm)
    )
    pos = {k: m(k, ivl) < m(k, "DA+ERM") and m(k, ivl) < m(k, "2SLS")
           for k in lin if float(k) > 0}  # fmt: skip
    text = f"{da_erm_text}, and {ivl} below DA+ERM and 2SLS at " + _which(pos)
    zero = ""
    for k in (k for k in lin if float(k) == 0):
        rel = "below" if m(k, ivl) < m(k, "DA+ERM") else "above"
        zero += (
            f" At κ = {k} there is no confounding to remove and only DA+ERM ≤ ERM is "
            f"checked; there {ivl} is {rel} DA+ERM, {m(k, ivl):.3g} vs {m(k, 'DA+ERM'):.3g} "
            "(mean nCER of all five: "
            + ", ".join(f"{a} {m(k, a):.3g}" for a in d["methods"])
            + ")."
        )
    return text, zero


def ivl_simulation(d: dict[str, Any]) -> str:
    lin, methods, anchors = d["linear"], d["methods"], d["anchors"]
    rows = []
    for k, block in lin.items():
        cells = [f"{block[a]['mean']:.3g} ± {block[a]['se']:.2g}" for a in methods]
        anchor = anchors.get(k, {})
        paper = ", ".join(f"{a} {v:g}" for a, v in anchor.items()) if anchor else None
        rows.append([k, *cells, d["alpha_cv"][k]["median"], paper])
    verdict = "reproduced" if d["claim_reproduced"] else "NOT reproduced"
    worst = max(
        abs(lin[k][a]["mean"] / v - 1) for k, anchor in anchors.items() for a, v in anchor.items()
    )
    ordering, unconfounded = _ivl_ordering(d)
    parts = [
        "**Claim** (Akbar et al., NeurIPS 2025): outcome-invariant data augmentation lowers "
        "confounding bias (DA+ERM never worse than ERM), and treating the augmentation "
        "parameters as an IV-like instrument (DA+IVL) lowers it further, below DA+ERM and "
        "below 2SLS with the same instrument (DA+IV, under-identified here).",
        f"**Result** (ordering {verdict}): {ordering}; the rank order of the four methods "
        "equals the notes' recomputed anchors at "
        + _which(d["rank_order_matches_anchors"])
        + f". Largest relative gap between our means and the anchors: {worst:.0%}."
        + unconfounded,
        f"Linear Gaussian simulation, m = {d['setting']['m']}, n = {d['setting']['n']}, "
        f"γ = {d['setting']['gamma']}, augmentation along the null space of fᵀ, "
        f"{d['setting']['trials']} trials per κ; mean nCER ± standard error (0: the causal "
        "solution, 1: the null effect); CV chooses α by the held-out IV risk:",
        _table(["κ", *methods, "median CV α", "anchors (mean nCER)"], rows),
    ]
    nl = d.get("nonlinear")
    if nl:
        nrows = [
            [a, f"{s['mean']:.3g} ± {s['se']:.2g}", s["median"]] for a, s in nl["results"].items()
        ]
        parts += [
            f"Nonlinear setting with the neural IVL (Y = {nl['function']}(T) + 5C + noise, "
            f"T = 2C + noise, n = {nl['n']}, shifts by 2π·{{−1, 0, 1}}, MLP 64-64, "
            f"{nl['trials']} trials; nCER on fresh treatments):",
            _table(["method", "nCER (mean ± SE)", "median"], nrows),
            "Augmentation removes most of the confounding; the IV-like step adds little here "
            "(the instrument gives two moments, E[r] = 0 and E[G r] = 0, for a whole function), "
            "and its gain over DA+ERM depends on α and lies within the trial-to-trial noise.",
        ]
    parts.append(_footer(d))
    return "\n\n".join(parts)


IHDP_HEADERS = ["method", "realisations", "√PEHE within", "√PEHE out-of-sample",
                "ATE error within", "ATE error out-of-sample", "s / fit"]  # fmt: skip
IHDP_PAIR_HEADERS = ["a", "b", "realisations", "a wins √PEHE in", "a wins √PEHE out",
                     "Δ √PEHE out", "a wins ATE out"]  # fmt: skip
CEVAE_SPEED_HEADERS = ["data", "rows", "implementation", "fit s (best)", "fit s (median)",
                       "ms / step", "× (best)", "× (median)", "predict s",
                       "predict ×"]  # fmt: skip


_IHDP_BASES = ("T-learner, gradient boosting", "T-learner, gradient boosting [hidden]")


def _ihdp_on_deep_realisations(d: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The plug-ins' base estimators summarised over the realisations the deep models ran."""
    recs = d.get("records", [])
    deep = [r for r in recs if "VLUCI + T-learner GB (plug-in)" in r["scores"]]
    if not deep or len(deep) == len(recs):
        return {}
    out = {}
    for name in _IHDP_BASES:
        got = [r["scores"][name] for r in deep if name in r["scores"]]
        if len(got) < 2:
            continue
        idx = sorted(r["realisation"] for r in deep if name in r["scores"])
        label = (
            f"realisations {idx[0]}–{idx[-1]} only"
            if idx == list(range(idx[0], idx[-1] + 1))
            else "the deep models' realisations only"
        )
        block: dict[str, Any] = {"realisations": len(got), "label": label}
        for k in ("pehe_in", "pehe_out", "ate_in", "ate_out"):
            v = [g[k] for g in got]
            mean = statistics.fmean(v)
            block[k] = {"mean": mean, "se": statistics.stdev(v) / len(v) ** 0.5,
                        "median": statistics.median(v)}  # fmt: skip
        out[name] = block
    return out


def _ihdp_same_text(same: dict[str, dict[str, Any]], res: dict[str, Any]) -> str:
    """One sentence: the bases over the plug-ins' realisations against all of theirs."""
    named = [(n, r) for n, r in same.items() if n in res]
    if not named:
        return ""
    n_same = named[0][1]["realisations"]
    return (
        f"The table's rows average different realisations: on the {n_same} the plug-ins ran, "
        "their bases average "
        + " and ".join(f"{r['pehe_out']['mean']:.3g} (`{n}`)" for n, r in named)
        + " out-of-sample √PEHE, against "
        + " and ".join(
            f"{res[n]['pehe_out']['mean']:.3g} over all {res[n]['realisations']}" for n, _ in named
        )
        + ". "
    )


def ihdp(d: dict[str, Any]) -> str:
    st, res = d["setting"], d["results"]

    def cell(v: dict[str, float]) -> str:
        return f"{v['mean']:.3g} ± {v['se']:.2g} ({v['median']:.3g})"

    rows = [
        [name, r["realisations"], cell(r["pehe_in"]), cell(r["pehe_out"]), cell(r["ate_in"]),
         cell(r["ate_out"]), r["seconds_per_fit"]]
        for name, r in res.items()
    ]  # fmt: skip
    # the plug-ins' bases again on the realisations the deep models ran (the paired ones)
    same = _ihdp_on_deep_realisations(d)
    rows += [
        [f"{name} ({r['label']})", r["realisations"],
         cell(r["pehe_in"]), cell(r["pehe_out"]), cell(r["ate_in"]), cell(r["ate_out"]),
         None]
        for name, r in same.items()
    ]  # fmt: skip
    pairs = [
        [c["a"], c["b"], c["pehe_out"]["n"], f"{c['pehe_in']['win_rate']:.0%}",
         f"{c['pehe_out']['win_rate']:.0%}",
         f"{c['pehe_out']['mean_difference']:+.3g} ± {c['pehe_out']['se_difference']:.2g}",
         f"{c['ate_out']['win_rate']:.0%}"]
        for c in d["comparisons"]
    ]  # fmt: skip
    published = [[k, *v] for k, v in d["published"].items()]

    def verdict(a: str, b: str) -> str:
        c = next((c for c in d["comparisons"] if c["a"] == a and c["b"] == b), None)
        if c is None:
            return "not run"
        p = c["pehe_out"]
        return (
            f"{p['win_rate']:.0%} of {p['n']} realisations, out-of-sample √PEHE "
            f"{p['mean_difference']:+.3g} ± {p['se_difference']:.2g} on average"
        )

    hidden = ", ".join(st["hidden_covariates"])
    return "\n\n".join(
        [
            "**Claim** (issue 4; VLUCI, Zhao et al. 2023): on IHDP (Hill 2011, surface B) report "
            "within- and out-of-sample √PEHE and ATE error beside the published numbers and "
            "beside EconML, DoWhy and Pyro estimators run on the same realisations; the VLUCI "
            "plug-in should beat its base estimator, most of all when confounders are hidden.",
            "**Result**: VLUCI plug-in vs its base (gradient-boosting T-learner), all covariates "
            "seen: beats it in "
            + verdict("VLUCI + T-learner GB (plug-in)", "T-learner, gradient boosting")
            + f"; with {hidden} hidden from X (they still drive selection and, where surface B "
            "weights them, the outcome): "
            + verdict(
                "VLUCI + T-learner GB (plug-in) [hidden]", "T-learner, gradient boosting [hidden]"
            )
            + ". "
            + _ihdp_same_text(same, res)
            + "Our CEVAE vs Pyro's: "
            + verdict("CEVAE (ours)", "Pyro CEVAE (docs settings, y standardised)")
            + ".",
            f"Surface B from EconML's generator ({st['source']}), realisations 0–"
            f"{st['realisations'] - 1} ({st['deep_realisations']} for the deep models: "
            f"CEVAE, VLUCI, Pyro), each split {st['split']}. Mean ± SE (median) over "
            "realisations; `[hidden]` rows see X without the hidden covariates. Seconds per fit "
            "are medians on one thread (VLUCI alone is scored from the plug-in's own latent "
            "fit, so its time is inside the plug-in's). Rows over different realisations do not "
            "compare: the deep models' rows average fewer, so the plug-ins' bases are shown "
            "again on those alone (computed by report.py from the per-realisation records):",
            _table(IHDP_HEADERS, rows),
            "Paired on the same realisations (a beats b: the share of realisations with a "
            "lower error; Δ = a − b, mean ± SE):",
            _table(IHDP_PAIR_HEADERS, pairs),
            "Published (context only: NPCI's 1,000 realisations and their own splits; our "
            f"generator matches theirs in distribution, not draw by draw) — "
            f"{d['published_source']}:",
            _table(
                ["method", "√PEHE within", "ATE error within", "√PEHE out", "ATE error out"],
                published,
            ),
            "Peer versions: " + ", ".join(f"{k} {v}" for k, v in d["versions"].items()) + ".",
            _footer(d),
        ]
    )


def cevae_speed(d: dict[str, Any]) -> str:
    st = d["setting"]
    rows = []
    for e in d["results"]:
        for name, v in e["sides"].items():
            rows.append(
                [e["data"], e["rows"], name, v["fit_best"], v["fit_median"],
                 v["ms_per_step_best"], v.get("ratio_best"), v.get("ratio_median"),
                 v["predict_best"], v.get("predict_ratio_best")]
            )  # fmt: skip
        for name, v in e.get("once", {}).items():
            rows.append(
                [e["data"], e["rows"], name + " (one run)", v["fit_seconds"], None, None, None,
                 None, v["predict_seconds"], None]
            )  # fmt: skip
    ihdp_sides = d["results"][0]["sides"]
    ours = ihdp_sides.get("latentinfer CEVAE", {})
    parts = [
        "**Claim** (issue 4): time to fit VLUCI/CEVAE against Pyro's `pyro.contrib.cevae` "
        "on the same data and architecture, as a ratio (Pyro's time / ours: > 1 means we are "
        "faster).",
        f"**Result**: on the IHDP-sized data our CEVAE fits in "
        f"**{ours.get('ratio_best', float('nan')):.2f}×** Pyro's speed (best of "
        f"{st['rounds']}; {ours.get('ratio_median', float('nan')):.2f}× on medians)"
        + "".join(
            f"; on {e['rows']:,} rows "
            f"{e['sides']['latentinfer CEVAE'].get('ratio_best', float('nan')):.2f}×"
            for e in d["results"][1:]
        )
        + ".",
        f"Latent {st['latent_dim']}, hidden {' × '.join(map(str, st['hidden']))}, "
        f"{st['activation'].upper()}, batches of {st['batch_size']}, {st['epochs']} epochs "
        "over all rows on both sides (ours without validation rows or early stopping), Adam "
        "1e-3 with weight decay 1e-4, one thread, libraries alternating per round. "
        "'predict' is the effect of 1,000 rows (or all, if fewer) with 100 posterior draws:",
        _table(CEVAE_SPEED_HEADERS, rows),
    ]
    prof = d.get("profile_top_ops")
    if prof:
        # an operator called a handful of times at a high cost per call is a one-off, not a
        # per-step cost: name it (the profile cannot tell what the one-off was)
        typical = statistics.median(p["self_ms"] / p["calls"] for p in prof[:10])
        shown = sum(p["self_ms"] for p in prof[:10])
        one_off = [
            p for p in prof[:10] if p["calls"] <= 5 and p["self_ms"] / p["calls"] > 100 * typical
        ]
        note = "".join(
            f" `{p['op']}` spends {p['self_ms']:.0f} ms of self time in {p['calls']} call(s) "
            f"({p['self_ms'] / p['calls']:.0f} ms each, against a median of {typical:.2f} ms "
            f"per call over the rows shown; {p['self_ms'] / shown:.0%} of their self time): a "
            "one-off cost, likely a first-call artefact, not a per-step one; the profile does "
            "not say what it was, and it was not re-profiled. The other rows shown are costs "
            "repeated over the fit's steps."
            for p in one_off
        )
        parts += [
            "Where our CEVAE's fit time goes (torch.profiler, self CPU time, top operators, "
            "one profiled fit)." + note,
            _table(
                ["operator", "self ms", "calls", "total ms"],
                [[p["op"], p["self_ms"], p["calls"], p["total_ms"]] for p in prof[:10]],
            ),
        ]
    parts.append(f"Pyro {d['pyro']}. " + _footer(d))
    return "\n\n".join(parts)


def _thirds(run: dict[str, Any], part: slice) -> list[list[float]]:
    """The variance probes of one run in the thirds selected by ``part`` (0, 1, 2)."""
    v = run.get("variance", [])
    k = len(v) // 3
    cuts = [v[:k], v[k : len(v) - k], v[len(v) - k :]]
    return [p for c in cuts[part] for p in c]


def _paired_verdict(trice: dict[str, Any], star: dict[str, Any], name: str) -> str:
    """TRICE minus a STaR variant per seed: reproduced, tied (within 2 SE) or not."""
    diffs = [a - b for a, b in zip(trice["per_seed"], star["per_seed"])]
    n = len(diffs)
    mean = sum(diffs) / n
    se = (sum((x - mean) ** 2 for x in diffs) / (n - 1) / n) ** 0.5 if n > 1 else float("nan")
    wins = sum(x > 0 for x in diffs)
    if mean > 2 * se:
        word = "**reproduced**"
    elif mean < -2 * se:
        word = "**not reproduced** (STaR ahead)"
    else:
        word = "**a tie** (within two standard errors)"
    return f"against {name} {mean:+.3f} ± {se:.3f}, higher in {wins} of {n} seeds: {word}"


def _proposal_range(var: dict[str, Any]) -> str:
    accs = [
        v[k]
        for v in var.values()
        if v
        for k in ("proposal_accuracy_first_third", "proposal_accuracy_last_third")
    ]
    return f"{min(accs):.2f}–{max(accs):.2f}" if accs else "those of this run"


def _count(seeds: Any) -> int:
    """A seed count from either a count or the list of seeds."""
    return len(seeds) if isinstance(seeds, list) else int(seeds)


def _trice_lrs(st: dict[str, Any]) -> str:
    """The learning rate(s) of a TRICE/STaR run, shared or per method."""
    if "lr" in st:
        return f"{st['lr']:g}"
    if st["trice_lr"] == st["star_lr"]:
        return f"{st['trice_lr']:g}"
    return f"{st['trice_lr']:g} (TRICE), {st['star_lr']:g} (STaR)"


def trice_vs_star(d: dict[str, Any]) -> str:
    st, s, var = d["setting"], d["summary"], d["variance"]
    rows = [
        [
            name,
            v["mean"],
            v["sd"],
            ", ".join(f"{a:.3f}" for a in v["per_seed"]),
            v.get("curve_mean"),
        ]
        for name, v in s.items()
    ]
    t, nocv, star = s["TRICE (CV)"], s["TRICE (no CV)"], s["STaR"]
    verdicts = [
        f"{tname} " + _paired_verdict(s[tname], s[name], name)
        for tname in ("TRICE (CV)", "TRICE (no CV)")
        for name in ("STaR", "STaR (no rationalization)")
        if tname in s and name in s
    ]
    verdict = "; ".join(verdicts)

    def pooled(name: str, part: slice) -> float:
        # Σ Var(ĝ_cv) / Σ Var(ĝ) over the probes of that part of every run
        probes = [p for r in d["runs"] if r["method"] == name for p in _thirds(r, part)]
        return sum(p[2] for p in probes) / max(sum(p[3] for p in probes), 1e-30)

    vrows = [
        [
            name,
            v["proposal_accuracy_first_third"],
            v["ratio_first_third"],
            pooled(name, slice(0, 1)),
            v["proposal_accuracy_last_third"],
            v["ratio_last_third"],
            pooled(name, slice(2, 3)),
        ]
        for name, v in var.items()
        if v
    ]
    return "\n\n".join(
        [
            "**Claim** (Phan, Hoffman et al. 2023, TRICE): trained on answer-only examples "
            "from the same model, MCMC-EM over rationales reaches higher held-out accuracy "
            "than STaR, and its control-variate gradient learns faster than the basic one, "
            "its variance falling to zero as the model improves.",
            f"**Result** at this scale, each TRICE variant minus each STaR variant, paired by seed "
            f"(mean ± standard error): {verdict}. "
            f"Held-out greedy accuracy **{t['mean']:.3f} ± {t['sd']:.3f}** (TRICE with CV), "
            f"**{nocv['mean']:.3f} ± {nocv['sd']:.3f}** (TRICE without CV), "
            f"**{star['mean']:.3f} ± {star['sd']:.3f}** (STaR)"
            + (
                f", **{s['STaR (no rationalization)']['mean']:.3f} ± "
                f"{s['STaR (no rationalization)']['sd']:.3f}** (STaR without rationalization)"
                if "STaR (no rationalization)" in s
                else ""
            )
            + f", from a base at **{st['base_accuracy']:.3f}**, each with {st['budget']:,} "
            f"sampled rationales, over {_count(st['seeds'])} seeds.",
            f"Mod-10 arithmetic with {st['n_ops']} operations and a scratchpad; a 2-layer "
            f"Llama model (d_model {st['lm']['d_model']}) SFT'd with gold scratchpads on "
            f"{st['n_gold']} examples for {st['base_sft_steps']} steps; then {st['n_train']:,} "
            f"answer-only questions; minibatch {st['batch']}, AdamW {_trice_lrs(st)}; accuracy on "
            f"{st['n_test']} held-out questions:",
            _table(["method", "held-out accuracy", "sd", "per seed", "mean along the run"], rows),
            "(*mean along the run*: held-out accuracy on 100 test questions averaged over the "
            "evaluations every 100 TRICE steps or every STaR round, a measure of speed.)",
            "The control variate lowers the gradient variance here."
            if all(pooled(n, slice(2, 3)) < 1 for n, v in var.items() if v)
            else "The control variate does not lower the gradient variance here. Our reading "
            "(the point-mass case of `tests/inference/test_control_variates.py`): a mod-10 "
            "scratchpad has essentially one correct rationale per question, so the basic "
            "estimator has little Monte Carlo noise to remove, and at the proposal accuracies "
            f"reached here ({_proposal_range(var)}) the leave-one-out β adds the proposals' "
            "noise.",
            "Gradient variance of the two estimators on the same memory and proposals (full "
            "flattened gradient, tr Cov / M over the minibatch, every 10 steps), as the ratio "
            "Var(ĝ_cv) / Var(ĝ) in the first and last third of each run: the mean of the "
            "per-probe ratios, and the pooled ratio Σ Var(ĝ_cv) / Σ Var(ĝ):",
            _table(
                [
                    "run",
                    "proposal accuracy (first third)",
                    "mean ratio",
                    "pooled ratio",
                    "proposal accuracy (last third)",
                    "mean ratio",
                    "pooled ratio",
                ],
                vrows,
            ),
            *_lr_pilot(),
            _footer(d, jobs_default=2),
        ]
    )


def _lr_pilot() -> list[str]:
    """The learning-rate pilot (validation questions, another seed), when its file exists."""
    pilot = _load("trice_lr_pilot")
    if pilot is None:
        return []
    lrs = list(pilot["by_lr"])
    methods = list(next(iter(pilot["by_lr"].values())))
    rows = [[m, *(pilot["by_lr"][lr][m] for lr in lrs)] for m in methods]
    table = _table(["method", *(f"validation accuracy, lr {lr}" for lr in lrs)], rows)
    text = (
        "The learning rate was chosen before that run, on validation questions (none of them "
        f"test questions) and seed {pilot['seed']}, which the run above does not use; chosen: "
        + ", ".join(f"{k} {v}" for k, v in pilot["chosen"].items())
        + "."
    )
    if "quick" in pilot:  # a file the benchmark wrote itself
        return [text + f" Command: `{pilot['command']}`.", table]
    placeholder = "--trice-lr LR --star-lr LR"
    commands = (
        [pilot["command"].replace(placeholder, f"--trice-lr {lr} --star-lr {lr}") for lr in lrs]
        if placeholder in pilot["command"]
        else [pilot["command"]]
    )
    return [
        text + " Provenance, unlike every other result here: `benchmarks/results/"
        f"trice_lr_pilot.json` was compiled by hand from {len(lrs)} runs, one per rate, whose "
        "own result files were not committed; its accuracies were transcribed from them, and "
        "it records no thread count, torch version or run time. The runs, as the file's "
        "command with its placeholder `LR` filled in:",
        "\n".join(f"    {c}" for c in commands),
        table,
    ]


def _curve_mean(runs: list[dict[str, Any]]) -> float | None:
    """Held-out accuracy averaged over each run's evaluations, then over runs."""
    means = [sum(a for _, a in r["curve"]) / len(r["curve"]) for r in runs if r["curve"]]
    return sum(means) / len(means) if means else None


def _paired_diffs(runs: list[dict[str, Any]], budget: int) -> tuple[float, float, int, int]:
    """MoPPS minus uniform rollouts to the target per seed: mean, SE, fewer, seeds."""
    by: dict[str, dict[int, float]] = {}
    for r in runs:
        hit = r["rollouts_to_target"] if r["reached"] else budget
        by.setdefault(r["selector"], {})[r["seed"]] = float(hit)
    uni, mop = by.get("uniform", {}), by.get("MoPPS λ=0.5", {})
    diffs = [mop[k] - uni[k] for k in sorted(set(uni) & set(mop))]
    n = len(diffs)
    mean = sum(diffs) / n
    se = (sum((x - mean) ** 2 for x in diffs) / (n - 1) / n) ** 0.5 if n > 1 else float("nan")
    return mean, se, sum(x < 0 for x in diffs), n


def _paired_rollouts(d: dict[str, Any], budget: int) -> str:
    """MoPPS minus uniform rollouts to the target, per seed (censored at the budget)."""
    if len({r["seed"] for r in d["runs"]}) < 2:
        return ""
    mean, se, fewer, n = _paired_diffs(d["runs"], budget)
    word = (
        "fewer rollouts beyond two standard errors"
        if mean < -2 * se
        else "more rollouts beyond two standard errors"
        if mean > 2 * se
        else "within two standard errors of no difference"
    )
    return (
        f" Paired by seed, MoPPS minus uniform: {mean:+,.0f} ± {se:,.0f} rollouts, fewer in "
        f"{fewer} of {n} seeds ({word})."
    )


def _rollout_section(d: dict[str, Any], trainer: str, claim: str, setting: str, agree: bool) -> str:
    """A MoPPS rollout benchmark (TRICE or GRPO): verdict, result sentence and table."""
    st, s = d["setting"], d["summary"]
    rows = [
        [
            name,
            v["rollouts_to_target_mean"],
            v["rollouts_to_target_sd"],
            f"{v['reached']}/{v['runs']}",
            v["final_accuracy_mean"],
            v["final_accuracy_sd"],
            *([v["all_agree_mean"]] if agree else []),
            _curve_mean([r for r in d["runs"] if r["selector"] == name]),
        ]
        for name, v in s.items()
    ]
    uni, mop = s["uniform"], s["MoPPS λ=0.5"]
    paired = _paired_rollouts(d, st["budget_rollouts"])
    verdict = (
        "reproduced"
        if "fewer rollouts beyond" in paired
        else "fewer rollouts on average only"
        if d["mopps_fewer_rollouts"]
        else "not reproduced"
    )
    agreeing = (
        f"groups whose rewards all agree {mop['all_agree_mean']:.2f} vs "
        f"{uni['all_agree_mean']:.2f}; "
        if agree
        else ""
    )
    return "\n\n".join(
        [
            claim,
            f"**Result** ({verdict} at this scale): within {st['budget_rollouts']:,} rollouts "
            f"{trainer} reached the held-out target {st['target']:.3f} (base "
            f"{st['base_accuracy']:.3f} + {st['gain']:g}) in **{mop['reached']}/{mop['runs']}** "
            f"runs with MoPPS and **{uni['reached']}/{uni['runs']}** with uniform selection; "
            f"mean rollouts to it, censored at the budget, {mop['rollouts_to_target_mean']:,.0f} "
            f"vs {uni['rollouts_to_target_mean']:,.0f} (ratio {d['rollout_ratio']:.2f}); "
            f"{agreeing}final accuracy {mop['final_accuracy_mean']:.3f} vs "
            f"{uni['final_accuracy_mean']:.3f}, over {st['seeds']} seeds." + paired,
            setting,
            _table(
                [
                    "selection",
                    "rollouts to target",
                    "sd",
                    "reached",
                    "final accuracy",
                    "sd",
                    *(["groups all agree"] if agree else []),
                    "mean along the run",
                ],
                rows,
            ),
            _footer(d, jobs_default=2),
        ]
    )


def mopps_rollouts(d: dict[str, Any]) -> str:
    st = d["setting"]
    return _rollout_section(
        d,
        "TRICE",
        "**Claim** (Qu et al. 2025, MoPPS): selecting prompts whose predicted success "
        "rate is nearest 0.5 reaches the same accuracy with fewer rollouts than uniform "
        "selection.",
        f"The setting of the TRICE benchmark; TRICE with the control variate, minibatch "
        f"{st['batch']}, {st['steps']} steps, AdamW {st['lr']:g}, one rollout per chosen "
        "question per step, MoPPS with λ = 0.5, pool 8× the batch, target 0.5; held-out "
        "accuracy on the 300 test questions along the run"
        + (
            ""
            if d["mopps_fewer_rollouts"]
            else " (our reading of the miss: MoPPS's premise is that a group whose rollouts "
            "all agree carries no learning signal, as in group-normalised RL such as GRPO; "
            "TRICE's gradient uses each chosen question's memory rationale whatever the new "
            "rollout gives, so no minibatch is wasted, and steering the minibatches to "
            "questions solved about half the time leaves the rest of the memory untrained, "
            "which the lower final accuracy fits; the simulated benchmark above shows the "
            "premise itself holding)"
        )
        + ":",
        agree=False,
    )


def _lr_text(key: str) -> str:
    """A learning rate as the sweep names it: ``"0.0003"`` → ``"3e-4"``."""
    return f"{float(key):.0e}".replace("e-0", "e-")


def _forecast_reading(d: dict[str, Any]) -> str:
    """What the forecast and all-agree columns of the GRPO sweep say, from the numbers."""
    lrs = sorted(d["by_lr"], key=float, reverse=True)  # fast to slow policy change
    parts, cuts, ratios = [], [], []
    for key in lrs:
        b = d["by_lr"][key]
        mop, uni = b["summary"]["MoPPS λ=0.5"], b["summary"]["uniform"]
        lr = _lr_text(key)
        parts.append(
            f"{b['forecast']['predicted']:.2f} forecast vs {b['forecast']['observed']:.2f} "
            f"observed at {lr}"
        )
        cuts.append(uni["all_agree_mean"] - mop["all_agree_mean"])
        ratios.append(b["rollout_ratio"])
    text = (
        "MoPPS's mean forecast of the success rate of the questions it chose, against the "
        "rate their rollouts then had: " + "; ".join(parts) + ". So the chosen questions "
        "are not 50/50 ones (few candidates in a pool are: this model's success on a "
        "question is mostly all or nothing), and they had become easier since their last "
        "visit."
    )
    if all(a < b for a, b in itertools.pairwise(cuts)) and all(
        a > b for a, b in itertools.pairwise(ratios)
    ):
        text += (
            " The slower the policy moves between two visits of a question (the lower the "
            "learning rate), the more MoPPS cuts the groups that all agree ("
            + ", ".join(f"{c:.2f}" for c in cuts)
            + ") and the fewer rollouts it needs relative to uniform selection."
        )
    return text


def _pocock(alpha: float, rho: float) -> float:
    """Pocock's constant two-sided boundary c for two looks whose z-statistics correlate ρ.

    Solves P(|Z₁| ≥ c or |Z₂| ≥ c) = α for a standard bivariate normal with correlation ρ
    (ρ = √(n₁/n₂) for looks after n₁ and n₂ paired seeds; ρ = √½ for two equal looks, where
    α = 0.05 gives the tabulated 2.178), by Simpson's rule and bisection.
    """

    def phi(x: float) -> float:
        return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))

    def crossing(c: float, n: int = 2000) -> float:
        s, h, total = math.sqrt(1.0 - rho * rho), 2.0 * c / n, 0.0
        for i in range(n + 1):
            z = -c + i * h
            w = 1 if i in (0, n) else (4 if i % 2 else 2)
            inside = phi((c - rho * z) / s) - phi((-c - rho * z) / s)
            total += w * math.exp(-z * z / 2) / math.sqrt(2 * math.pi) * inside
        return 1.0 - total * h / 3

    lo, hi = 1.0, 6.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if crossing(mid) > alpha else (lo, mid)
    return (lo + hi) / 2


def _mopps_followup(d: dict[str, Any]) -> tuple[list[str], str | None, str]:
    """More seeds at one rate, added after the main GRPO run (when that file exists).

    Returns the paragraph (or none), the rate when all its seeds together give fewer
    rollouts beyond two standard errors (else ``None``), and what that amounts to once the
    added look and the choice of that rate among the main run's are corrected for.
    """
    more = _load("mopps_grpo_followup")
    if more is None:
        return [], None, ""
    budget = d["setting"]["budget_rollouts"]
    ((key, block),) = more["by_lr"].items()
    lr = _lr_text(key)
    first = more["setting"]["first_seed"]
    seeds = more["setting"]["seeds"]
    mean, se, fewer, n = _paired_diffs(block["runs"], budget)
    both = d["by_lr"][key]["runs"] + block["runs"]
    m2, se2, fewer2, n2 = _paired_diffs(both, budget)
    z = -m2 / se2
    word = "beyond" if z > 2 else "within"
    n_rates = len(d["by_lr"])
    rho = math.sqrt((n2 - n) / n2)  # the first look had the main run's n2 - n seeds
    looks = _pocock(0.05, rho)
    bar = _pocock(0.05 / n_rates, rho)
    cleared = z >= bar
    paragraph = (
        f"**Follow-up** (decided after the run above, whose lr {lr} difference came out "
        f"just inside two standard errors; so it is an added look, not a fresh test): "
        f"{seeds} more seeds ({first}-{first + seeds - 1}) at lr {lr}: MoPPS minus uniform "
        f"{mean:+,.0f} ± {se:,.0f} rollouts (ratio {block['rollout_ratio']:.2f}), fewer "
        f"in {fewer} of {n}; groups all agreeing "
        f"{block['summary']['MoPPS λ=0.5']['all_agree_mean']:.2f} vs "
        f"{block['summary']['uniform']['all_agree_mean']:.2f}. All {n2} seeds at lr {lr}: "
        f"{m2:+,.0f} ± {se2:,.0f} rollouts, fewer in {fewer2} of {n2} ({word} two standard "
        f"errors: z = {z:.2f}). Pocock's boundary for two looks (after {n2 - n} and {n2} "
        f"seeds) at the 5% level is {looks:.2f}; but lr {lr} was chosen for the follow-up as "
        f"the best of the main run's {n_rates} rates, so we also correct for that choice "
        f"(Bonferroni: the same two-look Pocock boundary at a two-sided α = 0.05/{n_rates}, "
        f"z-statistics correlated √({n2 - n}/{n2}), normal approximation to the paired "
        f"mean; a t-distribution would put the bar higher still): **{bar:.2f}**, which z = "
        f"{z:.2f} {'clears' if cleared else 'does not clear'}. Command: `{more['command']}`."
    )
    if z <= 2:
        return [paragraph], None, ""
    summary = (
        f"fewer rollouts at lr {lr}, beyond the corrected bar"
        if cleared
        else f"fewer rollouts at lr {lr} by z = {z:.2f}, suggestive, not a reproduction: it "
        f"clears Pocock's {looks:.2f} for two looks, not the {bar:.2f} that also corrects for "
        f"choosing lr {lr} among {n_rates} rates"
    )
    return [paragraph], lr, summary


def mopps_grpo(d: dict[str, Any]) -> str:
    st = d["setting"]
    budget = st["budget_rollouts"]
    rows, verdicts = [], []
    for key, block in d["by_lr"].items():
        lr = _lr_text(key)
        s, fc = block["summary"], block["forecast"]
        for name, v in s.items():
            rows.append(
                [
                    lr,
                    name,
                    v["rollouts_to_target_mean"],
                    v["rollouts_to_target_sd"],
                    f"{v['reached']}/{v['runs']}",
                    v["final_accuracy_mean"],
                    v["all_agree_mean"],
                    v["observed_success_mean"],
                    fc["predicted"] if name != "uniform" else None,
                ]
            )
        mean, se, fewer, n = _paired_diffs(block["runs"], budget)
        beyond = mean < -2 * se
        verdicts.append(
            f"at lr {lr}, MoPPS minus uniform {mean:+,.0f} ± {se:,.0f} rollouts "
            f"(ratio {block['rollout_ratio']:.2f}), fewer in {fewer} of {n} seeds"
            + (" — **fewer beyond two standard errors**" if beyond else "")
        )
    hits = sum("beyond" in v for v in verdicts)
    verdict = (
        f"with the {st['seeds']} seeds fixed in advance, "
        + (f"reproduced at {hits} of" if hits else "not reproduced at any of")
        + f" {len(verdicts)} learning rates"
    )
    followup, fewer_at, summary = _mopps_followup(d)
    if fewer_at is not None:
        verdict += f"; with the follow-up's added seeds, {summary}"
    return "\n\n".join(
        [
            "**Claim** (Qu et al. 2025, MoPPS), in the group-based RL it was made for: a "
            "prompt's difficulty can be predicted online from its past rollouts, and "
            "selecting prompts whose predicted success rate is nearest 0.5 avoids groups whose "
            "rollouts all agree (no gradient) and reaches the same accuracy with fewer "
            "rollouts than uniform selection.",
            f"**Result** ({verdict}): paired by seed, "
            + "; ".join(verdicts)
            + ". "
            + _forecast_reading(d),
            *followup,
            f"The base model of the TRICE benchmark (held-out accuracy "
            f"{st['base_accuracy']:.3f}; target {st['target']:.3f} = base + {st['gain']:g}); "
            f"on-policy GRPO (group mean and sd as the baseline) on {st['n_train']:,} "
            f"answer-only questions, {st['batch']} questions × {st['group']} rollouts per "
            f"step, {st['steps']} steps ({budget:,} rollouts, each question about "
            f"{st['visits_per_question']:.0f} times), AdamW at each rate; MoPPS with "
            "λ = 0.5, pool 8× the batch, target 0.5; held-out greedy accuracy on the 300 test "
            f"questions every 10 steps; {st['seeds']} seeds per rate; rollouts to the target "
            "censored at the budget:",
            _table(
                [
                    "lr",
                    "selection",
                    "rollouts to target",
                    "sd",
                    "reached",
                    "final accuracy",
                    "groups all agree",
                    "success of chosen",
                    "MoPPS forecast",
                ],
                rows,
            ),
            _footer(d, jobs_default=2),
        ]
    )


def _pinned(extra: str, package: str, d: dict[str, Any]) -> str:
    """Whether pyproject.toml's ``extra`` pins ``package`` at the version ``d`` ran with."""
    import tomllib

    pyproject = ROOT / "pyproject.toml"
    if not pyproject.is_file():
        return ""
    extras = tomllib.loads(pyproject.read_text())["project"].get("optional-dependencies", {})
    pins = [r.split("==", 1)[1].strip() for r in extras.get(extra, [])
            if r.split("==", 1)[0].strip() == package and "==" in r]  # fmt: skip
    if not pins:
        return "; no extra pins it"
    if pins[0] == d[package]:
        return f", pinned by the `{extra}` extra"
    return f"; the `{extra}` extra now pins {pins[0]}"


def generation_speed(d: dict[str, Any]) -> str:
    rows = [
        [
            r["arch"],
            r["rows"],
            r["max_new_tokens"],
            r["rationales_per_second"]["ours"],
            r["rationales_per_second"]["transformers"],
            f"{r['ratio']:.2f}×",
        ]
        for r in d["results"]
    ]
    return "\n\n".join(
        [
            "**Claim** (issue 5): our batched sampler (KV cache, left padding, prompt forward "
            "shared by its samples) samples rationales at least as fast as `transformers`' "
            "`generate(do_sample=True)` on the same tiny model, batch and length.",
            f"**Result**: ours / transformers = **{d['min_ratio']:.2f}×** at worst "
            f"(transformers {d['transformers']}{_pinned('bench-reasoning', 'transformers', d)}, "
            f"median of {d['repeats']} alternating "
            "repeats; prompts are arithmetic questions with 0–2 solved examples before them, "
            "4 samples each, temperature 1, no top-k). The ratio is the claim: the absolute "
            "rates below depend on the machine and on its load while the benchmark runs (this "
            f"run took {d['seconds']:.0f} s on a {d['cpu_count']}-core machine), and the two "
            "sides are timed in alternating calls so that both see the same load.",
            _table(
                [
                    "arch",
                    "rationales per batch",
                    "new tokens",
                    "ours /s",
                    "transformers /s",
                    "ratio",
                ],
                rows,
            ),
            _footer(d),
        ]
    )


def arithmetic_rationale(d: dict[str, Any]) -> str:
    rows = [
        [r["seed"], r["mode"], r["steps"], r["test_accuracy"], r["majority_class"]]
        for r in d["runs"]
    ]
    verdict = "reproduced" if d["claim_reproduced"] else "NOT reproduced"
    t = d["task"]
    return "\n\n".join(
        [
            "**Claim** (Nye et al. 2021, scratchpads; our pilot): on multistep mod-10 "
            "arithmetic a tiny model fine-tuned on scratchpad rationales reaches ~100 % "
            "held-out accuracy where one fine-tuned on answers alone stays near the majority "
            "class (~0.2).",
            f"**Result** ({verdict}): held-out greedy accuracy **{d['rationale_mean']:.3f}** "
            f"with rationales vs **{d['direct_mean']:.3f}** direct ({t['n_ops']} operations, "
            f"{t['n_train']} training and {t['n_test']} held-out questions, "
            f"{d['sft']['steps']} SFT steps of batch {d['sft']['batch_size']}, tiny Llama "
            f"d = {d['model']['d_model']}).",
            _table(["seed", "targets", "steps", "held-out accuracy", "majority class"], rows),
            _footer(d),
        ]
    )


def _gap_bar(s: dict[str, Any], free: str) -> tuple[bool, bool]:
    """The benchmark's bar for one readout: free generation below −25 % under local data,
    not below −25 % under fully observed data (as ``reasoning_gap.py`` judges its default)."""
    local = s["local"][free] < 0.75 * s["local"]["mse_direct"]
    full = s["full"][free] >= 0.75 * s["full"]["mse_direct"]
    return local, full


def _gap_verdict(d: dict[str, Any]) -> str:
    """The verdict, naming the readout it holds with (the paper's or our default)."""
    s = d["summary"]
    sampled = _gap_bar(s, "mse_free_sampled") if "mse_free_sampled" in s["local"] else None
    if d["claim_reproduced"]:
        if sampled is None:
            return "reproduced with our probability readout; the paper's readout not recorded"
        if all(sampled):
            return "reproduced with both readouts"
        return (
            "reproduced only with our Rao-Blackwellised probability readout, 'free (prob.)'; "
            "NOT reproduced with the paper's readout, 'free (sampled)'"
        )
    if d.get("local_free_better"):
        return (
            "half reproduced: free generation wins under local data, but also under fully "
            "observed data"
        )
    if sampled is not None and all(sampled):
        return "NOT reproduced with our probability readout; reproduced with the paper's"
    return "NOT reproduced" + (" with either readout" if sampled is not None else "")


def _gap_result(d: dict[str, Any]) -> str:
    s, paper = d["summary"], d["paper"]
    text = (
        f"local data MSE **{s['local']['mse_direct']:.4f}** direct vs "
        f"**{s['local']['mse_free']:.4f}** free generation (prob.); fully observed "
        f"**{s['full']['mse_direct']:.4f}** vs **{s['full']['mse_free']:.4f}** (paper: "
        f"{paper['local']['direct']} vs {paper['local']['free']}; "
        f"{paper['full']['direct']} vs {paper['full']['free']}). Free generation changes the "
        f"MSE by {s['local']['mse_free'] / s['local']['mse_direct'] - 1:+.0%} under local data "
        f"and by {s['full']['mse_free'] / s['full']['mse_direct'] - 1:+.0%} under fully "
        "observed data (paper: −48 % and +3 %; our bar: below −25 % and not below −25 %), "
        "with our probability readout"
    )
    if "mse_free_sampled" in s["local"]:
        loc, full = s["local"], s["full"]
        text += (
            f". With the paper's readout (free (sampled)) free generation scores "
            f"**{loc['mse_free_sampled']:.4f}** under local data and "
            f"**{full['mse_free_sampled']:.4f}** fully observed, changing the MSE by "
            f"{loc['mse_free_sampled'] / loc['mse_direct'] - 1:+.0%} and "
            f"{full['mse_free_sampled'] / full['mse_direct'] - 1:+.0%} against direct "
            "prediction"
            + (
                ": with the paper's readout free generation is worse than direct prediction "
                "under local data"
                if loc["mse_free_sampled"] > loc["mse_direct"]
                else ""
            )
        )
    marginal = s["local"].get("mse_marginal")
    if marginal is not None:
        names = {"mse_direct": "direct prediction", "mse_free": "free generation (prob.)",
                 "mse_free_sampled": "free generation (sampled)"}  # fmt: skip
        scored = [k for k in names if k in s["local"]]
        beaten = [k for k in scored if s["local"][k] < marginal]
        text += f"; predicting the target's marginal scores {marginal:.4f} under local data"
        if not beaten:
            text += ", so at this scale no estimator has learned to use the condition well"
        elif len(beaten) < len(scored):
            text += f", which only {' and '.join(names[k] for k in beaten)} beat" + (
                "s" if len(beaten) == 1 else ""
            )
        else:
            text += ", which every estimator beats"
    return text + "."


def _gap_setting(d: dict[str, Any]) -> str:
    st = d["setting"]
    return (
        f"{st['nets']} random nets ({st['structure']}) of {st['n_nodes']} binary variables, "
        f"{st['n_held_out']} held-out pairs each at distance {st['held_out_distance'][0]}–"
        f"{st['held_out_distance'][1]} whose conditional moves by ≥ "
        f"{st.get('min_dependence', 0)} with the condition (4 queries per pair), "
        f"{st['n_train']} training samples, {st['steps']} SFT steps of batch "
        f"{st['batch_size']}, tiny Llama d = {st['d_model']}, {st['num_samples']} "
        "free-generation samples per query"
    )


def _gap_table(d: dict[str, Any]) -> str:
    rows = [
        [r["net_seed"], r["format"], r["mse_direct"], r["mse_free"], r.get("mse_free_sampled"),
         r.get("mse_marginal"), r["free_valid_share"]]
        for r in d["runs"]
    ]  # fmt: skip
    headers = ["net", "training data", "MSE direct", "MSE free (prob.)", "MSE free (sampled)"]
    return _table([*headers, "MSE marginal", "free valid"], rows)


def reasoning_gap(d: dict[str, Any]) -> str:
    parts = [
        "**Claim** (Prystawski, Li & Goodman, NeurIPS 2023): trained on locally observed "
        "samples of a Bayes net, a language model estimates held-out conditionals better by "
        "generating intermediate variables than directly (MSE 0.027 direct vs 0.014 free "
        "generation, recomputed from the authors' evaluations); trained on fully observed "
        "samples there is no gap (0.035 vs 0.036).",
    ]
    long = _load("reasoning_gap_long")
    if long:
        parts.append(
            f"**Result with longer training** ({_gap_verdict(long)}; "
            f"{long['setting']['steps']} SFT steps per model): {_gap_result(long)}"
        )
    parts += [
        f"**Result** ({_gap_verdict(d)}; {d['setting']['steps']} SFT steps per model): "
        f"{_gap_result(d)}",
        _gap_setting(d) + ". 'free (prob.)' reads the target's probability after each "
        "sample's intermediate variables (our default, Rao-Blackwellised); 'free (sampled)' "
        "averages the values the samples state (the paper's readout); 'marginal' predicts "
        "p(T = 1) ignoring the condition (a reference); 'free valid' is the share of samples "
        "that stated the target:",
        _gap_table(d),
        _footer(d),
    ]
    if long:
        parts += [
            f"The same with longer training: {_gap_setting(long)}:",
            _gap_table(long),
            _footer(long),
        ]
    return "\n\n".join(parts)


_CEILING = "exact-posterior plug-in"
_METRIC_NAMES = {
    "pehe_in": "within-sample √PEHE",
    "ate_in": "within-sample ATE error",
    "pehe_out": "out-of-sample √PEHE",
    "ate_out": "out-of-sample ATE error",
}


def _measurable(g: dict[str, dict[str, float]]) -> list[str]:
    """The metrics on which a paired gain over the base exceeds two standard errors."""
    return [k for k in _METRICS if g[k]["mean"] > 2 * g[k]["se"]]


_PLUG_IN = "VLUCI + T-learner"
_METRICS = ("pehe_in", "ate_in", "pehe_out", "ate_out")


def _vluci_tables(r: dict[str, Any], methods: list[str], coverage: bool) -> str:
    rows = []
    for name in methods:
        sc = r[name]
        cov = sc.get("coverage90_in")
        row = [name] + [f"{sc[k]['mean']:.3f} ± {sc[k]['se']:.2g}" for k in _METRICS]
        rows.append(row + ([f"{cov['mean']:.2f}" if cov else None] if coverage else []))
    headers = ["method", "√PEHE in", "ATE error in", "√PEHE out", "ATE error out"]
    return _table(headers + (["90 % cover"] if coverage else []), rows)


def _gain_table(gains: dict[str, dict[str, dict[str, float]]]) -> str:
    rows = [
        [name] + [f"{g[k]['mean']:+.3f} ± {g[k]['se']:.2g}" for k in _METRICS]
        for name, g in gains.items()
    ]
    return _table(
        ["gain over the base (paired)", "√PEHE in", "ATE error in", "√PEHE out", "ATE error out"],
        rows,
    )


def vluci_synthetic(d: dict[str, Any]) -> str:
    st, res, claim, wins = d["setting"], d["results"], d["claim"], d["win_rate_vs_base"]
    gains = d.get("gain_over_base", {})
    weak = _load("vluci_synthetic_weak")
    held = [s for s, c in claim.items() if all(c.values())]
    # a strength the claim misses: judged on the weak run's realisations where there is one
    judged = {s: (weak["gain_over_base"][s] if weak and s in weak.get("gain_over_base", {})
                  else gains.get(s)) for s in claim if s not in held}  # fmt: skip
    # what the exact posterior gains beyond two standard errors, on any of the four metrics
    winnable = {s: _measurable(g[_CEILING]) for s, g in judged.items() if g}
    empty = [s for s, w in winnable.items() if not w]
    verdict = (
        "reproduced"
        if d["claim_reproduced"]
        else (f"reproduced at s = {', '.join(held)}" if held else "not reproduced")
    )
    if empty:
        verdict += f"; at s = {', '.join(empty)} there is nothing measurable to win"
    for s, w in winnable.items():
        if w:
            missed = [k for k in w if k not in _measurable(judged[s][_PLUG_IN])]
            verdict += (
                f"; not at s = {s}, where the exact posterior gains a small measurable amount "
                f"of {', '.join(_METRIC_NAMES[k] for k in w)}"
                + (" that VLUCI's plug-in does not" if missed == w else "")
            )
    result = (
        f"**Result** ({verdict}): the plug-in (a linear T-learner on [X, Û]) against the "
        "same T-learner on X and against CEVAE, on the mean over realisations, within and "
        "out of sample; paired win rates of the plug-in over its base below each table."
    )
    if gains:
        share = [
            f"{gains[s][_PLUG_IN][k]['mean'] / gains[s][_CEILING][k]['mean']:.0%}"
            for k in ("pehe_in", "ate_in")
            for s in held
            if gains[s][_CEILING][k]["mean"] > 0
        ]
        n_held = len(held)
        result += (
            " The yardstick is the exact-posterior plug-in: the same T-learner refit on draws "
            "from U's exact posterior under the generating model "
            "(`latentinfer.data.confounder_posterior`), the most any learned confounder "
            f"model could infer. Where the claim holds (s = {', '.join(held)}), VLUCI's "
            f"plug-in reaches {', '.join(share[:n_held])} of the ceiling's within-sample "
            f"√PEHE gain over the base and {', '.join(share[n_held:])} of its ATE gain."
        )
    parts = [
        "**Claim** (Zhao et al. 2023, VLUCI): the same counterfactual model estimates "
        "effects better on the covariates plus VLUCI's inferred confounder than on the "
        "covariates alone, and better than CEVAE, in √PEHE and ATE error, across "
        "confounding strengths (no table values exist; the claim is relative).",
        result,
    ]
    for s, g in judged.items():
        if not g:
            continue
        src = weak["results"][s] if weak and s in weak["results"] else res[s]
        n_seeds = weak["setting"]["seeds"] if weak and s in weak["results"] else st["seeds"]
        sd_u = (1.0 + st["n_proxies"] / st["proxy_noise"] ** 2) ** -0.5
        c, p = g[_CEILING], g[_PLUG_IN]
        base = src["T-learner (X)"]["pehe_in"]["mean"]
        oracle = src["oracle T-learner (X, U)"]["pehe_in"]["mean"]

        def gain(v: dict[str, float]) -> str:
            return f"{v['mean']:+.3f} ± {v['se']:.2g}"

        won = winnable[s]
        noise = [k for k in ("pehe_in", "ate_in") if k not in won]
        text = (
            f"At s = {s} ({n_seeds} realisations; paired gains over the base, within sample) "
            f"the plug-in gains {gain(p['pehe_in'])} in √PEHE and "
            f"{gain(p['ate_in'])} in ATE error"
            + (
                ", within two standard errors of its base"
                if not {"pehe_in", "ate_in"} & set(_measurable(p))
                else ""
            )
            + "."
        )
        if noise:
            text += (
                " The exact-posterior ceiling gains no more than noise in "
                + " and ".join(f"{_METRIC_NAMES[k]} ({gain(c[k])})" for k in noise)
                + "."
            )
        if won:
            text += (
                " It does gain a small but measurable amount in "
                + ", ".join(
                    f"{_METRIC_NAMES[k]} ({gain(c[k])}, {c[k]['mean'] / c[k]['se']:.1f} "
                    "standard errors)"
                    for k in won
                )
                + ", which VLUCI's plug-in "
                + ("does not reach" if not set(won) & set(_measurable(p)) else "partly reaches")
                + "."
            )
        text += (
            f" The linear base already uses the {st['n_proxies']} proxies, which leave U a "
            f"posterior sd of {sd_u:.2f}; what remains (s·sd ≈ {float(s) * sd_u:.2f} of effect "
            f"heterogeneity) separates the base ({base:.3f} √PEHE within sample) from the oracle "
            f"that sees U ({oracle:.3f}), and even the exact posterior recovers only "
            f"{c['pehe_in']['mean']:.3f} of that {base - oracle:.3f} gap from these rows."
        )
        parts.append(text)
    parts.append(
        f"Hidden U (strength s in T and Y) seen through {st['n_proxies']} proxies with noise "
        f"sd {st['proxy_noise']}, n = {st['n']:,} fitting rows and {st['n_test']} held-out "
        f"rows, {st['seeds']} realisations per strength; mean ± standard error; library "
        "defaults; 90 % interval coverage of the true effects on the fitting rows; the paired "
        "gains are base − method per realisation (> 0: better than the base):"
    )
    for s, r in res.items():
        w = wins[s]
        parts += [
            f"Confounding s = {s}:",
            _vluci_tables(r, d["methods"], coverage=True),
            f"Plug-in better than its base in {w['pehe_in']:.0%} / {w['ate_in']:.0%} of "
            f"realisations (√PEHE / ATE error, within sample), {w['pehe_out']:.0%} / "
            f"{w['ate_out']:.0%} out of sample.",
        ]
        if s in gains:
            parts.append(_gain_table(gains[s]))
    if weak:
        for s, r in weak["results"].items():
            parts += [
                f"The weakest confounding again with {weak['setting']['seeds']} realisations "
                f"(s = {s}; `{weak['command']}`, {weak['seconds']:.0f} s):",
                _vluci_tables(r, weak["methods"], coverage=True),
            ]
            w = weak["win_rate_vs_base"][s]
            parts.append(
                f"Plug-in better than its base in {w['pehe_in']:.0%} / {w['ate_in']:.0%} of "
                f"realisations (√PEHE / ATE error, within sample), {w['pehe_out']:.0%} / "
                f"{w['ate_out']:.0%} out of sample."
            )
            if s in weak.get("gain_over_base", {}):
                parts.append(_gain_table(weak["gain_over_base"][s]))
    parts += [
        "The intervals come from posterior draws of U only (and, for the plug-in, from "
        "refits on them): they leave out the networks' and the base's estimation error, "
        "so they cover less than their nominal level.",
        _footer(d),
    ]
    return "\n\n".join(parts)


SECTIONS: list[tuple[str, str, Callable[[dict[str, Any]], str]]] = [
    ("ARD-VAE finds the true dimensionality", "ard_relevance", ard),
    ("Posterior collapse in conditional and hierarchical VAEs", "collapse", collapse),
    ("Mean vs sampled representations (Be More Active!)", "mean_vs_sampled", mean_vs_sampled),
    ("VAE training speed against pythae", "speed_vs_pythae", speed),
    ("HGF exactness against pyhgf 0.2.12", "hgf_exactness", hgf_exactness),
    ("HGF speed against pyhgf 0.2.12", "hgf_speed", hgf_speed),
    ("MoPPS prompt selection with a streaming Beta-Bernoulli filter", "mopps_filter", mopps),
    ("NIW-Meta few-shot meta-learning (Kim & Hospedales)", "niw_fewshot", niw_fewshot),
    (
        "IV-like regression with outcome-invariant augmentation (Akbar et al.)",
        "ivl_simulation",
        ivl_simulation,
    ),
    ("VLUCI under hidden confounding: plug-in, CEVAE, OLS", "vluci_synthetic", vluci_synthetic),
    ("IHDP: CEVAE, VLUCI and peers on surface B", "ihdp", ihdp),
    ("CEVAE/VLUCI training speed against Pyro", "cevae_speed", cevae_speed),
    ("TRICE vs STaR at equal sampled rationales", "trice_vs_star", trice_vs_star),
    ("MoPPS prompt selection in TRICE: rollouts to a target", "mopps_rollouts", mopps_rollouts),
    ("MoPPS prompt selection in GRPO: rollouts to a target", "mopps_grpo", mopps_grpo),
    ("Rationale sampling speed against transformers", "generation_speed", generation_speed),
    ("Scratchpad vs direct-answer SFT on arithmetic", "arithmetic_rationale", arithmetic_rationale),
    ("The reasoning gap on Bayes nets (Why think step by step?)", "reasoning_gap", reasoning_gap),
]


def main() -> None:
    parts = [
        "# Reproductions",
        "Each paper's claim, our measured numbers, and the command that produced them. This "
        "file is generated by `python benchmarks/report.py` from `benchmarks/results/*.json`; "
        "do not edit the numbers by hand. Benchmarks pin PyTorch to one thread unless stated.",
    ]
    for title, name, render in SECTIONS:
        d = _load(name)
        script = next(ROOT.glob(f"benchmarks/*/{name}.py"), None)
        where = script.relative_to(ROOT) if script else f"benchmarks/<family>/{name}.py"
        body = render(d) if d is not None else f"Not yet run: `python {where}`."
        parts += [f"## {title}", body]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n\n".join(parts) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
