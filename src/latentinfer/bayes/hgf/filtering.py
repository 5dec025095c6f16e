"""The filter's front door: check inputs, pick a backend, run it, report bad series.

:func:`run_filter` is what :meth:`Network.filter` calls. It validates the inputs (shape,
NaN/Inf, binary inputs in {0, 1}, positive time steps), broadcasts series against
parameter settings, runs the native kernel (CPU, float32/float64, a C compiler) or the
eager PyTorch path (any device), and, where a series produced a non-finite belief, replays
that series step by step to say which step, node and quantity went wrong.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from latentinfer.bayes.hgf import native
from latentinfer.bayes.hgf.codegen import TRAJECTORY, KernelSpec
from latentinfer.bayes.hgf.eager import TorchOps, run_eager
from latentinfer.bayes.hgf.network import ParamKey, Structure, parameter_batch
from latentinfer.bayes.hgf.results import FilterResult
from latentinfer.bayes.hgf.step import TINY, hgf_step, initial_state
from latentinfer.core.errors import ConfigError, NonFiniteError, ShapeError, ValidationError
from latentinfer.core.validation import as_tensor, check_choice

__all__ = ["SURPRISE_KINDS", "check_inputs", "run_filter", "surprise_kinds"]

logger = logging.getLogger("latentinfer")

SURPRISE_KINDS = ("nlpd", "pyhgf")
BACKENDS = ("auto", "native", "eager")


def surprise_kinds(
    surprise: str | tuple[str, ...] | list[str], structure: Structure
) -> tuple[str, ...]:
    kinds = (surprise,) if isinstance(surprise, str) else tuple(surprise)
    if not kinds:
        raise ConfigError("surprise must name at least one kind: 'nlpd' or 'pyhgf'.")
    for k in kinds:
        check_choice(k, name="surprise", choices=SURPRISE_KINDS)
    if "pyhgf" in kinds:
        for i in structure.inputs:
            n = structure.nodes[i]
            if not n.is_binary and len(n.value_parents) != 1:
                raise ConfigError(
                    f"surprise='pyhgf' scores each continuous input under its one value parent; "
                    f"input node {i} has {len(n.value_parents)} value parents. Use 'nlpd'."
                )
    return tuple(dict.fromkeys(kinds))


def check_inputs(
    inputs: Any,
    structure: Structure,
    dtype: torch.dtype | None,
    *,
    observed: Any = None,
    name: str = "inputs",
    defer_finite: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None, bool, bool]:
    """Inputs as a ``(batch, time, n_inputs)`` float tensor, with their missing-data mask.

    Where ``observed`` (pyhgf's 0/1 mask) marks an input missing, its value is ignored
    and a NaN or Inf there is replaced by 0 in the returned tensor; an observed input must be
    finite, and an observed input of a binary node 0 or 1. ``defer_finite=True`` skips the
    NaN/Inf scan, for a caller that finds non-finite inputs from its results and then calls
    again without it (one pass over the inputs less: a tenth of a float32 surprise-only
    filter).

    Returns:
        The tensor, the mask (``(batch, time, n_inputs)``, or None when every input is
        observed), whether the inputs were NumPy (or lists), and whether they were a single
        1-d series.
    """
    as_numpy = not isinstance(inputs, torch.Tensor)
    if as_numpy:
        arr = np.asarray(inputs)
        if arr.dtype.kind in "iub":
            arr = arr.astype(np.float64)
        x = as_tensor(arr, name=name, ndim=(1, 2, 3), dtype=dtype, min_rows=1, allow_nonfinite=True)
    else:
        x = as_tensor(
            inputs, name=name, ndim=(1, 2, 3), dtype=dtype, min_rows=1, allow_nonfinite=True
        )
        if not x.is_floating_point():
            x = x.to(torch.get_default_dtype())
    if x.dtype not in (torch.float32, torch.float64):
        raise ConfigError(
            f"{name} are {x.dtype}; the filter runs in torch.float32 or torch.float64. "
            f"Convert them (e.g. {name}.float()) or pass dtype=torch.float32."
        )
    single = x.ndim == 1
    n_in = len(structure.inputs)
    if x.ndim == 1:
        x = x[None, :, None]
    elif x.ndim == 2:
        x = x[:, :, None]
    if x.shape[2] != n_in:
        raise ShapeError(
            f"{name} has {x.shape[2]} input column(s) but the network has {n_in} input node(s) "
            f"{list(structure.inputs)}; pass (time,) or (batch, time) for one input, "
            f"(batch, time, {n_in}) for several."
        )
    if x.shape[1] == 0:
        raise ValidationError(f"{name} has no time steps; pass at least one observation.")
    mask = check_observed(observed, x)
    if mask is not None:
        # only non-finite missing values are replaced: pyhgf records a finite one as the
        # input node's value even where it is skipped, and so do we
        skip = (mask == 0) & ~torch.isfinite(x)
        x = torch.where(skip, torch.zeros((), dtype=x.dtype), x)
    if not defer_finite:
        _check_finite_inputs(x, name=name, masked=observed is not None)
    for k, i in enumerate(structure.inputs):
        if structure.nodes[i].is_binary:
            col = x[:, :, k]
            bad = torch.isfinite(col) & (col != 0) & (col != 1)
            if mask is not None:
                bad &= mask[:, :, k] == 1
            if bool(bad.any()):
                where = tuple(int(v) for v in torch.nonzero(bad)[0])
                raise ValidationError(
                    f"{name}: input node {i} is binary and takes only 0 and 1; got "
                    f"{float(col[where]):g} at (series, step) {where}."
                )
    return x, mask, as_numpy, single


def _check_finite_inputs(x: torch.Tensor, *, name: str, masked: bool) -> None:
    """Raise naming the first observed NaN/Inf input and the two ways to deal with it."""
    if bool(torch.isfinite(x.sum())):  # fast path: NaN and Inf propagate through a sum
        return
    bad = ~torch.isfinite(x)
    if not bool(bad.any()):
        return
    series, step, col = (int(v) for v in torch.nonzero(bad)[0])
    kind = "NaN" if bool(torch.isnan(x[series, step, col])) else "Inf"
    where = f"(series, step) ({series}, {step})" + (f", input {col}" if x.shape[2] > 1 else "")
    fix = "set observed to 0 there too" if masked else "pass observed= with 0 at the missing inputs"
    raise ValidationError(
        f"{name} holds {int(bad.sum())} non-finite value(s) ({kind} first at {where}), which "
        f"the filter cannot score; if they are missing observations, {fix} (pyhgf's mask: "
        "a missing input is skipped and adds no surprise), otherwise impute them."
    )


def _time_steps(time_steps: Any, x: torch.Tensor) -> torch.Tensor | None:
    if time_steps is None:
        return None
    t = as_tensor(time_steps, name="time_steps", ndim=(0, 1, 2), dtype=x.dtype, min_rows=0)
    if t.ndim == 0:  # one step length for every step
        t = t.expand(x.shape[1])
    if t.ndim == 1:
        t = t[None, :]
    if t.shape[1] != x.shape[1] or t.shape[0] not in (1, x.shape[0]):
        raise ShapeError(
            f"time_steps has shape {tuple(t.shape)}; pass a number, (time,) or (batch, time) "
            f"matching the inputs' {x.shape[1]} steps (batch {x.shape[0]})."
        )
    _require_positive(t, where="(series, step)")
    return t


def step_lengths(
    time_steps: Any, n_steps: int, *, dtype: torch.dtype, device: torch.device | None = None
) -> torch.Tensor:
    """``(n_steps,)`` positive time steps for a simulation or forecast from ``None``
    (all 1), one number, or ``n_steps`` numbers."""
    if time_steps is None:
        return torch.ones(n_steps, dtype=dtype, device=device)
    t = as_tensor(time_steps, name="time_steps", ndim=(0, 1), dtype=dtype, min_rows=0)
    if t.ndim == 1 and t.shape[0] != n_steps:
        raise ShapeError(
            f"time_steps has {t.shape[0]} entries for {n_steps} steps; pass one number or "
            f"{n_steps} numbers."
        )
    t = t.to(device).expand(n_steps)
    _require_positive(t, where="step")
    return t


def _require_positive(t: torch.Tensor, *, where: str) -> None:
    """Raise naming the first time step ≤ 0 (or NaN) of ``t``, located as ``where``."""
    if bool((t > 0).all()):
        return
    index = tuple(int(i) for i in torch.nonzero(~(t > 0))[0])
    raise ValidationError(
        f"time_steps must be positive (the time elapsed since the previous input); got "
        f"{float(t[index]):g} at {where} {index if len(index) > 1 else index[0]}."
    )


def check_observed(observed: Any, x: torch.Tensor) -> torch.Tensor | None:
    """pyhgf's ``observed`` mask (1 observed, 0 missing) shaped like the inputs, or None."""
    if observed is None:
        return None
    arr = observed if isinstance(observed, torch.Tensor) else np.asarray(observed)
    m = as_tensor(arr, name="observed", ndim=(1, 2, 3), dtype=x.dtype, min_rows=1)
    given = tuple(m.shape)
    if m.ndim == 1:
        m = m[None, :, None]
    elif m.ndim == 2:
        m = m[:, :, None]
    if m.shape[1:] != x.shape[1:] or m.shape[0] not in (1, x.shape[0]):
        read = "" if len(given) == 3 else f", read as (batch, time, inputs) {tuple(m.shape)},"
        raise ShapeError(
            f"observed has shape {given}{read} but the inputs are (batch, time, inputs) "
            f"{tuple(x.shape)}; pass a 0/1 mask shaped like the inputs."
        )
    if bool(((m != 0) & (m != 1)).any()):
        raise ValidationError("observed must hold 0 (missing) or 1 (observed) only.")
    if bool((m == 1).all()):
        return None
    return m.expand(x.shape[0], -1, -1)


def _batch(x: torch.Tensor, bp: int) -> int:
    """The filter's batch: ``bp`` parameter settings against ``x``'s series."""
    bx = x.shape[0]
    if bp != 1 and bx != 1 and bp != bx:
        raise ShapeError(
            f"the inputs hold {bx} series but the parameters hold {bp} settings; pass one "
            f"series (broadcast to every setting), one setting per series, or equal numbers."
        )
    return max(bp, bx)


class ParamRows(Mapping[ParamKey, torch.Tensor]):
    """Parameter name → its ``(batch,)`` row of one ``(n_params, batch)`` matrix.

    A read-only mapping whose rows are views made on access; :attr:`matrix` is what the
    native kernel reads, without restacking the rows.
    """

    __slots__ = ("_index", "matrix")

    def __init__(self, keys: Sequence[ParamKey], matrix: torch.Tensor) -> None:
        self._index = {k: j for j, k in enumerate(keys)}
        self.matrix = matrix

    def __getitem__(self, key: ParamKey) -> torch.Tensor:
        return self.matrix[self._index[key]]

    def __iter__(self) -> Iterator[ParamKey]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


class _FinalBeliefs(Mapping[int, tuple[torch.Tensor, torch.Tensor]]):
    """State node → its ``(mean, precision)`` after the last step, each ``(batch,)``, read
    on access from the kernel's ``(2 × state nodes, batch)`` means and variances."""

    __slots__ = ("_rows", "_state")

    def __init__(self, nodes: Sequence[int], state: torch.Tensor) -> None:
        self._rows = {i: j for j, i in enumerate(nodes)}
        self._state = state

    def __getitem__(self, node: int) -> tuple[torch.Tensor, torch.Tensor]:
        j = self._rows[node]
        return self._state[2 * j], self._state[2 * j + 1].reciprocal()

    def __iter__(self) -> Iterator[int]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


def param_tensors(
    values: Mapping[ParamKey, Any], batch: int, dtype: torch.dtype, device: torch.device
) -> ParamRows:
    """Every parameter as a ``(batch,)`` row of one contiguous ``(n_params, batch)`` matrix."""
    keys = list(values)
    column, tensors = [], []
    for j, v in enumerate(values.values()):
        if isinstance(v, torch.Tensor):
            column.append(0.0)
            tensors.append((j, v))
        else:
            column.append(float(v))
    # scalars broadcast along the batch (expand + contiguous copies faster than repeat)
    matrix = torch.tensor(column, dtype=dtype, device=device)[:, None]
    matrix = matrix.expand(len(keys), batch).contiguous()
    for j, v in tensors:
        matrix[j] = v  # copy_ converts dtype and device
    return ParamRows(keys, matrix)


def run_filter(
    structure: Structure,
    values: Mapping[ParamKey, Any],
    inputs: Any,
    *,
    time_steps: Any = None,
    observed: Any = None,
    beliefs: bool = True,
    surprise: str | tuple[str, ...] = "nlpd",
    dtype: torch.dtype | None = None,
    backend: str = "auto",
    on_invalid: str = "raise",
    threads: int | None = None,
    node_labels: Mapping[int, str] | None = None,
) -> FilterResult:
    """Filter ``inputs`` through a network; see :meth:`Network.filter` for the arguments
    (``node_labels``: the model's names for its nodes, kept on the result)."""
    check_choice(backend, name="backend", choices=BACKENDS)
    check_choice(on_invalid, name="on_invalid", choices=("raise", "mark"))
    if dtype is not None and dtype not in (torch.float32, torch.float64):
        check_choice(dtype, name="dtype", choices=(torch.float32, torch.float64))
    kinds = surprise_kinds(surprise, structure)
    # Without a missing-data mask a NaN or Inf input makes its series' surprise non-finite,
    # so the scan for them waits until a total is (then the inputs are checked as before).
    defer = observed is None
    x, mask, as_numpy, single = check_inputs(
        inputs, structure, dtype, observed=observed, defer_finite=defer
    )
    dts = _time_steps(time_steps, x)
    settings = parameter_batch(values.values())
    batch = _batch(x, settings)
    squeeze = single and settings == 1
    params = param_tensors(values, batch, x.dtype, x.device)
    use_native = _use_native(backend, x)
    if use_native:
        raw = _native(structure, params, x, dts, mask, kinds, beliefs, batch, threads)
    else:
        xb = x.expand(batch, -1, -1)
        db = None if dts is None else dts.expand(batch, -1)
        mb = None if mask is None else mask.expand(batch, -1, -1)
        out = run_eager(structure, params, xb, db, store=beliefs, surprise=kinds, observed=mb)
        raw = (out.totals, out.per_step, out.trajectories, out.final_state)
    totals, per_step, traj, final = raw
    first, *others = totals.values()
    finite = torch.isfinite(first)
    for v in others:
        finite &= torch.isfinite(v)
    first_bad = torch.full((batch,), -1, dtype=torch.int64, device=x.device)
    if not bool(finite.all()):
        if defer:
            check_inputs(inputs, structure, dtype)  # raises the input error, if that is it
        if per_step:
            ps = next(iter(per_step.values()))
            bad_steps = ~torch.isfinite(ps)
            has = bad_steps.any(dim=1)
            first_bad = torch.where(has, bad_steps.int().argmax(dim=1), first_bad)
        if on_invalid == "raise":
            b = int(torch.nonzero(~finite)[0])
            raise _locate(structure, params, x, dts, mask, b, batch)
        for k in totals:
            totals[k] = torch.where(finite, totals[k], torch.full_like(totals[k], math.inf))
    return FilterResult(
        node_labels=dict(node_labels or {}),
        total_surprise=totals,
        valid=finite,
        first_invalid_step=first_bad,
        structure=structure,
        params=params,
        inputs=x.expand(batch, -1, -1),
        time_steps=None if dts is None else dts.expand(batch, -1),
        observed=None if mask is None else mask.expand(batch, -1, -1),
        backend="native" if use_native else "eager",
        squeeze=squeeze,
        as_numpy=as_numpy,
        stored=traj,
        stored_surprise=per_step,
        final=final,
        kept_beliefs=beliefs,
    )


def _use_native(backend: str, x: torch.Tensor) -> bool:
    ok_here = x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
    if backend == "eager":
        return False
    if backend == "native":
        if not ok_here:
            raise ConfigError(
                "backend='native' runs on CPU tensors of float32 or float64; got "
                f"{x.dtype} on {x.device}. Use backend='eager' (or 'auto')."
            )
        if not native.available():
            raise ConfigError(
                "backend='native' needs a C compiler (set $CC or install gcc/clang); "
                "use backend='eager' (or 'auto', which falls back to it)."
            )
        return True
    return ok_here and native.available()


def _native(
    structure: Structure,
    params: ParamRows,
    x: torch.Tensor,
    dts: torch.Tensor | None,
    mask: torch.Tensor | None,
    kinds: tuple[str, ...],
    store: bool,
    batch: int,
    threads: int | None,
) -> tuple[Any, Any, Any, Any]:
    keys = tuple(params)
    spec = KernelSpec(
        structure=structure,
        params=keys,
        dtype="double" if x.dtype == torch.float64 else "float",
        surprise=kinds,
        store=store,
        unit_dt=dts is None,
        shared_inputs=x.shape[0] == 1 and batch > 1,
        shared_dt=dts is not None and dts.shape[0] == 1 and batch > 1,
        missing=mask is not None,
    )
    p = params.matrix  # (n_params, batch), contiguous, rows in ``keys`` order
    xin = x.contiguous()  # (batch or 1, time, n_inputs)
    d = None if dts is None else dts.contiguous()
    m = None
    if mask is not None:
        m = (mask[:1] if spec.shared_inputs else mask).contiguous()
    out = native.run_native(spec, p, xin, d, None, observed=m, threads=threads)
    totals = dict(zip(kinds, out.totals.to(x.dtype)))
    per_step: dict[str, torch.Tensor] = {}
    traj: dict[tuple[int, str], torch.Tensor] = {}
    if store:
        per_step = dict(zip(kinds, out.per_step))
        names = [(i, q) for i in structure.state_nodes for q in TRAJECTORY]
        traj = dict(zip(names, out.trajectories))
    final = _FinalBeliefs(structure.state_nodes, out.final_state)
    return totals, per_step, traj, final


class _RecordingOps(TorchOps):
    """Torch ops that remember the raw value of every guard that tripped."""

    def __init__(self) -> None:
        self.tripped: list[float] = []

    def nan_unless_above(self, x: Any, threshold: float) -> Any:  # type: ignore[override]
        if not bool((x > threshold).all()):
            self.tripped.append(float(x.reshape(-1)[0]))
        return super().nan_unless_above(x, threshold)

    def guard(self, x: Any, low: float, high: float) -> Any:  # type: ignore[override]
        if not bool((x > low).all()):
            self.tripped.append(float(x.reshape(-1)[0]))
        return super().guard(x, low, high)


_NAMES = {
    "expected_precision": "predicted precision",
    "precision": "posterior precision",
    "mean": "posterior mean",
    "expected_mean": "predicted mean",
}


def _locate(
    structure: Structure,
    params: Mapping[ParamKey, torch.Tensor],
    x: torch.Tensor,
    dts: torch.Tensor | None,
    mask: torch.Tensor | None,
    b: int,
    batch: int,
) -> NonFiniteError:
    """Replay series ``b`` eagerly in float64 and describe the first non-finite belief."""
    p = {k: v[b : b + 1].double() for k, v in params.items()}
    xb = x[b if x.shape[0] > 1 else 0].double()
    state = initial_state(structure, p)
    ops = _RecordingOps()
    for t in range(xb.shape[0]):
        obs = {i: xb[t, k : k + 1] for k, i in enumerate(structure.inputs)}
        dt: Any = 1.0 if dts is None else dts[b if dts.shape[0] > 1 else 0, t : t + 1].double()
        seen = None
        if mask is not None:
            seen = {i: mask[b, t, k : k + 1].double() for k, i in enumerate(structure.inputs)}
        out = hgf_step(structure, ops, state, p, obs, dt, observed=seen)
        order = list(structure.prediction_order) + [i for op, i in structure.update_sequence]
        for i in order:
            for q in ("expected_precision", "expected_mean", "precision", "mean"):
                v = out.beliefs[i].get(q)
                if v is None or isinstance(v, float):
                    continue
                val = float(v.reshape(-1)[0])
                if math.isfinite(val) and (not q.endswith("precision") or val > 0):
                    continue
                raw = ops.tripped[0] if ops.tripped else val
                what = "non-positive" if math.isfinite(raw) and raw <= TINY else "non-finite"
                where = f"series {b}" if batch > 1 else "the series"
                return NonFiniteError(
                    f"{where}: at step {t}, node {i}'s {_NAMES[q]} became {what} "
                    f"({raw:.4g}); the parameters drive the filter outside its valid range "
                    "(try a lower tonic_volatility or volatility_coupling, or pass "
                    "on_invalid='mark' to keep the other series).",
                    step=t,
                    part=f"node {i} {q}",
                )
        state = out.state
    return NonFiniteError(  # pragma: no cover - the native result disagreed with the replay
        f"series {b} produced a non-finite surprise, but an eager replay did not; please "
        "report this with the inputs and parameters.",
        part="surprise",
    )
