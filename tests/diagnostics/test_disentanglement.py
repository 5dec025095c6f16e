"""Tests of latentinfer.diagnostics.disentanglement (MIG and DCI)."""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

from latentinfer.core.errors import ConfigError, ShapeError, ValidationError
from latentinfer.diagnostics.disentanglement import (
    DCIResult,
    MIGResult,
    dci,
    discretize_factors,
    mig,
    mutual_info_matrix,
)

# --------------------------------------------------------------------------- helpers


def full_factorial(levels: tuple[int, ...], repeats: int) -> np.ndarray:
    """Every combination of factor levels, each ``repeats`` times: factors exactly independent."""
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in levels], indexing="ij"), axis=-1)
    return np.tile(grid.reshape(-1, len(levels)), (repeats, 1))


def hand_bins(column: list[int], n_bins: int) -> list[int]:
    """Equal-width bins over [min, max], labels 1..n_bins, in exact rational arithmetic.

    Bin of x = floor((x - min) * n_bins / (max - min)) + 1, the maximum put in the last bin.
    Written independently of np.histogram / np.digitize.
    """
    lo, hi = min(column), max(column)
    if lo == hi:
        return [1] * len(column)
    return [min(math.floor(Fraction(x - lo) * n_bins / (hi - lo)), n_bins - 1) + 1 for x in column]


def counted_mi(a: list[int], b: list[int]) -> float:
    """Plug-in mutual information in nats by counting: sum p(a,b) log(p(a,b) / p(a) p(b))."""
    n = len(a)
    joint, ca, cb = Counter(zip(a, b)), Counter(a), Counter(b)
    return sum(nab / n * math.log(n * nab / (ca[x] * cb[y])) for (x, y), nab in joint.items())


def counted_entropy(a: list[int]) -> float:
    n = len(a)
    return -sum(c / n * math.log(c / n) for c in Counter(a).values())


# A 60-degree rotation about the (1, 1, 1) axis: orthogonal, and every output mixes every
# input with weight 2/3 or -1/3 (no input dominates an output). Deterministic, unlike a random
# rotation, which can come out nearly axis-aligned.
ROT60 = np.array(
    [
        [2 / 3, -1 / 3, 2 / 3],
        [2 / 3, 2 / 3, -1 / 3],
        [-1 / 3, 2 / 3, 2 / 3],
    ]
)


