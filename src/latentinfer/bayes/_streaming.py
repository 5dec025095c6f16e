"""What every streaming conjugate filter shares: the trace, the step loop and input checks.

A filter holds a belief (a frozen dataclass of :mod:`latentinfer.inference.conjugate`) of
a fixed ``batch_shape``. ``update`` advances it by one observation per series; ``filter``
runs a whole sequence from the current belief and returns a :class:`FilterTrace`, leaving the
filter as it was. At every step the belief is first relaxed toward the prior (forgetting λ),
the observation's surprise is evaluated under the relaxed belief, then it is absorbed.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar

import numpy as np
import torch

from latentinfer.core.errors import ConfigError, NonFiniteError, ShapeError, ValidationError
from latentinfer.core.validation import as_tensor, check_choice, check_number

__all__ = ["ConjugateFilter", "FilterTrace"]

B = TypeVar("B")

_DTYPES = (torch.float32, torch.float64)


@dataclass(frozen=True)
class FilterTrace(Generic[B]):
    """Per-step beliefs and surprise of a filter run over a sequence.

    Attributes:
        beliefs: the belief after each step, every field with a time axis inserted where
            the observations have theirs (see each filter's ``filter``).
        surprise: negative log predictive density of each observation under the belief
            before it was absorbed (after forgetting), shaped like the observations.
        final: the belief after the last step (continue from it with ``update``).
    """

    beliefs: B
    surprise: torch.Tensor
    final: B


def check_dtype(dtype: Any) -> torch.dtype:
    return check_choice(dtype, name="dtype", choices=_DTYPES)  # type: ignore[no-any-return]


def check_param(
    value: Any, *, name: str, dtype: torch.dtype, device: Any, positive: bool = True
) -> torch.Tensor:
    """A prior parameter (a number or a tensor), checked finite (and positive) everywhere."""
    if _is_number(value):
        check_number(value, name=name, low=0.0 if positive else None, low_inclusive=False)
        return torch.tensor(float(value), dtype=dtype, device=device)
    t = observations(value, name=name, dtype=dtype, device=device)
    if positive and t.numel() and bool((t <= 0).any()):
        raise ConfigError(
            f"{name} must be positive everywhere; got a minimum of {float(t.min()):g}. "
            "Pass numbers > 0."
        )
    return t


def check_forgetting(value: Any, *, dtype: torch.dtype, device: Any) -> float | torch.Tensor:
    """λ in [0, 1]: a number, or a tensor of them (one per parameter setting)."""
    if _is_number(value):
        return float(check_number(value, name="forgetting", low=0.0, high=1.0))
    t = observations(value, name="forgetting", dtype=dtype, device=device)
    if t.numel() and bool(((t < 0) | (t > 1)).any()):
        raise ConfigError(
            f"forgetting must lie in [0, 1] everywhere (1: no forgetting); got values in "
            f"[{float(t.min()):g}, {float(t.max()):g}]."
        )
    return t


def _is_number(value: Any) -> bool:
    """A Python or NumPy scalar number (not a bool, not an array)."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def check_batch_shape(value: Any) -> tuple[int, ...]:
    """``batch_shape`` as a tuple of ints ≥ 1 (Python or NumPy ints, or one of them)."""
    try:
        shape = (value,) if _is_int(value) else tuple(value)
    except TypeError:
        shape = (value,)
    if not all(_is_int(n) and n >= 1 for n in shape):
        raise ConfigError(
            f"batch_shape must be a positive int or a tuple of them (one per axis of arms); "
            f"got {value!r}."
        )
    return tuple(int(n) for n in shape)


def observations(x: Any, *, name: str, dtype: torch.dtype | None, device: Any) -> torch.Tensor:
    """User data as a tensor (any shape, scalars included), finite."""
    t = as_tensor(x, name=name, dtype=dtype, min_rows=0, device=device)
    if not isinstance(x, torch.Tensor) and t.ndim != np.ndim(x):
        t = t.reshape(np.shape(x))  # as_tensor returns NumPy 0-d input with shape (1,)
    return t


def check_broadcasts_to(t: torch.Tensor, shape: Sequence[int], *, name: str, what: str) -> None:
    shape = tuple(shape)
    try:
        ok = torch.broadcast_shapes(t.shape, shape) == shape
    except RuntimeError:
        ok = False
    if not ok:
        raise ShapeError(
            f"{name} has shape {tuple(t.shape)}, which does not broadcast to {what} {shape}; "
            f"pass a tensor of shape {shape} (or build the filter with a batch_shape that "
            "matches the data)."
        )


def check_nonnegative(t: torch.Tensor, *, name: str) -> None:
    if t.numel() and bool((t < 0).any()):
        first = tuple(int(i) for i in torch.nonzero(t < 0)[0])
        raise ValidationError(
            f"{name} must be non-negative; got {float(t[first]):g} at index {first}."
        )


def check_counts(
    successes: Any,
    trials: Any,
    shape: Sequence[int],
    *,
    what: str,
    dtype: torch.dtype | None,
    device: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``successes`` and ``trials`` broadcast to ``shape`` (the indices' shape, named by
    ``what``): finite, non-negative, successes ≤ trials."""
    s = observations(successes, name="successes", dtype=dtype, device=device)
    k = observations(trials, name="trials", dtype=dtype, device=device)
    for name, t in (("successes", s), ("trials", k)):
        check_broadcasts_to(t, shape, name=name, what=what)
        check_nonnegative(t, name=name)
    s, k = s.expand(tuple(shape)), k.expand(tuple(shape))
    if bool((s > k).any()):
        first = tuple(int(i) for i in torch.nonzero(s > k)[0])
        raise ValidationError(
            f"successes must not exceed trials; got successes {float(s[first]):g} > trials "
            f"{float(k[first]):g} at index {first}."
        )
    return s, k


def integer_valued(t: torch.Tensor, *, name: str) -> torch.Tensor:
    """``t`` as int64, if every entry is a whole number."""
    if t.dtype.is_floating_point:
        bad = t != torch.round(t)
        if t.numel() and bool(bad.any()):
            first = tuple(int(i) for i in torch.nonzero(bad)[0])
            raise ValidationError(
                f"{name} must hold whole numbers (indices); got {float(t[first]):g} at "
                f"index {first}."
            )
    return t.to(torch.int64)


def arm_indices(x: Any, *, name: str, device: Any = None) -> torch.Tensor:
    """Integer indices (whole numbers of any dtype) as int64; a boolean mask is refused."""
    is_mask = x.dtype == torch.bool if isinstance(x, torch.Tensor) else _bool_array(x)
    if is_mask:
        raise ValidationError(
            f"{name} must hold integer indices; got booleans (a mask?). Pass the indices it "
            "selects, e.g. torch.nonzero(mask).squeeze(-1) or numpy.flatnonzero(mask)."
        )
    return integer_valued(observations(x, name=name, dtype=None, device=device), name=name)


def _bool_array(x: Any) -> bool:
    try:
        return np.asarray(x).dtype.kind == "b"
    except (TypeError, ValueError):  # as_tensor explains what cannot be read
        return False


def check_time(x: torch.Tensor, *, name: str, min_ndim: int, layout: str) -> None:
    if x.ndim < min_ndim or x.shape[-min_ndim] == 0:
        raise ShapeError(
            f"{name} must have shape {layout} with at least one time step; got shape "
            f"{tuple(x.shape)}."
        )


def stack_beliefs(beliefs: list[B], dim: int) -> B:
    """Stack a list of beliefs field by field along a new axis ``dim``."""
    first: Any = beliefs[0]
    fields = {
        f.name: torch.stack([getattr(b, f.name) for b in beliefs], dim=dim)
        for f in dataclasses.fields(first)
    }
    return type(first)(**fields)  # type: ignore[no-any-return]


def expand_belief(belief: B, shape: Sequence[int]) -> B:
    """Every field broadcast (and copied) to ``shape``."""
    fields = {
        f.name: getattr(belief, f.name).expand(tuple(shape)).clone()
        for f in dataclasses.fields(belief)  # type: ignore[arg-type]
    }
    return type(belief)(**fields)


class ConjugateFilter(ABC, Generic[B]):
    """Base of the streaming conjugate filters (subclass it; the subclasses are final).

    Subclasses set ``self.forgetting``, build ``self.prior`` (the prior belief) and
    ``self.batch_shape``, call :meth:`reset`, and implement the three hooks below.
    """

    prior: B
    forgetting: float | torch.Tensor
    batch_shape: tuple[int, ...]
    dtype: torch.dtype
    _device: torch.device | str | None
    belief_: B

    def _belief_shape(self) -> tuple[int, ...]:
        """Shape of the belief's fields (``batch_shape`` unless overridden)."""
        return self.batch_shape

    @abstractmethod
    def _log_predictive(self, belief: B, obs: tuple[torch.Tensor, ...]) -> torch.Tensor: ...

    @abstractmethod
    def _absorb(self, belief: B, obs: tuple[torch.Tensor, ...]) -> B: ...

    def _step(self, belief: B, obs: tuple[torch.Tensor, ...]) -> tuple[B, torch.Tensor]:
        relaxed = belief.forget(self.prior, self.forgetting)  # type: ignore[attr-defined]
        return self._absorb(relaxed, obs), 0.0 - self._log_predictive(relaxed, obs)

    def _checked(self, belief: B, *, step: int | None = None) -> B:
        """``belief``, after checking that every field is finite (observations of a huge
        magnitude can overflow a sum of squares)."""
        for f in dataclasses.fields(belief):  # type: ignore[arg-type]
            t = getattr(belief, f.name)
            if bool(torch.isfinite(t).all()):
                continue
            index = tuple(int(i) for i in torch.nonzero(~torch.isfinite(t))[0])
            where = (f" at index {index}" if index else "") + (
                f" at step {step}" if step is not None else ""
            )
            wider = " (or use dtype=torch.float64)" if self.dtype != torch.float64 else ""
            raise NonFiniteError(
                f"the belief's {f.name} became {float(t[index]):g}{where}: the observations "
                f"are too large for {self.dtype}; rescale them{wider}.",
                step=step,
                part=f.name,
            )
        return belief

    def reset(self) -> Self:
        """Return the belief to the prior; returns the filter."""
        self.belief_ = expand_belief(self.prior, self._belief_shape())
        return self

    def _run(
        self,
        steps: Sequence[tuple[torch.Tensor, ...]],
        shape: Sequence[int],
        *,
        belief_dim: int = -1,
        surprise_dim: int = -1,
    ) -> FilterTrace[B]:
        """Run ``steps`` from the current belief broadcast to ``shape``; stack along the dims."""
        belief = expand_belief(self.belief_, shape)
        beliefs, surprise = [], []
        for obs in steps:
            belief, s = self._step(belief, obs)
            beliefs.append(belief)
            surprise.append(s)
        try:  # an overflow stays inf (or NaN) in every later belief: check the last one
            self._checked(belief)
        except NonFiniteError:
            for i, b in enumerate(beliefs):
                self._checked(b, step=i)
            raise
        return FilterTrace(
            beliefs=stack_beliefs(beliefs, belief_dim),
            surprise=torch.stack(surprise, dim=surprise_dim),
            final=belief,
        )
