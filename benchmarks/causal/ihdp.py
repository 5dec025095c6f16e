"""IHDP surface B: our estimators beside EconML, DoWhy and Pyro on the same realisations.

Hill's (2011) IHDP benchmark as CFR (Shalit et al. 2017) and CEVAE (Louizos et al. 2017)
use it: 747 units (139 treated) with 25 real covariates, outcomes from response surface B
drawn by ``latentinfer.data.load("ihdp", seed=r)`` (EconML's generator; the covariates
come from EconML's wheel or ``--path``). Each realisation r is split 90 % fit / 10 % test
(a seeded permutation); within-sample scores use the fitted rows, out-of-sample the
held-out rows: √PEHE and the ATE error |mean τ̂ − mean τ| of each, mean ± standard error
over realisations and the median (heavy tails: compare methods *paired*, on the same
realisations).

Methods (library defaults unless stated; every random state is fixed per realisation):

- ours: ``OLS`` (T as a feature), ``OLS(interactions=True)``, ``TLearner`` over
  ``LinearRegression`` (one linear model per arm) and over ``GradientBoostingRegressor``
  (the base estimator of the plug-in), ``CEVAE``, ``VLUCI`` alone and ``VLUCI`` as a
  plug-in to that gradient-boosting T-learner (``base_estimator=GradientBoostingRegressor``).
  VLUCI alone is scored from the plug-in's own fit (a shallow copy without the base
  estimator: the latent fit does not depend on it, so this is exactly a VLUCI fit alone);
- EconML 0.17 (when importable): ``TLearner`` and ``XLearner`` over gradient boosting,
  ``DRLearner()``, ``CausalForestDML(discrete_treatment=True)``;
- DoWhy 0.14: ``backdoor.linear_regression`` on the maximal adjustment set (a constant
  effect; a cross-check of our OLS);
- Pyro 1.9: ``pyro.contrib.cevae.CEVAE`` with its documentation's settings (latent 20,
  hidden 200, 3 layers, 50 epochs, batch 100, lr 1e-3, decay 0.1, weight decay 1e-4),
  y standardised outside (and effects scaled back).

Hidden confounding: ``bw``, ``birth.o`` and ``momage`` (three continuous covariates, the
three most associated with T) are removed from X; they still drive selection (through
Hill's selection step) and, where surface B's draw gives them weight, the outcome. The
gradient-boosting T-learner on the reduced X is compared with the VLUCI plug-in on the
reduced X (no proxies are declared: none of IHDP's covariates is a pure measurement), and
with the T-learner on the full X (the oracle).

Budget: the deep models (two CEVAEs, two VLUCI fits with 10 plug-in refits each) cost
about 1.5 minutes per realisation on one idle thread (4+ on a shared 2-core machine), and
EconML's DRLearner and CausalForestDML most of the ~10 s of the rest; so the deep models
run on the first ``--deep-realisations`` realisations (default 6) and everything else on
``--realisations`` (default 60, not the usual 100), to keep a full run near 15 minutes of
one idle core. Paired comparisons use only realisations both sides ran on.

Published numbers (1,000 realisations of NPCI's surface B, their own splits) are shown as
context only: our generator matches theirs in distribution, not draw by draw.

    pip install -e ".[bench-causal]"          # econml, dowhy, pyro-ppl
    python benchmarks/causal/ihdp.py          # 15-40 min on 1 thread (idle vs busy machine)
    python benchmarks/causal/ihdp.py --realisations 100 --deep-realisations 100  # hours
    python benchmarks/causal/ihdp.py --quick  # 5 realisations, 2 with the deep models
"""

from __future__ import annotations

import copy
import importlib.util
import logging
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from _common import print_table, setup, write_result

HIDDEN = ("bw", "birth.o", "momage")  # hidden-confounder variant: removed from X

