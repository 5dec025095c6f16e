"""Generate a C kernel for one network from the same step the eager backend runs.

:func:`generate` runs :func:`~latentinfer.bayes.hgf.step.hgf_step` once on symbols
(:mod:`~latentinfer.bayes.hgf.symbolic`): each operation becomes one C statement and, for
every parameter being differentiated, the statement of its forward-mode derivative, so a
kernel returns the objective and its exact gradient in one pass without storing the
trajectory. Expressions of the parameters alone are computed once per block.

A kernel filters a block of ``W`` series at a time; their state lives in small per-lane
arrays. The *vector* kernel writes every per-step statement ``K`` times, once per vector of
lanes (GCC/Clang vector extensions, 32- or 64-byte vectors), interleaved, so that ``K``
independent dependency chains are in flight and the step runs at the machine's throughput
rather than its latency. The *scalar* kernel (one series) is a single dependency chain.
Inputs are batch-major, ``(batch, time)``, copied into small lane-major buffers once per
chunk of :data:`CHUNK` steps; per-step outputs are written time-major, ``(time, batch)``
(each step's lanes one contiguous row; the caller sees them as ``(batch, time)`` views),
streamed from inside the step loop so that the stores drain while the arithmetic of the
next steps runs (written after each chunk instead, the two took turns: 1.3× slower).

Logarithms of the surprise enter the totals as running products (renormalised every step by
moving the binary exponent into a counter), so a filter that returns only the totals
computes one logarithm per series, not per step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from latentinfer.bayes.hgf.kernel_math import prelude
from latentinfer.bayes.hgf.network import ParamKey, Structure
from latentinfer.bayes.hgf.step import TRAJECTORY, NodeState, hgf_step
from latentinfer.bayes.hgf.symbolic import (
    Emitter,
    Op,
    Place,
    Sym,
    SymOps,
    add,
    div,
    mul,
    sub,
    tadd,
    tan,
)

__all__ = ["CHUNK", "TRAJECTORY", "KernelSpec", "generate", "source"]

#: Time steps per chunk of buffered inputs and outputs.
CHUNK = 16


@dataclass(frozen=True)
class KernelSpec:
    """What one generated kernel computes (hashable; the cache key with the source).

    Attributes:
        structure: the network.
        params: the parameter keys, in the order of the ``params`` array.
        dtype: ``"float"`` or ``"double"``.
        surprise: the surprise kinds summed into ``totals``.
        store: write per-step trajectories and surprises.
        grad: parameter keys to differentiate ``totals[objective]`` with respect to.
        objective: index into ``surprise`` (or ``len(surprise)`` for the response term).
        unit_dt: time steps are all 1 (no ``dts`` array).
        shared_inputs: one input series for every lane (``inputs`` is ``(1, time, n)``).
        shared_dt: one time-step series for every lane (``dts`` is ``(1, time)``).
        missing: an ``observed`` array (0/1, shaped like ``inputs``) marks missing inputs.
        response: the response model's kind (``None``: no responses).
        response_node: the node whose belief the response model reads.
        response_quantity: which belief it reads (``"expected_mean"`` or ``"mean"``).
    """

    structure: Structure
    params: tuple[ParamKey, ...]
    dtype: str
    surprise: tuple[str, ...]
    store: bool
    grad: tuple[ParamKey, ...] = ()
    objective: int = 0
    unit_dt: bool = True
    shared_inputs: bool = False
    shared_dt: bool = False
    missing: bool = False
    response: str | None = None
    response_node: int = -1
    response_quantity: str = "expected_mean"


@dataclass
class _Kernel:
    """One kernel's pieces, as :func:`generate` builds them."""

    em: Emitter
    n_state: int = 0
    init: list[tuple[str, Any]] = field(default_factory=list)  # (lane array, value)
    accumulators: list[tuple[str, str]] = field(default_factory=list)  # (chunk, double)
    products: list[str] = field(default_factory=list)  # running-product names
    # per step, after the body: ("+=" | "=", place, value) or ("renorm", product, value)
    step: list[tuple[str, Any, Any]] = field(default_factory=list)
    state: list[tuple[Place, Any]] = field(default_factory=list)  # written last
    buffers: list[tuple[str, str]] = field(default_factory=list)  # (chunk buffer, output)
    finish: list[str] = field(default_factory=list)  # after the time loop, per lane


