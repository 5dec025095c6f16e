"""pyhgf 0.2.12's fastest paths for the five HGF speed workloads (a-e), for side-by-side runs.

The benchmark that compares our HGF with pyhgf imports this module and calls the functions
below in the same process, next to our implementation. Nothing here imports latentinfer;
jax and pyhgf are imported lazily, inside the functions, so importing this module is free.

Threads: call :func:`configure_threads` *before anything imports jax* (XLA reads its flags
once). ``configure_threads(1)`` sets ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false`` (the
often-quoted ``intra_op_parallelism_threads=1`` token is not an XLA flag and had no
measurable effect)
and, with ``pin=True``, restricts the whole process to that many CPUs with
``os.sched_setaffinity`` (this also binds torch in the same process, which is what an
equal-threads comparison wants). Measured on the project's 2-core machine, jax 0.4.31's CPU
backend runs these scans on one thread anyway (CPU time / wall time ≈ 1.0 with and without
the flag, see each result's ``cpu_per_wall``), so "1 thread" and "default" agree within noise.
The machine is shared: a row whose ``cpu_per_wall`` is well below 1 was slowed by other
processes; rerun it. Returned trajectories cost more than the filter itself on XLA's CPU
backend (8 belief arrays make (b) ~8x slower than surprise-only), so compare like with like.

Model: the 2-level continuous HGF (``HGF(n_levels=2, model_type="continuous")``: input node 0,
x1 = node 1, x2 = node 2), parameters in :data:`DEFAULTS` (tonic volatilities -4, -4),
pyhgf's default ``update_type="eHGF"``. ``omega`` is always ``(ω1, ω2)``, the tonic
volatilities of x1 and x2. Surprise is pyhgf's ``HGF.surprise()``: the Gaussian surprise of
u_k under x1's prediction (μ̂1, π̂1), NaN mapped to +inf, summed over steps.

API (each ``run_*`` takes NumPy inputs and ``dtype="float32"|"float64"``, ``repeats=5``, and
returns a dict: ``seconds`` (median of ``repeats`` timed calls after one excluded warm-up
call), ``min_seconds``, ``compile_seconds`` (the first call: trace + compile + run),
``all_seconds``, ``steps`` (time steps filtered per call), ``steps_per_second``,
``cpu_per_wall``, ``nonfinite_outputs`` (count of NaN/inf in the outputs), ``dtype``,
``path``, and ``outputs`` (NumPy arrays, for cross-checking)):

- ``run_a_scan(u)``: (a) one series, ``jit(scan(hgf.scan_fn))``, beliefs returned: outputs
  ``x1_mean, x1_precision, x1_expected_mean, x1_expected_precision`` (same for x2) and
  ``surprise`` (per step), each (T,).
- ``run_a_input_data(u)``: (a) the public ``HGF.input_data`` path; outputs as above.
- ``run_b_beliefs(U)``: (b) ``jit(vmap(scan))`` over series U (N, T); outputs as (a), (N, T).
  ``time_major=True``: ``scan`` over time of ``vmap(hgf.scan_fn)`` (same numbers, no final
  transpose; the faster of the two on this CPU).
- ``run_b_surprise(U)``: (b) surprise only (the scan carries the running sum); ``surprise``
  (N,).
- ``run_b_hgf_logp(U)``: (b) pyhgf's own ``distribution.hgf_logp`` (jit of its vmapped
  ``logp``); ``surprise`` (N,) = minus its per-series log-probability.
- ``run_c_params(u, omegas)``: (c) ``jit(vmap over parameter rows)``, omegas (P, 2);
  ``surprise`` (P,).
- ``run_d_fit(u, omega0, n_steps=200, lr=...)``: (d) 200 plain gradient-descent steps, each
  one call of a jitted ``value_and_grad`` of the summed surprise plus the update, timed as a
  whole; outputs ``omega`` (final), ``loss`` (n_steps,), ``grad0`` (gradient at omega0).
  ``fused=True`` runs all steps inside one ``lax.scan`` instead (no Python loop).
- ``run_e_grad(U, omegas)``: (e) one ``jit(value_and_grad(sum of vmap over subjects))``,
  U (N, T), omegas (N, 2); outputs ``value`` (scalar) and ``grad`` (N, 2).
- ``run_e_hgf_logp_grad(U, omegas)``: (e) the same gradient through pyhgf's own
  ``hgf_logp`` (as its PyMC gradient op does); outputs as ``run_e_grad``.
- ``example_series(n_series, n_steps, seed)``, ``example_omegas(n, seed)``: shared inputs.
- ``run_all(...)`` / ``python benchmarks/bayes/_pyhgf_workloads.py --threads 1``: every
  workload in both dtypes, printed as a table (``--quick`` for a small smoke run).

Float32 and float64 live in one process: the first call turns on ``jax_enable_x64`` and
float32 runs cast pyhgf's attribute tree and the inputs to float32 (checked: the float32
programs hold no float64 arrays and return float32). Timings exclude the device-to-NumPy
copy of the outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any

import numpy as np

DEFAULTS: dict[str, float] = {
    "omega1": -4.0,  # tonic volatility of x1
    "omega2": -4.0,  # tonic volatility of x2
    "mean1": 0.0,
    "mean2": 0.0,
    "precision1": 1.0,
    "precision2": 1.0,
    "kappa": 1.0,  # volatility coupling x2 -> x1
    "input_precision": 1e4,  # pyhgf's continuous_precision
}
BELIEFS = ("mean", "precision", "expected_mean", "expected_precision")
XLA_SINGLE_THREAD = "--xla_cpu_multi_thread_eigen=false"
PYHGF_VERSION = "0.2.12"  # the release every comparison is made against (bench-hgf extra)


def require_pyhgf() -> str:
    """The installed pyhgf's version; exit with a clear message unless it is 0.2.12.

    Later pyhgf releases changed their default updates, so a result against another version
    would not be the comparison the benchmarks claim. Reads the package metadata only
    (pyhgf and jax are not imported).
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("pyhgf")
    except PackageNotFoundError:
        found = None
    if found != PYHGF_VERSION:
        raise SystemExit(
            f"this benchmark compares against pyhgf {PYHGF_VERSION}, but "
            + ("pyhgf is not installed" if found is None else f"pyhgf {found} is installed")
            + ': pip install -e ".[bench-hgf]"'
        )
    return found