def one_to_one_codes(
    seed: int, n: int = 500, levels: tuple[int, ...] = (3, 4, 5), noise: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Factors with the given levels and codes z_k = g_k(v_k) + noise, g_k increasing."""
    rng = np.random.default_rng(seed)
    factors = np.column_stack([rng.integers(0, n_levels, size=n) for n_levels in levels])
    scaled = factors / (np.array(levels) - 1) - 0.5  # each factor in [-0.5, 0.5]
    gains = np.arange(1, len(levels) + 1)
    codes = np.tanh(2 * scaled) * gains + noise * rng.normal(size=factors.shape)
    return codes, factors


# --------------------------------------------------------------------------- mutual information


def test_mutual_info_matches_hand_counting():
    # 12 samples, integer-valued codes so that the bins can be computed exactly by hand.
    f0 = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    f1 = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]
    f2 = [0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2]
    c0 = [0, 1, 2, 3, 4, 5, 6, 6, 3, 2, 1, 0]  # range 0..6, edges 0, 2, 4, 6 (values on edges)
    c1 = [10, 10, 13, 13, 16, 16, 10, 13, 16, 10, 13, 16]
    c2 = [-3, -3, -3, -3, -3, -3, 3, 3, 3, 3, 3, 3]  # a relabelled copy of f0
    c3 = [5] * 12  # a dead (constant) code
    factor_cols, code_cols = [f0, f1, f2], [c0, c1, c2, c3]
    factors = np.array(factor_cols).T
    codes = np.array(code_cols, dtype=np.float64).T
    n_bins = 3

    bins = [hand_bins(c, n_bins) for c in code_cols]
    assert bins[0] == [1, 1, 2, 2, 3, 3, 3, 3, 2, 2, 1, 1]  # spelled out: 6 == max -> last bin
    # The library's discretiser follows the same rule (the constant column: any single bin).
    got_bins = discretize_factors(codes, n_bins=n_bins)
    for j in range(3):
        np.testing.assert_array_equal(got_bins[:, j], bins[j])
    assert len(set(got_bins[:, 3])) == 1

    expected = np.array([[counted_mi(b, f) for f in factor_cols] for b in bins])
    assert expected[2, 0] == pytest.approx(math.log(2), abs=1e-15)  # c2 copies f0 exactly
    assert np.all(expected[3] == 0.0)  # a constant code carries no information
    # 1e-9: both sides are a few dozen float64 operations on the same counts (error ~1e-15);
    # 1e-9 only allows for a different summation order, never a different binning.
    np.testing.assert_allclose(
        mutual_info_matrix(codes, factors, n_bins=n_bins), expected, atol=1e-9
    )

    entropy = np.array([counted_entropy(f) for f in factor_cols])
    top = np.sort(expected, axis=0)[::-1]
    gaps = (top[0] - top[1]) / entropy
    result = mig(codes, factors, n_bins=n_bins)
    assert isinstance(result, MIGResult)
    # 1e-9: as above, the same quantities up to floating-point summation order.
    np.testing.assert_allclose(result.entropy, entropy, atol=1e-9)
    np.testing.assert_allclose(result.mutual_info, expected, atol=1e-9)
    np.testing.assert_allclose(result.per_factor, gaps, atol=1e-9)
    assert result.score == pytest.approx(float(np.mean(gaps)), abs=1e-9)


def test_mig_is_one_for_copies_of_independent_factors():
    # Full factorial design: every combination of (2, 3, 4) levels appears equally often, so
    # the factors are exactly independent in the sample and I(copy of v_j; v_k) = 0 for j != k.
    # With n_bins=20 >= levels, every level of a copy falls in its own bin, so
    # I(copy of v_k; v_k) = H(v_k). The factors' entropies differ (log 2, log 3, log 4) but each
    # gap is divided by its own factor's entropy: (H(v_k) - 0) / H(v_k) = 1 for every k.
    factors = full_factorial((2, 3, 4), repeats=10)
    codes = factors[:, [2, 0, 1]].astype(np.float64)  # copies in a different order
    result = mig(codes, factors)
    # 1e-12: the exact answer is 1; only the rounding of log() sums in the plug-in estimate
    # (relative error ~1e-16 per term) separates the computed value from it.
    np.testing.assert_allclose(result.entropy, np.log([2, 3, 4]), rtol=1e-12)
    np.testing.assert_allclose(result.per_factor, 1.0, atol=1e-12)
    assert result.score == pytest.approx(1.0, abs=1e-12)


def test_mig_is_near_zero_for_noise_codes():
    n, n_bins, levels = 2000, 20, (2, 3, 4)
    rng = np.random.default_rng(0)
    factors = np.column_stack([rng.integers(0, n_levels, size=n) for n_levels in levels])
    # Uniform noise fills the 20 bins evenly (~25 rows per code-bin x factor-level cell), so
    # the large-sample law of the plug-in MI under independence holds.
    codes = rng.uniform(size=(n, 3))
    result = mig(codes, factors, n_bins=n_bins)
    for k, n_levels in enumerate(levels):
        # Under independence 2 n I_hat ~ chi^2 with df = (n_bins - 1)(n_levels - 1) (G-test).
        # The gap is at most the largest MI over the 3 codes; df + 6 sd of the chi^2
        # (sd = sqrt(2 df)) bounds the largest of 3 draws except with probability < 1e-7.
        df = (n_bins - 1) * (n_levels - 1)
        bound = (df + 6 * math.sqrt(2 * df)) / (2 * n)
        assert result.mutual_info[:, k].max() <= bound
        assert result.per_factor[k] <= bound / result.entropy[k]
    # Those bounds are all below 0.025 for these levels and n = 2000.
    assert 0 <= result.score < 0.025


def test_mig_invariant_to_code_permutation_and_affine_rescaling():
    codes, factors = one_to_one_codes(seed=1, n=600, noise=0.3)  # noisy: 0 < MIG < 1
    rng = np.random.default_rng(2)
    codes = np.column_stack([codes, codes[:, 0] + codes[:, 1], rng.normal(size=600)])
    base = mig(codes, factors)
    assert 0.05 < base.score < 0.95  # a non-trivial case

    perm = np.array([3, 0, 4, 2, 1])
    permuted = mig(codes[:, perm], factors)
    # Exact: each code's MI is computed by the same operations whatever its column position.
    np.testing.assert_array_equal(permuted.mutual_info, base.mutual_info[perm])
    np.testing.assert_array_equal(permuted.per_factor, base.per_factor)
    assert permuted.score == base.score

    scaled = codes.copy()
    scaled[:, 0] = 3.7 * scaled[:, 0] - 2.1  # increasing affine map: same bins
    scaled[:, 3] = -0.25 * scaled[:, 3] + 10.0  # decreasing: bins in reverse order
    rescaled = mig(scaled, factors)
    # Equal-width bins over [min, max] move with an affine map, so each row stays in the same
    # bin (mirrored for a negative scale) and the MI values are the same; 1e-12 covers the
    # different summation order of a relabelled contingency table. (A value within ~1e-16 of a
    # bin edge could switch bins after rounding; with 600 continuous values that has
    # probability ~1e-11.)
    np.testing.assert_allclose(rescaled.mutual_info, base.mutual_info, rtol=1e-12, atol=1e-15)
    assert rescaled.score == pytest.approx(base.score, rel=1e-12)


def test_mig_accepts_torch_tensors_and_float_labels():
    torch = pytest.importorskip("torch")
    factors = full_factorial((2, 3), repeats=5)
    codes = factors[:, ::-1] + np.linspace(0, 0.01, factors.shape[0])[:, None]
    expected = mig(codes, factors)
    got = mig(torch.from_numpy(codes).float(), torch.from_numpy(factors).double())
    # float32 codes bin identically here (levels 1 apart, perturbations < 0.01), so the MI
    # computed from identical integer tables agrees to the last bits.
    assert got.score == pytest.approx(expected.score, abs=1e-12)


def test_discretize_factors_equal_width_bins():
    x = np.array([0.0, 0.24, 0.26, 0.5, 0.74, 0.76, 1.0])
    np.testing.assert_array_equal(discretize_factors(x, n_bins=4), [1, 1, 2, 3, 3, 4, 4])
    two_d = discretize_factors(np.column_stack([x, 10 * x + 3]), n_bins=4)
    assert two_d.shape == (7, 2)
    assert two_d.dtype.kind == "i"
    np.testing.assert_array_equal(two_d[:, 0], two_d[:, 1])  # affine copies: the same bins


# --------------------------------------------------------------------------- DCI


def test_dci_one_to_one_codes_score_high():
    codes, factors = one_to_one_codes(seed=0)
    result = dci(codes, factors)
    assert isinstance(result, DCIResult)
    assert result.importance.shape == (3, 3)
    # Each factor is determined by one code (noise sd 0.05 << level spacing >= 0.38), so the
    # trees split (almost) only on it; 0.9 leaves room for splits on other codes fitting
    # noise. Measured: 1.000 for seeds 0-3.
    assert result.disentanglement > 0.9
    assert result.completeness > 0.9
    assert np.all(np.argmax(result.importance, axis=0) == np.arange(3))
    # Levels are separable, so the held-out accuracy is ~1; 0.95 allows a few stray rows.
    assert result.informativeness_train > 0.95
    assert result.informativeness_test > 0.95


def test_dci_mixed_codes_score_low():
    rng = np.random.default_rng(3)
    factors = np.column_stack([rng.integers(0, n_levels, size=500) for n_levels in (3, 4, 5)])
    scaled = factors / (np.array([3, 4, 5]) - 1) - 0.5
    codes = (scaled + 0.02 * rng.normal(size=scaled.shape)) @ ROT60
    np.testing.assert_allclose(ROT60 @ ROT60.T, np.eye(3), atol=1e-15)  # a rotation indeed
    result = dci(codes, factors)
    # Every code mixes every factor, so importances spread over rows and columns. The
    # one-to-one codes score ~1; measured here ~0.1 for seeds 0-3, so 0.5 is a wide margin.
    assert result.disentanglement < 0.5
    assert result.completeness < 0.5
    # Still informative: the factors are an invertible function of the codes.
    assert result.informativeness_test > 0.9


def test_dci_noise_codes_are_chance_level():
    n, levels = 1000, (3, 4, 5)
    rng = np.random.default_rng(4)
    factors = np.column_stack([rng.integers(0, n_levels, size=n) for n_levels in levels])
    codes = rng.normal(size=(n, 3))
    result = dci(codes, factors, train_fraction=0.5)
    chance = float(np.mean([1 / n_levels for n_levels in levels]))
    # Predictions independent of the labels have expected accuracy sum_c q_c p_c = 1/L for
    # balanced labels. On 500 test rows the sd of one factor's accuracy is <= 0.021 and of
    # the mean over 3 factors <= 0.013; 0.07 is > 5 sd.
    assert abs(result.informativeness_test - chance) < 0.07
    # The trees overfit the training rows, so train accuracy is well above chance.
    assert result.informativeness_train > result.informativeness_test


def test_dci_zero_importance_is_handled():
    rng = np.random.default_rng(5)
    factors = np.column_stack([rng.integers(0, 3, size=100), rng.integers(0, 4, size=100)])
    # Constant codes: no tree can split, all importances are 0; the scores fall back to
    # uniform weights and uniform (maximum-entropy) rows/columns, i.e. exactly 0 up to the
    # rounding of 1 - log(n)/log(n) (1e-12).
    result = dci(np.ones((100, 3)), factors)
    assert result.importance.sum() == 0.0
    assert result.disentanglement == pytest.approx(0.0, abs=1e-12)
    assert result.completeness == pytest.approx(0.0, abs=1e-12)


def test_dci_single_factor_and_determinism():
    rng = np.random.default_rng(6)
    factors = rng.integers(0, 3, size=(120, 1))
    codes = np.column_stack([factors[:, 0] + 0.05 * rng.normal(size=120), rng.normal(size=120)])
    first = dci(codes, factors, seed=3)
    # One factor: a code can only relate to that factor, so disentanglement is 1 by the
    # base-1 convention (no division by log 1).
    assert first.disentanglement == 1.0
    second = dci(codes, factors, seed=3)
    assert first.informativeness_test == second.informativeness_test
    np.testing.assert_array_equal(first.importance, second.importance)


# --------------------------------------------------------------------------- bad inputs


def _ok_inputs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return rng.normal(size=(20, 3)), rng.integers(0, 3, size=(20, 2))


FUNCS = [
    pytest.param(mutual_info_matrix, id="mutual_info_matrix"),
    pytest.param(mig, id="mig"),
    pytest.param(dci, id="dci"),
]


@pytest.mark.parametrize("func", FUNCS)
def test_one_dimensional_codes_rejected(func):
    codes, factors = _ok_inputs()
    with pytest.raises(ShapeError, match=r"codes must be 2-D.*\(20,\)"):
        func(codes[:, 0], factors)


@pytest.mark.parametrize("func", FUNCS)
def test_one_dimensional_factors_rejected(func):
    codes, factors = _ok_inputs()
    with pytest.raises(ShapeError, match=r"factors must be 2-D.*\(20,\)"):
        func(codes, factors[:, 0])


@pytest.mark.parametrize("func", FUNCS)
def test_mismatched_rows_rejected(func):
    codes, factors = _ok_inputs()
    with pytest.raises(ShapeError, match=r"codes has shape \(19, 3\).*factors has shape \(20, 2\)"):
        func(codes[:19], factors)


@pytest.mark.parametrize("func", FUNCS)
def test_nan_codes_rejected(func):
    codes, factors = _ok_inputs()
    codes[4, 1] = np.nan
    with pytest.raises(ValidationError, match=r"codes holds 1 non-finite.*NaN.*\(4, 1\)"):
        func(codes, factors)


@pytest.mark.parametrize("func", FUNCS)
def test_inf_factors_rejected(func):
    codes, factors = _ok_inputs()
    factors = factors.astype(float)
    factors[2, 0] = np.inf
    with pytest.raises(ValidationError, match=r"factors holds 1 non-finite.*Inf"):
        func(codes, factors)


@pytest.mark.parametrize("func", FUNCS)
def test_empty_codes_rejected(func):
    _, factors = _ok_inputs()
    with pytest.raises(ValidationError, match=r"codes is empty \(shape \(20, 0\)\)"):
        func(np.zeros((20, 0)), factors)


@pytest.mark.parametrize("func", FUNCS)
def test_non_integer_factors_rejected(func):
    codes, factors = _ok_inputs()
    factors = factors + 0.5
    with pytest.raises(ValidationError, match=r"factors must hold discrete.*discretize_factors"):
        func(codes, factors)


@pytest.mark.parametrize("func", [pytest.param(mig, id="mig"), pytest.param(dci, id="dci")])
def test_constant_factor_rejected(func):
    codes, factors = _ok_inputs()
    factors[:, 1] = 2
    with pytest.raises(ValidationError, match=r"factors column 1 is constant.*holds 2"):
        func(codes, factors)


def test_mig_needs_two_codes():
    codes, factors = _ok_inputs()
    with pytest.raises(ShapeError, match=r"codes must have at least 2 columns.*\(20, 1\)"):
        mig(codes[:, :1], factors)


def test_bad_options_rejected():
    codes, factors = _ok_inputs()
    with pytest.raises(ConfigError, match=r"model must be one of 'gbt'; got 'lasso'"):
        dci(codes, factors, model="lasso")
    with pytest.raises(ConfigError, match=r"train_fraction must lie in \(0, 1\)"):
        dci(codes, factors, train_fraction=1.0)
    with pytest.raises(ValidationError, match=r"train_fraction=0\.99 with 20 rows leaves no"):
        dci(codes, factors, train_fraction=0.99)
    with pytest.raises(ConfigError, match=r"n_bins must lie in \[1, inf\); got 0"):
        mig(codes, factors, n_bins=0)
    with pytest.raises(ConfigError, match=r"n_bins must be an integer"):
        mutual_info_matrix(codes, factors, n_bins=2.5)
