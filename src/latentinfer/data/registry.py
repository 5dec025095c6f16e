"""The dataset registry and the :class:`Dataset` container.

Loaders register themselves under a name with :func:`register`; :func:`load` looks the
name up, checks the options against the loader's signature and calls it. Every loader
returns a :class:`Dataset`.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import torch

from latentinfer.core.errors import ConfigError, ShapeError, ValidationError
from latentinfer.core.validation import check_number

__all__ = [
    "Dataset",
    "available",
    "check_flag",
    "check_seed",
    "describe",
    "load",
    "options",
    "register",
]

Loader = Callable[..., "Dataset"]
_F = TypeVar("_F", bound=Callable[..., Any])


@dataclass(frozen=True)
class _Entry:
    loader: Loader
    description: str


_REGISTRY: dict[str, _Entry] = {}


# --------------------------------------------------------------------------------------
# the container
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A data set held in memory, with its ground truth where known.

    Attributes:
        X: float32 tensor of shape ``(n, ...)``: one row per observation (flat features or
            images ``(n, channels, height, width)``).
        factors: int64 tensor of shape ``(n, n_factors)`` holding the ground-truth discrete
            factor levels of each row (level ``j`` of factor ``i`` lies in
            ``0 .. factor_sizes[i] - 1``), or ``None`` when the generating latents are not
            discrete.
        factor_names: the name of each column of ``factors`` (empty when ``factors`` is None).
        factor_sizes: the number of levels of each factor (empty when ``factors`` is None).
        y: a label per row (int64, shape ``(n,)``) where the data have one, such as the
            digit class; ``None`` otherwise.
        name: the registry name the data set was loaded under.
        info: free-form metadata: ``"likelihood"`` (a suggested observation model:
            ``"bernoulli"``, ``"gaussian"`` or ``"categorical"``), ``"image_shape"``,
            ``"n_relevant"``, true parameters, ... . Per-row tensors in ``info`` (for
            instance the true continuous latents ``info["z"]``) are listed by key in
            ``info["per_row"]`` so that :meth:`split` and :meth:`subset` select their rows
            along with ``X``.
    """

    X: torch.Tensor
    factors: torch.Tensor | None = None
    factor_names: tuple[str, ...] = ()
    factor_sizes: tuple[int, ...] = ()
    y: torch.Tensor | None = None
    name: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        X = self.X
        if not isinstance(X, torch.Tensor) or X.dtype != torch.float32 or X.ndim < 2:
            got = (
                f"a tensor of shape {tuple(X.shape)} and dtype {X.dtype}"
                if isinstance(X, torch.Tensor)
                else f"a {type(X).__name__}"
            )
            raise ValidationError(
                f"Dataset.X must be a float32 tensor of shape (n, ...); got {got}."
            )
        n = X.shape[0]
        object.__setattr__(self, "factor_names", tuple(self.factor_names))
        object.__setattr__(self, "factor_sizes", tuple(int(s) for s in self.factor_sizes))
        if len(self.factor_names) != len(self.factor_sizes):
            raise ValidationError(
                f"Dataset.factor_names has {len(self.factor_names)} entries but "
                f"factor_sizes has {len(self.factor_sizes)}; give one size per factor."
            )
        f = self.factors
        if f is not None:
            if f.dtype != torch.int64 or f.ndim != 2 or f.shape != (n, len(self.factor_names)):
                raise ShapeError(
                    f"Dataset.factors must be an int64 tensor of shape "
                    f"({n}, {len(self.factor_names)}); got shape {tuple(f.shape)} and dtype "
                    f"{f.dtype}."
                )
            if f.numel():
                sizes = torch.tensor(self.factor_sizes, dtype=torch.int64)
                if bool((f < 0).any()) or bool((f >= sizes).any()):
                    raise ValidationError(
                        "Dataset.factors holds a level outside 0 .. factor_sizes - 1 "
                        f"(factor_sizes={self.factor_sizes})."
                    )
        elif self.factor_names:
            raise ValidationError("Dataset.factor_names is given but factors is None.")
        if self.y is not None and (self.y.ndim < 1 or self.y.shape[0] != n):
            raise ShapeError(
                f"Dataset.y must have {n} rows like X; got shape {tuple(self.y.shape)}."
            )
        for key in self.info.get("per_row", ()):
            value = self.info.get(key)
            if not isinstance(value, torch.Tensor) or value.ndim < 1 or value.shape[0] != n:
                raise ShapeError(
                    f"Dataset.info[{key!r}] is listed in info['per_row'] so it must be a "
                    f"tensor with {n} rows like X."
                )

    # ----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_factors(self) -> int:
        """The number of ground-truth discrete factors (0 when there are none)."""
        return len(self.factor_names)

    def __repr__(self) -> str:
        def desc(t: torch.Tensor | None) -> str:
            return "None" if t is None else f"<{tuple(t.shape)} {str(t.dtype).split('.')[-1]}>"

        factors = ", ".join(f"{a}:{b}" for a, b in zip(self.factor_names, self.factor_sizes))
        return (
            f"Dataset(name={self.name!r}, X={desc(self.X)}, factors={desc(self.factors)}"
            f"{' [' + factors + ']' if factors else ''}, y={desc(self.y)}, "
            f"info keys={sorted(self.info)})"
        )

    def subset(self, index: torch.Tensor | Sequence[int] | np.ndarray) -> Dataset:
        """Return the rows at ``index`` (integer positions or a boolean mask) as a new Dataset.

        ``X``, ``factors``, ``y`` and the per-row entries of ``info`` are indexed together;
        ``info["indices"]`` records the selected rows' positions in the original data set
        (composed across repeated subsetting).
        """
        arr = index.cpu().numpy() if isinstance(index, torch.Tensor) else np.asarray(index)
        n = len(self)
        if arr.dtype == np.bool_:
            if arr.shape != (n,):
                raise ShapeError(f"a boolean index must have shape ({n},); got {arr.shape}.")
            arr = np.flatnonzero(arr)
        elif arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise ValidationError(f"index must hold integer positions; got dtype {arr.dtype}.")
        idx = torch.as_tensor(arr.astype(np.int64, copy=False)).reshape(-1)
        if idx.numel() and (int(idx.min()) < -n or int(idx.max()) >= n):
            raise ValidationError(f"index holds a position outside 0 .. {n - 1}.")
        idx = torch.remainder(idx, n) if n else idx
        info = dict(self.info)
        for key in info.get("per_row", ()):
            info[key] = info[key][idx]
        parent = self.info.get("indices")
        info["indices"] = parent[idx] if isinstance(parent, torch.Tensor) else idx.clone()
        return Dataset(
            X=self.X[idx],
            factors=None if self.factors is None else self.factors[idx],
            factor_names=self.factor_names,
            factor_sizes=self.factor_sizes,
            y=None if self.y is None else self.y[idx],
            name=self.name,
            info=info,
        )

    def split(self, test_fraction: float = 0.2, *, seed: int = 0) -> tuple[Dataset, Dataset]:
        """Split the rows at random into a training and a test part.

        Args:
            test_fraction: the share of rows put in the test part, in ``(0, 1)``; the test
                part gets ``round(test_fraction * n)`` rows, at least one and at most
                ``n - 1``.
            seed: seed of the random permutation; the same seed gives the same split.

        Returns:
            ``(train, test)``: two data sets whose rows partition this one. Each part keeps
            the rows in their original order; ``info["indices"]`` holds their positions here.

        Raises:
            ConfigError: ``test_fraction`` is not in ``(0, 1)`` or ``seed`` is not a
                non-negative integer.
            ValidationError: the data set has fewer than two rows.
        """
        check_number(
            test_fraction,
            name="test_fraction",
            low=0.0,
            high=1.0,
            low_inclusive=False,
            high_inclusive=False,
        )
        check_seed(seed)
        n = len(self)
        if n < 2:
            raise ValidationError(f"split needs at least 2 rows; the data set has {n}.")
        n_test = min(max(round(test_fraction * n), 1), n - 1)
        perm = np.random.default_rng(seed).permutation(n)
        test_idx = np.sort(perm[:n_test])
        train_idx = np.sort(perm[n_test:])
        return self.subset(train_idx), self.subset(test_idx)


