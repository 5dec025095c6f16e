"""Tests of the offline data sets in ``latentinfer.data``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from latentinfer.core.errors import ConfigError, ShapeError, ValidationError
from latentinfer.data import (
    Dataset,
    available,
    describe,
    load,
    load_sprites,
    register,
    render_sprites,
)
from latentinfer.data.sprites import FACTOR_NAMES, FACTOR_SIZES

EXPECTED = {"digits", "sprites", "linear", "nonlinear", "linear_gaussian"}
# Small versions, to keep the suite fast; data sets registered later load with defaults.
SMALL: dict[str, dict] = {
    "sprites": {"n": 300, "size": 16},
    "linear": {"n": 300},
    "nonlinear": {"n": 300},
    "linear_gaussian": {"n": 300},
}
SYNTHETIC = ("linear", "nonlinear", "linear_gaussian")


# --------------------------------------------------------------------------------------
# registry and common contract
# --------------------------------------------------------------------------------------


def test_available_lists_sorted_names_with_descriptions():
    names = available()
    assert set(names) >= EXPECTED
    assert names == sorted(names)
    for name in names:
        text = describe(name)
        assert text and "\n" not in text
    table = describe().splitlines()
    assert len(table) == len(names)
    assert all(line.startswith(name) for line, name in zip(table, names))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_dataset_has_documented_shapes_and_dtypes(name):
    ds = load(name, **SMALL.get(name, {}))
    assert isinstance(ds, Dataset)
    assert ds.name == name
    n = len(ds)
    assert n > 0 and ds.X.shape[0] == n
    assert ds.X.dtype == torch.float32 and ds.X.ndim >= 2
    assert bool(torch.isfinite(ds.X).all())
    assert ds.info["likelihood"] in {"bernoulli", "gaussian", "categorical"}
    if ds.factors is not None:
        assert ds.factors.dtype == torch.int64
        assert ds.factors.shape == (n, len(ds.factor_names))
        assert len(ds.factor_sizes) == len(ds.factor_names) == ds.n_factors
        sizes = torch.tensor(ds.factor_sizes)
        assert bool((ds.factors >= 0).all()) and bool((ds.factors < sizes).all())
    else:
        assert ds.factor_names == () and ds.factor_sizes == ()
    if ds.y is not None:
        assert ds.y.shape[0] == n and ds.y.dtype == torch.int64
    if "image_shape" in ds.info:
        assert math.prod(ds.X.shape[1:]) == math.prod(ds.info["image_shape"])
    for key in ds.info.get("per_row", ()):
        assert ds.info[key].shape[0] == n
    assert name in repr(ds)


@pytest.mark.parametrize("name", ["sprites", *SYNTHETIC])
def test_same_seed_same_data_other_seed_other_data(name):
    opts = SMALL[name]
    a, b = load(name, seed=3, **opts), load(name, seed=3, **opts)
    c = load(name, seed=4, **opts)
    assert torch.equal(a.X, b.X)
    assert not torch.equal(a.X, c.X)
    if a.factors is not None:
        assert torch.equal(a.factors, b.factors) and not torch.equal(a.factors, c.factors)
    if "z" in a.info:
        assert torch.equal(a.info["z"], b.info["z"])
        assert not torch.equal(a.info["z"], c.info["z"])


@pytest.mark.parametrize("name", ["sprites", *SYNTHETIC])
def test_first_rows_do_not_depend_on_n(name):
    opts = {k: v for k, v in SMALL[name].items() if k != "n"}
    short, long = load(name, n=50, **opts), load(name, n=120, **opts)
    assert torch.equal(short.X, long.X[:50])


# --------------------------------------------------------------------------------------
# digits
# --------------------------------------------------------------------------------------


def test_digits_scales_layouts_and_labels():
    unit = load("digits")
    counts = load("digits", scale="counts", flatten=False)
    assert unit.X.shape == (1797, 64) and counts.X.shape == (1797, 1, 8, 8)
    assert float(unit.X.min()) == 0.0 and float(unit.X.max()) == 1.0
    assert torch.equal(counts.X, counts.X.round())
    assert set(torch.unique(counts.X).tolist()) <= set(range(17))
    assert torch.allclose(counts.X.reshape(1797, 64) / 16, unit.X)
    assert unit.info["likelihood"] == "bernoulli"
    assert counts.info["likelihood"] == "categorical" and counts.info["n_categories"] == 17
    assert unit.info["image_shape"] == (1, 8, 8)
    assert unit.factor_names == ("digit",) and unit.factor_sizes == (10,)
    assert torch.equal(unit.factors[:, 0], unit.y)
    assert torch.equal(torch.unique(unit.y), torch.arange(10))


# --------------------------------------------------------------------------------------
# sprites
# --------------------------------------------------------------------------------------


def _centroid(img: torch.Tensor) -> tuple[float, float]:
    """(row, column) centre of mass of a (1, s, s) or (s, s) binary image."""
    img = img.reshape(img.shape[-2:]).double()
    rows, cols = torch.meshgrid(
        torch.arange(img.shape[0], dtype=torch.float64),
        torch.arange(img.shape[1], dtype=torch.float64),
        indexing="ij",
    )
    mass = img.sum()
    return float((img * rows).sum() / mass), float((img * cols).sum() / mass)


def _grid(**fixed: int | list[int]) -> np.ndarray:
    """Factor rows: the product of the given levels (all levels for unnamed factors)."""
    levels = [np.atleast_1d(fixed.get(f, np.arange(k))) for f, k in zip(FACTOR_NAMES, FACTOR_SIZES)]
    mesh = np.meshgrid(*levels, indexing="ij")
    return np.stack([m.reshape(-1) for m in mesh], axis=1)


def test_sprites_defaults_binary_images_and_info():
    ds = load_sprites(n=500)
    assert ds.X.shape == (500, 1, 32, 32)
    assert set(torch.unique(ds.X).tolist()) <= {0.0, 1.0}
    assert ds.factor_names == FACTOR_NAMES and ds.factor_sizes == (3, 6, 10, 16, 16)
    assert ds.y is None
    assert ds.info["image_shape"] == (1, 32, 32)
    assert ds.info["likelihood"] == "bernoulli" and ds.info["n_factors"] == 5
    flat = load_sprites(n=500, flatten=True)
    assert flat.X.shape == (500, 32 * 32) and torch.equal(flat.X, ds.X.reshape(500, -1))
    # the factors are drawn uniformly: every level of every factor shows up
    for j, k in enumerate(ds.factor_sizes):
        assert torch.equal(torch.unique(ds.factors[:, j]), torch.arange(k))


@pytest.mark.parametrize("size", [16, 40])
def test_sprites_full_grid_is_the_whole_product_non_empty_and_inside(size):
    ds = load("sprites", size=size, full_grid=True)
    assert len(ds) == math.prod(ds.factor_sizes) == 46_080
    assert len(torch.unique(ds.factors, dim=0)) == len(ds)
    img = ds.X[:, 0]
    assert bool((img.sum(dim=(1, 2)) > 0).all()), "every image shows its shape"
    # shapes lie inside a disc of radius 0.2 around centres in [0.25, 0.75], so they keep
    # 0.05 image sides off the border and never touch the outermost pixel ring
    ring = img[:, 0].sum() + img[:, -1].sum() + img[:, :, 0].sum() + img[:, :, -1].sum()
    assert float(ring) == 0.0
    # the same factors, drawn directly, give the same images
    assert torch.equal(render_sprites(ds.factors[::997].numpy(), size=size), ds.X[::997])


def test_sprites_pos_x_and_pos_y_move_the_centroid():
    size = 64
    step = 0.5 * size / 15  # pixels between neighbouring position levels (2.13 px here)
    for shape in range(3):
        f = _grid(shape=shape, scale=5, orientation=3, pos_y=7)  # pos_x varies
        cols = [_centroid(im)[1] for im in render_sprites(f, size=size)]
        assert bool((np.diff(cols) > 0).all())
        assert np.allclose(np.diff(cols), step, atol=0.5)
        g = _grid(shape=shape, scale=5, orientation=3, pos_x=7)  # pos_y varies
        rows = [_centroid(im)[0] for im in render_sprites(g, size=size)]
        assert bool((np.diff(rows) > 0).all())  # pos_y grows downwards
        assert np.allclose(np.diff(rows), step, atol=0.5)


def test_sprites_scale_grows_the_pixel_count():
    f = _grid(pos_x=[0, 9, 15], pos_y=[2, 11])  # all shapes, scales, orientations
    counts = render_sprites(f, size=32).sum(dim=(1, 2, 3)).reshape(3, 6, 10, 3, 2)
    # every shape is star-shaped around its centre, so a larger scale covers every pixel
    # centre a smaller one covers: the count never falls along the scale axis ...
    assert bool((counts.diff(dim=1) >= 0).all())
    # ... and on average it grows roughly like the area, scale² (×4 from 0.5 to 1)
    mean = counts.mean(dim=(0, 2, 3, 4))
    assert bool((mean.diff() > 0).all())
    assert 3.0 < float(mean[-1] / mean[0]) < 5.0


def test_sprites_shapes_and_orientations_differ():
    size = 32
    shapes = render_sprites(_grid(scale=5, orientation=1, pos_x=8, pos_y=8), size=size)
    assert len(shapes) == 3
    for i in range(3):
        for j in range(i + 1, 3):
            assert not torch.equal(shapes[i], shapes[j])
    # the heart has no symmetry: all 10 orientations differ
    hearts = render_sprites(_grid(shape=2, scale=5, pos_x=8, pos_y=8), size=size)
    assert len(torch.unique(hearts.reshape(10, -1), dim=0)) == 10
    # squares repeat after a quarter turn and ellipses after a half turn (as in dSprites),
    # but the first half turn's five orientations differ for both
    for shape in (0, 1):
        f = _grid(shape=shape, scale=5, orientation=list(range(5)), pos_x=8, pos_y=8)
        imgs = render_sprites(f, size=size)
        assert len(torch.unique(imgs.reshape(5, -1), dim=0)) == 5


def test_sprites_render_checks_its_input():
    with pytest.raises(ShapeError, match="factors"):
        render_sprites(np.zeros((2, 4), dtype=np.int64))
    with pytest.raises(ValidationError, match="level"):
        render_sprites([[3, 0, 0, 0, 0]])
    with pytest.raises(ConfigError, match="size"):
        render_sprites([[0, 0, 0, 0, 0]], size=8)


# --------------------------------------------------------------------------------------
# synthetic continuous-latent data
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["linear", "nonlinear"])
@pytest.mark.parametrize(("n_features", "n_relevant"), [(20, 5), (12, 3)])
def test_synthetic_covariance_has_n_relevant_eigenvalues_above_noise(name, n_features, n_relevant):
    noise = 0.1
    ds = load(name, n=5000, n_features=n_features, n_relevant=n_relevant, noise=noise)
    assert ds.X.shape == (5000, n_features) and ds.factors is None
    assert ds.info["z"].shape == (5000, n_relevant) and ds.info["n_relevant"] == n_relevant
    assert ds.info["likelihood"] == "gaussian"
    eig = torch.linalg.eigvalsh(torch.cov(ds.X.double().T)).flip(0)
    # Noise floor: the p - k noise directions have population variance noise² = 0.01; with
    # n = 5000 rows their sample eigenvalues stay below the Marchenko-Pastur edge
    # noise² (1 + sqrt((p - k) / n))² ≈ 0.0113. The signal eigenvalues are s_i² + noise² >= 1
    # (linear) or the variances of tanh units mixed by s_i in [1, 3] (0.58 and up over seeds
    # 0..9, nonlinear), estimated to within a few per cent (relative s.e. sqrt(2 / n) = 2 %).
    # A threshold of 10 noise² = 0.1 lies 9x above the first and 5x below the second.
    threshold = 10 * noise**2
    assert int((eig > threshold).sum()) == n_relevant
    assert float(eig[n_relevant]) < 1.5 * noise**2
    assert float(eig[n_relevant - 1]) > 40 * noise**2


def test_linear_data_follow_their_generator():
    ds = load("linear", n=4000)
    A, z, s = ds.info["A"].double(), ds.info["z"].double(), ds.info["singular_values"].double()
    assert torch.allclose(A.T @ A, torch.diag(s**2), atol=1e-5)  # orthogonal columns, norms s
    assert bool((s.diff() < 0).all()) and float(s.max()) == 3.0 and float(s.min()) == 1.0
    resid = ds.X.double() - z @ A.T
    # 4000 × 20 i.i.d. N(0, 0.1²) residuals: their std is 0.1 within 0.1 · 4/sqrt(2 · 80000)
    assert abs(float(resid.std()) - 0.1) < 1e-3


def test_nonlinear_data_follow_their_generator_and_are_nonlinear():
    ds = load("nonlinear", n=4000)
    P, z, x = ds.info["params"], ds.info["z"].double(), ds.X.double()
    clean = torch.tanh(z @ P["W1"].double().T + P["b1"].double()) @ P["W2"].double().T
    assert abs(float((x - clean).std()) - 0.1) < 1e-3
    # the best affine function of z leaves about 17 % of the variance unexplained (tanh of
    # pre-activations with std 2); the noise accounts for only 20 · 0.1² / 12 ≈ 2 % of it
    design = torch.cat([z, torch.ones(len(z), 1, dtype=torch.float64)], dim=1)
    coef = torch.linalg.lstsq(design, x).solution
    unexplained = float((x - design @ coef).var(dim=0).sum() / x.var(dim=0).sum())
    assert unexplained > 0.1
    wide = load("nonlinear", n=500, hidden=12)
    assert wide.info["hidden"] == 12 and wide.info["params"]["W1"].shape == (12, 5)


def test_linear_gaussian_covariance_matches_w_wt_plus_sigma2():
    n, p, k, sigma = 20_000, 8, 3, 0.5
    ds = load("linear_gaussian", n=n, n_features=p, n_relevant=k, noise=sigma)
    W = ds.info["W"].double()
    assert W.shape == (p, k) and ds.info["sigma"] == sigma
    cov = W @ W.T + sigma**2 * torch.eye(p, dtype=torch.float64)
    x = ds.X.double()
    # Mean: each coordinate's sample mean has s.e. sqrt(cov_ii / n).
    se_mean = (torch.diag(cov) / n).sqrt()
    assert bool((x.mean(0).abs() < 5 * se_mean).all())
    # Covariance: for Gaussian data, the sample covariance entry S_ij has variance
    # (cov_ij² + cov_ii cov_jj) / n. Among the p(p+1)/2 = 36 distinct entries, a deviation
    # beyond 5 s.e. has probability below 36 · 6e-7 ≈ 2e-5 if the model is right.
    S = torch.cov(x.T)
    se = ((cov**2 + torch.outer(torch.diag(cov), torch.diag(cov))) / n).sqrt()
    assert float(((S - cov).abs() / se).max()) < 5
    # σ is pinned down sharply in the directions orthogonal to W, where x is pure noise:
    # the mean square there is σ² · χ²_{n(p-k)} / (n(p-k)), relative s.e. sqrt(2 / (n(p-k))).
    q, _ = torch.linalg.qr(W, mode="complete")
    noise_part = x @ q[:, k:]
    rel = float(noise_part.pow(2).mean()) / sigma**2 - 1
    assert abs(rel) < 5 * math.sqrt(2 / (n * (p - k)))
    # the exact marginal gives a finite log-likelihood for every row
    marginal = torch.distributions.MultivariateNormal(torch.zeros(p, dtype=torch.float64), cov)
    assert bool(torch.isfinite(marginal.log_prob(x)).all())


# --------------------------------------------------------------------------------------
# split
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["digits", "linear"])
def test_split_partitions_the_rows(name):
    ds = load(name, **SMALL.get(name, {}))
    n = len(ds)
    train, test = ds.split(0.3, seed=7)
    assert len(train) + len(test) == n and len(test) == round(0.3 * n)
    idx_train, idx_test = train.info["indices"], test.info["indices"]
    assert torch.equal(torch.sort(torch.cat([idx_train, idx_test])).values, torch.arange(n))
    assert torch.equal(train.X, ds.X[idx_train]) and torch.equal(test.X, ds.X[idx_test])
    for part, idx in ((train, idx_train), (test, idx_test)):
        if ds.y is not None:
            assert torch.equal(part.y, ds.y[idx])
        if ds.factors is not None:
            assert torch.equal(part.factors, ds.factors[idx])
        for key in ds.info.get("per_row", ()):
            assert torch.equal(part.info[key], ds.info[key][idx])
        assert part.name == ds.name and part.factor_sizes == ds.factor_sizes
    again, _ = ds.split(0.3, seed=7)
    other, _ = ds.split(0.3, seed=8)
    assert torch.equal(again.info["indices"], idx_train)
    assert not torch.equal(other.info["indices"], idx_train)
    # splitting a part keeps indices relative to the original data set
    sub_train, _ = train.split(0.5, seed=0)
    assert torch.equal(sub_train.X, ds.X[sub_train.info["indices"]])


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5, float("nan"), "half"])
def test_split_refuses_bad_fractions(fraction):
    ds = load("linear", n=20)
    with pytest.raises(ConfigError, match="test_fraction"):
        ds.split(fraction, seed=0)


def test_split_refuses_bad_seed():
    with pytest.raises(ConfigError, match="seed"):
        load("linear", n=20).split(0.5, seed=-1)


# --------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------


def test_unknown_name_lists_the_accepted_names():
    with pytest.raises(ValidationError) as info:
        load("sprite")
    message = str(info.value)
    assert "name" in message and "'sprite'" in message
    for name in available():
        assert repr(name) in message
    assert "Did you mean 'sprites'" in message
    with pytest.raises(ValidationError, match="name"):
        load(3)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="name"):
        describe("nope")


def test_unknown_option_names_it_and_the_accepted_ones():
    with pytest.raises(ConfigError) as info:
        load("digits", flaten=False)
    message = str(info.value)
    assert "'flaten'" in message and "flatten" in message and "scale" in message


@pytest.mark.parametrize(
    ("name", "options", "argument"),
    [
        ("digits", {"scale": "bytes"}, "scale"),
        ("digits", {"flatten": 1}, "flatten"),
        ("sprites", {"size": 8}, "size"),
        ("sprites", {"size": 129}, "size"),
        ("sprites", {"size": 32.0}, "size"),
        ("sprites", {"n": 0}, "n"),
        ("sprites", {"seed": -1}, "seed"),
        ("sprites", {"seed": 1.5}, "seed"),
        ("sprites", {"full_grid": "yes"}, "full_grid"),
        ("sprites", {"full_grid": True, "n": 10}, "full_grid"),
        ("linear", {"n_features": 3, "n_relevant": 5}, "n_features"),
        ("nonlinear", {"noise": -0.1}, "noise"),
        ("nonlinear", {"hidden": 2}, "hidden"),
        ("nonlinear", {"hidden": 21}, "hidden"),
        ("linear_gaussian", {"n_relevant": 0}, "n_relevant"),
        ("linear_gaussian", {"noise": float("inf")}, "noise"),
    ],
)
def test_bad_option_values_raise_config_error_naming_the_option(name, options, argument):
    with pytest.raises(ConfigError, match=argument):
        load(name, **options)


def test_register_refuses_a_taken_name_and_dataset_checks_its_fields():
    with pytest.raises(ValidationError, match="already registered"):
        register("digits")(lambda: None)
    X = torch.zeros(4, 2)
    with pytest.raises(ValidationError, match="float32"):
        Dataset(X=X.double())
    with pytest.raises(ShapeError, match="factors"):
        Dataset(
            X=X,
            factors=torch.zeros(3, 1, dtype=torch.int64),
            factor_names=("a",),
            factor_sizes=(2,),
        )
    with pytest.raises(ValidationError, match="factor_sizes"):
        Dataset(X=X, factors=torch.full((4, 1), 2), factor_names=("a",), factor_sizes=(2,))
    with pytest.raises(ShapeError, match="y"):
        Dataset(X=X, y=torch.zeros(5, dtype=torch.int64))
