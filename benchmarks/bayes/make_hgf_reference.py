"""Write pyhgf 0.2.12's float64 HGF trajectories to ``tests/bayes/data/``, so CI can check ours.

Run it in an environment that has ``pyhgf==0.2.12`` (and its pinned ``jax==0.4.31``)::

    /tmp/pyhgf-env/bin/python benchmarks/bayes/make_hgf_reference.py

It never imports latentinfer. It builds each case with ``pyhgf.model.HGF``, feeds a fixed
NumPy-seeded series through ``HGF.input_data`` in float64, and stores what pyhgf computed.
It then replays every case from the stored file alone with an independent float64 NumPy
implementation of the HGF equations (``replay_case`` below, written from the update
equations, not from pyhgf's code) and prints the worst relative error; run
``... make_hgf_reference.py --check-only`` to replay an existing file without pyhgf.

Layout of ``hgf_reference_pyhgf_0.2.12.npz`` (every array float64 unless said otherwise;
strings are 0-d unicode arrays, so ``np.load(path)`` needs no pickle)::

    meta                      JSON: pyhgf/jax/numpy versions, seed, the command, case names
    <case>/kwargs             JSON: the exact keyword arguments passed to pyhgf.model.HGF
    <case>/structure          JSON: the network pyhgf built (see ``network_structure``): for
                              each node its kind, node_type, value/volatility parents and
                              children, coupling strengths, autoconnection strength, every
                              attribute's initial value, whether it is an input node; plus
                              the prediction order and the update sequence pyhgf runs
    <case>/input              (T,) the observations u_k passed to input_data
    <case>/time_steps         (T,) dt_k (ones unless the case has irregular time steps)
    <case>/observed           (T,) int64 mask passed to input_data (ones unless said)
    <case>/surprise           (T,) HGF.surprise(): first-level surprise per step
    <case>/total_surprise     (T,) to_pandas()["total_surprise"]
    <case>/node<i>/surprise   (T,) to_pandas()[f"x_{i}_surprise"], each node's own surprise
    <case>/node<i>/<q>        (T,) pyhgf's value of quantity q for node i after step k, for q in
                              mean, precision, expected_mean, expected_precision, observed,
                              effective_precision, value_prediction_error,
                              volatility_prediction_error, current_variance (the last four
                              are pyhgf's node["temp"] entries; a binary node has only
                              value_prediction_error among them)

Cases: ``continuous2_*``, ``continuous3_*`` (input node 0, x1 = node 1, x2 = node 2,
x3 = node 3), ``binary2_*``, ``binary3_*`` (binary input node 0 = level 1, x2 = node 1,
x3 = node 2), each under ``standard`` and ``eHGF``, plus ``continuous2_eHGF_timesteps``
(irregular positive dt), ``continuous2_eHGF_missing`` and ``binary3_eHGF_missing`` (an
``observed`` mask with zeros), ``continuous2_standard_cap`` (x1's posterior precision hits
pyhgf's 1e10 cap). Every case uses non-default parameters.

These are numbers produced by running pyhgf (GPL-3.0); no pyhgf code is copied here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

SEED = 20240611
T = 300
ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "bayes" / "data" / "hgf_reference_pyhgf_0.2.12.npz"
COMMAND = "/tmp/pyhgf-env/bin/python benchmarks/bayes/make_hgf_reference.py"
QUANTITIES = ("mean", "precision", "expected_mean", "expected_precision", "observed")
TEMP = (
    "effective_precision",
    "value_prediction_error",
    "volatility_prediction_error",
    "current_variance",
)

# ----------------------------------------------------------------------------- inputs


def continuous_series(rng: np.random.Generator, dt: np.ndarray) -> np.ndarray:
    """A random walk whose step size switches every 60 steps, plus small observation noise."""
    n = len(dt)
    sd = np.repeat([0.03, 0.4, 0.08, 0.6, 0.02], int(np.ceil(n / 5)))[:n]
    walk = np.cumsum(rng.normal(0.0, 1.0, n) * sd * np.sqrt(dt))
    return 0.5 + walk + rng.normal(0.0, 0.02, n)


def binary_series(rng: np.random.Generator, n: int) -> np.ndarray:
    """Bernoulli draws whose probability switches between blocks of 50."""
    p = np.repeat([0.8, 0.2, 0.8, 0.5, 0.9, 0.1], int(np.ceil(n / 6)))[:n]
    return (rng.uniform(size=n) < p).astype(np.float64)


# ------------------------------------------------------------------------------ cases

CONT2 = {
    "n_levels": 2,
    "model_type": "continuous",
    "initial_mean": {"1": 0.3, "2": -0.5},
    "initial_precision": {"1": 2.0, "2": 1.5},
    "tonic_volatility": {"1": -2.5, "2": -4.5},
    "tonic_drift": {"1": 0.004, "2": -0.002},
    "volatility_coupling": {"1": 0.8},
    "continuous_precision": 400.0,
}
CONT3 = {
    "n_levels": 3,
    "model_type": "continuous",
    "initial_mean": {"1": 0.3, "2": -0.5, "3": 0.4},
    "initial_precision": {"1": 2.0, "2": 1.5, "3": 3.0},
    "tonic_volatility": {"1": -2.5, "2": -4.5, "3": -5.5},
    "tonic_drift": {"1": 0.004, "2": -0.002, "3": 0.001},
    "volatility_coupling": {"1": 0.8, "2": 0.6},
    "continuous_precision": 400.0,
}
# binary: level "1" is the binary input node (its mean/precision are overwritten each step,
# its tonic volatility/drift are never read), level "2" is node 1, level "3" is node 2;
# volatility_coupling["2"] couples node 2 to node 1 ("1" is never read).
BIN3 = {
    "n_levels": 3,
    "model_type": "binary",
    "initial_mean": {"1": 0.0, "2": 0.2, "3": 0.5},
    "initial_precision": {"1": 1.0, "2": 1.5, "3": 0.8},
    "tonic_volatility": {"2": -3.5, "3": -5.0},
    "tonic_drift": {"2": 0.01, "3": -0.004},
    "volatility_coupling": {"2": 0.9},
}
BIN2 = {
    "n_levels": 2,
    "model_type": "binary",
    "initial_mean": {"1": 0.0, "2": -0.3},
    "initial_precision": {"1": 1.0, "2": 0.7},
    "tonic_volatility": {"2": -2.0},
    "tonic_drift": {"2": 0.005},
}
CAP = {
    "n_levels": 2,
    "model_type": "continuous",
    "initial_mean": {"1": 0.5, "2": -1.0},
    "initial_precision": {"1": 1e3, "2": 2.0},
    "tonic_volatility": {"1": -16.0, "2": -6.0},
    "tonic_drift": {"1": 0.0, "2": 0.0},
    "volatility_coupling": {"1": 1.2},
    "continuous_precision": 2e10,
}


def make_cases(rng: np.random.Generator) -> dict[str, dict]:
    """Each case: kwargs for pyhgf.model.HGF, input series, time steps, observed mask."""
    ones = np.ones(T)
    obs1 = np.ones(T, dtype=np.int64)
    u_cont = continuous_series(rng, ones)
    u_bin = binary_series(rng, T)
    dt = rng.uniform(0.2, 2.5, T)
    u_dt = continuous_series(rng, dt)
    missing = (rng.uniform(size=T) > 0.15).astype(np.int64)
    missing[:3] = 1
    n_cap = 60
    u_cap = 0.5 + np.cumsum(rng.normal(0.0, 1e-4, n_cap))
    cases: dict[str, dict] = {}
    for update_type in ("standard", "eHGF"):
        for name, kw, u in (
            ("continuous2", CONT2, u_cont),
            ("continuous3", CONT3, u_cont),
            ("binary2", BIN2, u_bin),
            ("binary3", BIN3, u_bin),
        ):
            cases[f"{name}_{update_type}"] = {
                "kwargs": {**kw, "update_type": update_type},
                "input": u,
                "time_steps": ones,
                "observed": obs1,
            }
    cases["continuous2_eHGF_timesteps"] = {
        "kwargs": {**CONT2, "update_type": "eHGF"},
        "input": u_dt,
        "time_steps": dt,
        "observed": obs1,
    }
    cases["continuous2_eHGF_missing"] = {
        "kwargs": {**CONT2, "update_type": "eHGF"},
        "input": u_cont,
        "time_steps": ones,
        "observed": missing,
    }
    cases["binary3_eHGF_missing"] = {
        "kwargs": {**BIN3, "update_type": "eHGF"},
        "input": u_bin,
        "time_steps": ones,
        "observed": missing,
    }
    cases["continuous2_standard_cap"] = {
        "kwargs": {**CAP, "update_type": "standard"},
        "input": u_cap,
        "time_steps": np.ones(n_cap),
        "observed": np.ones(n_cap, dtype=np.int64),
    }
    return cases


# -------------------------------------------------------------------------- with pyhgf

KINDS = {0: "constant-state", 1: "binary-state", 2: "continuous-state"}


def _jsonable(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    arr = np.asarray(value)
    return arr.tolist()


def _fn_name(fn) -> str:
    return getattr(fn, "__name__", None) or fn.func.__name__


def network_structure(hgf) -> dict:
    """The network pyhgf built, as plain JSON-able data (initial values, before any input)."""
    input_idxs = list(hgf.input_idxs)
    nodes = []
    for i, edge in enumerate(hgf.edges):
        attrs = hgf.attributes[i]
        nodes.append(
            {
                "index": i,
                "kind": KINDS.get(edge.node_type, str(edge.node_type)),
                "node_type": edge.node_type,
                "is_input": i in input_idxs,
                "value_parents": _jsonable(edge.value_parents),
                "volatility_parents": _jsonable(edge.volatility_parents),
                "value_children": _jsonable(edge.value_children),
                "volatility_children": _jsonable(edge.volatility_children),
                "coupling_fn": [None if f is None else repr(f) for f in (edge.coupling_fn or ())],
                "value_coupling_parents": _jsonable(attrs.get("value_coupling_parents")),
                "value_coupling_children": _jsonable(attrs.get("value_coupling_children")),
                "volatility_coupling_parents": _jsonable(attrs.get("volatility_coupling_parents")),
                "volatility_coupling_children": _jsonable(
                    attrs.get("volatility_coupling_children")
                ),
                "autoconnection_strength": _jsonable(attrs.get("autoconnection_strength")),
                "attributes": _jsonable(attrs),
            }
        )
    seq = hgf.update_sequence
    return {
        "nodes": nodes,
        "input_idxs": input_idxs,
        "max_posterior_precision": float(hgf.max_posterior_precision),
        "prediction_steps": [[i, _fn_name(f)] for i, f in seq.prediction_steps],
        "update_steps": [[i, _fn_name(f)] for i, f in seq.update_steps],
    }


def run_pyhgf(cases: dict[str, dict]) -> dict[str, np.ndarray]:
    import jax

    jax.config.update("jax_enable_x64", True)
    import pyhgf
    from pyhgf.model import HGF

    arrays: dict[str, np.ndarray] = {}
    for name, case in cases.items():
        hgf = HGF(**case["kwargs"])
        structure = network_structure(hgf)
        hgf.input_data(
            input_data=np.asarray(case["input"], dtype=np.float64),
            time_steps=np.asarray(case["time_steps"], dtype=np.float64),
            observed=np.asarray(case["observed"], dtype=np.int64),
        )
        arrays[f"{name}/kwargs"] = np.array(json.dumps(case["kwargs"], sort_keys=True))
        arrays[f"{name}/structure"] = np.array(json.dumps(structure, sort_keys=True))
        arrays[f"{name}/input"] = np.asarray(case["input"], dtype=np.float64)
        arrays[f"{name}/time_steps"] = np.asarray(case["time_steps"], dtype=np.float64)
        arrays[f"{name}/observed"] = np.asarray(case["observed"], dtype=np.int64)
        traj = hgf.node_trajectories
        for i in range(len(hgf.edges)):
            for q in QUANTITIES:
                dtype = np.int64 if q == "observed" else np.float64
                arrays[f"{name}/node{i}/{q}"] = np.asarray(traj[i][q], dtype=dtype)
            for q in TEMP:
                if q in traj[i]["temp"]:
                    arrays[f"{name}/node{i}/{q}"] = np.asarray(traj[i]["temp"][q], np.float64)
        arrays[f"{name}/surprise"] = np.asarray(hgf.surprise(), dtype=np.float64)
        df = hgf.to_pandas()
        arrays[f"{name}/total_surprise"] = df["total_surprise"].to_numpy(np.float64)
        for i in range(len(hgf.edges)):
            if f"x_{i}_surprise" in df:
                arrays[f"{name}/node{i}/surprise"] = df[f"x_{i}_surprise"].to_numpy(np.float64)
        # sanity: the filter stayed well-behaved
        for i in range(len(hgf.edges)):
            for q in ("mean", "precision", "expected_precision"):
                v = arrays[f"{name}/node{i}/{q}"]
                assert np.all(np.isfinite(v)), (name, i, q)
                if q != "mean":
                    assert np.all(v > 0), (name, i, q)
    arrays["meta"] = np.array(
        json.dumps(
            {
                "source": "pyhgf 0.2.12 (GPL-3.0): numbers produced by running it, no code",
                "pyhgf": pyhgf.__version__ if hasattr(pyhgf, "__version__") else "0.2.12",
                "jax": jax.__version__,
                "numpy": np.__version__,
                "seed": SEED,
                "command": COMMAND,
                "float": "float64 (jax_enable_x64)",
                "cases": list(cases),
            }
        )
    )
    return arrays


# ------------------------------------------------------- independent NumPy float64 replay


def _gauss_surprise(x, m, p):
    return 0.5 * (np.log(2.0 * np.pi) - np.log(p) + p * (x - m) ** 2)


def _bin_surprise(x, m):
    m = np.clip(m, 1e-6, 1.0 - 1e-6)
    return -np.log(m) if x else -np.log(1.0 - m)


def replay_case(data, name: str) -> dict[str, np.ndarray]:
    """Replay one case from the stored structure with the HGF equations (NumPy float64).

    Written from the equations in shared/methods/bayes.md, not from pyhgf's code.
    """
    structure = json.loads(str(data[f"{name}/structure"]))
    nodes = structure["nodes"]
    cap = structure["max_posterior_precision"]
    n = len(nodes)
    u_all = data[f"{name}/input"]
    dt_all = data[f"{name}/time_steps"]
    obs_all = data[f"{name}/observed"]
    inputs = structure["input_idxs"]
    assert inputs == [0]

    def lst(v):
        return [] if v is None else list(v)

    vap = [lst(nd["value_parents"]) for nd in nodes]
    vop = [lst(nd["volatility_parents"]) for nd in nodes]
    vac = [lst(nd["value_children"]) for nd in nodes]
    voc = [lst(nd["volatility_children"]) for nd in nodes]
    psi_p = [lst(nd["value_coupling_parents"]) for nd in nodes]
    psi_c = [lst(nd["value_coupling_children"]) for nd in nodes]
    kap_p = [lst(nd["volatility_coupling_parents"]) for nd in nodes]
    kap_c = [lst(nd["volatility_coupling_children"]) for nd in nodes]
    binary = [nd["node_type"] == 1 for nd in nodes]
    a0 = [nd["attributes"] for nd in nodes]
    lam = [a.get("autoconnection_strength", 1.0) for a in a0]
    omega = [a.get("tonic_volatility", 0.0) for a in a0]
    rho = [a.get("tonic_drift", 0.0) for a in a0]
    ehgf = json.loads(str(data[f"{name}/kwargs"]))["update_type"] == "eHGF"

    # parents before children (top-down) for predictions; children before parents upwards
    order: list[int] = []
    while len(order) < n:
        for i in range(n):
            if i not in order and all(p in order for p in vap[i] + vop[i]):
                order.append(i)
    up = order[::-1]

    mu = np.array([float(a["mean"]) for a in a0])
    pi = np.array([float(a["precision"]) for a in a0])
    muh = np.array([float(a["expected_mean"]) for a in a0])
    pih = np.array([float(a["expected_precision"]) for a in a0])
    gam = np.zeros(n)
    vape = np.zeros(n)
    vope = np.zeros(n)
    curvar = np.ones(n)
    observed = np.ones(n, dtype=np.int64)

    steps = len(u_all)
    out = {f"node{i}/{q}": np.zeros(steps) for i in range(n) for q in (*QUANTITIES, *TEMP)}
    out["surprise"] = np.zeros(steps)
    out["total_surprise"] = np.zeros(steps)
    for i in range(n):
        out[f"node{i}/surprise"] = np.zeros(steps)
    for k in range(steps):
        dt = dt_all[k]
        # 1. predictions, top-down
        for a in order:
            if binary[a]:
                s = sum(muh[b] for b in vap[a])
                m = np.clip(1.0 / (1.0 + np.exp(-s)), 1e-6, 1.0 - 1e-6)
                muh[a], pih[a] = m, m * (1.0 - m)
                continue
            curvar[a] = 1.0 / pi[a]
            muh[a] = lam[a] * mu[a] + dt * (
                rho[a] + sum(p * muh[b] for p, b in zip(psi_p[a], vap[a]))
            )
            big_omega = dt * np.exp(omega[a] + sum(c * muh[b] for c, b in zip(kap_p[a], vop[a])))
            if not big_omega > 1e-128:
                big_omega = np.nan
            ph = 1.0 / (1.0 / pi[a] + big_omega)
            gam[a] = big_omega * ph
            is_leaf = not vac[a] and not voc[a] and not vop[a]
            pih[a] = pi[a] if is_leaf else ph
        # 2. observation
        mu[0], observed[0] = u_all[k], obs_all[k]
        # 3. bottom-up: prediction error of a child once it is updated, then its parents
        for a in up:
            if vac[a] or voc[a]:  # posterior update of a parent node
                obs_any = any(observed[j] for j in vac[a] + voc[a])
                if obs_any:
                    prec = pih[a]
                    prec += sum(p**2 * pih[j] * observed[j] for p, j in zip(psi_c[a], vac[a]))
                    prec += sum(
                        0.5
                        * c**2
                        * gam[j]
                        * (gam[j] + (2.0 * gam[j] - 1.0) * vope[j])
                        * observed[j]
                        for c, j in zip(kap_c[a], voc[a])
                    )
                    if not prec > 1e-128:
                        prec = np.nan
                else:  # no child observed: predict the precision forward, keep the mean
                    tot = omega[a] + sum(c * mu[b] for c, b in zip(kap_p[a], vop[a]))
                    prec = 1.0 / (1.0 / pi[a] + dt * np.exp(tot))
                prec = min(prec, cap) if np.isfinite(prec) else prec

                def mean_with(p_used, a=a):
                    m = muh[a]
                    m += sum(
                        c * pih[j] / p_used * vape[j] * observed[j]
                        for c, j in zip(psi_c[a], vac[a])
                    )
                    m += sum(
                        c * gam[j] * vope[j] / (2.0 * p_used) * observed[j]
                        for c, j in zip(kap_c[a], voc[a])
                    )
                    return m

                if ehgf and voc[a]:
                    mu[a] = mean_with(pih[a])
                    pi[a] = prec
                else:
                    pi[a] = prec
                    mu[a] = mean_with(pi[a])
            if vap[a] or vop[a]:  # prediction errors of a child node
                if binary[a]:
                    vape[a] = (mu[a] - muh[a]) * observed[a] / pih[a]
                    pi[a] = pih[a]
                else:
                    vape[a] = mu[a] - muh[a]
                    vope[a] = pih[a] / pi[a] + pih[a] * vape[a] ** 2 - 1.0
                    if vop[a]:
                        vope[a] /= len(vop[a])
        # record
        for i in range(n):
            for q, arr in (
                ("mean", mu),
                ("precision", pi),
                ("expected_mean", muh),
                ("expected_precision", pih),
                ("observed", observed),
                ("effective_precision", gam),
                ("value_prediction_error", vape),
                ("volatility_prediction_error", vope),
                ("current_variance", curvar),
            ):
                out[f"node{i}/{q}"][k] = arr[i]
        if binary[0]:
            s = _bin_surprise(u_all[k], muh[0])
        else:
            s = _gauss_surprise(u_all[k], muh[1], pih[1])
        out["surprise"][k] = np.inf if np.isnan(s) else s
        parts = []
        for i in range(n):
            si = (
                _bin_surprise(mu[i], muh[i])
                if binary[i]
                else _gauss_surprise(mu[i], muh[i], pih[i])
            )
            out[f"node{i}/surprise"][k] = si
            parts.append(si)
        parts = [p for p in parts if not np.isnan(p)]
        out["total_surprise"][k] = sum(parts) if parts else np.nan
    return out


def check(path: Path = OUT) -> float:
    """Replay every case in the file; print and return the worst relative error.

    Two measures per series: the error relative to the series' largest magnitude (the one
    returned, robust where a quantity crosses zero), and the pointwise relative error over
    the steps whose magnitude is at least 1e-3 of that largest one.
    """
    data = np.load(path)
    cases = json.loads(str(data["meta"]))["cases"]
    worst_all = 0.0
    for name in cases:
        rep = replay_case(data, name)
        stored = [k[len(name) + 1 :] for k in data.files if k.startswith(name + "/node")]
        stored += ["surprise", "total_surprise"]
        missing = sorted(set(stored) - set(rep))
        assert not missing, (name, missing)
        worst, where, worst_pt = 0.0, "", 0.0
        for key in stored:
            ref = data[f"{name}/{key}"].astype(np.float64)
            val = rep[key]
            assert np.array_equal(np.isfinite(ref), np.isfinite(val)), (name, key)
            fin = np.isfinite(ref)
            assert np.array_equal(ref[~fin], val[~fin]), (name, key)
            ref, val = ref[fin], val[fin]
            scale = float(np.max(np.abs(ref))) if ref.size else 0.0
            if scale == 0.0:
                assert np.all(val == 0.0), (name, key)
                continue
            diff = np.abs(val - ref)
            e = float(np.max(diff)) / scale
            big = np.abs(ref) >= 1e-3 * scale
            worst_pt = max(worst_pt, float(np.max(diff[big] / np.abs(ref[big]))))
            if e > worst:
                worst, where = e, key
        worst_all = max(worst_all, worst)
        print(f"{name:28s} max|err|/max|ref| {worst:.1e} ({where}); pointwise rel {worst_pt:.1e}")
    print(f"replay vs pyhgf: worst error relative to each series' scale {worst_all:.2e}")
    return worst_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check-only", action="store_true", help="replay an existing file")
    args = parser.parse_args(argv)
    if not args.check_only:
        cases = make_cases(np.random.default_rng(SEED))
        arrays = run_pyhgf(cases)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.out, **arrays)
        print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB, {len(arrays)} arrays)")
    worst = check(args.out)
    return 0 if worst < 1e-10 else 1


if __name__ == "__main__":
    sys.exit(main())