def configure_threads(n: int | None, pin: bool = False) -> None:
    """Pin XLA (and, with ``pin``, the whole process) to ``n`` threads; call before jax loads.

    ``n=None`` leaves the defaults. ``n=1`` adds ``--xla_cpu_multi_thread_eigen=false`` to
    ``XLA_FLAGS``. ``pin=True`` also sets the process's CPU affinity to the first ``n``
    allowed CPUs (affects every library in the process, torch included).
    """
    if n is None:
        return
    if "jax" in sys.modules:
        raise RuntimeError("configure_threads must run before jax is imported")
    if n == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        if XLA_SINGLE_THREAD not in flags:
            os.environ["XLA_FLAGS"] = (flags + " " + XLA_SINGLE_THREAD).strip()
    if pin and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))[:n]
        os.sched_setaffinity(0, cpus)


def _jax():
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


# ------------------------------------------------------------------------------ inputs


def example_series(n_series: int, n_steps: int, seed: int = 0) -> np.ndarray:
    """Random walks whose step size switches between blocks (float64, (n_series, n_steps))."""
    rng = np.random.default_rng(seed)
    blocks = max(1, n_steps // 200)
    sd = np.repeat(rng.choice([0.02, 0.05, 0.1], size=(n_series, blocks)), 200, axis=1)
    sd = np.pad(sd, ((0, 0), (0, max(0, n_steps - sd.shape[1]))), mode="edge")[:, :n_steps]
    walk = np.cumsum(rng.normal(size=(n_series, n_steps)) * sd, axis=1)
    return walk + rng.normal(scale=0.01, size=(n_series, n_steps))


def example_omegas(n: int, seed: int = 1) -> np.ndarray:
    """(n, 2) random (ω1, ω2) around the defaults: ω1 ~ U(-6, -3), ω2 ~ U(-6, -2)."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(-6.0, -3.0, n), rng.uniform(-6.0, -2.0, n)], axis=1)


# ------------------------------------------------------------------------------- model


def _model(dtype: str, update_type: str = "eHGF", **params: float):
    """A pyhgf 2-level continuous HGF and its attribute tree cast to ``dtype``."""
    jax = _jax()
    from pyhgf.model import HGF

    p = {**DEFAULTS, **params}
    hgf = HGF(
        n_levels=2,
        model_type="continuous",
        update_type=update_type,
        initial_mean={"1": p["mean1"], "2": p["mean2"]},
        initial_precision={"1": p["precision1"], "2": p["precision2"]},
        tonic_volatility={"1": p["omega1"], "2": p["omega2"]},
        tonic_drift={"1": 0.0, "2": 0.0},
        volatility_coupling={"1": p["kappa"]},
        continuous_precision=p["input_precision"],
    )
    hgf.attributes = _cast(jax, hgf.attributes, dtype)
    return hgf


def _cast(jax, tree, dtype: str):
    import jax.numpy as jnp

    def leaf(x):
        a = np.asarray(x)
        if a.dtype.kind == "f":
            return jnp.asarray(a, dtype=dtype)
        return x

    return jax.tree_util.tree_map(leaf, tree)


def _with_omega(attrs: dict, omega) -> dict:
    out = dict(attrs)
    out[1] = {**attrs[1], "tonic_volatility": omega[0]}
    out[2] = {**attrs[2], "tonic_volatility": omega[1]}
    return out


def _surprise_fn():
    import jax.numpy as jnp
    from pyhgf.math import gaussian_surprise

    def surprise(u, mean, precision):
        s = gaussian_surprise(x=u, expected_mean=mean, expected_precision=precision)
        return jnp.where(jnp.isnan(s), jnp.inf, s)

    return surprise


def _filters(hgf):
    """The two scan bodies on pyhgf's own ``hgf.scan_fn``: beliefs and surprise-only."""
    import jax.numpy as jnp
    from jax import lax

    scan_fn = hgf.scan_fn
    surprise = _surprise_fn()

    def inputs(u, dt, obs):
        return ((u[:, None],), (obs,), dt, None)

    def beliefs(attrs, u, dt, obs):
        _, traj = lax.scan(scan_fn, attrs, inputs(u, dt, obs))
        out = {f"x{i}_{q}": traj[i][q] for i in (1, 2) for q in BELIEFS}
        out["surprise"] = surprise(u, out["x1_expected_mean"], out["x1_expected_precision"])
        return out

    def total_surprise(attrs, u, dt, obs):
        def step(carry, x):
            a, s = carry
            a, _ = scan_fn(a, x)
            s = s + surprise(x[0][0][0], a[1]["expected_mean"], a[1]["expected_precision"])
            return (a, s), None

        (_, s), _ = lax.scan(step, (attrs, jnp.zeros((), u.dtype)), inputs(u, dt, obs))
        return s

    return beliefs, total_surprise


def _aux(n_steps: int, dtype: str):
    import jax.numpy as jnp

    return jnp.ones(n_steps, dtype=dtype), jnp.ones(n_steps, dtype=jnp.int32)


# ------------------------------------------------------------------------------ timing


def _block(out):
    jax = _jax()
    return jax.block_until_ready(out)


def _time(call, repeats: int) -> tuple[Any, float, list[float], float]:
    t0 = time.perf_counter()
    out = _block(call())
    first = time.perf_counter() - t0
    times = []
    c0 = time.process_time()  # CPU time of all the process's threads
    w0 = time.perf_counter()
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        _block(call())
        times.append(time.perf_counter() - t0)
    wall = time.perf_counter() - w0
    cpu = time.process_time() - c0
    return out, first, times, cpu / wall if wall > 0 else float("nan")


def _numpy(tree):
    jax = _jax()
    return jax.tree_util.tree_map(lambda x: np.asarray(x), tree)


def _result(path, dtype, steps, out, first, times, cpu_per_wall, **extra) -> dict:
    sec = statistics.median(times)
    return {
        "path": path,
        "dtype": dtype,
        "seconds": sec,
        "min_seconds": min(times),
        "compile_seconds": first,
        "all_seconds": times,
        "steps": steps,
        "steps_per_second": steps / sec,
        "cpu_per_wall": cpu_per_wall,
        "nonfinite_outputs": int(
            sum(np.size(v) - np.isfinite(v).sum() for v in out.values() if np.size(v))
        ),
        "outputs": out,
        **extra,
    }


def _check_no_f64(fn, *args) -> None:
    """Assert that a float32 program really is float32: no float64 arrays, only scalars.

    pyhgf's weakly typed Python constants (``jnp.nan``, ``log(2 pi)``) show up as f64 scalars
    in the jaxpr; they are folded into float32 operands, so only non-scalar f64 counts.
    """
    import re

    jax = _jax()
    text = str(jax.make_jaxpr(fn)(*args))
    assert not re.search(r"f64\[\d", text), "float32 program has float64 arrays"
    outs = jax.eval_shape(fn, *args)
    for leaf in jax.tree_util.tree_leaves(outs):
        assert leaf.dtype != np.float64, "float32 program returns float64"


def _dt(dtype):
    return np.float32 if dtype == "float32" else np.float64


# ---------------------------------------------------------------------------- workloads


def run_a_scan(u, dtype: str = "float32", repeats: int = 5, update_type: str = "eHGF", **params):
    """(a) One series: jit(scan) of pyhgf's scan_fn, beliefs (x1, x2) and surprise returned."""
    jax = _jax()
    hgf = _model(dtype, update_type, **params)
    beliefs, _ = _filters(hgf)
    u = jax.numpy.asarray(np.asarray(u, _dt(dtype)))
    dt, obs = _aux(u.shape[0], dtype)
    attrs = hgf.attributes
    fn = jax.jit(beliefs)
    if dtype == "float32":
        _check_no_f64(beliefs, attrs, u, dt, obs)
    out, first, times, cpw = _time(lambda: fn(attrs, u, dt, obs), repeats)
    return _result("jit(scan(hgf.scan_fn))", dtype, u.shape[0], _numpy(out), first, times, cpw)


def run_a_input_data(
    u, dtype: str = "float32", repeats: int = 5, update_type: str = "eHGF", **params
):
    """(a) One series through the public ``HGF.input_data`` (records every attribute)."""
    jax = _jax()
    hgf = _model(dtype, update_type, **params)
    u = np.asarray(u, _dt(dtype))
    ts = np.ones(u.shape[0], _dt(dtype))
    attrs0 = hgf.attributes

    def call():
        hgf.attributes = attrs0
        hgf.input_data(input_data=u, time_steps=ts)
        return hgf.node_trajectories

    traj, first, times, cpw = _time(call, repeats)
    out = {f"x{i}_{q}": np.asarray(traj[i][q]) for i in (1, 2) for q in BELIEFS}
    out["surprise"] = np.asarray(hgf.surprise())
    assert out["x1_mean"].dtype == _dt(dtype)
    del jax
    return _result("HGF.input_data", dtype, u.shape[0], out, first, times, cpw)


def run_b_beliefs(
    U,
    dtype: str = "float32",
    repeats: int = 5,
    update_type: str = "eHGF",
    time_major: bool = False,
    **params,
):
    """(b) N series: jit(vmap(scan)), beliefs (x1, x2) and per-step surprise, (N, T) each.

    ``time_major=True`` runs ``scan`` over time of ``vmap(hgf.scan_fn)`` instead, so the
    outputs come out (T, N) without XLA's final transpose (returned as (N, T) views).
    """
    jax = _jax()
    jnp = jax.numpy
    hgf = _model(dtype, update_type, **params)
    beliefs, _ = _filters(hgf)
    attrs = hgf.attributes
    dt, obs = _aux(np.shape(U)[1], dtype)
    if not time_major:
        Ub = jnp.asarray(np.asarray(U, _dt(dtype)))
        fn = jax.jit(jax.vmap(beliefs, in_axes=(None, 0, None, None)))
        out, first, times, cpw = _time(lambda: fn(attrs, Ub, dt, obs), repeats)
        return _result("jit(vmap(scan))", dtype, Ub.size, _numpy(out), first, times, cpw)

    from jax import lax

    surprise = _surprise_fn()
    n = np.shape(U)[0]
    batched = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (n, *jnp.shape(x))), attrs)
    step = jax.vmap(hgf.scan_fn, in_axes=(0, ((0,), (None,), None, None)))

    def run(a, Ut, dt, obs):
        def body(a, x):
            a, _ = step(a, x)
            return a, {f"x{i}_{q}": a[i][q] for i in (1, 2) for q in BELIEFS}

        _, out = lax.scan(body, a, ((Ut[:, :, None],), (obs,), dt, None))
        out["surprise"] = surprise(Ut, out["x1_expected_mean"], out["x1_expected_precision"])
        return out

    Ut = jnp.asarray(np.ascontiguousarray(np.asarray(U, _dt(dtype)).T))
    fn = jax.jit(run)
    out, first, times, cpw = _time(lambda: fn(batched, Ut, dt, obs), repeats)
    out = {k: np.asarray(v).T for k, v in out.items()}
    return _result("jit(scan(vmap(scan_fn))) time-major", dtype, Ut.size, out, first, times, cpw)


