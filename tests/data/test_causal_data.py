"""Treatment-effect data sets: the synthetic confounded generator and the IHDP loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from latentinfer import ConfigError, ValidationError
from latentinfer.data import causal_sample, confounder_posterior, load
from latentinfer.data.causal import IHDP_COVARIATES


def test_confounded_data_follow_the_stated_generator() -> None:
    s = causal_sample(load("confounded", n=4000, confounding=1.5, seed=3))
    assert s.X.shape == (4000, 5) and s.U is not None and s.U.shape == (4000, 1)
    u = s.U[:, 0]
    # effect μ1 − μ0 + c·U = 1 + 0.5 x₄ + c·U, exactly (no noise in the potential outcomes)
    np.testing.assert_allclose(s.ite, 1.0 + 0.5 * s.X[:, 3] + 1.5 * u, atol=1e-5)
    assert s.mu0 is not None and s.mu1 is not None
    np.testing.assert_allclose(s.mu1 - s.mu0, s.ite, atol=1e-5)
    # U confounds: it raises the chance of treatment (logit slope b = 1.5)
    assert u[s.T == 1].mean() - u[s.T == 0].mean() > 0.5
    again = causal_sample(load("confounded", n=4000, confounding=1.5, seed=3))
    np.testing.assert_array_equal(again.Y, s.Y)


def test_proxies_are_noisy_measurements_of_the_confounder() -> None:
    s = causal_sample(load("confounded_proxies", n=3000, proxy_noise=0.5, seed=0))
    assert s.proxy_columns == (5, 6, 7, 8, 9)
    assert s.U is not None
    err = s.X[:, list(s.proxy_columns)] - s.U
    assert err.std() == pytest.approx(0.5, rel=0.05)  # 15,000 draws: SE of the sd ≈ 0.6 %
    with pytest.raises(ConfigError, match="n_proxies must be at least 1"):
        load("confounded_proxies", n_proxies=0)
    with pytest.raises(ConfigError, match="noise"):
        load("confounded", noise=-1.0)


def _cfr_file(path: Path, n: int = 40) -> np.ndarray:
    """A small file in CFR/CEVAE's header-less layout (t, y_f, y_cf, mu0, mu1, x1..x25)."""
    rng = np.random.default_rng(0)
    t = (np.arange(n) % 4 == 0).astype(float)
    x = np.c_[rng.normal(size=(n, 6)), rng.integers(0, 2, (n, 19))]
    mu0, mu1 = rng.normal(size=n), rng.normal(size=n) + 4
    y = np.where(t == 1, mu1, mu0)
    table = np.c_[t, y, np.where(t == 1, mu0, mu1), mu0, mu1, x]
    np.savetxt(path, table, delimiter=",")
    return table


def test_ihdp_reads_a_cfr_layout_file(tmp_path: Path) -> None:
    table = _cfr_file(tmp_path / "ihdp_npci_1.csv")
    s = causal_sample(load("ihdp", path=str(tmp_path / "ihdp_npci_1.csv"), surface="file"))
    np.testing.assert_allclose(s.X, table[:, 5:], atol=1e-6)
    np.testing.assert_allclose(s.ite, table[:, 4] - table[:, 3], atol=1e-5)
    # surface B redraws the outcomes from the covariates: seeded, effect on the treated 4
    b = causal_sample(load("ihdp", path=str(tmp_path / "ihdp_npci_1.csv"), seed=5))
    b2 = causal_sample(load("ihdp", path=str(tmp_path / "ihdp_npci_1.csv"), seed=5))
    np.testing.assert_array_equal(b.Y, b2.Y)
    assert b.ite[b.T == 1].mean() == pytest.approx(4.0, abs=1e-5)