def _layout(s: Structure) -> list[tuple[int, str]]:
    # the step reads a node's mean and variance only; its precision is an output
    return [(i, q) for i in s.state_nodes for q in ("mean", "variance")]


def generate(spec: KernelSpec, name: str, width: int, vector_bytes: int) -> str:
    """The C source of kernel ``name`` for ``width`` lanes per block (1: the scalar one),
    in vectors of ``vector_bytes`` (32 or 64)."""
    s = spec.structure
    k = len(spec.grad)
    em = Emitter(k)
    kern = _Kernel(em)
    vector = width > 1

    params = {
        key: em.leaf(
            Place("lane", f"P{j}"),
            invariant=True,
            tangents=[1.0 if key == g else None for g in spec.grad],
        )
        for j, key in enumerate(spec.params)
    }
    layout = _layout(s)
    kern.n_state = len(layout)
    state: dict[int, NodeState] = {}
    for si, (i, q) in enumerate(layout):
        tangents = [em.leaf(Place("lane", f"D{si}_{g}")) for g in range(k)]
        sym = em.leaf(Place("lane", f"S{si}"), tangents=tangents)
        state.setdefault(i, NodeState(mean=None, precision=None, variance=None))
        setattr(state[i], q, sym)
        init = params[("mean", i)] if q == "mean" else div(1.0, params[("precision", i)])
        kern.init.append((f"S{si}", init))
        kern.init += [(f"D{si}_{g}", tan(init, k)[g] or 0.0) for g in range(k)]

    def read(scalar: str, buffer: str, shared: bool) -> Sym:
        if shared or not vector:
            return em.leaf(Place("scalar", scalar))
        return em.leaf(Place("buffer", buffer))

    inputs = {i: read(f"x{n}", f"X{n}", spec.shared_inputs) for n, i in enumerate(s.inputs)}
    seen = None
    if spec.missing:
        seen = {i: read(f"o{n}", f"O{n}", spec.shared_inputs) for n, i in enumerate(s.inputs)}
    dt: Any = 1.0 if spec.unit_dt else read("dt", "DT", spec.shared_dt)
    out = hgf_step(s, SymOps(), state, params, inputs, dt, surprise=spec.surprise, observed=seen)

    def accumulate(tag: str, value: Any) -> None:
        kern.accumulators.append((f"a{tag}", f"A{tag}"))
        kern.step.append(("+=", Place("lane", f"a{tag}"), value))

    objectives: list[tuple[Any, list[tuple[float, Any]]]] = []
    for kidx, kind in enumerate(spec.surprise):
        rest: Any = 0.0
        logs: list[tuple[float, Any]] = []
        const = 0.0
        for term in out.surprise[kind].values():
            rest = add(rest, term.rest)
            logs += term.logs
            const += term.constant
        objectives.append((rest, logs))
        total = f"A{kidx}[l]"
        if spec.store:
            value = add(rest, const)
            for coef, arg in logs:
                value = add(value, mul(coef, SymOps.log(arg)))
            accumulate(str(kidx), value)
            kern.step.append(("=", Place("buffer", f"SB{kidx}"), value))
            kern.buffers.append((f"SB{kidx}", f"steps[{kidx}]"))
        else:
            guarded: Any = add(rest, const)  # arg − arg is NaN when arg is: keeps NaN
            for _, arg in logs:
                guarded = add(guarded, sub(arg, arg))
            accumulate(str(kidx), guarded)
            for li, (coef, arg) in enumerate(logs):
                m = f"LM{kidx}_{li}"
                kern.products.append(m)
                kern.step.append(("renorm", m, arg))
                total += f" + {coef!r} * (log((double){m}[l]) + D{m}[l] * 0.6931471805599453)"
        kern.finish.append(f"totals[{kidx} * B + b0 + l] = {total};")
    if spec.response:
        from latentinfer.bayes.hgf.responses import response_surprise

        kidx = len(spec.surprise)
        y = read("y", "Y", False)
        belief = out.beliefs[spec.response_node][spec.response_quantity]
        value = response_surprise(spec.response, SymOps(), belief, y, params)
        objectives.append((value, []))
        accumulate(str(kidx), value)
        kern.finish.append(f"totals[{kidx} * B + b0 + l] = A{kidx}[l];")
    if spec.grad:  # d rest + Σ coef · d arg / arg
        rest, logs = objectives[spec.objective]
        for g in range(k):
            d: Any = tan(rest, k)[g]
            for coef, arg in logs:
                if tan(arg, k)[g] is not None:
                    d = tadd(d, mul(coef, div(tan(arg, k)[g], arg, d=False), d=False))
            accumulate(f"G{g}", 0.0 if d is None else d)
            kern.finish.append(f"grads[{g} * B + b0 + l] = AG{g}[l];")
    if spec.store:
        for qi, (i, q) in enumerate((i, q) for i in s.state_nodes for q in TRAJECTORY):
            kern.step.append(("=", Place("buffer", f"OB{qi}"), out.beliefs[i][q]))
            kern.buffers.append((f"OB{qi}", f"traj[{qi}]"))
    for si, (i, q) in enumerate(layout):
        v = getattr(out.state[i], q)
        kern.state.append((Place("lane", f"S{si}"), v))
        kern.state += [(Place("lane", f"D{si}_{g}"), tan(v, k)[g] or 0.0) for g in range(k)]
    kern.finish += [
        f"if (final_state) final_state[{si} * B + b0 + l] = S{si}[l];" for si in range(kern.n_state)
    ]
    return _render(spec, name, width, kern, vector_bytes)


