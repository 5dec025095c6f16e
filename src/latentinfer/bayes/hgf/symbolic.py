"""Symbolic values for kernel generation: each operation becomes one C statement.

A :class:`Sym` stands for a real number computed by the kernel. Arithmetic on symbols (and
Python floats, folded where exact: ``x + 0``, ``1 * x``) records an operation in an
:class:`Emitter`, together with its forward-mode tangents with respect to the parameters
being differentiated (``None`` is an exact zero, so unused derivatives cost nothing).
Tangents carry no tangents of their own (first order only). Identical operations are
emitted once. Values that depend only on parameters are *invariant*: the kernel computes
them once per block of series, before the time loop.

Every value has a *place* that the renderer turns into C for a scalar kernel (``v12``,
``P3[l]``) or for lane ``k`` of an interleaved vector kernel (``v12_1``, ``V(P3, 1)``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Emitter", "Op", "Place", "Sym", "SymOps", "add", "div", "mul", "sub"]


@dataclass(frozen=True)
class Place:
    """Where a value lives. ``kind``: ``"tmp"`` (a body temporary), ``"lane"`` (a per-lane
    array ``name[l]``: parameters, invariants, state), ``"buffer"`` (a chunk buffer
    ``name[tc][l]``) or ``"scalar"`` (one value shared by every lane)."""

    kind: str
    name: str


@dataclass(frozen=True)
class Op:
    """One operation: ``"+"``, ``"-"``, ``"*"``, ``"/"``, ``"copy"``, ``"call"`` (``fn``)
    or ``"select"`` (``args = (a, b, x, y)``: ``a cmp b ? x : y``)."""

    kind: str
    args: tuple[Any, ...]
    fn: str = ""
    cmp: str = ""


class Emitter:
    """Collects a kernel's operations: invariant ones (per block) and per-step ones."""

    def __init__(self, n_tangents: int) -> None:
        self.n_tangents = n_tangents
        self.invariant: list[tuple[Sym, Op]] = []
        self.body: list[tuple[Sym, Op]] = []
        self._ids = itertools.count()
        self._invariants = itertools.count()
        self._seen: dict[tuple[Any, ...], Sym] = {}

    @property
    def n_invariants(self) -> int:
        return len(self.invariant)

    def value(self, op: Op, *, tangents: Sequence[Any]) -> Sym:
        """The result of ``op`` (an identical earlier operation is reused)."""
        key = (op.kind, op.fn, op.cmp, *(_key(a) for a in op.args), *(_key(t) for t in tangents))
        if key in self._seen:
            return self._seen[key]
        invariant = all(not isinstance(a, Sym) or a.invariant for a in op.args)
        if invariant:
            sym = Sym(self, Place("lane", f"I{next(self._invariants)}"), True, list(tangents))
            self.invariant.append((sym, op))
        else:
            sym = Sym(self, Place("tmp", f"v{next(self._ids)}"), False, list(tangents))
            self.body.append((sym, op))
        self._seen[key] = sym
        return sym

    def leaf(self, place: Place, *, invariant: bool = False, tangents: Sequence[Any] = ()) -> Sym:
        """A value the kernel reads (a parameter, a state variable, an input)."""
        return Sym(self, place, invariant, list(tangents) or [None] * self.n_tangents)


def _key(x: Any) -> Any:
    if x is None:
        return None
    if isinstance(x, Sym):
        return x.place
    return float(x)


class Sym:
    """A symbolic real value with its place, invariance and forward-mode tangents."""

    __slots__ = ("em", "invariant", "place", "tangents")

    def __init__(self, em: Emitter, place: Place, invariant: bool, tangents: list[Any]):
        self.em, self.place, self.invariant, self.tangents = em, place, invariant, tangents

    def __add__(self, o: Any) -> Any:
        return add(self, o)

    __radd__ = __add__

    def __sub__(self, o: Any) -> Any:
        return sub(self, o)

    def __rsub__(self, o: Any) -> Any:
        return sub(o, self)

    def __mul__(self, o: Any) -> Any:
        return mul(self, o)

    __rmul__ = __mul__

    def __truediv__(self, o: Any) -> Any:
        return div(self, o)

    def __rtruediv__(self, o: Any) -> Any:
        return div(o, self)

    def __neg__(self) -> Any:
        return sub(0.0, self)


# ------------------------------------------------------------------------------ algebra
def _is(x: Any, v: float) -> bool:
    return isinstance(x, (int, float)) and float(x) == v


def _em(*xs: Any) -> Emitter:
    for x in xs:
        if isinstance(x, Sym):
            return x.em
    raise AssertionError("no symbol among the operands")  # pragma: no cover


def tan(x: Any, n: int) -> list[Any]:
    """The tangents of ``x`` (all ``None`` for a constant)."""
    return x.tangents if isinstance(x, Sym) else [None] * n


def tadd(a: Any, b: Any) -> Any:
    """Sum of two tangents (``None`` is zero)."""
    if a is None:
        return b
    if b is None:
        return a
    return add(a, b, d=False)


def _none(em: Emitter) -> list[Any]:
    return [None] * em.n_tangents


def add(a: Any, b: Any, *, d: bool = True) -> Any:
    """``a + b``; with ``d``, also its tangents (else a value without any)."""
    if not isinstance(a, Sym) and not isinstance(b, Sym):
        return float(a) + float(b)
    if _is(a, 0.0):
        return b
    if _is(b, 0.0):
        return a
    em = _em(a, b)
    tangents = _none(em)
    if d:
        tangents = [tadd(x, y) for x, y in zip(tan(a, em.n_tangents), tan(b, em.n_tangents))]
    return em.value(Op("+", (a, b)), tangents=tangents)