# CEVAE paper (Louizos et al., NeurIPS 2017, arXiv:1705.08821) Table 1(a) and CFR paper
# (Shalit, Johansson & Sontag, ICML 2017, arXiv:1606.03976) Table 1, IHDP, 1,000
# realisations: (within √PEHE, within ATE error, out-of-sample √PEHE, out-of-sample ATE
# error), mean ± SE.
PUBLISHED = {
    "OLS-1 (T as a feature)": ("5.8 ± .3", ".73 ± .04", "5.8 ± .3", ".94 ± .06"),
    "OLS-2 (one model per arm)": ("2.4 ± .1", ".14 ± .01", "2.5 ± .1", ".31 ± .02"),
    "BART": ("2.1 ± .1", ".23 ± .01", "2.3 ± .1", ".34 ± .02"),
    "TARNet": (".88 ± .0", ".26 ± .01", ".95 ± .0", ".28 ± .01"),
    "CFR-Wass": (".71 ± .0", ".25 ± .01", ".76 ± .0", ".27 ± .01"),
    "CEVAE": ("2.7 ± .1", ".34 ± .01", "2.6 ± .1", ".46 ± .02"),
}
PUBLISHED_SOURCE = (
    "Louizos et al. 2017 (CEVAE), Table 1(a); Shalit et al. 2017 (CFR), Table 1 (TARNet, "
    "CFR-Wass); OLS and BART rows are the same in both"
)

Effects = tuple[np.ndarray, np.ndarray]  # (τ̂ on the fitted rows, τ̂ on the held-out rows)


