"""Input checks at the public boundary.

Each check raises a :mod:`latentinfer.core.errors` exception whose message names the
argument, shows what was passed and says what is accepted. Library code calls these once,
where user input enters (``fit``, ``transform``, a command-line option), never deep inside.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from latentinfer.core.errors import ConfigError, ShapeError, ValidationError

__all__ = [
    "as_tensor",
    "check_choice",
    "check_finite",
    "check_n_features",
    "check_number",
    "check_same_rows",
]

_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _describe(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return f"a tensor of shape {tuple(x.shape)} and dtype {x.dtype}"
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    return f"a {type(x).__name__}"


def as_tensor(
    x: Any,
    *,
    name: str,
    ndim: int | Sequence[int] | None = None,
    dtype: torch.dtype | None = torch.float32,
    allow_nonfinite: bool = False,
    min_rows: int = 1,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Convert user data to a tensor and check it.

    Args:
        x: a tensor, NumPy array, nested list or anything ``numpy.asarray`` accepts
            (a pandas DataFrame included).
        name: the argument's name, used in error messages.
        ndim: accepted number(s) of dimensions, or ``None`` for any.
        dtype: the dtype to convert to; ``None`` keeps a tensor's dtype (NumPy data keep
            theirs too). Integer input is converted to a float ``dtype`` when one is asked.
        allow_nonfinite: accept NaN and Inf entries (rejected by default).
        min_rows: the least number of rows (size of dimension 0) accepted.
        device: where to put the result (``None`` leaves a tensor where it is, CPU otherwise).

    Returns:
        The data as a tensor.

    Raises:
        ValidationError: the data cannot be read as numbers, is empty, or holds NaN/Inf.
        ShapeError: the number of dimensions is not accepted.
    """
    if x is None:
        raise ValidationError(f"{name} is None; pass an array or tensor of numbers.")
    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        try:
            arr = np.asarray(x)
        except Exception as exc:  # pragma: no cover - numpy's own message is kept
            raise ValidationError(f"{name} cannot be read as an array: {exc}") from exc
        if arr.dtype == object or arr.dtype.kind in "USV":
            raise ValidationError(
                f"{name} must hold numbers; got {_describe(arr)}. "
                "Convert strings or mixed objects to numbers first."
            )
        if arr.dtype.kind == "b":
            arr = arr.astype(np.int64)
        elif not arr.flags.writeable:  # e.g. pandas' read-only views: torch warns on them
            arr = arr.copy()
        t = torch.from_numpy(np.ascontiguousarray(arr).reshape(arr.shape))  # keeps 0-d as 0-d
    if t.dtype == torch.bool:
        t = t.to(torch.int64)
    if t.is_complex():
        raise ValidationError(f"{name} must be real-valued; got {_describe(t)}.")
    if dtype is not None and t.dtype != dtype:
        t = t.to(dtype)
    if device is not None:
        t = t.to(device)
    if ndim is not None:
        accepted = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if t.ndim not in accepted:
            want = " or ".join(str(a) for a in accepted)
            raise ShapeError(f"{name} must have {want} dimension(s); got {_describe(t)}.")
    if t.ndim == 0 and min_rows > 0:
        raise ShapeError(f"{name} must be an array with rows; got a scalar.")
    if t.ndim > 0 and t.shape[0] < min_rows:
        raise ValidationError(f"{name} must have at least {min_rows} row(s); got {_describe(t)}.")
    if not allow_nonfinite:
        check_finite(t, name=name)
    return t


def check_finite(t: torch.Tensor, *, name: str) -> None:
    """Raise :class:`ValidationError` if ``t`` holds NaN or Inf, naming the first bad entry."""
    if t.dtype not in _FLOAT_DTYPES or t.numel() == 0:
        return
    # fast path: a finite sum means every entry is finite (NaN and Inf propagate); a sum
    # of finite entries that overflows the dtype only sends us to the exact check below.
    # Summing in the tensor's own dtype is 7x faster than accumulating float32 in float64.
    if bool(torch.isfinite(t.sum())):
        return
    bad = ~torch.isfinite(t)
    if not bool(bad.any()):
        return
    count = int(bad.sum())
    first = tuple(int(i) for i in torch.nonzero(bad)[0])
    kind = "NaN" if bool(torch.isnan(t[first])) else "Inf"
    raise ValidationError(
        f"{name} holds {count} non-finite value(s) ({kind} first at index {first}); "
        "only finite numbers are accepted. Impute or drop missing values first."
    )


