"""Procedurally drawn glyph classes: an offline stand-in for Omniglot.

Each class is a random *template*: one to three strokes, each a quadratic Bézier curve whose
three control points are drawn uniformly in ``[-0.65, 0.65]²`` (image coordinates run from
-1 to 1, y pointing up). Each example of a class redraws its template with

- every control point moved by Gaussian jitter (standard deviation ``jitter``),
- a rotation uniform in ``±rotation`` radians,
- an isotropic scale uniform in ``[1 - scale, 1 + scale]``,
- a shift uniform in ``±shift`` on each axis,
- a pen half-width uniform in ``[0.09, 0.14]``,

and is rendered anti-aliased (ink falls off linearly over one pixel at the stroke's edge),
then Gaussian pixel noise (standard deviation ``noise``) is added and the result clipped to
``[0, 1]``. Templates are independent across classes, so any split of the classes into
meta-training and meta-test classes gives disjoint, identically distributed class pools;
hundreds of classes cost a second to draw. Class ``c``'s template depends only on
``(seed, c)`` and its example ``e`` only on ``(seed, c, e)``, so the first classes and the
first examples do not depend on ``n_classes`` or ``n_per_class``.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import special

from latentinfer.core.validation import check_number
from latentinfer.data.registry import Dataset, check_seed, register

__all__ = ["load_glyphs"]

_BOX = 0.65  # control points of templates lie in [-_BOX, _BOX]²
_MIN_SPAN = 0.35  # a stroke's end points are at least this far apart
_MAX_STROKES = 3
_POINTS = 8  # points per Bézier curve (7 segments)
_PEN = (0.09, 0.14)
_CHUNK = 256  # images rendered at once (bounds the temporary memory)


def _template(seed: int, c: int) -> np.ndarray:
    """Control points of class ``c``: shape (n_strokes, 3, 2)."""
    rng = np.random.default_rng((seed, c, 0))
    n_strokes = int(rng.integers(1, _MAX_STROKES + 1))
    strokes: list[np.ndarray] = []
    while len(strokes) < n_strokes:
        p = rng.uniform(-_BOX, _BOX, size=(3, 2))
        if np.hypot(*(p[0] - p[2])) >= _MIN_SPAN:
            strokes.append(p)
    return np.stack(strokes)


def _examples(
    template: np.ndarray,
    rng: np.random.Generator,
    n: int,
    size: int,
    jitter: float,
    rotation: float,
    scale: float,
    shift: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` jittered examples of one template.

    Returns segment end points ``(n, strokes * (_POINTS - 1), 2, 2)``, pen half-widths
    ``(n,)`` and standard-normal pixel noise ``(n, size, size)``. All draws come from one
    block of standard normals per example (row ``e`` of one C-ordered array), so example
    ``e`` does not depend on how many examples follow it.
    """
    n_jit = template.size
    z = rng.standard_normal((n, n_jit + 5 + size * size))
    u = special.ndtr(z[:, n_jit : n_jit + 5])  # (n, 5) uniforms
    p = template[None] + jitter * z[:, :n_jit].reshape(n, *template.shape)
    angle = rotation * (2.0 * u[:, 0] - 1.0)
    s = 1.0 + scale * (2.0 * u[:, 1] - 1.0)
    t = shift * (2.0 * u[:, 2:4] - 1.0)
    pen = _PEN[0] + (_PEN[1] - _PEN[0]) * u[:, 4]
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    x, y = p[..., 0], p[..., 1]  # (n, strokes, 3)
    p = np.stack([cos * x - sin * y, sin * x + cos * y], axis=-1)
    p = s[:, None, None, None] * p + t[:, None, None, :]
    w = np.linspace(0.0, 1.0, _POINTS)[:, None]  # (P, 1)
    c0, c1, c2 = (p[:, :, None, k] for k in range(3))  # (n, strokes, 1, 2)
    curves = (1 - w) ** 2 * c0 + 2 * (1 - w) * w * c1 + w**2 * c2  # (n, strokes, P, 2)
    seg = np.stack([curves[:, :, :-1], curves[:, :, 1:]], axis=3)  # (n, strokes, P-1, 2, 2)
    noise = z[:, n_jit + 5 :].reshape(n, size, size)
    return seg.reshape(n, -1, 2, 2), pen, noise


def _render(segs: np.ndarray, pens: np.ndarray, size: int) -> torch.Tensor:
    """Anti-aliased ink of ``m`` images drawn as segments ``(m, S, 2, 2)``."""
    centres = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2.0 - 1.0
    py, px = torch.meshgrid(-centres, centres, indexing="ij")  # rows top to bottom, y up
    px, py = px.reshape(1, -1, 1), py.reshape(1, -1, 1)  # (1, size², 1)
    s = torch.from_numpy(segs).to(torch.float32)
    ax, ay = s[:, None, :, 0, 0], s[:, None, :, 0, 1]  # (m, 1, S)
    dx, dy = s[:, None, :, 1, 0] - ax, s[:, None, :, 1, 1] - ay
    qx, qy = px - ax, py - ay  # (m, size², S)
    t = ((qx * dx + qy * dy) / (dx * dx + dy * dy).clamp_min(1e-12)).clamp(0.0, 1.0)
    ex, ey = qx - t * dx, qy - t * dy
    dist = (ex * ex + ey * ey).amin(-1).sqrt()  # (m, size²)
    pen = torch.from_numpy(pens).to(torch.float32)[:, None]
    ink = (0.5 + (pen - dist) * (size / 2.0)).clamp(0.0, 1.0)
    return ink.reshape(-1, size, size)


