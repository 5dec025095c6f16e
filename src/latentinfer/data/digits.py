"""The 8×8 handwritten digits bundled with scikit-learn (no download)."""

from __future__ import annotations

import torch

from latentinfer.core.validation import check_choice
from latentinfer.data.registry import Dataset, check_flag, register

__all__ = ["load_digits"]

_SCALES = ("unit", "counts")


@register("digits")
def load_digits(*, scale: str = "unit", flatten: bool = True) -> Dataset:
    """Handwritten digits, 1,797 images of 8×8 pixels with 17 grey levels (scikit-learn).

    The data are scikit-learn's bundled copy of the UCI optical digits test set
    (:func:`sklearn.datasets.load_digits`): each pixel counts the set pixels of a 4×4 block
    of a 32×32 bitmap, so it takes integer values 0..16. Nothing is downloaded.

    Args:
        scale: ``"unit"`` (default) divides the counts by 16, giving values in ``[0, 1]``;
            ``info["likelihood"]`` is then ``"bernoulli"`` (the usual choice in VAE
            benchmarks such as pythae's, which treat grey levels as Bernoulli means).
            ``"counts"`` keeps the integer levels 0..16 (as float32);
            ``info["likelihood"]`` is then ``"categorical"`` with
            ``info["n_categories"] = 17``.
        flatten: ``True`` (default) gives ``X`` of shape ``(1797, 64)``; ``False`` gives
            images of shape ``(1797, 1, 8, 8)``.

    Returns:
        A :class:`Dataset` with ``X`` (float32, see above), ``y`` the digit class (int64,
        shape ``(1797,)``, values 0..9), ``factors = y[:, None]`` with
        ``factor_names = ("digit",)`` and ``factor_sizes = (10,)``, and ``info`` with
        ``"image_shape": (1, 8, 8)``, ``"likelihood"``, ``"scale"`` and ``"source"``.

    Raises:
        ConfigError: ``scale`` is not ``"unit"``/``"counts"`` or ``flatten`` is not a bool.

    Example:
        >>> from latentinfer.data import load
        >>> ds = load("digits")
        >>> tuple(ds.X.shape), ds.X.dtype, float(ds.X.max())
        ((1797, 64), torch.float32, 1.0)
        >>> tuple(load("digits", scale="counts", flatten=False).X.shape)
        (1797, 1, 8, 8)
    """
    check_choice(scale, name="scale", choices=_SCALES)
    flatten = check_flag(flatten, name="flatten")

    from sklearn.datasets import load_digits as _sk_load_digits  # heavy import, kept lazy

    bunch = _sk_load_digits()
    counts = torch.as_tensor(bunch.data, dtype=torch.float32)  # (1797, 64), values 0..16
    X = counts / 16.0 if scale == "unit" else counts
    if not flatten:
        X = X.reshape(-1, 1, 8, 8)
    y = torch.as_tensor(bunch.target, dtype=torch.int64)
    info: dict[str, object] = {
        "image_shape": (1, 8, 8),
        "scale": scale,
        "n_factors": 1,
        "source": "sklearn.datasets.load_digits (UCI optical recognition of handwritten digits)",
    }
    if scale == "unit":
        info["likelihood"] = "bernoulli"
    else:
        info["likelihood"] = "categorical"
        info["n_categories"] = 17
    return Dataset(
        X=X.contiguous(),
        factors=y[:, None].clone(),
        factor_names=("digit",),
        factor_sizes=(10,),
        y=y,
        name="digits",
        info=info,
    )