def check_n_features(t: torch.Tensor, expected: Sequence[int] | int, *, name: str) -> None:
    """Check the trailing (feature) shape of ``t`` against what the model was fitted on."""
    want = (expected,) if isinstance(expected, int) else tuple(expected)
    got = tuple(t.shape[1:])
    if got != want:
        raise ShapeError(
            f"{name} has feature shape {got} but the model was fitted on feature shape {want}; "
            f"pass data with shape (n_rows, {', '.join(str(w) for w in want)})."
        )


def check_same_rows(**arrays: torch.Tensor | None) -> None:
    """Check that the given arrays (``None`` skipped) have the same number of rows."""
    rows = {k: v.shape[0] for k, v in arrays.items() if v is not None}
    if len(set(rows.values())) > 1:
        listing = ", ".join(f"{k} has {n}" for k, n in rows.items())
        raise ShapeError(f"arguments must have the same number of rows; {listing}.")


def check_number(
    value: Any,
    *,
    name: str,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    integer: bool = False,
    allow_none: bool = False,
) -> Any:
    """Check a scalar hyperparameter and return it.

    Raises:
        ConfigError: the value is not a number (an integer when ``integer``), or lies
            outside ``[low, high]`` (bounds open when the matching flag is False).
    """
    if value is None and allow_none:
        return value
    kind = "an integer" if integer else "a finite number"
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    is_num = is_int or isinstance(value, (float, np.floating))
    if (integer and not is_int) or not is_num or (not is_int and not math.isfinite(value)):
        extra = " or None" if allow_none else ""
        raise ConfigError(f"{name} must be {kind}{extra}; got {value!r}.")
    too_low = low is not None and (value < low if low_inclusive else value <= low)
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if too_low or too_high:
        lo = "(-inf" if low is None else ("[" if low_inclusive else "(") + f"{low:g}"
        hi = "inf)" if high is None else f"{high:g}" + ("]" if high_inclusive else ")")
        raise ConfigError(f"{name} must lie in {lo}, {hi}; got {value!r}.")
    return value


def check_widths(value: Any, *, name: str, example: str, allow_empty: bool = False) -> Any:
    """Check layer widths: a sequence (not a string) of integers ≥ 1, non-empty unless
    ``allow_empty``; return it. ``example`` is shown in the message (``"(64, 64)"``)."""
    is_seq = isinstance(value, Sequence) and not isinstance(value, str)
    if not is_seq or (not allow_empty and not value):
        kind = "sequence" if allow_empty else "non-empty sequence"
        none = " (or () for none)" if allow_empty else ""
        raise ConfigError(
            f"{name} must be a {kind} of layer widths like {example}{none}; got {value!r}."
        )
    for width in value:
        check_number(width, name=name, low=1, integer=True)
    return value


def check_bool(value: Any, *, name: str, allow_none: bool = False) -> Any:
    """Check that ``value`` is True or False (or None when ``allow_none``) and return it.

    Strings such as ``"no"`` are refused: they would count as true.
    """
    if (value is None and allow_none) or isinstance(value, bool | np.bool_):
        return value
    extra = ", False or None" if allow_none else " or False"
    raise ConfigError(f"{name} must be True{extra}; got {value!r}.")


def check_choice(value: Any, *, name: str, choices: Iterable[Any]) -> Any:
    """Check that ``value`` is one of ``choices`` and return it."""
    options = list(choices)
    if value not in options:
        listing = ", ".join(repr(c) for c in options)
        raise ConfigError(
            f"{name} must be one of {listing}; got {value!r}.{did_you_mean(value, options)}"
        )
    return value


def did_you_mean(value: Any, options: Iterable[Any]) -> str:
    """`` Did you mean 'x'?`` for the option closest to a mistyped string, else ``""``."""
    names = [o for o in options if isinstance(o, str)]
    if not isinstance(value, str) or not names:
        return ""
    close = difflib.get_close_matches(value, names, n=1)
    return f" Did you mean {close[0]!r}?" if close else ""
