"""The VAE: likelihoods, architectures, the estimator API, persistence and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from latentinfer import CheckpointError, ConfigError, NotFittedError, ShapeError, ValidationError
from latentinfer.vae import VAE, LatentVariableModel

FAST = {"max_epochs": 3, "progress": False}


@pytest.fixture(scope="module")
def fitted(digits: np.ndarray) -> VAE:
    return VAE(latent_dim=4, hidden=(64,), seed=0).fit(digits[:600], **FAST)


def test_estimator_api_shapes_and_types(fitted: VAE, digits: np.ndarray) -> None:
    z = fitted.transform(digits[:10])
    assert isinstance(z, np.ndarray) and z.shape == (10, 4)
    zt = fitted.transform(torch.as_tensor(digits[:10]))
    assert isinstance(zt, torch.Tensor)
    np.testing.assert_allclose(z, zt.numpy(), rtol=1e-6)
    assert fitted.sample(5, seed=0).shape == (5, 64)
    assert torch.equal(fitted.sample(5, seed=1), fitted.sample(5, seed=1))
    draws = fitted.sample(5, seed=0, mean=False)
    assert set(torch.unique(draws).tolist()) <= {0.0, 1.0}
    assert fitted.score_samples(digits[:7], k=8).shape == (7,)
    assert fitted.likelihood_ == "bernoulli" and fitted.architecture_ == "mlp"
    assert fitted.n_features_in_ == 64 and len(fitted.history_) == 3


def test_training_improves_the_held_out_bound(digits: np.ndarray) -> None:
    # An untrained decoder predicts p ≈ 0.5 per pixel: −log(0.5)·64 ≈ 44 nats; a short fit
    # must get well below it on held-out rows (the full fit reaches ~24).
    untrained = VAE(latent_dim=4, hidden=(64,), seed=0).build((64,))
    before = -untrained.score(digits[1500:], k=16)
    after = (
        -VAE(latent_dim=4, hidden=(64,), seed=0)
        .fit(digits[:1400], max_epochs=30, progress=False)
        .score(digits[1500:], k=16)
    )
    assert before > 40 and after < 32


def test_same_seed_same_numbers(digits: np.ndarray) -> None:
    a = VAE(latent_dim=3, hidden=(32,), seed=5).fit(digits[:300], **FAST)
    b = VAE(latent_dim=3, hidden=(32,), seed=5).fit(digits[:300], **FAST)
    c = VAE(latent_dim=3, hidden=(32,), seed=6).fit(digits[:300], **FAST)
    np.testing.assert_array_equal(a.transform(digits[:20]), b.transform(digits[:20]))
    assert not np.allclose(a.transform(digits[:20]), c.transform(digits[:20]))
    assert a.seed_ == 5
    d = VAE(latent_dim=3, hidden=(32,))  # seed=None draws one and records it
    d.fit(digits[:100], max_epochs=1, progress=False)
    assert isinstance(d.seed_, int)
    # ... and the recorded seed reproduces that fit, initial weights included
    e = VAE(latent_dim=3, hidden=(32,), seed=d.seed_).fit(
        digits[:100], max_epochs=1, progress=False
    )
    np.testing.assert_array_equal(d.transform(digits[:20]), e.transform(digits[:20]))


@pytest.mark.parametrize(
    ("likelihood", "make"),
    [
        ("gaussian", lambda d: d * 4.0 - 2.0),
        ("bernoulli", lambda d: d),
        ("categorical", lambda d: np.round(d * 16)),
    ],
)
def test_likelihoods(likelihood: str, make: object, digits: np.ndarray) -> None:
    X = make(digits[:300])  # type: ignore[operator]
    vae = VAE(
        latent_dim=2,
        hidden=(32,),
        likelihood=likelihood,
        n_categories=17 if likelihood == "categorical" else None,
        seed=0,
    )
    vae.fit(X, **FAST)
    assert np.isfinite(vae.score(X[:20], k=4))
    assert vae.sample(3, seed=0).shape == (3, 64)
    if likelihood == "categorical":
        assert float(vae.sample(3, seed=0, mean=False).max()) <= 16


def test_auto_likelihood_picks_gaussian_for_real_data() -> None:
    X = np.random.default_rng(0).normal(size=(100, 3))
    assert VAE(latent_dim=1, hidden=(8,), seed=0).fit(X, **FAST).likelihood_ == "gaussian"


def test_conv_architecture_on_images(digits: np.ndarray) -> None:
    images = digits[:200].reshape(-1, 8, 8)  # (n, H, W) gets a channel dimension
    vae = VAE(latent_dim=3, seed=0, conv_channels=(8, 16)).fit(images, **FAST)
    assert vae.architecture_ == "conv" and vae.feature_shape_ == (1, 8, 8)
    assert vae.sample(2, seed=0).shape == (2, 1, 8, 8)
    assert vae.transform(images[:4]).shape == (4, 3)


def test_beta_scales_the_kl_part(digits: np.ndarray) -> None:
    x = torch.as_tensor(digits[:64])
    vae = VAE(latent_dim=3, hidden=(16,), seed=0).build((64,))
    torch.manual_seed(0)
    out1 = vae.loss(x)
    vae.beta = 4.0
    torch.manual_seed(0)
    out4 = vae.loss(x)
    torch.testing.assert_close(out4.parts["kl"], 4 * out1.parts["kl"])
    torch.testing.assert_close(out4.parts["reconstruction"], out1.parts["reconstruction"])


def test_save_and_load_round_trip(fitted: VAE, digits: np.ndarray, tmp_path: Path) -> None:
    fitted.save(tmp_path / "m")
    back = LatentVariableModel.load(tmp_path / "m")
    assert isinstance(back, VAE) and back.get_params() == fitted.get_params()
    np.testing.assert_array_equal(back.transform(digits[:5]), fitted.transform(digits[:5]))
    assert back.likelihood_ == "bernoulli"
    assert VAE.load(tmp_path / "m").latent_dim == 4


def test_a_damaged_saved_model_gives_a_checkpoint_error(
    fitted: VAE, digits: np.ndarray, tmp_path: Path
) -> None:
    truncated = fitted.save(tmp_path / "truncated")
    tensors = truncated / "state.safetensors"
    tensors.write_bytes(tensors.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=r"state.safetensors' cannot be read .* truncated"):
        VAE.load(truncated)
    broken = fitted.save(tmp_path / "broken")
    (broken / "state.json").write_text('{"format": ')
    with pytest.raises(CheckpointError, match=r"state.json' cannot be read"):
        VAE.load(broken)
    run = tmp_path / "run"
    VAE(latent_dim=2, hidden=(8,), seed=0).fit(
        digits[:100], max_epochs=1, progress=False, run_dir=run
    )
    step = sorted((run / "checkpoints").iterdir())[-1]
    with pytest.raises(CheckpointError, match=r"not a saved model .* resume=True"):
        VAE.load(step)


def test_get_set_params_and_repr() -> None:
    vae = VAE(latent_dim=3, beta=2.0)
    params = vae.get_params()
    assert params["latent_dim"] == 3 and params["beta"] == 2.0 and "seed" in params
    vae.set_params(latent_dim=5)
    assert vae.latent_dim == 5
    assert repr(vae) == "VAE(latent_dim=5, beta=2.0)"
    with pytest.raises(ConfigError, match="no parameter 'latent'"):
        vae.set_params(latent=2)
    # values get the constructor's checks, and nothing is set when one fails
    with pytest.raises(ConfigError, match="beta must be a finite number; got 'x'"):
        vae.set_params(beta="x", latent_dim=7)
    with pytest.raises(ConfigError, match="hidden must be a sequence"):
        vae.set_params(hidden=5)
    assert vae.latent_dim == 5 and vae.beta == 2.0


def test_set_params_on_a_fitted_model_discards_the_fit(fitted: VAE, digits: np.ndarray) -> None:
    vae = VAE(latent_dim=3, hidden=(16,), seed=0).fit(digits[:100], max_epochs=1, progress=False)
    vae.set_params(seed=0)  # the same value: the fit is kept
    assert vae.is_fitted and vae.transform(digits[:2]).shape == (2, 3)
    vae.set_params(latent_dim=5)
    assert not vae.is_fitted
    with pytest.raises(NotFittedError):
        vae.sample(3)
    with pytest.raises(NotFittedError):
        vae.history_  # noqa: B018
    vae.fit(digits[:100], max_epochs=1, progress=False)
    assert vae.transform(digits[:2]).shape == (2, 5)
    with pytest.raises(ConfigError, match=r"sample takes only n .* got 1 data argument"):
        fitted.sample(2, digits[:2])


def test_fit_options_override_the_training_config(digits: np.ndarray) -> None:
    vae = VAE(latent_dim=2, hidden=(16,), seed=0, train_config={"max_epochs": 1})
    vae.fit(digits[:200], progress=False)
    assert vae.train_result_.epochs == 1
    vae.fit(digits[:200], max_epochs=2, progress=False)
    assert vae.train_result_.epochs == 2
    with pytest.raises(ConfigError, match="unknown training option"):
        vae.fit(digits[:200], epochs=2)


# ------------------------------------------------------------------------- bad input
def test_bad_constructor_arguments_name_the_argument() -> None:
    with pytest.raises(ConfigError, match="latent_dim"):
        VAE(latent_dim=0)
    with pytest.raises(ConfigError, match="likelihood"):
        VAE(likelihood="poisson")
    with pytest.raises(ConfigError, match="n_categories"):
        VAE(likelihood="categorical")
    with pytest.raises(ConfigError, match="beta"):
        VAE(beta=-1.0)
    with pytest.raises(ConfigError, match="'shared' or a positive number"):
        VAE(posterior_variance="diagonal")
    # an unknown argument: Python's TypeError, naming VAE (not the base class) and the names
    with pytest.raises(TypeError, match=r"^VAE\(\) got .*\['foo'\]; accepted: \['latent_dim'"):
        VAE(latent_dim=2, foo=1)
    with pytest.raises(TypeError, match="Did you mean 'latent_dim'"):
        VAE(latnt_dim=2)


def test_bad_data_gets_clear_errors(fitted: VAE, digits: np.ndarray) -> None:
    vae = VAE(latent_dim=2, hidden=(8,), seed=0)
    bad = digits[:50].copy()
    bad[3, 7] = np.nan
    with pytest.raises(
        ValidationError, match=r"X holds 1 non-finite value.*NaN first at index \(3, 7\)"
    ):
        vae.fit(bad)
    with pytest.raises(ValidationError, match="at least 1 row"):
        vae.fit(np.empty((0, 64)))
    with pytest.raises(ShapeError, match="1-D array"):
        vae.fit(np.zeros(10))
    with pytest.raises(ValidationError, match="must hold numbers"):
        vae.fit(np.array([["a", "b"]]))
    with pytest.raises(ValidationError, match=r"\[0, 1\] .*Rescale the data"):
        VAE(likelihood="bernoulli").fit(digits[:20] * 16)
    # new rows for a fitted model: the advice is to scale them as the training rows were
    with pytest.raises(ValidationError, match=r"got values in \[0, 2\].*MinMaxScaler\(clip"):
        fitted.score(digits[:5] * 2, k=2)
    with pytest.raises(ValidationError, match=r"non-integer values such as 0\.3125.*scale=counts"):
        VAE(likelihood="categorical", n_categories=17).fit(digits[:20])
    with pytest.raises(ValidationError, match=r"codes in 0\.\.2 .*got values in \[0, 16\]"):
        VAE(likelihood="categorical", n_categories=3).fit(digits[:20] * 16)
    with pytest.raises(ShapeError, match=r"feature shape \(10,\).*fitted on feature shape \(64,\)"):
        fitted.transform(np.zeros((4, 10)))
    with pytest.raises(ConfigError, match="architecture='conv'"):
        VAE(architecture="conv").fit(digits[:20])


def test_methods_before_fit_raise_not_fitted(digits: np.ndarray) -> None:
    vae = VAE()
    for call in (
        lambda: vae.transform(digits[:2]),
        lambda: vae.sample(2),
        lambda: vae.score(digits[:2]),
    ):
        with pytest.raises(NotFittedError, match="call fit"):
            call()


def test_more_bad_inputs_get_clear_errors(digits: np.ndarray) -> None:
    with pytest.raises(ConfigError, match="hidden must be a sequence"):
        VAE(hidden=256)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="seed must be an int"):
        VAE(seed="a")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"train_config has unknown option\(s\) \['max_epoch'\]"):
        VAE(train_config={"max_epoch": 2}).fit(digits[:50])
    with pytest.raises(ShapeError, match="channels-last"):
        VAE().fit(np.random.default_rng(0).random((20, 16, 16, 3)))
    with pytest.raises(ShapeError, match="H, W ≥ 4"):
        VAE(architecture="conv").fit(np.random.default_rng(0).random((20, 1, 2, 2)))
    tiny = VAE(latent_dim=2, hidden=(8,), seed=0).fit(
        np.random.default_rng(0).random((40, 2, 2)), max_epochs=1, progress=False
    )
    assert tiny.architecture_ == "mlp"  # images too small for convolutions
    with pytest.raises(NotFittedError, match=r"history_ is learned by fit"):
        VAE().history_  # noqa: B018
    fitted = VAE(latent_dim=2, hidden=(8,), seed=0).fit(digits[:60], max_epochs=1, progress=False)
    with pytest.raises(ConfigError, match="k must lie"):
        fitted.score(digits[:5], k=0)


def test_validation_data_errors_name_validation_data(digits: np.ndarray) -> None:
    bad = digits[:50].copy()
    bad[3, 2] = np.nan
    vae = VAE(latent_dim=2, hidden=(8,), seed=0)
    with pytest.raises(ValidationError, match="validation_data X holds 1 non-finite"):
        vae.fit(digits[:100], validation_data=bad, max_epochs=1, progress=False)
    with pytest.raises(ValidationError, match="validation_data X must have at least 1 row"):
        vae.fit(digits[:100], validation_data=digits[:0], max_epochs=1, progress=False)


def test_a_vae_is_a_pipeline_step(digits: np.ndarray) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from latentinfer.data import load

    labels = load("digits").y[:600]
    pipe = make_pipeline(
        VAE(latent_dim=4, hidden=(32,), seed=0, train_config={"max_epochs": 3, "progress": False}),
        LogisticRegression(max_iter=500),
    )
    pipe.fit(digits[:600], labels)  # the VAE ignores y, as unsupervised estimators do
    # ten classes from 4 codes after 3 epochs: above chance (0.1); the seeded run gives 0.38
    assert pipe.score(digits[:600], labels) > 0.25
    vae = pipe[0]  # y is ignored by score too, so the VAE can also end a pipeline
    assert vae.score(digits[:50], labels[:50], k=4) == vae.score(digits[:50], k=4)
    with pytest.raises(ConfigError, match=r"takes 1 data argument\(s\) \(X\); got 3"):
        VAE(latent_dim=2).fit(digits[:50], labels[:50], labels[:50])