@register("glyphs")
def load_glyphs(
    *,
    n_classes: int = 400,
    n_per_class: int = 20,
    size: int = 16,
    jitter: float = 0.1,
    rotation: float = 0.5,
    scale: float = 0.2,
    shift: float = 0.15,
    noise: float = 0.15,
    seed: int = 0,
) -> Dataset:
    """Procedurally drawn glyph classes (random stroke templates), an offline Omniglot stand-in.

    Every class is a random template of one to three quadratic Bézier strokes; every example
    redraws it with jittered control points, a random rotation, scale and shift, a random pen
    width and pixel noise (see :mod:`latentinfer.data.glyphs`). Classes are drawn
    independently, so they can be split into disjoint meta-training and meta-test classes
    for few-shot learning (:class:`latentinfer.data.FewShotTask`). About a second for the
    default 8,000 images on one CPU core; nothing is downloaded.

    Args:
        n_classes: number of classes (default 400), at least 2.
        n_per_class: examples per class (default 20, as in Omniglot), at least 1.
        size: image side in pixels, 8..64 (default 16).
        jitter: standard deviation of the control-point jitter, in image half-widths
            (default 0.1), in ``[0, 0.5]``.
        rotation: largest rotation in radians (default 0.5), in ``[0, π]``.
        scale: largest relative change of size (default 0.2), in ``[0, 0.5]``.
        shift: largest shift on each axis, in image half-widths (default 0.15), in ``[0, 0.5]``.
        noise: standard deviation of the Gaussian pixel noise (default 0.15), in ``[0, 1]``.
        seed: seed of the templates and of every example's variation (default 0).

    Returns:
        A :class:`Dataset`: ``X`` float32 of shape ``(n_classes * n_per_class, 1, size,
        size)`` with values in ``[0, 1]``, rows ordered class by class; ``y`` the class
        (int64, ``0 .. n_classes - 1``); ``factors = y[:, None]`` with
        ``factor_names = ("glyph",)``; ``info`` with ``"image_shape"``,
        ``"likelihood": "bernoulli"``, ``"n_classes"``, ``"n_per_class"`` and the options.

    Raises:
        ConfigError: an option is out of range or of the wrong type.

    Example:
        >>> from latentinfer.data import load
        >>> ds = load("glyphs", n_classes=10, n_per_class=5, seed=0)
        >>> tuple(ds.X.shape), ds.y[:7].tolist()
        ((50, 1, 16, 16), [0, 0, 0, 0, 0, 1, 1])
        >>> 0.0 <= float(ds.X.min()) <= float(ds.X.max()) <= 1.0
        True
    """
    n_classes = int(check_number(n_classes, name="n_classes", low=2, integer=True))
    n_per_class = int(check_number(n_per_class, name="n_per_class", low=1, integer=True))
    size = int(check_number(size, name="size", low=8, high=64, integer=True))
    jitter = float(check_number(jitter, name="jitter", low=0.0, high=0.5))
    rotation = float(check_number(rotation, name="rotation", low=0.0, high=float(np.pi)))
    scale = float(check_number(scale, name="scale", low=0.0, high=0.5))
    shift = float(check_number(shift, name="shift", low=0.0, high=0.5))
    noise = float(check_number(noise, name="noise", low=0.0, high=1.0))
    seed = check_seed(seed)

    n = n_classes * n_per_class
    segs: list[np.ndarray] = []
    pens = np.empty(n)
    noise_draws = np.empty((n, size, size))
    for c in range(n_classes):
        template = _template(seed, c)
        rng = np.random.default_rng((seed, c, 1))
        seg, pen, z = _examples(template, rng, n_per_class, size, jitter, rotation, scale, shift)
        block = slice(c * n_per_class, (c + 1) * n_per_class)
        segs.append(seg)
        pens[block] = pen
        noise_draws[block] = z
    images = torch.empty((n, size, size), dtype=torch.float32)
    # classes with the same number of strokes are rendered together (no padding)
    n_strokes = np.array([s.shape[1] for s in segs]) // (_POINTS - 1)
    for k in range(1, _MAX_STROKES + 1):
        classes = np.flatnonzero(n_strokes == k)
        if classes.size == 0:
            continue
        rows_k = (classes[:, None] * n_per_class + np.arange(n_per_class)).reshape(-1)
        segs_k = np.concatenate([segs[c] for c in classes])
        for start in range(0, rows_k.size, _CHUNK):
            rows = rows_k[start : start + _CHUNK]
            images[rows] = _render(segs_k[start : start + _CHUNK], pens[rows], size)
    images = (images + noise * torch.from_numpy(noise_draws).to(torch.float32)).clamp(0.0, 1.0)
    y = torch.arange(n_classes, dtype=torch.int64).repeat_interleave(n_per_class)
    return Dataset(
        X=images.reshape(n, 1, size, size),
        factors=y[:, None].clone(),
        factor_names=("glyph",),
        factor_sizes=(n_classes,),
        y=y,
        name="glyphs",
        info={
            "image_shape": (1, size, size),
            "likelihood": "bernoulli",
            "n_factors": 1,
            "n_classes": n_classes,
            "n_per_class": n_per_class,
            "jitter": jitter,
            "rotation": rotation,
            "scale": scale,
            "shift": shift,
            "noise": noise,
            "seed": seed,
        },
    )
