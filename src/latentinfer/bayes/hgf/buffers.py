"""Recycled, aligned storage for the native kernels' per-step outputs.

A filter that returns beliefs writes about 9 values per step and series: 36 MB for
1,000 series × 1,000 steps in float32. Memory that size comes fresh from the operating
system on every call (``malloc`` maps it and ``free`` unmaps it), and the system zeroes
each new page on first touch, so a call writes its outputs twice and spends as long on
page faults as on filtering. :class:`OutputPool` keeps the blocks of the last calls and
hands one out again once nothing outside the pool refers to it any more (the caller has
dropped the returned tensors and every view of them), as caching allocators do on GPUs.

The pool holds at most :data:`SLOTS` blocks per output shape and :data:`MAX_BYTES` in
all (the least recently used go first); :func:`release_buffers` empties it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import torch

__all__ = ["MAX_BYTES", "SLOTS", "OutputPool", "release_buffers"]

#: Blocks kept per shape: two, so that ``res = hgf.filter(...)`` in a loop, which holds the
#: previous result while the next call runs, still reuses memory every other call.
SLOTS = 2
#: The most bytes the pool keeps alive between calls.
MAX_BYTES = 1 << 30

_use_count = getattr(torch._C, "_storage_Use_Count", None)


def _free(block: torch.Tensor) -> bool:
    """Whether only the pool refers to ``block``'s storage (the probe adds one reference)."""
    if _use_count is None:
        return False
    return bool(_use_count(block.untyped_storage()._cdata) <= 2)


class OutputPool:
    """Blocks of ``count`` arrays shaped ``(rows, cols)``, each starting on 64 bytes."""

    def __init__(self, max_bytes: int = MAX_BYTES, slots: int = SLOTS) -> None:
        self.max_bytes = max_bytes
        self.slots = slots
        self._blocks: OrderedDict[tuple[int, int, int, torch.dtype], list[torch.Tensor]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def take(self, count: int, rows: int, cols: int, dtype: torch.dtype) -> list[torch.Tensor]:
        """``count`` uninitialised ``(rows, cols)`` arrays; ``cols`` a multiple of 64 bytes."""
        size = torch.empty((), dtype=dtype).element_size()
        n = rows * cols
        key = (count, rows, cols, dtype)
        with self._lock:
            kept = self._blocks.get(key, [])
            block = next((b for b in kept if _free(b)), None)
            if block is None:
                block = torch.empty(count * n + 64 // size, dtype=dtype)
                if block.numel() * size <= self.max_bytes and _use_count is not None:
                    kept = [*kept, block][-self.slots :]
                    self._blocks[key] = kept
                    self._evict()
            if key in self._blocks:
                self._blocks.move_to_end(key)
        skip = (-block.data_ptr() % 64) // size
        return [block[skip + i * n : skip + (i + 1) * n].view(rows, cols) for i in range(count)]

    def _evict(self) -> None:
        def held() -> int:
            return sum(b.numel() * b.element_size() for bs in self._blocks.values() for b in bs)

        while self._blocks and held() > self.max_bytes:
            self._blocks.popitem(last=False)

    def clear(self) -> None:
        """Drop every kept block (blocks still in the caller's hands stay valid)."""
        with self._lock:
            self._blocks.clear()

    @property
    def nbytes(self) -> int:
        """Bytes the pool keeps alive."""
        with self._lock:
            return sum(b.numel() * b.element_size() for bs in self._blocks.values() for b in bs)


#: The pool the native filter draws its per-step outputs from.
POOL = OutputPool()


def release_buffers() -> None:
    """Return the memory the HGF filter keeps for reuse to the system allocator."""
    POOL.clear()