def run_b_surprise(
    U, dtype: str = "float32", repeats: int = 5, update_type: str = "eHGF", **params
):
    """(b) N series, surprise only: the scan carries the running sum; ``surprise`` (N,)."""
    jax = _jax()
    hgf = _model(dtype, update_type, **params)
    _, total = _filters(hgf)
    U = jax.numpy.asarray(np.asarray(U, _dt(dtype)))
    dt, obs = _aux(U.shape[1], dtype)
    attrs = hgf.attributes
    fn = jax.jit(jax.vmap(total, in_axes=(None, 0, None, None)))
    if dtype == "float32":
        _check_no_f64(jax.vmap(total, in_axes=(None, 0, None, None)), attrs, U[:2], dt, obs)
    out, first, times, cpw = _time(lambda: fn(attrs, U, dt, obs), repeats)
    return _result(
        "jit(vmap(scan)) surprise only",
        dtype,
        U.size,
        {"surprise": np.asarray(out)},
        first,
        times,
        cpw,
    )


def _logp_fn(hgf, U, TS):
    """pyhgf's own batched log-probability: jit(hgf_logp) over its vmapped ``logp``."""
    jax = _jax()
    from jax.tree_util import Partial
    from pyhgf.distribution import hgf_logp, logp
    from pyhgf.response import first_level_gaussian_surprise

    vectorized = jax.vmap(Partial(logp, hgf=hgf, response_function=first_level_gaussian_surprise))
    return Partial(
        hgf_logp,
        vectorized_logp=vectorized,
        input_data=U,
        time_steps=TS,
        response_function_inputs=None,
    )


