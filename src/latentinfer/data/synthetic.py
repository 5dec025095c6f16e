"""Synthetic continuous-latent data with a known number of relevant dimensions.

Three generators, all ``x = f(z) + noise * ε`` with ``z ~ N(0, I_k)``, ``ε ~ N(0, I_p)``,
``k = n_relevant`` and ``p = n_features``:

* ``"linear"``: ``f(z) = A z`` with ``A = Q diag(s)``, ``Q`` a random ``p × k`` matrix with
  orthonormal columns and ``s`` the singular values, evenly spread from 3 down to 1. The
  covariance of ``x`` is ``A Aᵀ + noise² I``: ``k`` eigenvalues ``s_i² + noise²`` (between
  1.01 and 9.01 at the default noise) and ``p - k`` equal to ``noise²`` (0.01).
* ``"nonlinear"``: ``f(z) = W2 tanh(W1 z + b1)``, a random 2-layer tanh network whose hidden
  layer has ``hidden`` units (default ``k``). With ``hidden = k``, ``x`` lies (up to noise)
  in a ``k``-dimensional linear subspace, so the covariance again has exactly ``k``
  eigenvalues above the noise floor, but ``z`` enters nonlinearly: the data fill a bounded,
  curved-edged, non-Gaussian region of that subspace, and ``z`` is only a nonlinear
  function of ``x``. With ``hidden > k`` the data lie near a curved ``k``-dimensional
  manifold whose linear span has up to ``hidden`` dimensions.
* ``"linear_gaussian"``: the probabilistic PCA / factor-analysis model
  ``x = W z + σ ε`` with ``W`` a ``p × k`` matrix of independent N(0, 1) entries; the
  exact marginal is ``N(0, W Wᵀ + σ² I)`` (``info["W"]``, ``info["sigma"]``), for tests
  of exact likelihoods.

Scale: nothing is standardised. ``x`` keeps the raw scale described above (zero mean for
the linear generators; the nonlinear one has a non-zero mean from the biases).

Each seed fixes one problem instance: the parameters, the latents and the noise come from
three independent streams of ``numpy.random.SeedSequence(seed)``, so the parameters do not
depend on ``n`` and the first ``m`` rows are the same for every ``n >= m``. The true
latents are kept in ``info["z"]`` (float32, ``(n, k)``) and selected along with the rows
by :meth:`Dataset.split`. Arithmetic is done in float64 from the stored float32
parameters and latents, then ``X`` is rounded to float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from latentinfer.core.errors import ConfigError
from latentinfer.core.validation import check_number
from latentinfer.data.registry import Dataset, check_seed, register

__all__ = ["load_linear", "load_linear_gaussian", "load_nonlinear"]

_GAIN = 2.0  # pre-activation scale of the nonlinear generator's hidden layer
_BIAS_STD = 0.5


def _check_common(
    n: Any, n_features: Any, n_relevant: Any, noise: Any, seed: Any
) -> tuple[int, int, int, float, int]:
    n = int(check_number(n, name="n", low=1, integer=True))
    n_features = int(check_number(n_features, name="n_features", low=1, integer=True))
    n_relevant = int(check_number(n_relevant, name="n_relevant", low=1, integer=True))
    if n_features < n_relevant:
        raise ConfigError(
            f"n_features must be at least n_relevant; got n_features={n_features} and "
            f"n_relevant={n_relevant}."
        )
    noise = float(check_number(noise, name="noise", low=0.0))
    seed = check_seed(seed)
    return n, n_features, n_relevant, noise, seed


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    params, latents, noise = np.random.SeedSequence(seed).spawn(3)
    return (
        np.random.default_rng(params),
        np.random.default_rng(latents),
        np.random.default_rng(noise),
    )


def _f32(a: np.ndarray) -> np.ndarray:
    """Round to float32 and back, so stored parameters are exactly those used."""
    return a.astype(np.float32).astype(np.float64)


def _orthonormal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """A ``rows × cols`` matrix with orthonormal columns (Haar-distributed, sign-fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
    return q * np.sign(np.diag(r))


def _spread(k: int) -> np.ndarray:
    """``k`` distinct singular values evenly spread from 3 down to 1 (just 3 when k = 1)."""
    return np.linspace(3.0, 1.0, k) if k > 1 else np.array([3.0])


def _finish(
    name: str,
    clean: np.ndarray,
    z: np.ndarray,
    noise: float,
    noise_rng: np.random.Generator,
    info: dict[str, Any],
) -> Dataset:
    x = clean + noise * noise_rng.standard_normal(clean.shape)
    base: dict[str, Any] = {
        "z": torch.from_numpy(z.astype(np.float32)),
        "per_row": ("z",),
        "n_relevant": z.shape[1],
        "likelihood": "gaussian",
        "noise": noise,
    }
    base.update(info)
    return Dataset(
        X=torch.from_numpy(x.astype(np.float32)),
        factors=None,
        factor_names=(),
        factor_sizes=(),
        y=None,
        name=name,
        info=base,
    )


@register("linear")
def load_linear(
    *,
    n: int = 5000,
    n_features: int = 20,
    n_relevant: int = 5,
    noise: float = 0.1,
    seed: int = 0,
) -> Dataset:
    """Linear latent data: x = A z + noise, with n_relevant known relevant dimensions.

    ``z ~ N(0, I_k)`` (``k = n_relevant``), ``A = Q diag(s)`` with ``Q`` a random
    ``n_features × k`` matrix with orthonormal columns and singular values ``s`` evenly
    spread from 3 down to 1; ``x = A z + noise · ε`` with ``ε ~ N(0, I)``. Not standardised:
    ``Cov(x) = A Aᵀ + noise² I`` has ``k`` eigenvalues ``s_i² + noise²`` and
    ``n_features - k`` eigenvalues ``noise²``.

    Args:
        n: number of rows (default 5000).
        n_features: dimension of ``x``, at least ``n_relevant`` (default 20).
        n_relevant: dimension ``k`` of ``z`` (default 5).
        noise: standard deviation of the isotropic Gaussian noise, ``>= 0`` (default 0.1).
        seed: fixes ``A``, ``z`` and the noise (default 0).

    Returns:
        A :class:`Dataset` with ``X`` float32 ``(n, n_features)``, ``factors = None``,
        ``y = None`` and ``info``: ``"z"`` (float32 ``(n, k)``, the true latents),
        ``"n_relevant"`` (``k``), ``"likelihood": "gaussian"``, ``"noise"``, ``"A"``
        (float32 ``(n_features, k)``) and ``"singular_values"`` (float32 ``(k,)``).

    Raises:
        ConfigError: an option is out of range, or ``n_features < n_relevant``.

    Example:
        >>> from latentinfer.data import load
        >>> ds = load("linear", n=1000, n_features=10, n_relevant=3)
        >>> tuple(ds.X.shape), tuple(ds.info["z"].shape), ds.info["n_relevant"]
        ((1000, 10), (1000, 3), 3)
    """
    n, p, k, noise, seed = _check_common(n, n_features, n_relevant, noise, seed)
    params_rng, z_rng, noise_rng = _streams(seed)
    s = _spread(k)
    A = _f32(_orthonormal(params_rng, p, k) * s)
    z = _f32(z_rng.standard_normal((n, k)))
    return _finish(
        "linear",
        z @ A.T,
        z,
        noise,
        noise_rng,
        {
            "A": torch.from_numpy(A.astype(np.float32)),
            "singular_values": torch.from_numpy(s.astype(np.float32)),
        },
    )


@register("nonlinear")
def load_nonlinear(
    *,
    n: int = 5000,
    n_features: int = 20,
    n_relevant: int = 5,
    noise: float = 0.1,
    seed: int = 0,
    hidden: int | None = None,
) -> Dataset:
    """Nonlinear latent data: x = W2 tanh(W1 z + b1) + noise, a random 2-layer tanh network.

    ``z ~ N(0, I_k)`` (``k = n_relevant``). ``W1 = 2 · sqrt(h / k) · Q1`` (``h × k``,
    ``Q1`` with orthonormal columns, so every hidden pre-activation has a standard deviation
    of about 2 and tanh bends it clearly: with ``h = k``, the best affine function of ``z``
    leaves about 17 % of the variance of the clean data unexplained), ``b1 ~ N(0, 0.5²)``,
    and
    ``W2 = Q2 diag(s)`` (``n_features × h``, orthonormal columns, ``s`` evenly spread from
    3 down to 1). ``x = W2 tanh(W1 z + b1) + noise · ε``. With the default ``h = k`` the
    clean data span exactly ``k`` dimensions (``W1`` is invertible and tanh monotone), so
    ``k`` is the number of relevant dimensions for linear and nonlinear models alike; the
    relation between ``z`` and ``x`` is nonlinear and the data are not Gaussian.

    Args:
        n: number of rows (default 5000).
        n_features: dimension of ``x``, at least ``n_relevant`` (default 20).
        n_relevant: dimension ``k`` of ``z`` (default 5).
        noise: standard deviation of the isotropic Gaussian noise, ``>= 0`` (default 0.1).
        seed: fixes the network, ``z`` and the noise (default 0).
        hidden: hidden width ``h``, between ``n_relevant`` and ``n_features``; ``None``
            (default) means ``n_relevant``. A wider layer gives a curved ``k``-dimensional
            manifold whose linear span has up to ``h`` dimensions.

    Returns:
        A :class:`Dataset` with ``X`` float32 ``(n, n_features)``, ``factors = None``,
        ``y = None`` and ``info``: ``"z"`` (float32 ``(n, k)``), ``"n_relevant"``,
        ``"likelihood": "gaussian"``, ``"noise"``, ``"hidden"`` and ``"params"`` (a dict of
        float32 tensors ``"W1"`` ``(h, k)``, ``"b1"`` ``(h,)``, ``"W2"`` ``(n_features, h)``).

    Raises:
        ConfigError: an option is out of range, or ``n_features < n_relevant``.

    Example:
        >>> import torch
        >>> from latentinfer.data import load
        >>> ds = load("nonlinear", n=1000)
        >>> P = ds.info["params"]
        >>> clean = torch.tanh(ds.info["z"] @ P["W1"].T + P["b1"]) @ P["W2"].T
        >>> round(float((ds.X - clean).std()), 2)
        0.1
    """
    n, p, k, noise, seed = _check_common(n, n_features, n_relevant, noise, seed)
    if hidden is None:
        h = k
    else:
        h = int(check_number(hidden, name="hidden", low=k, high=p, integer=True))
    params_rng, z_rng, noise_rng = _streams(seed)
    W1 = _f32(_GAIN * np.sqrt(h / k) * _orthonormal(params_rng, h, k))
    b1 = _f32(_BIAS_STD * params_rng.standard_normal(h))
    W2 = _f32(_orthonormal(params_rng, p, h) * _spread(h))
    z = _f32(z_rng.standard_normal((n, k)))
    clean = np.tanh(z @ W1.T + b1) @ W2.T
    return _finish(
        "nonlinear",
        clean,
        z,
        noise,
        noise_rng,
        {
            "hidden": h,
            "params": {
                "W1": torch.from_numpy(W1.astype(np.float32)),
                "b1": torch.from_numpy(b1.astype(np.float32)),
                "W2": torch.from_numpy(W2.astype(np.float32)),
            },
        },
    )


@register("linear_gaussian")
def load_linear_gaussian(
    *,
    n: int = 5000,
    n_features: int = 20,
    n_relevant: int = 5,
    noise: float = 0.1,
    seed: int = 0,
) -> Dataset:
    """Linear-Gaussian (probabilistic PCA) data with known exact marginal N(0, W Wᵀ + σ² I).

    ``z ~ N(0, I_k)`` (``k = n_relevant``), ``x = W z + ε`` with ``W`` an
    ``n_features × k`` matrix of independent N(0, 1) entries and ``ε ~ N(0, σ² I)``,
    ``σ = noise``. The rows of ``X`` are i.i.d. draws from ``N(0, W Wᵀ + σ² I)``, so exact
    log-likelihoods and posteriors ``p(z | x)`` can be computed from ``info["W"]`` and
    ``info["sigma"]``.

    Args:
        n: number of rows (default 5000).
        n_features: dimension of ``x``, at least ``n_relevant`` (default 20).
        n_relevant: dimension ``k`` of ``z`` (default 5).
        noise: the noise standard deviation ``σ >= 0`` (default 0.1).
        seed: fixes ``W``, ``z`` and the noise (default 0).

    Returns:
        A :class:`Dataset` with ``X`` float32 ``(n, n_features)``, ``factors = None``,
        ``y = None`` and ``info``: ``"W"`` (float32 ``(n_features, k)``), ``"sigma"``
        (float), ``"z"`` (float32 ``(n, k)``), ``"n_relevant"``,
        ``"likelihood": "gaussian"`` and ``"noise"`` (same as ``"sigma"``).

    Raises:
        ConfigError: an option is out of range, or ``n_features < n_relevant``.

    Example:
        >>> import torch
        >>> from latentinfer.data import load
        >>> ds = load("linear_gaussian", n_features=4, n_relevant=2, noise=0.5)
        >>> W, s = ds.info["W"].double(), ds.info["sigma"]
        >>> cov = W @ W.T + s**2 * torch.eye(4, dtype=torch.float64)  # exact Cov(x)
        >>> marginal = torch.distributions.MultivariateNormal(torch.zeros(4).double(), cov)
        >>> marginal.log_prob(ds.X.double()).shape
        torch.Size([5000])
    """
    n, p, k, noise, seed = _check_common(n, n_features, n_relevant, noise, seed)
    params_rng, z_rng, noise_rng = _streams(seed)
    W = _f32(params_rng.standard_normal((p, k)))
    z = _f32(z_rng.standard_normal((n, k)))
    return _finish(
        "linear_gaussian",
        z @ W.T,
        z,
        noise,
        noise_rng,
        {"W": torch.from_numpy(W.astype(np.float32)), "sigma": noise},
    )
