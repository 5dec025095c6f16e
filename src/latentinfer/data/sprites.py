"""Procedurally drawn dSprites-like images with known generative factors.

Each image shows one white shape on a black background. Five factors, each on a grid of
levels, fix the image:

=============  ======  =============================================================
factor         levels  values
=============  ======  =============================================================
shape          3       square, ellipse, heart
scale          6       0.5, 0.6, ..., 1.0 of the largest size
orientation    10      2πk/10, k = 0..9 (counter-clockwise, radians)
pos_x          16      centre column, 0.25 .. 0.75 of the image width (left to right)
pos_y          16      centre row, 0.25 .. 0.75 of the image height (top to bottom)
=============  ======  =============================================================

As in dSprites, squares look the same after a quarter turn and ellipses after a half turn,
so some (shape, orientation) pairs give identical images.

Geometry: every shape fits in a disc of radius ``0.2 * scale`` image sides around its
centre (the square's corners, the ellipse's ends and the heart's cusp and lobes touch that
circle at scale 1), and centres lie in ``[0.25, 0.75]``, so shapes stay at least 0.05 image
sides from the border (the outermost pixel ring is always black for ``size >= 16``).
A pixel is white when its centre lies inside the shape. Shapes are drawn in normalised
coordinates, so the same factors give the same picture at every ``size``, only finer; at
``size=16`` neighbouring positions are half a pixel apart.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from latentinfer.core.errors import ConfigError, ShapeError, ValidationError
from latentinfer.core.validation import check_number
from latentinfer.data.registry import Dataset, check_flag, check_seed, register

__all__ = ["FACTOR_NAMES", "FACTOR_SIZES", "FACTOR_VALUES", "load_sprites", "render_sprites"]

SHAPES = ("square", "ellipse", "heart")
FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
FACTOR_SIZES = (3, 6, 10, 16, 16)

_RADIUS = 0.2  # circumradius of every shape at scale 1, in image sides
_POS_RANGE = (0.25, 0.75)
_SCALES = tuple(round(0.5 + 0.1 * i, 10) for i in range(6))
_ANGLES = tuple(2.0 * math.pi * k / 10 for k in range(10))
_POSITIONS = tuple(float(v) for v in np.linspace(_POS_RANGE[0], _POS_RANGE[1], FACTOR_SIZES[3]))
FACTOR_VALUES: dict[str, tuple[Any, ...]] = {
    "shape": SHAPES,
    "scale": _SCALES,
    "orientation": _ANGLES,
    "pos_x": _POSITIONS,
    "pos_y": _POSITIONS,
}

# cos/sin computed once in double precision with Python's math, so the pictures are the same
# on every platform (the rest is +, -, *, / in float64, which IEEE 754 fixes exactly).
_COS = np.array([math.cos(a) for a in _ANGLES])
_SIN = np.array([math.sin(a) for a in _ANGLES])

_SQUARE_HALF = 1.0 / math.sqrt(2.0)  # half side of a square whose corners touch the unit circle
_ELLIPSE_MINOR = 0.5  # semi-axes (1, 0.5)
# The heart (x² + y² - 1)³ - x² y³ <= 0 spans x in [-1.14, 1.14], y in [-1, 1.24]; seen from
# (0, 0.25) it is star-shaped with radius 0.75 (top notch) to 1.25 (cusp and lobes).
_HEART_CENTRE_Y = 0.25
_HEART_RADIUS = 1.25

_MIN_SIZE, _MAX_SIZE = 16, 128
_CHUNK_PIXELS = 1 << 22  # window pixels evaluated at once (bounds the temporary memory)


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Test points ``(u, v)`` (shape frame, unit circumradius, v pointing up) against a shape."""
    if shape == 0:
        return (np.abs(u) <= _SQUARE_HALF) & (np.abs(v) <= _SQUARE_HALF)
    if shape == 1:
        return u * u + (v / _ELLIPSE_MINOR) ** 2 <= 1.0
    x = u * _HEART_RADIUS
    y = v * _HEART_RADIUS + _HEART_CENTRE_Y
    r = x * x + y * y - 1.0
    return r * r * r - x * x * y * y * y <= 0.0