# ------------------------------------------------------------------------------ rendering
def _literal(x: float) -> str:
    if math.isnan(x):
        return "((real)NAN)"
    if math.isinf(x):
        return "((real)INFINITY)" if x > 0 else "(-(real)INFINITY)"
    return f"((real){x!r})"


class _Renderer:
    """Turns values into C: per lane (``lane``), scalar kernel, or vector ``k``."""

    def __init__(self, vector: bool) -> None:
        self.vector = vector

    def ref(self, x: Any, k: int | None) -> str:
        """``x`` in lane form (``k`` None) or as vector ``k``."""
        if not isinstance(x, Sym):
            return _literal(float(x))
        p = x.place
        if p.kind == "scalar":
            return p.name
        if k is None or not self.vector:
            if p.kind == "tmp":
                return p.name
            return f"{p.name}[tc][l]" if p.kind == "buffer" else f"{p.name}[l]"
        if p.kind == "tmp":
            return f"{p.name}_{k}"
        return f"V({p.name}[tc], {k})" if p.kind == "buffer" else f"V({p.name}, {k})"

    def is_vector(self, x: Any, k: int | None) -> bool:
        return isinstance(x, Sym) and x.place.kind != "scalar" and k is not None

    def op(self, op: Op, k: int | None) -> str:
        a = [self.ref(v, k) for v in op.args]
        vec = self.vector and k is not None
        if op.kind == "copy":
            return a[0]
        if op.kind == "call":
            return f"{op.fn}_v({a[0]})" if vec else f"{op.fn}({a[0]})"
        if op.kind == "select":
            if not vec:
                return f"({a[0]} {op.cmp} {a[1]}) ? {a[2]} : {a[3]}"
            b = [v if self.is_vector(x, k) else f"LI_B({v})" for v, x in zip(a, op.args)]
            same = op.args[0] is op.args[2] and _same(op.args[1], op.args[3])
            if same and op.cmp in ("<", ">"):  # a < b ? a : b is one min instruction
                return f"LI_{'MIN' if op.cmp == '<' else 'MAX'}({b[0]}, {b[1]})"
            return f"LI_SEL({b[0]} {op.cmp} {b[1]}, {b[2]}, {b[3]})"
        return f"{a[0]} {op.kind} {a[1]}"


