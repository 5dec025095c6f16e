"""Time to fit our CEVAE and VLUCI against Pyro's CEVAE, same data, architecture and steps.

Both sides train the CEVAE of Louizos et al. (2017) with Pyro's documented settings:
latent 20, three hidden layers of 200, ELU, batches of 100, 50 epochs, Adam at 1e-3 with
weight decay 1e-4. Ours runs exactly 50 epochs over all the rows (``val_fraction=0``: no
held-out rows, no early stopping, no best-weight restore); Pyro's ``CEVAE.fit`` does the
same with its ``ClippedAdam`` (learning rate decayed to 0.1× over the run; ours constant:
the schedule costs nothing either way). VLUCI is timed with the same widths, latent size,
batches and epochs and one particle (the same single-sample objective as CEVAE's), and,
once and on the IHDP-sized data only, with its default 8 importance particles and at its
own defaults.

Data: IHDP-sized (all 747 rows × 25 covariates of IHDP, surface B realisation 0; needs
EconML's copy of the covariates or ``--path``, else a synthetic stand-in of that shape),
and a synthetic 5,000-row set (``confounded_proxies`` with 20 proxies: 25 columns).

Timing: wall clock of ``fit`` (and, separately, of predicting the effects of all rows
with 100 posterior draws on both sides), in ``--rounds`` rounds that alternate the
libraries; the best and the median of the rounds are reported, as the ratio
``peer_time / our_time`` (> 1: we are faster). One thread on both sides
(``torch.set_num_threads`` and the OpenMP/MKL variables, set before torch loads).
``--profile`` adds torch.profiler's top operators of one of our fits.

    pip install -e ".[bench-causal]"                  # pyro-ppl 1.9.2 (and econml for IHDP)
    python benchmarks/causal/cevae_speed.py           # ~6 min on 1 thread
    python benchmarks/causal/cevae_speed.py --quick   # 1 round, 3 epochs
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

# before torch (and NumPy's BLAS) load: the thread count of --threads (default 1)
os.environ["OMP_NUM_THREADS"] = (
    sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
)
os.environ["MKL_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"]
os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from _common import print_table, setup, write_result

ARCH = {"latent_dim": 20, "hidden": (200, 200, 200), "activation": "elu"}


def _data(name: str, path: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    from latentinfer.data import causal_sample, load

    if name == "ihdp":
        try:
            s = causal_sample(load("ihdp", path=path, seed=0))
            return s.Y, s.T, s.X, "IHDP covariates, surface B realisation 0"
        except Exception as err:  # no covariates here: a synthetic stand-in of that shape
            print(f"IHDP unavailable ({err}); using a synthetic 747 × 25 stand-in")
            s = causal_sample(load("confounded_proxies", n=747, n_proxies=20, seed=0))
            return s.Y, s.T, s.X, "synthetic stand-in (confounded_proxies, 747 × 25)"
    s = causal_sample(load("confounded_proxies", n=5000, n_proxies=20, seed=0))
    return s.Y, s.T, s.X, "confounded_proxies, n = 5000, 20 proxies (25 columns)"


def _ours(kind: str, epochs: int) -> tuple[Callable[..., Any], Callable[[Any, np.ndarray], Any]]:
    from latentinfer.causal import CEVAE, VLUCI

    opts = {
        "max_epochs": epochs,
        "batch_size": 100,
        "lr": 1e-3,
        "weight_decay": 1e-4,
        "val_fraction": 0.0,
        "patience": None,
        "restore_best": False,
        "lr_schedule": "constant",
        "max_steps": None,
        "progress": False,
        "device": "cpu",
    }

    def fit(y: np.ndarray, t: np.ndarray, x: np.ndarray) -> Any:
        if kind == "CEVAE":
            m: Any = CEVAE(**ARCH, n_samples=100, seed=0)
            return m.fit(y, t, X=x, **opts)
        if kind.startswith("VLUCI K="):  # same widths; K importance particles
            m = VLUCI(**ARCH, n_particles=int(kind[8:]), n_samples=100, seed=0)
            return m.fit(y, t, X=x, **opts)
        return VLUCI(seed=0).fit(y, t, X=x, progress=False, device="cpu")  # its defaults

    def predict(m: Any, x: np.ndarray) -> Any:
        return m.effect(x)

    return fit, predict


def _pyro(epochs: int) -> tuple[Callable[..., Any], Callable[[Any, np.ndarray], Any]]:
    import pyro
    import torch
    from pyro.contrib.cevae import CEVAE as PyroCEVAE

    def fit(y: np.ndarray, t: np.ndarray, x: np.ndarray) -> Any:
        pyro.clear_param_store()
        pyro.set_rng_seed(0)
        f = torch.float32
        m = PyroCEVAE(x.shape[1], outcome_dist="normal", latent_dim=20, hidden_dim=200,
                      num_layers=3, num_samples=100)  # fmt: skip
        ys = (y - y.mean()) / y.std()
        m.fit(torch.as_tensor(x, dtype=f), torch.as_tensor(t, dtype=f),
              torch.as_tensor(ys, dtype=f), num_epochs=epochs, batch_size=100,
              learning_rate=1e-3, learning_rate_decay=0.1, weight_decay=1e-4,
              log_every=0)  # fmt: skip
        return m

    def predict(m: Any, x: np.ndarray) -> Any:
        with torch.no_grad():
            return m.ite(torch.as_tensor(x, dtype=torch.float32))

    return fit, predict


def _profile(y: np.ndarray, t: np.ndarray, x: np.ndarray, epochs: int) -> list[dict[str, Any]]:
    from torch.profiler import ProfilerActivity, profile

    fit, _ = _ours("CEVAE", epochs)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fit(y, t, x)
    rows = []
    for ev in sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:15]:
        rows.append(
            {"op": ev.key, "self_ms": ev.self_cpu_time_total / 1e3, "calls": ev.count,
             "total_ms": ev.cpu_time_total / 1e3}
        )  # fmt: skip
    return rows


def main() -> None:
    args = setup(
        __doc__.splitlines()[0],
        rounds=(int, 3, "alternating timing rounds (best and median reported)"),
        epochs=(int, 50, "training epochs on both sides"),
        path=(str, None, "a local IHDP CSV (default: EconML's copy of the covariates)"),
        profile=(int, 0, "1: torch.profiler's top operators of one of our CEVAE fits"),
    )
    warnings.filterwarnings("ignore", module=r"(pyro|econml|sklearn)")
    for noisy in ("pyro", "pyro.contrib.cevae"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    import torch

    from latentinfer.core.seeding import derive_seed

    rounds, epochs = (1, 3) if args.quick else (args.rounds, args.epochs)
    have_pyro = True
    try:
        peer = _pyro(epochs)
        import pyro

        pyro_version = pyro.__version__
    except ImportError:
        have_pyro, pyro_version = False, None
        print("pyro-ppl is not installed: timing ours only (pip install -e '.[bench-causal]')")
    sides: dict[str, tuple[Callable[..., Any], Callable[[Any, np.ndarray], Any]]] = {
        "latentinfer CEVAE": _ours("CEVAE", epochs),
        "latentinfer VLUCI (same widths, 1 particle)": _ours("VLUCI K=1", epochs),
    }
    if have_pyro:
        sides["Pyro CEVAE"] = peer
    results = []
    for data_name in ("ihdp", "synthetic"):
        y, t, x, described = _data(data_name, args.path)
        xp = x[:1000]  # rows whose effects are predicted (100 posterior draws each)
        fits: dict[str, list[float]] = {k: [] for k in sides}
        preds: dict[str, list[float]] = {k: [] for k in sides}
        for r in range(rounds):
            order = list(sides) if r % 2 == 0 else list(sides)[::-1]
            for name in order:
                fit, predict = sides[name]
                torch.manual_seed(derive_seed(0, r))
                start = time.perf_counter()
                model = fit(y, t, x)
                fits[name].append(time.perf_counter() - start)
                start = time.perf_counter()
                predict(model, xp)
                preds[name].append(time.perf_counter() - start)
        # once each, IHDP-sized only (minutes each at 5,000 rows): VLUCI with the same
        # widths and its default 8 particles, and VLUCI at its own defaults (latent 1,
        # hidden 64 × 64, up to 2,500 steps of batches of 128)
        extras: dict[str, dict[str, float]] = {}
        if data_name == "ihdp" and not args.quick:
            for label, kind in (
                ("latentinfer VLUCI (same widths, 8 particles)", "VLUCI K=8"),
                ("latentinfer VLUCI (its defaults)", "VLUCI-defaults"),
            ):
                fit, predict = _ours(kind, epochs)
                start = time.perf_counter()
                model = fit(y, t, x)
                extras[label] = {"fit_seconds": time.perf_counter() - start}
                start = time.perf_counter()
                predict(model, xp)
                extras[label]["predict_seconds"] = time.perf_counter() - start
        steps = epochs * -(-len(y) // 100)
        entry: dict[str, Any] = {
            "data": data_name,
            "described": described,
            "rows": len(y),
            "columns": x.shape[1],
            "steps": steps,
            "sides": {},
            "once": extras,
            "predict_rows": len(xp),
        }
        for name in sides:
            entry["sides"][name] = {
                "fit_best": min(fits[name]),
                "fit_median": statistics.median(fits[name]),
                "fit_all": fits[name],
                "ms_per_step_best": 1e3 * min(fits[name]) / steps,
                "predict_best": min(preds[name]),
                "predict_median": statistics.median(preds[name]),
            }
        if have_pyro:
            p = entry["sides"]["Pyro CEVAE"]
            for name in sides:
                if name == "Pyro CEVAE":
                    continue
                o = entry["sides"][name]
                o["ratio_best"] = p["fit_best"] / o["fit_best"]
                o["ratio_median"] = p["fit_median"] / o["fit_median"]
                o["predict_ratio_best"] = p["predict_best"] / o["predict_best"]
        results.append(entry)
    rows = []
    for e in results:
        for name, v in e["sides"].items():
            rows.append(
                [e["data"], name, v["fit_best"], v["fit_median"], v["ms_per_step_best"],
                 v.get("ratio_best", "—"), v.get("ratio_median", "—"), v["predict_best"],
                 v.get("predict_ratio_best", "—")]
            )  # fmt: skip
        for name, v in e["once"].items():
            rows.append([e["data"], name + " (1 run)", v["fit_seconds"], "—", "—", "—", "—",
                         v["predict_seconds"], "—"])  # fmt: skip
    print(f"Fit time, {epochs} epochs, batch 100, {args.threads} thread(s), {rounds} rounds")
    print_table(
        ["data", "implementation", "fit best s", "fit median s", "ms/step", "× best",
         "× median", "predict s", "predict ×"],
        rows,
    )  # fmt: skip
    profile_rows = None
    if args.profile:
        y, t, x, _ = _data("ihdp", args.path)
        profile_rows = _profile(y, t, x, min(epochs, 10))
        print_table(
            ["op", "self ms", "calls", "total ms"],
            [[r["op"], r["self_ms"], r["calls"], r["total_ms"]] for r in profile_rows],
        )
    write_result(
        "cevae_speed",
        args,
        {
            "setting": {"epochs": epochs, "batch_size": 100, "rounds": rounds, **ARCH,
                        "hidden": list(ARCH["hidden"])},
            "pyro": pyro_version,
            "results": results,
            "profile_top_ops": profile_rows,
        },
    )  # fmt: skip


if __name__ == "__main__":
    main()