def _check_size(size: Any) -> int:
    return int(check_number(size, name="size", low=_MIN_SIZE, high=_MAX_SIZE, integer=True))


def render_sprites(factors: Any, *, size: int = 32) -> torch.Tensor:
    """Draw the images of given factor levels.

    Args:
        factors: integer array-like of shape ``(m, 5)``: levels of
            (shape, scale, orientation, pos_x, pos_y), each within ``FACTOR_SIZES``.
        size: image side in pixels, 16..128.

    Returns:
        float32 tensor of shape ``(m, 1, size, size)`` holding 0 (background) and 1 (shape).

    Raises:
        ShapeError: ``factors`` is not of shape ``(m, 5)``.
        ValidationError: a level lies outside its factor's range.
        ConfigError: ``size`` is not an integer in 16..128.

    Example:
        >>> img = render_sprites([[2, 5, 0, 8, 8]], size=32)  # a large upright heart
        >>> tuple(img.shape), int(img[0, 0, 0].sum()), int(img.sum()) > 0
        ((1, 1, 32, 32), 0, True)
    """
    size = _check_size(size)
    f = np.asarray(factors)
    if f.ndim != 2 or f.shape[1] != len(FACTOR_NAMES):
        raise ShapeError(
            f"factors must have shape (m, {len(FACTOR_NAMES)}) (one column per factor "
            f"{FACTOR_NAMES}); got shape {f.shape}."
        )
    if f.size and not np.issubdtype(f.dtype, np.integer):
        raise ValidationError(f"factors must hold integer levels; got dtype {f.dtype}.")
    f = f.astype(np.int64, copy=False)
    sizes = np.asarray(FACTOR_SIZES)
    if f.size and ((f < 0).any() or (f >= sizes).any()):
        raise ValidationError(
            f"factors holds a level outside 0 .. size - 1 for factor sizes {FACTOR_SIZES}."
        )
    m = f.shape[0]
    out = np.zeros((m, size, size), dtype=np.float32)
    # Each shape lies in a disc of radius _RADIUS * size pixels; only a window of w × w pixels
    # around its centre is tested.
    w = min(size, math.ceil(2 * _RADIUS * size) + 2)
    offsets = np.arange(w)
    per_chunk = max(1, _CHUNK_PIXELS // (w * w))
    scales = np.asarray(_SCALES)
    positions = np.asarray(_POSITIONS)
    for shape in range(len(SHAPES)):
        rows_of_shape = np.flatnonzero(f[:, 0] == shape)
        for start in range(0, rows_of_shape.size, per_chunk):
            idx = rows_of_shape[start : start + per_chunk]
            g = f[idx]
            cx = positions[g[:, 3]] * size  # centre in pixel units
            cy = positions[g[:, 4]] * size
            col0 = np.clip(np.floor(cx - w / 2).astype(np.int64), 0, size - w)
            row0 = np.clip(np.floor(cy - w / 2).astype(np.int64), 0, size - w)
            cols = col0[:, None] + offsets  # (k, w)
            rows = row0[:, None] + offsets
            dx = (cols + 0.5 - cx[:, None])[:, None, :]  # (k, 1, w): to the right
            dy = (cy[:, None] - (rows + 0.5))[:, :, None]  # (k, w, 1): upwards
            radius = (_RADIUS * size) * scales[g[:, 1]]
            c = (_COS[g[:, 2]] / radius)[:, None, None]
            s = (_SIN[g[:, 2]] / radius)[:, None, None]
            # rotate back by the orientation and scale to the unit circumradius
            u = c * dx + s * dy
            v = c * dy - s * dx
            mask = _inside(shape, u, v)
            out[idx[:, None, None], rows[:, :, None], cols[:, None, :]] = mask
    return torch.from_numpy(out).reshape(m, 1, size, size)


@register("sprites")
def load_sprites(
    *,
    size: int = 32,
    n: int | None = None,
    seed: int = 0,
    full_grid: bool = False,
    flatten: bool = False,
) -> Dataset:
    """dSprites-like binary images of a square, ellipse or heart with 5 known factors.

    Factors (levels): shape (3: square, ellipse, heart), scale (6: 0.5..1.0), orientation
    (10 angles 2πk/10), pos_x (16) and pos_y (16); see :mod:`latentinfer.data.sprites` for
    the geometry. Images are drawn on the fly with NumPy (about 0.1 s for 10,000 images of
    32×32 on one CPU core); nothing is downloaded.

    Args:
        size: image side in pixels, an integer in 16..128 (default 32).
        n: number of rows, each drawn independently and uniformly over the factor grid
            (default 10,000). Not allowed with ``full_grid=True``.
        seed: seed of the factor draws (default 0); the first ``m`` rows do not depend on
            ``n``.
        full_grid: enumerate the whole grid instead, 3·6·10·16·16 = 46,080 rows in C order
            (shape varies slowest, pos_y fastest). Mind the memory: 46,080·size² float32
            values (189 MB at 32 px, 755 MB at 64 px, 3 GB at 128 px).
        flatten: give ``X`` the shape ``(n, size * size)`` instead of
            ``(n, 1, size, size)``.

    Returns:
        A :class:`Dataset`: ``X`` float32 of shape ``(n, 1, size, size)`` (or flat) with
        values 0/1; ``factors`` int64 of shape ``(n, 5)`` (level indices);
        ``factor_names = ("shape", "scale", "orientation", "pos_x", "pos_y")``;
        ``factor_sizes = (3, 6, 10, 16, 16)``; ``y = None``; ``info`` with
        ``"image_shape": (1, size, size)``, ``"likelihood": "bernoulli"``,
        ``"n_factors": 5``, ``"factor_values"`` (the value of every level) and ``"seed"``.

    Raises:
        ConfigError: an option is out of range or of the wrong type, or ``n`` is given
            together with ``full_grid=True``.

    Example:
        >>> from latentinfer.data import load
        >>> ds = load("sprites", n=100, size=32, seed=1)
        >>> tuple(ds.X.shape), tuple(ds.factors.shape), ds.factor_sizes
        ((100, 1, 32, 32), (100, 5), (3, 6, 10, 16, 16))
    """
    size = _check_size(size)
    seed = check_seed(seed)
    full_grid = check_flag(full_grid, name="full_grid")
    flatten = check_flag(flatten, name="flatten")
    if full_grid:
        if n is not None:
            raise ConfigError(
                f"n cannot be combined with full_grid=True (the full grid has "
                f"{math.prod(FACTOR_SIZES)} rows); got n={n!r}. Pass one or the other."
            )
        grids = np.meshgrid(*(np.arange(k) for k in FACTOR_SIZES), indexing="ij")
        factors = np.stack([g.reshape(-1) for g in grids], axis=1)
    else:
        n = 10_000 if n is None else int(check_number(n, name="n", low=1, integer=True))
        rng = np.random.default_rng(seed)
        factors = rng.integers(0, np.asarray(FACTOR_SIZES), size=(n, len(FACTOR_SIZES)))
    factors = factors.astype(np.int64)
    X = render_sprites(factors, size=size)
    if flatten:
        X = X.reshape(X.shape[0], size * size)
    return Dataset(
        X=X,
        factors=torch.from_numpy(factors),
        factor_names=FACTOR_NAMES,
        factor_sizes=FACTOR_SIZES,
        y=None,
        name="sprites",
        info={
            "image_shape": (1, size, size),
            "likelihood": "bernoulli",
            "n_factors": len(FACTOR_NAMES),
            "factor_values": dict(FACTOR_VALUES),
            "seed": seed,
            "full_grid": full_grid,
        },
    )
