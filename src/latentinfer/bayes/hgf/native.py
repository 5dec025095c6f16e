"""Compile, cache and call the generated C kernels.

The kernel source (:mod:`~latentinfer.bayes.hgf.codegen`) is compiled with the system C
compiler (``$CC``, else ``cc``, ``gcc`` or ``clang``: the same requirement as
``torch.compile`` on a CPU) into a shared library cached under
``$LATENTINFER_CACHE`` (default ``~/.cache/latentinfer``), keyed by the hash of the source,
the flags, the compiler and the CPU; compiling a network's kernels takes well under a
second, once. The library is written to a temporary name and renamed into place, so
concurrent processes never load a half-written file. Calls go through :mod:`ctypes`,
which releases the GIL: batches are split over threads (``torch.get_num_threads()``).

Without a working compiler :func:`available` is False and the filter uses the eager
backend (with a warning when the native one was asked for).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from latentinfer.bayes.hgf.buffers import POOL
from latentinfer.bayes.hgf.codegen import KernelSpec, source
from latentinfer.core.errors import ConfigError, LatentInferError

__all__ = ["NativeOutput", "PreparedCall", "available", "compile_kernel", "run_native"]

logger = logging.getLogger("latentinfer")


def _chains() -> int:
    """Vectors per block of the vector kernel: independent dependency chains.

    Enough chains keep the out-of-order core busy; too many spill registers. Measured on
    the benchmark machines (1,000 × 1,000 steps, workloads b, c and e of
    ``benchmarks/bayes/hgf_speed.py``): on an AVX2 AMD EPYC 8 chains were best; on an
    AVX-512 Intel Xeon 8 chains spilled a third of the loop's instructions to memory and 4
    were 7-15% faster. So 4 where the CPU has AVX-512 (its EVEX encodings, 32 registers),
    else 8; ``$LATENTINFER_HGF_CHAINS`` overrides it (1-16).
    """
    env = os.environ.get("LATENTINFER_HGF_CHAINS")
    if env:
        if not env.isdigit() or not 1 <= int(env) <= 16:
            raise ConfigError(
                f"LATENTINFER_HGF_CHAINS must be an integer from 1 to 16; got {env!r}."
            )
        return int(env)
    return 4 if " avx512f" in _cpu_id() else 8


def _vector_bytes() -> int:
    """Bytes per vector of the vector kernel: 64 (AVX-512 registers) on AMD CPUs with
    AVX-512, else 32.

    Measured with 1 thread (workloads b, c and e of ``benchmarks/bayes/hgf_speed.py``): on
    an AMD EPYC with AVX-512, 4 chains of 64 bytes ran the surprise-only filters 1.6-1.8x
    and the float32 gradient 1.5x faster than 4 chains of 32 bytes, the belief-storing
    filters at about the same speed; 8 chains of 32 bytes (as many lanes as 4 of 64) ran
    float32 (c) in 1.18 ms, against 0.71-0.82 ms. The Intel Xeon keeps the 32 bytes it was
    tuned with. ``$LATENTINFER_HGF_VECTOR_BYTES`` (32 or 64) overrides it.
    """
    env = os.environ.get("LATENTINFER_HGF_VECTOR_BYTES")
    if env:
        if env not in ("32", "64"):
            raise ConfigError(f"LATENTINFER_HGF_VECTOR_BYTES must be 32 or 64; got {env!r}.")
        return int(env)
    cpu = _cpu_id()
    return 64 if " avx512f" in cpu and "AuthenticAMD" in cpu else 32


def width(dtype: str) -> int:
    """Lanes per block of the vector kernel for ``dtype`` (``"float"`` or ``"double"``)."""
    return VECTORS * VECTOR_BYTES // (4 if dtype == "float" else 8)


FLAGS = (
    "-O3",
    "-march=native",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-std=gnu11",
    "-fPIC",
    "-shared",
)
_lock = threading.Lock()


class CompileError(LatentInferError, RuntimeError):
    """The C compiler is missing or rejected a generated kernel."""


@functools.cache
def _compiler() -> str | None:
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return shutil.which(cc)
    return None


@functools.cache
def _compiler_id() -> str:
    cc = _compiler()
    if cc is None:
        return ""
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30)
        return out.stdout.splitlines()[0] if out.stdout else cc
    except (OSError, subprocess.SubprocessError):
        return cc


@functools.cache
def _cpu_id() -> str:
    """What ``-march=native`` depends on: the machine and (on Linux) the CPU's flags."""
    ident = [platform.machine(), platform.system()]
    try:
        text = Path("/proc/cpuinfo").read_text()
        for key in ("vendor_id", "model name", "flags", "Features"):
            for line in text.splitlines():
                if line.startswith(key):
                    ident.append(line)
                    break
    except OSError:
        pass
    return "\n".join(ident)