def _render(spec: KernelSpec, name: str, width: int, kern: _Kernel, vector_bytes: int) -> str:
    em, k, s = kern.em, len(spec.grad), spec.structure
    vector = width > 1
    r = _Renderer(vector)
    n_in = len(s.inputs)
    lanes = "for (int64_t l = 0; l < W; ++l)" if vector else "for (int64_t l = 0; l < 1; ++l)"
    real_lanes = "for (int64_t l = 0; l < nl; ++l)" if vector else lanes
    src = "(l < nl ? l : 0)" if vector else "l"  # padding lanes repeat lane 0
    arrays = [f"P{j}" for j in range(len(spec.params))]
    arrays += [sym.place.name for sym, _ in em.invariant]
    arrays += [f"S{si}" for si in range(kern.n_state)]
    arrays += [f"D{si}_{g}" for si in range(kern.n_state) for g in range(k)]
    arrays += [a for a, _ in kern.accumulators] + kern.products
    arrays += [f"E{m}" for m in kern.products]  # the exponents, per chunk
    decl = [f"LI_ALIGN real {a}[W];" for a in arrays]
    decl += [f"double {b}[W];" for _, b in kern.accumulators]
    decl += [f"double D{m}[W];" for m in kern.products]
    buffers = [b for b, _ in kern.buffers]
    batched = not spec.shared_inputs
    if batched:
        buffers += [f"X{n}" for n in range(n_in)]
        buffers += [f"O{n}" for n in range(n_in)] if spec.missing else []
    if not spec.unit_dt and not spec.shared_dt:
        buffers.append("DT")
    if spec.response:
        buffers.append("Y")
    decl += [f"LI_ALIGN real {b}[C][W];" for b in buffers]

    setup = [f"P{j}[l] = params[{j} * B + b0 + {src}];" for j in range(len(spec.params))]
    setup += [f"{sym.place.name}[l] = {r.op(op, None)};" for sym, op in em.invariant]
    setup += [f"{dest}[l] = {r.ref(v, None)};" for dest, v in kern.init]
    setup += [f"{a}[l] = 0; {b}[l] = 0.0;" for a, b in kern.accumulators]
    setup += [f"{m}[l] = 1; E{m}[l] = 0; D{m}[l] = 0.0;" for m in kern.products]

    gather: list[str] = []

    def load(buf: str, array: str, n_col: int = 1, col: int = 0) -> None:
        # array is (B, T, n_col): this block's lanes, this chunk's steps, column col
        start = f"{array} + (b0 * T + t0) * {n_col} + {col}"
        gather.append(f"li_gather(&{buf}[0][0], W, {start}, T * {n_col}, {n_col}, nt, nl);")

    if batched:
        for n in range(n_in):
            load(f"X{n}", "inputs", n_in, n)
            if spec.missing:
                load(f"O{n}", "observed", n_in, n)
    if not spec.unit_dt and not spec.shared_dt:
        load("DT", "dts")
    if spec.response:
        load("Y", "responses")
    shared: list[str] = []  # once per step, before the lanes
    reads: list[str] = []  # per lane, scalar kernel only
    for n in range(n_in):
        if spec.shared_inputs:
            shared.append(f"const real x{n} = inputs[(t0 + tc) * {n_in} + {n}];")
            if spec.missing:
                shared.append(f"const real o{n} = observed[(t0 + tc) * {n_in} + {n}];")
        elif not vector:
            reads.append(f"const real x{n} = X{n}[tc][l];")
            if spec.missing:
                reads.append(f"const real o{n} = O{n}[tc][l];")
    if not spec.unit_dt:
        if spec.shared_dt:
            shared.append("const real dt = dts[t0 + tc];")
        elif not vector:
            reads.append("const real dt = DT[tc][l];")
    if spec.response and not vector:
        reads.append("const real y = Y[tc][l];")

    n_vec = [None] if not vector else list(range(width * _size(spec.dtype) // vector_bytes))
    typ = "vreal" if vector else "real"

    def stmt(kind: str, dest: Any, value: Any, kk: int | None) -> str:
        v = r.ref(value, kk)
        if vector and not r.is_vector(value, kk):
            v = f"LI_B({v})"
        if kind == "renorm":
            m = dest
            if vector:
                return f"V({m}, {kk}) = li_renorm_v(V({m}, {kk}) * {v}, &V(E{m}, {kk}));"
            return f"{m}[l] = li_renorm({m}[l] * {v}, &E{m}[l]);"
        if vector and kind == "=" and dest.kind == "buffer" and dest.name in outputs:
            # a full block streams its outputs from the step itself, so that the stores
            # drain while the next steps compute; a partial one fills the chunk buffer
            row = f"{outputs[dest.name]} + (t0 + tc) * pitch + b0 + {kk} * VL"
            return f"if (full) LI_STREAM({row}, {v}); else V({dest.name}[tc], {kk}) = {v};"
        return f"{r.ref(em.leaf(dest), kk)} {kind} {v};"

    outputs = dict(kern.buffers)
    per_step: list[str] = []
    for sym, op in em.body:
        for kk in n_vec:
            per_step.append(f"const {typ} {r.ref(sym, kk)} = {r.op(op, kk)};")
    for kind, dest, value in kern.step:
        for kk in n_vec:
            per_step.append(stmt(kind, dest, value, kk))
    # the new state: read every value, then write (a value may be an old state variable)
    for j, (_, value) in enumerate(kern.state):
        for kk in n_vec:
            v = r.ref(value, kk)
            if vector and not r.is_vector(value, kk):
                v = f"LI_B({v})"
            suffix = "" if kk is None else f"_{kk}"
            per_step.append(f"const {typ} n{j}{suffix} = {v};")
    for j, (dest, _) in enumerate(kern.state):
        for kk in n_vec:
            suffix = "" if kk is None else f"_{kk}"
            per_step.append(f"{r.ref(em.leaf(dest), kk)} = n{j}{suffix};")

    flush = [f"{b}[l] += (double){a}[l]; {a}[l] = 0;" for a, b in kern.accumulators]
    flush += [f"D{m}[l] += (double)E{m}[l]; E{m}[l] = 0;" for m in kern.products]
    # outputs are time-major, (T, pitch): each step's lanes are one contiguous row. A full
    # block streams its rows from the step loop (above; aligned: the pitch is a multiple of
    # 64 bytes and blocks start at multiples of W lanes; streaming stores skip reading the
    # line first); a partial block's rows are copied from the chunk buffers here
    scatter = []
    for buf, dest in kern.buffers:
        scatter.append("for (int64_t c = 0; c < nt; ++c) {")
        scatter.append(f"  real *row = {dest} + (t0 + c) * pitch + b0;")
        if vector:
            scatter.append(f"  if (!full) for (int64_t l = 0; l < nl; ++l) row[l] = {buf}[c][l];")
        else:
            scatter.append(f"  row[0] = {buf}[c][0];")
        scatter.append("}")

    def block(lines: list[str], indent: int) -> list[str]:
        return [" " * indent + line for line in lines]

    body = per_step if vector else [f"{lanes} {{", *block(reads + per_step, 2), "}"]
    out = [
        f"void {name}(int64_t B, int64_t T, int64_t b_begin, int64_t b_end, int64_t pitch,",
        "    const real *restrict params, const real *restrict inputs,",
        "    const real *restrict dts, const real *restrict observed,",
        "    const real *restrict responses, double *restrict totals, double *restrict grads,",
        "    real *const *traj, real *const *steps, real *restrict final_state)",
        "{",
        f"  enum {{ W = {width}, C = {CHUNK} }};",
        "  for (int64_t b0 = b_begin; b0 < b_end; b0 += W) {",
        "    const int64_t nl = (b_end - b0 < W) ? (b_end - b0) : W;",
        "    const int full = nl == W;",
        "    (void)nl; (void)full;",
        *block(decl, 4),
        f"    {lanes} {{",
        *block(setup, 6),
        "    }",
        "    for (int64_t t0 = 0; t0 < T; t0 += C) {",
        "      const int64_t nt = (T - t0 < C) ? (T - t0) : C;",
        *block(gather, 6),
        "      for (int64_t tc = 0; tc < nt; ++tc) {",
        *block(shared + body, 8),
        "      }",
        f"      {lanes} {{",
        *block(flush, 8),
        "      }",
        *block(scatter, 6),
        "    }",
        f"    {real_lanes} {{",
        *block(kern.finish, 6),
        "    }",
        "  }",
        "  LI_FENCE();" if kern.buffers and vector else "  (void)pitch;",
        "}",
    ]
    return "\n".join(out)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Sym) or isinstance(b, Sym):
        return a is b
    return float(a) == float(b)


def _size(dtype: str) -> int:
    return 8 if dtype == "double" else 4


def source(specs: Sequence[tuple[KernelSpec, str, int]], vector_bytes: int) -> str:
    """One C translation unit holding the given kernels (all of one dtype), in vectors of
    ``vector_bytes`` (32 or 64)."""
    real = specs[0][0].dtype
    body = [generate(spec, nm, w, vector_bytes) for spec, nm, w in specs]
    return prelude(real, vector_bytes) + "\n".join(body) + "\n"
