"""CEVAE and VLUCI: the estimator contract, the latent-model contract, and VLUCI's gain.

The statistical test uses one fixed data set and seed; its margins are justified where
they are asserted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.linear_model import LinearRegression

from latentinfer import ConfigError, NotFittedError, ValidationError
from latentinfer.causal import CEVAE, VLUCI, TLearner
from latentinfer.causal.metrics import ate_error, pehe
from latentinfer.data import causal_sample, load
from latentinfer.diagnostics import run_activity, run_collapse, run_mean_vs_sampled

FAST = {"max_epochs": 3, "progress": False}


def _sample(n: int = 200, seed: int = 0) -> Any:
    return causal_sample(load("confounded_proxies", n=n, n_proxies=3, seed=seed))


def _make(kind: str, **kw: Any) -> CEVAE | VLUCI:
    if kind == "cevae":
        return CEVAE(latent_dim=3, hidden=(16,), n_samples=8, seed=0, **kw)
    return VLUCI(proxies=(5, 6, 7), hidden=(16,), n_samples=8, n_particles=2, seed=0, **kw)


@pytest.mark.parametrize("kind", ["cevae", "vluci"])
def test_estimator_contract(kind: str) -> None:
    s = _sample()
    est = _make(kind)
    assert est.fit(s.Y, s.T, X=s.X, **FAST) is est
    eff, new = est.effect(), est.effect(s.X[:7])
    assert eff.shape == (200,) and new.shape == (7,)
    assert np.isfinite(eff).all() and isinstance(est.ate(), float)
    lo, hi = est.effect_interval(s.X[:7], alpha=0.2)
    assert bool(np.all(lo <= hi))
    assert est.effect_samples(s.X[:7]).shape == (8, 7)
    np.testing.assert_allclose(est.effect(s.X[:4], T0=1, T1=0), -est.effect(s.X[:4]))
    # the same seed gives the same numbers
    np.testing.assert_array_equal(_make(kind).fit(s.Y, s.T, X=s.X, **FAST).effect(), eff)


@pytest.mark.parametrize("kind", ["cevae", "vluci"])
def test_bad_input_gets_clear_errors(kind: str) -> None:
    s = _sample()
    with pytest.raises(NotFittedError):
        _make(kind).effect(s.X)
    with pytest.raises(ConfigError, match="no instruments"):
        _make(kind).fit(s.Y, s.T, X=s.X, Z=s.X[:, :1], **FAST)
    with pytest.raises(ValidationError, match="binary treatment"):
        _make(kind).fit(s.Y, s.T * 2.0, X=s.X, **FAST)
    with pytest.raises(ConfigError, match="hidden must be"):
        CEVAE(hidden=64)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="activation"):
        VLUCI(activation="swish")


def test_vluci_checks_its_proxies_and_plug_in() -> None:
    s = _sample()
    with pytest.raises(ConfigError, match=r"proxies \[12\] are not columns"):
        VLUCI(proxies=(5, 12)).fit(s.Y, s.T, X=s.X, **FAST)
    with pytest.raises(ConfigError, match="lists a column twice"):
        VLUCI(proxies=(5, 5))
    with pytest.raises(ConfigError, match="base_estimator must be a regressor"):
        VLUCI(base_estimator="ols")


@pytest.mark.parametrize("kind", ["cevae", "vluci"])
def test_latent_model_contract_and_diagnostics(kind: str, tmp_path: Path) -> None:
    s = _sample()
    est = _make(kind).fit(s.Y, s.T, X=s.X, run_dir=tmp_path / "run", **FAST)
    assert (tmp_path / "run" / "metrics.jsonl").is_file()
    rows = est.latent_data(s.Y, s.T, X=s.X)
    x, *cond = rows if isinstance(rows, tuple) else (rows,)
    q = est.encode(x, *cond)
    k = est.latent_dim
    assert q.batch_shape == (200,) and q.event_shape == (k,)
    z = q.rsample()
    lik = est.decode(z, *cond)
    assert lik.log_prob(x).shape == (200,)
    out = est.loss(rows)
    torch.testing.assert_close(out.total, sum(out.parts.values()))
    act = run_activity(est, rows)
    assert len(act.kl_per_dim) == k
    assert len(run_mean_vs_sampled(est, rows).labels) == k
    run_collapse(est, rows)
    # transform and score take what latent_data returns, as the diagnostics do
    codes = est.transform(rows)
    assert isinstance(codes, torch.Tensor) == isinstance(x, torch.Tensor)
    np.testing.assert_array_equal(np.asarray(codes), np.asarray(est.transform(x, *cond)))
    assert est.score(rows, k=4) == est.score(x, *cond, k=4)
    # save/load keeps effects for new rows (the posterior from the covariates)
    path = est.save(tmp_path / "model")
    again = type(est).load(path)
    np.testing.assert_allclose(again.effect(s.X[:5]), est.effect(s.X[:5]), rtol=1e-5)


def test_vluci_plug_in_beats_its_base_estimator_under_hidden_confounding() -> None:
    # U (strength 2 in T and Y) seen through 5 proxies with unit noise. Adjusting for the
    # proxies leaves a measurement-error bias of ≈ 1 in the ATE (the base's error below),
    # far above the ATE's sampling error at n = 1000 (≈ 0.1), so the margins test the
    # confounder model, not the noise.
    s = causal_sample(load("confounded_proxies", n=1000, confounding=2.0, seed=2))
    base = TLearner(LinearRegression()).fit(s.Y, s.T, X=s.X).effect()
    v = VLUCI(
        base_estimator=LinearRegression(),
        proxies=s.proxy_columns,
        hidden=(32, 32),
        n_plugin_fits=5,
        seed=0,
    ).fit(s.Y, s.T, X=s.X, max_steps=600, progress=False)
    eff = v.effect()
    assert ate_error(base, s.ite) > 0.7
    assert ate_error(eff, s.ite) < 0.6 * ate_error(base, s.ite)
    assert pehe(eff, s.ite) < 0.8 * pehe(base, s.ite)
    lo, hi = v.effect_interval(alpha=0.1)
    assert lo.shape == (1000,) and bool(np.all(lo <= hi))


@pytest.mark.parametrize("kind", ["cevae", "vluci"])
def test_fit_without_covariates_is_quiet(kind: str) -> None:
    # no X: no zero-width layers or reductions over no columns (torch would warn, and the
    # test suite turns warnings into errors)
    s = _sample()
    est = (CEVAE(latent_dim=2, hidden=(8,), n_samples=4, seed=0) if kind == "cevae" else
           VLUCI(hidden=(8,), n_samples=4, n_particles=2, seed=0))  # fmt: skip
    est.fit(s.Y, s.T, **FAST)
    assert est.effect().shape == (200,) and np.isfinite(est.effect()).all()
    lo, hi = est.effect_interval(alpha=0.2)
    assert bool(np.all(lo <= hi))


@pytest.mark.parametrize("plug_in", [False, True])
def test_binary_levels_are_checked_by_intervals_and_samples(plug_in: bool) -> None:
    s = _sample()
    base = LinearRegression() if plug_in else None
    est = _make("vluci", base_estimator=base, n_plugin_fits=2).fit(s.Y, s.T, X=s.X, **FAST)
    np.testing.assert_allclose(est.effect(s.X[:3], np.int64(0), np.float32(1)),
                               est.effect(s.X[:3]))  # fmt: skip
    for call in (est.effect, est.effect_interval, est.effect_samples):
        with pytest.raises(ValidationError, match="T1 must be 0 or 1 for a binary treatment"):
            call(s.X[:2], 0, 2)
        with pytest.raises(ValidationError, match="T0 must be 0 or 1"):
            call(s.X[:2], 0.5, 1)


def test_a_saved_plug_in_keeps_linear_bases_and_says_what_it_lacks(tmp_path: Path) -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor

    from latentinfer.causal import OLS

    s = _sample()
    new = s.X[:6]
    for base in (LinearRegression(), OLS(interactions=True), TLearner(LinearRegression())):
        est = _make("vluci", base_estimator=base, n_plugin_fits=3).fit(s.Y, s.T, X=s.X, **FAST)
        again = VLUCI.load(est.save(tmp_path / type(base).__name__))
        np.testing.assert_allclose(again.effect(new), est.effect(new), rtol=1e-9, atol=1e-12)
        for a, b in zip(again.effect_interval(new, alpha=0.2), est.effect_interval(new, alpha=0.2)):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
        assert again._save_keeps_effects()
    gbm = HistGradientBoostingRegressor(max_iter=5)
    est = _make("vluci", base_estimator=gbm, n_plugin_fits=2).fit(s.Y, s.T, X=s.X, **FAST)
    assert not est._save_keeps_effects()
    again = VLUCI.load(est.save(tmp_path / "gbm"))
    with pytest.raises(
        NotFittedError,
        match=r"HistGradientBoostingRegressor\(max_iter=5\)\) was "
        "not saved with it: a saved model keeps the plug-in fits only for linear",
    ):
        again.effect(new)


def test_refitting_a_loaded_plug_in_starts_from_scratch(tmp_path: Path) -> None:
    # load does not restore the base, so a refit is VLUCI alone, with no stale plug-in fits
    s = _sample()
    est = _make("vluci", base_estimator=LinearRegression(), n_plugin_fits=3)
    est.fit(s.Y, s.T, X=s.X, **FAST)
    again = VLUCI.load(est.save(tmp_path / "linear")).fit(s.Y, s.T, X=s.X, **FAST)
    alone = _make("vluci").fit(s.Y, s.T, X=s.X, **FAST)
    np.testing.assert_allclose(again.effect(s.X[:6]), alone.effect(s.X[:6]), rtol=1e-6)