#: Vectors per block of the vector kernel (:func:`_chains`).
VECTORS = _chains()
#: Bytes per vector (:func:`_vector_bytes`), which every generated kernel is told: blocks of
#: 32, 64 or 128 float lanes (half as many doubles).
VECTOR_BYTES = _vector_bytes()


def cache_dir() -> Path:
    root = os.environ.get("LATENTINFER_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "latentinfer"
    return base / "kernels"


@functools.cache
def available() -> bool:
    """Whether native kernels can be built here (a C compiler that works)."""
    if os.environ.get("LATENTINFER_NATIVE", "1") == "0":
        return False
    if _compiler() is None:
        return False
    try:
        _build("int li_probe(void) { return 42; }\n")
    except CompileError as exc:
        logger.warning("native HGF kernels unavailable: %s", exc)
        return False
    return True


def _build(code: str) -> Path:
    cc = _compiler()
    if cc is None:
        raise CompileError("no C compiler found (set $CC, or install gcc or clang).")
    key = hashlib.sha256(
        "\n".join([code, " ".join(FLAGS), _compiler_id(), _cpu_id()]).encode()
    ).hexdigest()[:24]
    folder = cache_dir()
    lib = folder / f"hgf_{key}.so"
    if lib.is_file():
        return lib
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        src = Path(tmp) / "kernel.c"
        src.write_text(code)
        out = Path(tmp) / "kernel.so"
        proc = subprocess.run(
            [cc, *FLAGS, "-o", str(out), str(src), "-lm"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if proc.returncode != 0:
            raise CompileError(f"{cc} failed to compile an HGF kernel:\n{proc.stderr[-2000:]}")
        os.replace(out, lib)
    return lib


@dataclass(frozen=True)
class _Kernels:
    lib: ctypes.CDLL
    blocked: ctypes._CFuncPtr  # type: ignore[name-defined]
    scalar: ctypes._CFuncPtr  # type: ignore[name-defined]


_ARGTYPES = [ctypes.c_int64] * 5 + [ctypes.c_void_p] * 10


@functools.lru_cache(maxsize=256)
def compile_kernel(spec: KernelSpec) -> _Kernels:
    """Build (or load from the cache) the blocked and scalar kernels of ``spec``."""
    with _lock:
        code = source(
            [(spec, "li_blocked", width(spec.dtype)), (spec, "li_scalar", 1)], VECTOR_BYTES
        )
        lib = ctypes.CDLL(str(_build(code)))
    fns = []
    for nm in ("li_blocked", "li_scalar"):
        fn = getattr(lib, nm)
        fn.argtypes = _ARGTYPES
        fn.restype = None
        fns.append(fn)
    return _Kernels(lib, fns[0], fns[1])


@dataclass(frozen=True)
class NativeOutput:
    """Raw kernel outputs (batch-major)."""

    totals: torch.Tensor  # (n_totals, B) float64
    grads: torch.Tensor | None  # (K, B) float64
    trajectories: list[torch.Tensor]  # Q (B, T) views of time-major storage (TRAJECTORY order)
    per_step: list[torch.Tensor]  # one (B, T) view per surprise kind
    final_state: torch.Tensor  # (2 × state nodes, B): mean and variance of each


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _pointers(ts: list[torch.Tensor]) -> ctypes.Array[ctypes.c_void_p] | None:
    """A C array of the tensors' data pointers (keep it alive during the call)."""
    if not ts:
        return None
    return (ctypes.c_void_p * len(ts))(*[t.data_ptr() for t in ts])


def _address(arr: ctypes.Array[ctypes.c_void_p] | None) -> int | None:
    return None if arr is None else ctypes.addressof(arr)


class PreparedCall:
    """One kernel bound to its inputs and output buffers, ready to run many times.

    A fit calls the same kernel hundreds of times with new parameter values: it writes them
    into :attr:`params` and calls :meth:`run`, which costs one foreign call (microseconds)
    on top of the kernel. Outputs are overwritten by every run.

    Args:
        spec: the kernel.
        params: ``(n_params, B)``, contiguous, the kernel's dtype (B: the batch).
        inputs: ``(B, T, n_inputs)`` (``(1, T, n_inputs)`` with ``spec.shared_inputs``),
            contiguous.
        dts: ``(B, T)`` (``(1, T)`` with ``spec.shared_dt``), or ``None`` (``spec.unit_dt``).
        responses: ``(B, T)`` or ``None``.
        observed: 0/1 shaped like ``inputs`` (``spec.missing``), or ``None``.
        threads: threads to split the batch over (default ``torch.get_num_threads()``).
    """

    def __init__(
        self,
        spec: KernelSpec,
        params: torch.Tensor,
        inputs: torch.Tensor,
        dts: torch.Tensor | None,
        responses: torch.Tensor | None,
        *,
        observed: torch.Tensor | None = None,
        threads: int | None = None,
    ) -> None:
        kern = compile_kernel(spec)
        self.params = params
        self._keep = (inputs, dts, responses, observed)  # the kernel reads these
        n_steps, batch = inputs.shape[1], params.shape[1]
        dtype = inputs.dtype
        n_totals = len(spec.surprise) + (1 if spec.response else 0)
        totals = torch.empty(n_totals, batch, dtype=torch.float64)
        grads = torch.empty(len(spec.grad), batch, dtype=torch.float64) if spec.grad else None
        final = torch.empty(max(2 * len(spec.structure.state_nodes), 1), batch, dtype=dtype)
        traj: list[torch.Tensor] = []
        per_step: list[torch.Tensor] = []
        # per-step outputs are written time-major with rows padded to 64 bytes (streaming
        # stores need aligned rows) and returned as (B, T) views
        scalar = batch < 4
        pitch = batch if scalar else -(-batch // 16) * 16  # only the vector kernel streams
        if spec.store:  # recycled once the caller drops them: fresh pages cost a write each
            n_q = 4 * len(spec.structure.state_nodes)
            arrays = POOL.take(n_q + len(spec.surprise), n_steps, pitch, dtype)
            traj, per_step = arrays[:n_q], arrays[n_q:]
        self.output = NativeOutput(
            totals,
            grads,
            [t[:, :batch].T for t in traj],
            [t[:, :batch].T for t in per_step],
            final,
        )
        self._arrays = (_pointers(traj), _pointers(per_step))
        self._fn = kern.scalar if scalar else kern.blocked
        args = (
            _ptr(params),
            _ptr(inputs),
            _ptr(dts),
            _ptr(observed),
            _ptr(responses),
            _ptr(totals),
            _ptr(grads),
            _address(self._arrays[0]),
            _address(self._arrays[1]),
            _ptr(final),
        )
        n_threads = max(1, threads if threads is not None else torch.get_num_threads())
        lanes = width(spec.dtype)
        per_thread = -(-batch // n_threads)
        chunk = -(-per_thread // lanes) * lanes  # whole blocks per thread
        self._calls = [(batch, n_steps, b, min(b + chunk, batch), pitch, *args)
                       for b in range(0, batch, chunk)]  # fmt: skip

    def run(self) -> NativeOutput:
        """Run the kernel (the outputs are overwritten) and return them."""
        fn = self._fn
        if len(self._calls) == 1:
            fn(*self._calls[0])
        else:
            with ThreadPoolExecutor(len(self._calls)) as pool:
                list(pool.map(lambda a: fn(*a), self._calls))
        return self.output


def run_native(
    spec: KernelSpec,
    params: torch.Tensor,
    inputs: torch.Tensor,
    dts: torch.Tensor | None,
    responses: torch.Tensor | None,
    *,
    observed: torch.Tensor | None = None,
    threads: int | None = None,
) -> NativeOutput:
    """Call the kernel of ``spec`` once (see :class:`PreparedCall` for the arguments)."""
    call = PreparedCall(spec, params, inputs, dts, responses, observed=observed, threads=threads)
    return call.run()