def sub(a: Any, b: Any, *, d: bool = True) -> Any:
    if not isinstance(a, Sym) and not isinstance(b, Sym):
        return float(a) - float(b)
    if _is(b, 0.0):
        return a
    em = _em(a, b)
    tangents = _none(em)
    if d:
        tangents = []
        for x, y in zip(tan(a, em.n_tangents), tan(b, em.n_tangents)):
            if y is None:
                tangents.append(x)
            else:
                tangents.append(sub(0.0 if x is None else x, y, d=False))
    return em.value(Op("-", (a, b)), tangents=tangents)


def mul(a: Any, b: Any, *, d: bool = True) -> Any:
    if not isinstance(a, Sym) and not isinstance(b, Sym):
        return float(a) * float(b)
    if _is(a, 1.0):
        return b
    if _is(b, 1.0):
        return a
    if _is(a, 0.0) or _is(b, 0.0):
        return 0.0
    em = _em(a, b)
    tangents = _none(em)
    if d:
        tangents = []
        for x, y in zip(tan(a, em.n_tangents), tan(b, em.n_tangents)):
            part = None if x is None else mul(x, b, d=False)
            other = None if y is None else mul(a, y, d=False)
            tangents.append(tadd(part, other))
    return em.value(Op("*", (a, b)), tangents=tangents)


def div(a: Any, b: Any, *, d: bool = True) -> Any:
    if not isinstance(a, Sym) and not isinstance(b, Sym):
        return float(a) / float(b)
    if _is(b, 1.0):
        return a
    em = _em(a, b)
    ta, tb = tan(a, em.n_tangents), tan(b, em.n_tangents)
    if not d or all(t is None for t in ta + tb):
        return em.value(Op("/", (a, b)), tangents=_none(em))
    # q = a / b, dq = (da − q db) / b, with 1/b computed once
    rb = em.value(Op("/", (1.0, b)), tangents=_none(em))
    q = rb if _is(a, 1.0) else mul(a, rb, d=False)
    tangents = []
    for x, y in zip(ta, tb):
        num = x if y is None else sub(0.0 if x is None else x, mul(q, y, d=False), d=False)
        tangents.append(None if num is None else mul(num, rb, d=False))
    return em.value(Op("copy", (q,)), tangents=tangents)


def call(fn: str, x: Any, deriv: Any) -> Any:
    """``fn(x)`` with tangent ``f'(x) dx``; ``deriv(out, x)`` builds f' (no tangents)."""
    em = x.em
    out = em.value(Op("call", (x,), fn=fn), tangents=_none(em))
    if all(t is None for t in x.tangents):
        return out
    dv = deriv(out, x)
    tangents = [None if t is None else mul(dv, t, d=False) for t in x.tangents]
    return em.value(Op("copy", (out,)), tangents=tangents)


def select(a: Any, cmp: str, b: Any, x: Any, y: Any) -> Any:
    """``a cmp b ? x : y`` for the value and its tangents (a NaN comparison is false)."""
    em = _em(a, b, x, y)
    tangents: list[Any] = []
    for tx, ty in zip(tan(x, em.n_tangents), tan(y, em.n_tangents)):
        if tx is None and ty is None:
            tangents.append(None)
        else:
            tx, ty = (0.0 if tx is None else tx), (0.0 if ty is None else ty)
            tangents.append(em.value(Op("select", (a, b, tx, ty), cmp=cmp), tangents=_none(em)))
    return em.value(Op("select", (a, b, x, y), cmp=cmp), tangents=tangents)


class SymOps:
    """:class:`~latentinfer.bayes.hgf.step.Ops` on symbols (records C operations)."""

    @staticmethod
    def exp(x: Any) -> Any:
        if not isinstance(x, Sym):
            return math.exp(x)
        return call("li_exp", x, lambda out, _x: out)

    @staticmethod
    def log(x: Any) -> Any:
        if not isinstance(x, Sym):
            return math.log(x)
        return call("li_log", x, lambda _out, x: div(1.0, x, d=False))

    @staticmethod
    def sigmoid(x: Any) -> Any:
        return call("li_sigmoid", x, lambda out, _x: mul(out, sub(1.0, out, d=False), d=False))

    @staticmethod
    def clip(x: Any, low: float, high: float) -> Any:
        # NaN-propagating: a comparison with NaN is false, so x passes through
        lo = select(x, "<", low, low, x)
        return select(lo, ">", high, high, lo)

    @staticmethod
    def cap(x: Any, high: float) -> Any:
        return select(x, ">", high, high, x)

    @staticmethod
    def nan_unless_above(x: Any, threshold: float) -> Any:
        if not isinstance(x, Sym):
            return x if x > threshold else math.nan
        return select(x, ">", threshold, x, math.nan)

    @staticmethod
    def guard(x: Any, low: float, high: float) -> Any:
        # x < high ? x : high is one min instruction (it sends NaN to high); the outer
        # test sends NaN, and anything ≤ low, back to NaN
        return select(x, ">", low, select(x, "<", high, x, high), math.nan)

    @staticmethod
    def floor(x: Any, low: float) -> Any:
        # x > low ? x : low is one max instruction; NaN in x gives low, but every caller
        # guards the result with a test that sends NaN back
        return select(x, ">", low, x, low)

    @staticmethod
    def select_binary(u: Any, if_one: Any, if_zero: Any) -> Any:
        return select(u, ">", 0.5, if_one, if_zero)

    @staticmethod
    def select_greater(a: Any, b: Any, if_true: Any, if_false: Any) -> Any:
        return select(a, ">", b, if_true, if_false)

    @staticmethod
    def select_observed(y: Any, if_observed: Any, if_missing: Any) -> Any:
        return select(y, "==", y, if_observed, if_missing)