def _logp_kwargs(dtype: str, n: int, omegas=None, **params) -> dict:
    p = {**DEFAULTS, **params}
    f = _dt(dtype)
    if omegas is None:
        om1 = np.full(n, p["omega1"], f)
        om2 = np.full(n, p["omega2"], f)
    else:
        om1, om2 = np.asarray(omegas[:, 0], f), np.asarray(omegas[:, 1], f)
    return {
        "mean_1": f(p["mean1"]),
        "mean_2": f(p["mean2"]),
        "precision_1": f(p["precision1"]),
        "precision_2": f(p["precision2"]),
        "tonic_volatility_1": om1,
        "tonic_volatility_2": om2,
        "tonic_drift_1": f(0.0),
        "tonic_drift_2": f(0.0),
        "volatility_coupling_1": f(p["kappa"]),
        "input_precision": f(p["input_precision"]),
        "response_function_parameters": np.ones(1, f),
        # unused by the 2-level model but cast so float32 stays float32
        "mean_3": f(0.0),
        "precision_3": f(1.0),
        "tonic_volatility_3": f(-3.0),
        "tonic_drift_3": f(0.0),
        "volatility_coupling_2": f(1.0),
    }


def run_b_hgf_logp(
    U, dtype: str = "float32", repeats: int = 5, update_type: str = "eHGF", **params
):
    """(b) N series through pyhgf's ``distribution.hgf_logp``; ``surprise`` (N,)."""
    jax = _jax()
    hgf = _model(dtype, update_type, **params)
    U = np.asarray(U, _dt(dtype))
    TS = np.ones_like(U)
    fn = jax.jit(_logp_fn(hgf, U, TS))
    kw = _logp_kwargs(dtype, U.shape[0], **params)
    (_, per), first, times, cpw = _time(lambda: fn(**kw), repeats)
    per = np.asarray(per)
    surprise = -per.sum(axis=1) if per.ndim == 2 else -per
    return _result("jit(hgf_logp)", dtype, U.size, {"surprise": surprise}, first, times, cpw)