# --------------------------------------------------------------------------------------
# option checks shared by the loaders
# --------------------------------------------------------------------------------------


def check_flag(value: Any, *, name: str) -> bool:
    """Check that ``value`` is a bool (``True``/``False``; 0 and 1 are refused) and return it."""
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{name} must be True or False; got {value!r}.")
    return bool(value)


def check_seed(value: Any, *, name: str = "seed") -> int:
    """Check that ``value`` is a non-negative integer seed and return it as ``int``."""
    return int(check_number(value, name=name, low=0, integer=True))


# --------------------------------------------------------------------------------------
# the registry
# --------------------------------------------------------------------------------------


def register(name: str, *, description: str | None = None) -> Callable[[_F], _F]:
    """Register a loader function under ``name`` (a decorator).

    The loader takes its options as keyword arguments and returns a :class:`Dataset`.
    :func:`load` refuses options that are not parameters of the loader.

    Args:
        name: the registry name (what :func:`load` and :func:`available` use).
        description: one line for :func:`describe`; by default the first line of the
            loader's docstring.

    Raises:
        ValidationError: ``name`` is empty or already registered.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"name must be a non-empty string; got {name!r}.")

    def decorator(loader: _F) -> _F:
        if name in _REGISTRY:
            raise ValidationError(
                f"a data set named {name!r} is already registered "
                f"(by {_REGISTRY[name].loader.__module__}); pick another name."
            )
        text = description
        if text is None:
            doc = inspect.getdoc(loader) or ""
            text = doc.strip().splitlines()[0] if doc.strip() else ""
        _REGISTRY[name] = _Entry(loader=loader, description=text)
        return loader

    return decorator


def available() -> list[str]:
    """Return the registered data set names, sorted."""
    return sorted(_REGISTRY)


def describe(name: str | None = None) -> str:
    """Return the one-line description of data set ``name``.

    With ``name=None``, return one line ``"name: description"`` per registered data set,
    sorted by name, joined by newlines.
    """
    if name is None:
        width = max((len(k) for k in _REGISTRY), default=0)
        return "\n".join(f"{k:<{width}}  {_REGISTRY[k].description}" for k in available())
    return _REGISTRY[_check_name(name)].description


def _check_name(name: Any) -> str:
    if isinstance(name, str) and name in _REGISTRY:
        return name
    listing = ", ".join(repr(k) for k in available())
    hint = ""
    if isinstance(name, str):
        close = difflib.get_close_matches(name.strip().lower(), available(), n=1)
        if close:
            hint = f" Did you mean {close[0]!r}?"
    raise ValidationError(f"unknown data set name {name!r}; accepted: {listing}.{hint}")


def _accepted_options(loader: Loader) -> tuple[list[str], bool]:
    params = inspect.signature(loader).parameters.values()
    names = [
        p.name
        for p in params
        if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    return names, takes_any


def options(name: str) -> list[str]:
    """The options the loader of data set ``name`` accepts."""
    return _accepted_options(_REGISTRY[_check_name(name)].loader)[0]


def load(name: str, **options: Any) -> Dataset:
    """Load the registered data set ``name`` with the given options.

    Args:
        name: one of :func:`available`.
        **options: the loader's options (see the loader's docstring, e.g.
            :func:`latentinfer.data.load_sprites`).

    Returns:
        The :class:`Dataset`.

    Raises:
        ValidationError: ``name`` is not registered (the message lists the accepted names).
        ConfigError: an option is unknown to the loader or has a value it does not accept
            (the message names the option and what is accepted).
    """
    key = _check_name(name)
    loader = _REGISTRY[key].loader
    accepted, takes_any = _accepted_options(loader)
    if not takes_any:
        for option in options:
            if option not in accepted:
                close = difflib.get_close_matches(option, accepted, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                listing = ", ".join(accepted) or "none"
                raise ConfigError(
                    f"{option!r} is not an option of data set {key!r}; accepted options: "
                    f"{listing}.{hint}"
                )
    return loader(**options)