def test_ihdp_reads_the_npci_layout_and_applies_hills_selection(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 30
    head = ["treat", "momwhite", *IHDP_COVARIATES]
    cols = {c: rng.integers(0, 2, n).astype(float) for c in head}
    for c in IHDP_COVARIATES[:6]:
        cols[c] = rng.normal(size=n)
    cols["first"] = rng.integers(1, 3, n).astype(float) - 1  # NPCI codes 0/1; CFR 1/2
    path = tmp_path / "sim.csv"
    rows = np.c_[tuple(cols[c] for c in head)]
    path.write_text(",".join(head) + "\n" + "\n".join(",".join(map(str, r)) for r in rows))
    s = causal_sample(load("ihdp", path=str(path)))
    dropped = (cols["treat"] == 1) & (cols["momwhite"] == 0)
    assert s.X.shape == (n - int(dropped.sum()), 25)
    np.testing.assert_allclose(s.X[:, :6].mean(0), 0.0, atol=1e-5)  # standardised


def test_ihdp_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="is not a file"):
        load("ihdp", path=str(tmp_path / "missing.csv"))
    short = tmp_path / "short.csv"
    np.savetxt(short, np.ones((5, 10)), delimiter=",")
    with pytest.raises(ValidationError, match="has 10 columns"):
        load("ihdp", path=str(short))
    bad = tmp_path / "bad.csv"
    table = _cfr_file(bad)
    lines = bad.read_text().splitlines()
    lines[2] = "x" + lines[2][lines[2].index(",") :]
    bad.write_text("\n".join(lines))
    with pytest.raises(ValidationError, match="line 3: 'x' is not a number"):
        load("ihdp", path=str(bad))
    assert table.shape == (40, 30)
    with pytest.raises(ConfigError, match="surface"):
        load("ihdp", path=str(bad), surface="A")


def test_confounder_posterior_is_the_closed_form_when_treatment_ignores_u() -> None:
    # with b = 0, U's posterior is Gaussian: precision 1 + k/σp² + c²(1+t)²/σ², and
    # the mean the precision-weighted proxies and outcome residual; quadrature on 2,401
    # points of [−6, 6] (step 0.005) matches it to 1e-6
    ds = load(
        "confounded_proxies", n=300, treatment_strength=0.0, outcome_strength=0.8,
        proxy_noise=0.7, noise=0.5, seed=1,
    )  # fmt: skip
    s = causal_sample(ds)
    post = confounder_posterior(ds, grid_size=2401)
    proxies = s.X[:, list(s.proxy_columns)]
    mu0 = 0.5 * s.X[:, 0] + np.sin(s.X[:, 1]) + 0.25 * s.X[:, 2] ** 2
    mu_t = mu0 + s.T * (1.0 + 0.5 * s.X[:, 3])
    slope = 0.8 * (1.0 + s.T)
    prec = 1.0 + 5 / 0.7**2 + slope**2 / 0.5**2
    mean = (proxies.sum(1) / 0.7**2 + slope * (s.Y - mu_t) / 0.5**2) / prec
    np.testing.assert_allclose(post.mean(), mean, atol=1e-6)
    np.testing.assert_allclose(post.sd(), prec**-0.5, atol=1e-6)
    held_out = confounder_posterior(ds, slice(0, 10), given="covariates", grid_size=2401)
    np.testing.assert_allclose(
        held_out.mean(), proxies[:10].sum(1) / 0.7**2 / (1.0 + 5 / 0.7**2), atol=1e-6
    )


def test_confounder_posterior_is_calibrated_with_a_confounded_treatment() -> None:
    # the logistic treatment term makes it non-Gaussian; calibration still holds: over
    # 4,000 rows the standardised error (U − mean)/sd has mean 0 (SE 0.016) and sd 1
    ds = load("confounded_proxies", n=4000, confounding=2.0, seed=2)
    s = causal_sample(ds)
    post = confounder_posterior(ds)
    assert s.U is not None
    z = (s.U[:, 0] - post.mean()) / post.sd()
    assert abs(z.mean()) < 0.07 and abs(z.std() - 1.0) < 0.05
    draws = post.sample(np.random.default_rng(0))
    assert draws.shape == (4000,) and abs(((draws - post.mean()) / post.sd()).std() - 1) < 0.05


def test_confounder_posterior_needs_the_synthetic_generator(tmp_path: Path) -> None:
    _cfr_file(tmp_path / "ihdp.csv")
    ihdp = load("ihdp", path=str(tmp_path / "ihdp.csv"), surface="file")
    with pytest.raises(ValidationError, match="synthetic generator"):
        confounder_posterior(ihdp)
    with pytest.raises(ConfigError, match="grid_size"):
        confounder_posterior(load("confounded", n=10), grid_size=5)
    with pytest.raises(ConfigError, match="given"):
        confounder_posterior(load("confounded", n=10), given="outcome")


def test_causal_sample_needs_a_loaded_data_set() -> None:
    from latentinfer import ValidationError

    with pytest.raises(ValidationError, match=r"as in causal_sample\(load\('confounded'\)\)"):
        causal_sample("confounded")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="no treatment and outcome"):
        causal_sample(load("digits"))