def run_c_params(
    u, omegas, dtype: str = "float32", repeats: int = 5, update_type: str = "eHGF", **params
):
    """(c) P parameter rows (ω1, ω2) on one series: jit(vmap), surprise only; (P,)."""
    jax = _jax()
    hgf = _model(dtype, update_type, **params)
    _, total = _filters(hgf)
    u = jax.numpy.asarray(np.asarray(u, _dt(dtype)))
    om = jax.numpy.asarray(np.asarray(omegas, _dt(dtype)))
    dt, obs = _aux(u.shape[0], dtype)
    attrs = hgf.attributes

    def one(o, u, dt, obs):
        return total(_with_omega(attrs, o), u, dt, obs)

    fn = jax.jit(jax.vmap(one, in_axes=(0, None, None, None)))
    out, first, times, cpw = _time(lambda: fn(om, u, dt, obs), repeats)
    return _result(
        "jit(vmap over parameters) surprise only",
        dtype,
        om.shape[0] * u.shape[0],
        {"surprise": np.asarray(out)},
        first,
        times,
        cpw,
    )


def run_d_fit(
    u,
    omega0=(-4.0, -4.0),
    n_steps: int = 200,
    lr: float = 1e-3,
    dtype: str = "float32",
    repeats: int = 5,
    fused: bool = False,
    update_type: str = "eHGF",
    **params,
):
    """(d) ``n_steps`` gradient-descent steps on (ω1, ω2) of the summed surprise, timed whole.

    Each step is one call of a jitted function that computes ``value_and_grad`` and applies
    ``omega - lr * grad`` (``fused=True``: all steps in one jitted ``lax.scan``).
    """
    jax = _jax()
    jnp = jax.numpy
    hgf = _model(dtype, update_type, **params)
    _, total = _filters(hgf)
    u = jnp.asarray(np.asarray(u, _dt(dtype)))
    dt, obs = _aux(u.shape[0], dtype)
    attrs = hgf.attributes
    om0 = jnp.asarray(np.asarray(omega0, _dt(dtype)))
    lr_ = jnp.asarray(lr, dtype=dtype)

    def loss(o, u, dt, obs):
        return total(_with_omega(attrs, o), u, dt, obs)

    vg = jax.value_and_grad(loss)

    def step(o, u, dt, obs):
        v, g = vg(o, u, dt, obs)
        return o - lr_ * g, v, g

    if fused:

        def all_steps(o, u, dt, obs):
            def body(o, _):
                o, v, g = step(o, u, dt, obs)
                return o, (v, g)

            return jax.lax.scan(body, o, None, length=n_steps)

        fn = jax.jit(all_steps)

        def call():
            o, (v, g) = fn(om0, u, dt, obs)
            return o, v, g[0]

        path = "jit(scan of value_and_grad + update)"
    else:
        jstep = jax.jit(step)

        def call():
            o, losses, g0 = om0, [], None
            for _ in range(n_steps):
                o, v, g = jstep(o, u, dt, obs)
                losses.append(v)
                g0 = g if g0 is None else g0
            return o, jnp.stack(losses), g0

        path = "python loop of jit(value_and_grad + update)"

    (o, v, g0), first, times, cpw = _time(call, repeats)
    out = {"omega": np.asarray(o), "loss": np.asarray(v), "grad0": np.asarray(g0)}
    return _result(path, dtype, n_steps * u.shape[0], out, first, times, cpw, lr=lr)


