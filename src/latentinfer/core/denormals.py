"""Flush subnormal floats to zero on the CPU while training.

Subnormal (denormal) floats, magnitudes below 1.2e-38 in float32, are handled by slow
microcode on many x86 CPUs: an arithmetic instruction that meets one can take a hundred
times longer. Adam's second-moment estimates ``v ← β₂ v + (1 − β₂) g²`` reach that range for
parameters whose gradients are tiny or zero, so an Adam step over a few hundred thousand
parameters can run ten times slower than it should (measured on an Intel Xeon with AVX512:
1.0 ms instead of 0.12 ms per step of the small VAE of ``benchmarks/vae/speed_vs_pythae.py``).
Flushing them to zero (the FTZ and DAZ bits of the SSE control register, which XLA and
oneDNN set by default) removes the slowdown and changes only values already below float32's
normal range. PyTorch leaves it off; :class:`~latentinfer.core.config.TrainConfig` turns it on
for the duration of a fit (``flush_denormal=True``) and restores the caller's setting after.

The setting belongs to the calling thread (it is a CPU register), so it covers the training
loop and single-threaded operators; PyTorch's intra-op worker threads keep their own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = ["flush_denormal_enabled", "flushing_denormals"]

#: A float32 subnormal: 2**-130, which FTZ/DAZ turns into 0 in any arithmetic.
_SUBNORMAL = 2.0**-130


def flush_denormal_enabled() -> bool:
    """Whether subnormal floats are flushed to zero on this thread now.

    Read off an operation rather than the register, which PyTorch does not expose: with
    DAZ set, a subnormal input times one is zero.
    """
    probe = torch.full((1,), _SUBNORMAL, dtype=torch.float64).float()
    return bool(probe.mul_(1.0).item() == 0.0)


@contextlib.contextmanager
def flushing_denormals(enabled: bool = True) -> Iterator[None]:
    """Flush subnormals to zero inside the block (when ``enabled``), then restore the setting.

    Does nothing on a CPU where PyTorch cannot set the flag (``torch.set_flush_denormal``
    returns False there: not x86 with SSE3).
    """
    if not enabled:
        yield
        return
    before = flush_denormal_enabled()
    changed = not before and torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if changed:
            torch.set_flush_denormal(False)
