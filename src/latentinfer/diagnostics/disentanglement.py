"""Supervised disentanglement scores: Mutual Information Gap (MIG) and DCI.

Both scores compare a learned representation (``codes``, one row per sample, one column per
latent dimension) with the ground-truth factors of variation that generated the data
(``factors``, one row per sample, one column per factor). They follow the definitions used
by ``disentanglement_lib`` (Locatello et al. 2019) so that numbers are comparable with the
literature:

* :func:`mig`: codes are discretised into equal-width histogram bins, the discrete mutual
  information between every code and every factor is computed (:func:`mutual_info_matrix`),
  and for each factor the gap between the most and the second most informative code is
  divided by the factor's entropy.
* :func:`dci`: one gradient-boosted-trees classifier per factor predicts the factor from the
  codes; the feature importances form a codes-by-factors matrix from which disentanglement
  and completeness are read, and the classifiers' accuracies give informativeness.

Factors must be discrete labels (integers, or floats holding integer values). Continuous
factors have to be discretised by the caller first, for example with
:func:`discretize_factors`.

Everything here works on NumPy arrays; a PyTorch tensor is accepted and converted with
``np.asarray(t.detach().cpu())``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import mutual_info_score

from latentinfer.core.errors import ShapeError, ValidationError
from latentinfer.core.validation import check_choice, check_number

__all__ = [
    "DCIResult",
    "MIGResult",
    "dci",
    "discretize_factors",
    "mig",
    "mutual_info_matrix",
]

_DCI_MODELS = ("gbt",)
# Added to every importance before taking an entropy, as in disentanglement_lib, so that
# rows or columns of zeros give a uniform (maximum-entropy) distribution instead of 0/0.
_IMPORTANCE_EPS = 1e-11


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class MIGResult:
    """The Mutual Information Gap and the quantities it is computed from.

    Attributes:
        score: the MIG, the mean of ``per_factor``; in [0, 1], higher is more disentangled.
        per_factor: shape (n_factors,); for each factor, the gap between the largest and the
            second largest mutual information over codes, divided by the factor's entropy.
        mutual_info: shape (n_codes, n_factors); the discrete mutual information (nats)
            between each discretised code and each factor.
        entropy: shape (n_factors,); the entropy (nats) of each factor.
    """

    score: float
    per_factor: np.ndarray
    mutual_info: np.ndarray
    entropy: np.ndarray


@dataclass(frozen=True, eq=False)
class DCIResult:
    """Disentanglement, completeness and informativeness (Eastwood & Williams 2018).

    Attributes:
        disentanglement: in [0, 1]; the importance-weighted mean over codes of
            ``1 - H(code's row of importance)`` with log base n_factors. 1 when every code
            is used to predict a single factor.
        completeness: in [0, 1]; the importance-weighted mean over factors of
            ``1 - H(factor's column of importance)`` with log base n_codes. 1 when every
            factor is predicted from a single code.
        informativeness_train: mean over factors of the classifier's accuracy on the
            training rows.
        informativeness_test: mean over factors of the classifier's accuracy on the
            held-out rows.
        importance: shape (n_codes, n_factors); entry (i, k) is the absolute importance of
            code i in the classifier that predicts factor k (each column sums to 1, or to 0
            when the classifier made no split).
    """

    disentanglement: float
    completeness: float
    informativeness_train: float
    informativeness_test: float
    importance: np.ndarray


# --------------------------------------------------------------------------- input checks


def _to_numpy(x: Any, *, name: str) -> np.ndarray:
    """Return ``x`` as a NumPy array of numbers (a tensor is detached and moved to the CPU)."""
    if x is None:
        raise ValidationError(f"{name} is None; pass a 2-D array or tensor of numbers.")
    if hasattr(x, "transform") and hasattr(x, "encode"):  # a fitted model, not its codes
        raise ValidationError(
            f"{name} must be an array of codes, shape (n_samples, n_codes), such as "
            f"model.transform(X); got the {type(x).__name__} model itself."
        )
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch.Tensor, without importing torch
        x = x.detach().cpu()
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - numpy's own message is kept
        raise ValidationError(f"{name} cannot be read as an array: {exc}") from exc
    if arr.dtype == object or arr.dtype.kind in "USVc":
        raise ValidationError(
            f"{name} must hold real numbers; got an array of shape {arr.shape} and dtype "
            f"{arr.dtype}. Convert strings, complex numbers or mixed objects first."
        )
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    return arr


def _check_2d(arr: np.ndarray, *, name: str, what: str) -> None:
    if arr.ndim != 2:
        raise ShapeError(
            f"{name} must be 2-D with shape (n_samples, {what}); got an array of shape "
            f"{arr.shape}. Reshape a single column with x.reshape(-1, 1)."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValidationError(
            f"{name} is empty (shape {arr.shape}); pass at least one row and one column."
        )


def _check_finite(arr: np.ndarray, *, name: str) -> None:
    if arr.dtype.kind != "f":
        return
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(arr[first]) else "Inf"
        raise ValidationError(
            f"{name} holds {int(bad.sum())} non-finite value(s) ({kind} first at index "
            f"{first}) in an array of shape {arr.shape}; only finite numbers are accepted. "
            "Impute or drop missing rows first."
        )


def _as_codes(codes: Any) -> np.ndarray:
    arr = _to_numpy(codes, name="codes")
    _check_2d(arr, name="codes", what="n_codes")
    _check_finite(arr, name="codes")
    return arr.astype(np.float64, copy=False)


def _as_factors(factors: Any) -> np.ndarray:
    arr = _to_numpy(factors, name="factors")
    _check_2d(arr, name="factors", what="n_factors")
    _check_finite(arr, name="factors")
    if arr.dtype.kind == "f":
        frac = arr != np.round(arr)
        if frac.any():
            first = tuple(int(i) for i in np.argwhere(frac)[0])
            raise ValidationError(
                f"factors must hold discrete labels (integers, or floats with integer "
                f"values); got an array of shape {arr.shape} with the non-integer value "
                f"{arr[first].item()!r} at index {first}. Discretise continuous factors first, "
                "e.g. with latentinfer.diagnostics.disentanglement.discretize_factors."
            )
        arr = arr.astype(np.int64)
    return arr


def _check_rows(codes: np.ndarray, factors: np.ndarray) -> None:
    if codes.shape[0] != factors.shape[0]:
        raise ShapeError(
            "codes and factors must have the same number of rows (one per sample); "
            f"codes has shape {codes.shape} and factors has shape {factors.shape}."
        )


def _check_n_bins(n_bins: Any) -> int:
    return int(check_number(n_bins, name="n_bins", low=1, integer=True))


def _factor_entropy(factors: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each factor column, as ``mutual_info_score(v, v)``."""
    return np.array(
        [mutual_info_score(factors[:, k], factors[:, k]) for k in range(factors.shape[1])],
        dtype=np.float64,
    )


def _check_not_constant(factors: np.ndarray, *, where: str = "") -> None:
    for k in range(factors.shape[1]):
        values = np.unique(factors[:, k])
        if values.size < 2:
            raise ValidationError(
                f"factors column {k} is constant (every{where} row holds {values[0].item()!r}; "
                f"factors has shape {factors.shape}); a constant factor has zero entropy "
                "and cannot be scored. Drop that column; every factor needs at least two "
                "distinct values."
            )


# --------------------------------------------------------------------------- discretisation


def _histogram_discretize(x: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin each column of ``x`` into ``n_bins`` equal-width bins over its range.

    Labels are 1..n_bins: ``np.digitize`` of the column against the left edges returned by
    ``np.histogram`` (the column's maximum falls in the last bin).
    """
    out = np.empty(x.shape, dtype=np.int64)
    for j in range(x.shape[1]):
        edges = np.histogram(x[:, j], bins=n_bins)[1]
        out[:, j] = np.digitize(x[:, j], edges[:-1])
    return out


def discretize_factors(factors: Any, n_bins: int = 20) -> np.ndarray:
    """Discretise continuous factors into equal-width histogram bins, column by column.

    Uses the same rule as the code discretisation inside :func:`mutual_info_matrix` and
    :func:`mig`: each column's range [min, max] is cut into ``n_bins`` bins of equal width
    and each value gets the 1-based index of its bin (the maximum goes in the last bin).

    Args:
        factors: shape (n_samples, n_factors) or (n_samples,); finite real values.
        n_bins: number of bins per column, at least 1.

    Returns:
        Integer array of the input's shape with labels in 1..n_bins.

    Raises:
        ShapeError: ``factors`` is not 1-D or 2-D.
        ValidationError: ``factors`` is empty or holds NaN/Inf.
        ConfigError: ``n_bins`` is not a positive integer.

    Example:
        >>> discretize_factors(np.array([[0.0], [0.4], [0.6], [1.0]]), n_bins=2).ravel()
        array([1, 1, 2, 2])
    """
    n_bins = _check_n_bins(n_bins)
    arr = _to_numpy(factors, name="factors")
    if arr.ndim not in (1, 2):
        raise ShapeError(
            f"factors must be 1-D (n_samples,) or 2-D (n_samples, n_factors); got an array "
            f"of shape {arr.shape}."
        )
    if arr.size == 0:
        raise ValidationError(f"factors is empty (shape {arr.shape}); pass at least one value.")
    _check_finite(arr, name="factors")
    binned = _histogram_discretize(arr.reshape(arr.shape[0], -1).astype(np.float64), n_bins)
    return binned.reshape(arr.shape)


# --------------------------------------------------------------------------- MIG


def _mutual_info(binned_codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    n_codes, n_factors = binned_codes.shape[1], factors.shape[1]
    m = np.zeros((n_codes, n_factors), dtype=np.float64)
    for i in range(n_codes):
        for k in range(n_factors):
            m[i, k] = mutual_info_score(factors[:, k], binned_codes[:, i])
    return m


def mutual_info_matrix(codes: Any, factors: Any, *, n_bins: int = 20) -> np.ndarray:
    """Discrete mutual information between every (discretised) code and every factor.

    Each code column is discretised into ``n_bins`` equal-width bins over its own range
    (disentanglement_lib's histogram discretiser); the factors are used as given, as
    discrete labels. Mutual information is the plug-in estimate from the contingency table,
    in nats (``sklearn.metrics.mutual_info_score``).

    Args:
        codes: shape (n_samples, n_codes); finite real values (a learned representation,
            e.g. posterior means).
        factors: shape (n_samples, n_factors); discrete labels (integers, or floats holding
            integer values). Discretise continuous factors first (:func:`discretize_factors`).
        n_bins: number of histogram bins per code, at least 1.

    Returns:
        Array of shape (n_codes, n_factors); entry (i, k) is I(code_i; factor_k) in nats.

    Raises:
        ShapeError: ``codes`` or ``factors`` is not 2-D, or their numbers of rows differ.
        ValidationError: an input is empty, holds NaN/Inf, or ``factors`` holds non-integer
            values.
        ConfigError: ``n_bins`` is not a positive integer.

    References:
        Chen, Li, Grosse & Duvenaud (2018). Isolating Sources of Disentanglement in
        Variational Autoencoders. NeurIPS. arXiv:1802.04942.

        Locatello et al. (2019). Challenging Common Assumptions in the Unsupervised
        Learning of Disentangled Representations. ICML. (disentanglement_lib)

    Example:
        >>> factors = np.array([[0], [0], [1], [1]])
        >>> codes = np.array([[0.1, 5.0], [0.2, 6.0], [0.9, 5.0], [1.0, 6.0]])
        >>> np.round(mutual_info_matrix(codes, factors, n_bins=2), 4)  # log(2) and 0
        array([[0.6931],
               [0.    ]])
    """
    n_bins = _check_n_bins(n_bins)
    codes_arr = _as_codes(codes)
    factors_arr = _as_factors(factors)
    _check_rows(codes_arr, factors_arr)
    return _mutual_info(_histogram_discretize(codes_arr, n_bins), factors_arr)


def mig(codes: Any, factors: Any, *, n_bins: int = 20) -> MIGResult:
    """Mutual Information Gap of a representation, as defined in disentanglement_lib.

    For each factor v_k, the mutual information I(z_i; v_k) with every discretised code z_i
    is sorted in decreasing order; the factor's score is the gap between the first and the
    second value divided by the factor's entropy H(v_k) (``mutual_info_score(v_k, v_k)``,
    nats). The MIG is the mean over factors. It is 1 when each factor is fully captured by
    one code and no other code carries information about it, and near 0 when no code
    stands out (or none carries information).

    Args:
        codes: shape (n_samples, n_codes) with n_codes >= 2; finite real values.
        factors: shape (n_samples, n_factors); discrete labels (integers, or floats holding
            integer values), each column with at least two distinct values. Continuous
            factors must be discretised by the caller (:func:`discretize_factors`).
        n_bins: number of equal-width histogram bins per code, at least 1
            (disentanglement_lib uses 20).

    Returns:
        A :class:`MIGResult` with the score, the per-factor gaps, the (n_codes, n_factors)
        mutual-information matrix and the factor entropies.

    Raises:
        ShapeError: ``codes`` or ``factors`` is not 2-D, their numbers of rows differ, or
            ``codes`` has fewer than two columns (the gap needs a second code).
        ValidationError: an input is empty or holds NaN/Inf, ``factors`` holds non-integer
            values, or a factor is constant (zero entropy).
        ConfigError: ``n_bins`` is not a positive integer.

    References:
        Chen, Li, Grosse & Duvenaud (2018). Isolating Sources of Disentanglement in
        Variational Autoencoders. NeurIPS. arXiv:1802.04942.

        Locatello et al. (2019). Challenging Common Assumptions in the Unsupervised
        Learning of Disentangled Representations. ICML. (disentanglement_lib,
        ``evaluation/metrics/mig.py``)

    Example:
        Every combination of two factors (4 and 3 levels), codes that copy them in swapped
        order plus a dead (constant) code: each factor is captured by exactly one code.

        >>> factors = np.array([[a, b] for a in range(4) for b in range(3)] * 5)
        >>> codes = np.column_stack([factors[:, 1], factors[:, 0], np.zeros(60)])
        >>> result = mig(codes, factors)
        >>> round(result.score, 6), result.mutual_info.shape
        (1.0, (3, 2))
    """
    n_bins = _check_n_bins(n_bins)
    codes_arr = _as_codes(codes)
    factors_arr = _as_factors(factors)
    _check_rows(codes_arr, factors_arr)
    if codes_arr.shape[1] < 2:
        raise ShapeError(
            f"codes must have at least 2 columns for the MIG (the gap between the best and "
            f"the second-best code); got an array of shape {codes_arr.shape}."
        )
    _check_not_constant(factors_arr)
    entropy = _factor_entropy(factors_arr)
    mi = _mutual_info(_histogram_discretize(codes_arr, n_bins), factors_arr)
    top2 = -np.sort(-mi, axis=0)[:2]  # per factor, the two largest MI values over codes
    per_factor = (top2[0] - top2[1]) / entropy
    for a in (per_factor, mi, entropy):
        a.setflags(write=False)
    return MIGResult(
        score=float(np.mean(per_factor)),
        per_factor=per_factor,
        mutual_info=mi,
        entropy=entropy,
    )


# --------------------------------------------------------------------------- DCI


def _one_minus_normalised_entropy(weights: np.ndarray, axis: int) -> np.ndarray:
    """``1 - H(p)`` along ``axis``, with p = (weights + eps) normalised, log base = its length.

    Matches ``1 - scipy.stats.entropy(weights + 1e-11, base=n)``. With a single entry
    (n = 1) the entropy is 0 in any base and the result is 1 (the base-1 logarithm itself is
    undefined).
    """
    n = weights.shape[axis]
    if n == 1:
        return np.ones(weights.shape[1 - axis], dtype=np.float64)
    p = weights + _IMPORTANCE_EPS
    p = p / p.sum(axis=axis, keepdims=True)
    h = -np.sum(p * np.log(p), axis=axis) / math.log(n)
    return 1.0 - h


def _weighted_score(importance: np.ndarray, axis: int) -> float:
    """Disentanglement (axis=1, over codes) or completeness (axis=0, over factors)."""
    per_item = _one_minus_normalised_entropy(importance, axis=axis)
    weights = importance if importance.sum() > 0 else np.ones_like(importance)
    share = weights.sum(axis=axis) / weights.sum()
    return float(np.sum(per_item * share))


def dci(
    codes: Any,
    factors: Any,
    *,
    train_fraction: float = 0.8,
    seed: int = 0,
    model: str = "gbt",
) -> DCIResult:
    """Disentanglement, completeness and informativeness, as defined in disentanglement_lib.

    The rows are shuffled with a permutation drawn from ``seed``; the first
    ``ceil(train_fraction * n_samples)`` are used to train, the rest to test. For each factor
    a ``sklearn.ensemble.GradientBoostingClassifier`` (scikit-learn defaults,
    ``random_state=seed``) predicts the factor from all codes; the absolute feature
    importances form column k of the importance matrix R (n_codes, n_factors).

    * disentanglement: for each code i, ``1 - H(R[i, :] / sum)`` with log base n_factors,
      weighted by the code's share ``R[i, :].sum() / R.sum()``;
    * completeness: for each factor k, ``1 - H(R[:, k] / sum)`` with log base n_codes,
      weighted by the factor's share ``R[:, k].sum() / R.sum()``;
    * informativeness: mean over factors of the classifiers' accuracy on the train and the
      test rows.

    As in disentanglement_lib, 1e-11 is added to R before each entropy, and the shares are
    uniform when R is all zeros (no classifier made a split), which gives scores of 0. With a
    single factor (or a single code) the base-1 entropy is taken as 0, so disentanglement
    (or completeness) is 1.

    Args:
        codes: shape (n_samples, n_codes); finite real values.
        factors: shape (n_samples, n_factors); discrete labels (integers, or floats holding
            integer values), each column with at least two distinct values in the training
            rows. Discretise continuous factors first (:func:`discretize_factors`).
        train_fraction: fraction of rows used to train, in (0, 1); at least one row must be
            left to test.
        seed: seeds the train/test permutation and the classifiers.
        model: the classifier; only ``"gbt"`` (gradient boosted trees) is available.

    Returns:
        A :class:`DCIResult`.

    Raises:
        ShapeError: ``codes`` or ``factors`` is not 2-D, or their numbers of rows differ.
        ValidationError: an input is empty or holds NaN/Inf, ``factors`` holds non-integer
            values, a factor is constant (over all rows or over the training rows), or the
            split leaves no test row.
        ConfigError: ``model``, ``train_fraction`` or ``seed`` is not accepted.

    References:
        Eastwood & Williams (2018). A Framework for the Quantitative Evaluation of
        Disentangled Representations. ICLR.

        Locatello et al. (2019). Challenging Common Assumptions in the Unsupervised
        Learning of Disentangled Representations. ICML. (disentanglement_lib,
        ``evaluation/metrics/dci.py``)

    Example:
        >>> rng = np.random.default_rng(0)
        >>> factors = rng.integers(0, 3, size=(200, 2))
        >>> codes = factors[:, ::-1] + 0.05 * rng.normal(size=(200, 2))
        >>> result = dci(codes, factors)
        >>> result.disentanglement > 0.9, result.informativeness_test
        (True, 1.0)
    """
    check_choice(model, name="model", choices=_DCI_MODELS)
    check_number(
        train_fraction,
        name="train_fraction",
        low=0,
        high=1,
        low_inclusive=False,
        high_inclusive=False,
    )
    check_number(seed, name="seed", low=0, integer=True)
    codes_arr = _as_codes(codes)
    factors_arr = _as_factors(factors)
    _check_rows(codes_arr, factors_arr)
    _check_not_constant(factors_arr)

    n_samples = codes_arr.shape[0]
    n_train = math.ceil(n_samples * train_fraction)
    if n_train >= n_samples:
        raise ValidationError(
            f"train_fraction={train_fraction!r} with {n_samples} rows leaves no test row "
            f"(ceil({train_fraction!r} * {n_samples}) = {n_train} train rows); lower "
            "train_fraction or pass more rows."
        )
    order = np.random.default_rng(seed).permutation(n_samples)
    train, test = order[:n_train], order[n_train:]
    _check_not_constant(factors_arr[train], where=" training")

    n_codes, n_factors = codes_arr.shape[1], factors_arr.shape[1]
    importance = np.zeros((n_codes, n_factors), dtype=np.float64)
    acc_train = np.zeros(n_factors, dtype=np.float64)
    acc_test = np.zeros(n_factors, dtype=np.float64)
    for k in range(n_factors):
        clf = GradientBoostingClassifier(random_state=seed)
        clf.fit(codes_arr[train], factors_arr[train, k])
        importance[:, k] = np.abs(clf.feature_importances_)
        acc_train[k] = np.mean(clf.predict(codes_arr[train]) == factors_arr[train, k])
        acc_test[k] = np.mean(clf.predict(codes_arr[test]) == factors_arr[test, k])

    importance.setflags(write=False)
    return DCIResult(
        disentanglement=_weighted_score(importance, axis=1),
        completeness=_weighted_score(importance, axis=0),
        informativeness_train=float(np.mean(acc_train)),
        informativeness_test=float(np.mean(acc_test)),
        importance=importance,
    )