def run_e_grad(
    U, omegas, dtype: str = "float32", repeats: int = 5, update_type: str = "eHGF", **params
):
    """(e) One gradient of the summed surprise of N subjects, each with its own (ω1, ω2)."""
    jax = _jax()
    jnp = jax.numpy
    hgf = _model(dtype, update_type, **params)
    _, total = _filters(hgf)
    U = jnp.asarray(np.asarray(U, _dt(dtype)))
    om = jnp.asarray(np.asarray(omegas, _dt(dtype)))
    dt, obs = _aux(U.shape[1], dtype)
    attrs = hgf.attributes

    def loss(om, U, dt, obs):
        per = jax.vmap(lambda o, u: total(_with_omega(attrs, o), u, dt, obs), in_axes=(0, 0))(om, U)
        return per.sum()

    fn = jax.jit(jax.value_and_grad(loss))
    (v, g), first, times, cpw = _time(lambda: fn(om, U, dt, obs), repeats)
    return _result(
        "jit(value_and_grad(sum of vmap))",
        dtype,
        U.size,
        {"value": np.asarray(v), "grad": np.asarray(g)},
        first,
        times,
        cpw,
    )


def run_e_hgf_logp_grad(
    U, omegas, dtype: str = "float32", repeats: int = 5, update_type: str = "eHGF", **params
):
    """(e) The same gradient through pyhgf's ``hgf_logp`` (value = summed surprise)."""
    jax = _jax()
    hgf = _model(dtype, update_type, **params)
    U = np.asarray(U, _dt(dtype))
    TS = np.ones_like(U)
    f = _logp_fn(hgf, U, TS)
    kw = _logp_kwargs(dtype, U.shape[0], omegas=np.asarray(omegas), **params)
    om1, om2 = kw.pop("tonic_volatility_1"), kw.pop("tonic_volatility_2")

    def neg(om1, om2):
        total, _ = f(tonic_volatility_1=om1, tonic_volatility_2=om2, **kw)
        return -total

    fn = jax.jit(jax.value_and_grad(neg, argnums=(0, 1)))
    (v, (g1, g2)), first, times, cpw = _time(lambda: fn(om1, om2), repeats)
    g = np.stack([np.asarray(g1), np.asarray(g2)], axis=1)
    return _result(
        "jit(value_and_grad(hgf_logp))",
        dtype,
        U.size,
        {"value": np.asarray(v), "grad": g},
        first,
        times,
        cpw,
    )