def _have(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _split(n: int, r: int) -> tuple[np.ndarray, np.ndarray]:
    from latentinfer.core.seeding import derive_seed

    perm = np.random.default_rng(derive_seed(1000, r)).permutation(n)
    k = round(0.9 * n)
    return np.sort(perm[:k]), np.sort(perm[k:])


def _gb(seed: int) -> Any:
    from sklearn.ensemble import GradientBoostingRegressor

    return GradientBoostingRegressor(random_state=seed)


def _ours(est: Any, **fit_options: Any) -> Callable[..., Effects]:
    def run(y: np.ndarray, t: np.ndarray, x: np.ndarray, xt: np.ndarray, seed: int) -> Effects:
        e = est(seed).fit(y, t, X=x, **fit_options)
        return np.asarray(e.effect()), np.asarray(e.effect(xt))

    return run


def _econml(make: Callable[[int], Any]) -> Callable[..., Effects]:
    def run(y: np.ndarray, t: np.ndarray, x: np.ndarray, xt: np.ndarray, seed: int) -> Effects:
        e = make(seed)
        e.fit(y, t, X=x)
        return np.asarray(e.effect(x)).reshape(-1), np.asarray(e.effect(xt)).reshape(-1)

    return run


def _dowhy(y: np.ndarray, t: np.ndarray, x: np.ndarray, xt: np.ndarray, seed: int) -> Effects:
    import pandas as pd
    from dowhy import CausalModel

    cols = [f"x{j}" for j in range(x.shape[1])]
    df = pd.DataFrame(x, columns=cols).assign(t=t.astype(bool), y=y)
    model = CausalModel(data=df, treatment="t", outcome="y", common_causes=cols)
    # the maximal adjustment set (all 25 covariates); DoWhy's default identification
    # searches backdoor sets exhaustively, ~40 s a realisation for the same set
    estimand = model.identify_effect(
        proceed_when_unidentifiable=True, method_name="maximal-adjustment"
    )
    est = model.estimate_effect(estimand, method_name="backdoor.linear_regression")
    v = float(est.value)  # a constant effect
    return np.full(len(x), v), np.full(len(xt), v)


def _pyro_cevae(y: np.ndarray, t: np.ndarray, x: np.ndarray, xt: np.ndarray, seed: int) -> Effects:
    import pyro
    import torch
    from pyro.contrib.cevae import CEVAE as PyroCEVAE

    pyro.clear_param_store()
    pyro.set_rng_seed(seed)
    mean, sd = float(y.mean()), float(y.std())
    model = PyroCEVAE(
        x.shape[1], outcome_dist="normal", latent_dim=20, hidden_dim=200, num_layers=3
    )
    f = torch.float32
    model.fit(
        torch.as_tensor(x, dtype=f),
        torch.as_tensor(t, dtype=f),
        torch.as_tensor((y - mean) / sd, dtype=f),
        num_epochs=50,
        batch_size=100,
        learning_rate=1e-3,
        learning_rate_decay=0.1,
        weight_decay=1e-4,
        log_every=0,
    )
    with torch.no_grad():
        tin = model.ite(torch.as_tensor(x, dtype=f)).double().numpy() * sd
        tout = model.ite(torch.as_tensor(xt, dtype=f)).double().numpy() * sd
    return tin, tout


class _VLUCIPair:
    """One VLUCI plug-in fit scored twice: as the plug-in and alone (same latent fit)."""

    def __init__(self) -> None:
        self.cache: dict[tuple[int, int], Effects] = {}

    def plugin(
        self, y: np.ndarray, t: np.ndarray, x: np.ndarray, xt: np.ndarray, seed: int
    ) -> Effects:
        from latentinfer.causal import VLUCI, TLearner

        # TLearner(GB) rather than the bare regressor (which VLUCI wraps the same way):
        # VLUCI tests ``if self.base_estimator``, and an unfitted scikit-learn ensemble's
        # __len__ raises AttributeError
        m = VLUCI(base_estimator=TLearner(_gb(0)), seed=seed).fit(y, t, X=x, progress=False)
        alone = copy.copy(m)  # shares the fitted networks and posterior draws
        alone.base_estimator = None
        self.cache[(seed, x.shape[1])] = (np.asarray(alone.effect()), np.asarray(alone.effect(xt)))
        return np.asarray(m.effect()), np.asarray(m.effect(xt))

    def alone(
        self, y: np.ndarray, t: np.ndarray, x: np.ndarray, xt: np.ndarray, seed: int
    ) -> Effects:
        return self.cache.pop((seed, x.shape[1]))


def methods() -> tuple[dict[str, Callable[..., Effects]], dict[str, Callable[..., Effects]]]:
    """``(cheap, deep)``: name → run(y, t, X_fit, X_test, seed); hidden-variant names end
    in ``[hidden]`` and get the reduced covariates."""
    from sklearn.linear_model import LinearRegression

    from latentinfer.causal import CEVAE, OLS, TLearner

    cheap: dict[str, Callable[..., Effects]] = {
        "OLS (T as a feature)": _ours(lambda s: OLS()),
        "OLS with T×X interactions": _ours(lambda s: OLS(interactions=True)),
        "T-learner, linear (one OLS per arm)": _ours(lambda s: TLearner(LinearRegression())),
        "T-learner, gradient boosting": _ours(lambda s: TLearner(_gb(0))),
        "T-learner, gradient boosting [hidden]": _ours(lambda s: TLearner(_gb(0))),
        "OLS (T as a feature) [hidden]": _ours(lambda s: OLS()),
    }
    if _have("econml"):
        from econml.dml import CausalForestDML
        from econml.dr import DRLearner
        from econml.metalearners import TLearner as ETLearner
        from econml.metalearners import XLearner

        cheap |= {
            "EconML TLearner (GB)": _econml(lambda s: ETLearner(models=_gb(0))),
            "EconML XLearner (GB)": _econml(lambda s: XLearner(models=_gb(0))),
            "EconML DRLearner": _econml(lambda s: DRLearner(random_state=s)),
            "EconML CausalForestDML": _econml(
                lambda s: CausalForestDML(discrete_treatment=True, random_state=s)
            ),
        }
    if _have("dowhy"):
        cheap["DoWhy backdoor.linear_regression"] = _dowhy
    pair = _VLUCIPair()
    deep: dict[str, Callable[..., Effects]] = {
        "CEVAE (ours)": _ours(lambda s: CEVAE(seed=s), progress=False),
        "VLUCI + T-learner GB (plug-in)": pair.plugin,
        "VLUCI alone": pair.alone,
        "VLUCI + T-learner GB (plug-in) [hidden]": pair.plugin,
    }
    if _have("pyro"):
        deep["Pyro CEVAE (docs settings, y standardised)"] = _pyro_cevae
    return cheap, deep


def _summary(v: list[float]) -> dict[str, float]:
    a = np.asarray(v, dtype=float)
    return {
        "mean": float(a.mean()),
        "se": float(a.std(ddof=1) / np.sqrt(len(a))) if len(a) > 1 else float("nan"),
        "median": float(np.median(a)),
        "n": len(a),
    }


def _beta_on_hidden(seed: int, hidden_idx: list[int]) -> int:
    """How many hidden covariates surface B gives outcome weight in this realisation."""
    rs = np.random.RandomState(seed)  # the loader's first draw (EconML's generator)
    beta = rs.choice([0, 0.1, 0.2, 0.3, 0.4], size=26, replace=True, p=[0.6, 0.1, 0.1, 0.1, 0.1])
    return int(sum(beta[1 + j] != 0 for j in hidden_idx))


def main() -> None:
    args = setup(
        __doc__.splitlines()[0],
        realisations=(int, 60, "realisations of surface B for the fast methods"),
        deep_realisations=(int, 6, "realisations for CEVAE/VLUCI/Pyro (the first ones)"),
        path=(str, None, "a local IHDP CSV (default: EconML's copy of the covariates)"),
    )
    warnings.filterwarnings("ignore", module=r"(econml|dowhy|sklearn|pyro|pandas|statsmodels)")
    warnings.filterwarnings("ignore", category=FutureWarning)
    for noisy in ("pyro", "dowhy", "econml"):  # INFO chatter (DoWhy configures logging)
        logging.getLogger(noisy).setLevel(logging.ERROR)
    from latentinfer.core.seeding import derive_seed
    from latentinfer.data import causal_sample, load
    from latentinfer.data.causal import IHDP_COVARIATES

    n_all = 5 if args.quick else args.realisations
    n_deep = min(n_all, 2 if args.quick else args.deep_realisations)
    cheap, deep = methods()
    hidden_idx = [IHDP_COVARIATES.index(c) for c in HIDDEN]
    records: list[dict[str, Any]] = []
    seconds: dict[str, list[float]] = {}
    for r in range(n_all):
        s = causal_sample(load("ihdp", path=args.path, seed=r))
        fit, test = _split(len(s.Y), r)
        keep = [j for j in range(s.X.shape[1]) if j not in hidden_idx]
        rec: dict[str, Any] = {
            "realisation": r,
            "hidden_with_outcome_weight": _beta_on_hidden(r, hidden_idx),
            "scores": {},
        }
        todo = dict(cheap) | (dict(deep) if r < n_deep else {})
        for name, run in todo.items():
            x = s.X[:, keep] if name.endswith("[hidden]") else s.X
            start = time.perf_counter()
            tin, tout = run(s.Y[fit], s.T[fit], x[fit], x[test], derive_seed(7, r) % 2**31)
            seconds.setdefault(name, []).append(time.perf_counter() - start)
            ite_in, ite_out = s.ite[fit], s.ite[test]
            rec["scores"][name] = {
                "pehe_in": float(np.sqrt(np.mean((tin - ite_in) ** 2))),
                "pehe_out": float(np.sqrt(np.mean((tout - ite_out) ** 2))),
                "ate_in": float(abs(tin.mean() - ite_in.mean())),
                "ate_out": float(abs(tout.mean() - ite_out.mean())),
            }
        records.append(rec)
        took = ", ".join(f"{k.split(' (')[0]} {v[-1]:.1f}" for k, v in seconds.items() if k in todo)
        print(f"realisation {r} ({time.time() - args.started:.0f} s so far): {took}", flush=True)

    names = list(cheap) + list(deep)
    # "VLUCI alone" is scored inside the plug-in's call (its own time is ~0)
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        got = [rec["scores"][name] for rec in records if name in rec["scores"]]
        results[name] = {
            k: _summary([g[k] for g in got]) for k in ("pehe_in", "pehe_out", "ate_in", "ate_out")
        } | {"seconds_per_fit": float(np.median(seconds[name])), "realisations": len(got)}

    def paired(a: str, b: str, key: str) -> dict[str, float]:
        """Share of realisations where ``a`` beats ``b`` on ``key``, and the mean gap."""
        both = [rec["scores"] for rec in records if a in rec["scores"] and b in rec["scores"]]
        d = np.array([sc[a][key] - sc[b][key] for sc in both])
        return {
            "win_rate": float(np.mean(d < 0)),
            "mean_difference": float(d.mean()),
            "se_difference": float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan"),
            "n": len(d),
        }

    pairs = [
        ("VLUCI + T-learner GB (plug-in)", "T-learner, gradient boosting"),
        ("VLUCI + T-learner GB (plug-in) [hidden]", "T-learner, gradient boosting [hidden]"),
        ("T-learner, gradient boosting", "T-learner, gradient boosting [hidden]"),
        ("VLUCI alone", "CEVAE (ours)"),
        ("VLUCI + T-learner GB (plug-in)", "CEVAE (ours)"),
        ("CEVAE (ours)", "Pyro CEVAE (docs settings, y standardised)"),
        ("EconML TLearner (GB)", "CEVAE (ours)"),
        ("T-learner, gradient boosting", "EconML TLearner (GB)"),
    ]
    comparisons = []
    for a, b in pairs:
        if a in results and b in results:
            comparisons.append(
                {"a": a, "b": b} | {k: paired(a, b, k) for k in ("pehe_in", "pehe_out", "ate_out")}
            )

    def cell(name: str, key: str) -> str:
        v = results[name][key]
        return f"{v['mean']:.3g} ± {v['se']:.2g} ({v['median']:.3g})"

    print("IHDP surface B: mean ± SE (median) over realisations, 90/10 split")
    print_table(
        ["method", "n", "√PEHE in", "√PEHE out", "ATE err in", "ATE err out", "s/fit"],
        [
            [name, results[name]["realisations"], cell(name, "pehe_in"), cell(name, "pehe_out"),
             cell(name, "ate_in"), cell(name, "ate_out"), results[name]["seconds_per_fit"]]
            for name in names
        ],
    )  # fmt: skip
    print("Paired (a beats b: share of realisations with a lower error):")
    print_table(
        ["a", "b", "n", "win √PEHE in", "win √PEHE out", "mean Δ√PEHE out"],
        [
            [c["a"], c["b"], c["pehe_out"]["n"], c["pehe_in"]["win_rate"],
             c["pehe_out"]["win_rate"], c["pehe_out"]["mean_difference"]]
            for c in comparisons
        ],
    )  # fmt: skip
    versions = {}
    for mod in ("econml", "dowhy", "pyro", "sklearn", "torch"):
        if _have(mod):
            versions[mod] = getattr(__import__(mod), "__version__", "?")
    write_result(
        "ihdp",
        args,
        {
            "setting": {
                "surface": "B",
                "realisations": n_all,
                "deep_realisations": n_deep,
                "split": "90% fit / 10% test, seeded permutation per realisation",
                "hidden_covariates": HIDDEN,
                "source": str(load("ihdp", path=args.path, seed=0).info["source"]).split(
                    "site-packages/"
                )[-1],
            },
            "methods": names,
            "results": results,
            "comparisons": comparisons,
            "published": PUBLISHED,
            "published_source": PUBLISHED_SOURCE,
            "versions": versions,
            "records": records,
        },
    )


if __name__ == "__main__":
    main()