# ---------------------------------------------------------------------------- the table


def run_all(
    dtypes=("float32", "float64"), repeats: int = 5, quick: bool = False, seed: int = 0
) -> list[dict]:
    """Every workload in each dtype; returns result dicts with ``workload`` and no outputs."""
    t_a, n_b, t_b, n_c, t_c, n_d, n_e = 100_000, 1000, 1000, 1000, 1000, 200, 1000
    if quick:
        t_a, n_b, t_b, n_c, t_c, n_d, n_e = 2000, 20, 200, 20, 200, 5, 20
    u_a = example_series(1, t_a, seed)[0]
    U_b = example_series(n_b, t_b, seed + 1)
    u_c = example_series(1, t_c, seed + 2)[0]
    om_c = example_omegas(n_c, seed + 3)
    U_e = example_series(n_e, t_b, seed + 4)
    om_e = example_omegas(n_e, seed + 5)
    rows = []
    for dtype in dtypes:
        jobs = [
            ("a", run_a_scan, (u_a,), {}),
            ("a", run_a_input_data, (u_a,), {}),
            ("b", run_b_beliefs, (U_b,), {}),
            ("b", run_b_beliefs, (U_b,), {"time_major": True}),
            ("b", run_b_surprise, (U_b,), {}),
            ("b", run_b_hgf_logp, (U_b,), {}),
            ("c", run_c_params, (u_c, om_c), {}),
            ("d", run_d_fit, (u_c,), {"n_steps": n_d}),
            ("d", run_d_fit, (u_c,), {"n_steps": n_d, "fused": True}),
            ("e", run_e_grad, (U_e, om_e), {}),
            ("e", run_e_hgf_logp_grad, (U_e, om_e), {}),
        ]
        for name, fn, args, kw in jobs:
            r = fn(*args, dtype=dtype, repeats=repeats, **kw)
            r = {k: v for k, v in r.items() if k != "outputs"}
            r["workload"] = name
            rows.append(r)
            print(
                f"{name}  {dtype}  {r['path']:46s} {r['steps_per_second'] / 1e6:8.2f} M steps/s "
                f"{r['seconds'] * 1e3:10.2f} ms (min {r['min_seconds'] * 1e3:.2f}) "
                f"(first call {r['compile_seconds']:.2f} s, "
                f"cpu/wall {r['cpu_per_wall']:.2f}, non-finite {r['nonfinite_outputs']})",
                flush=True,
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="pyhgf 0.2.12 on the HGF workloads a-e")
    parser.add_argument("--threads", type=int, default=None, help="1 pins XLA to 1 thread")
    parser.add_argument("--pin", action="store_true", help="also set the CPU affinity")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--dtype", action="append", default=None)
    parser.add_argument("--out", default=None, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    require_pyhgf()
    configure_threads(args.threads, pin=args.pin)
    rows = run_all(tuple(args.dtype or ("float32", "float64")), args.repeats, args.quick)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"threads": args.threads, "pin": args.pin, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
