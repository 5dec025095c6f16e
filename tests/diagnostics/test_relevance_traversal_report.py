"""Relevance for non-ARD models, traversals, the full report and its figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from latentinfer import ShapeError, ValidationError
from latentinfer.diagnostics import diagnose, run_relevance, run_traversal
from latentinfer.vae import VAE


@pytest.fixture(scope="module")
def small_vae(digits: np.ndarray) -> VAE:
    return VAE(latent_dim=4, hidden=(32,), seed=0).fit(digits[:400], max_epochs=3, progress=False)


def test_kl_share_relevance(small_vae: VAE, digits: np.ndarray) -> None:
    res = run_relevance(small_vae, digits[:200])
    assert res.source == "kl" and res.relevance.sum() == pytest.approx(1.0)
    with pytest.raises(ValidationError, match="pass X"):
        run_relevance(small_vae)


def test_traversal_grid(small_vae: VAE, digits: np.ndarray) -> None:
    res = run_traversal(small_vae, digits[:1], dims=[0, 2], n_values=5)
    assert res.images.shape == (2, 5, 64)
    np.testing.assert_allclose(res.values[0], np.linspace(-2.5, 2.5, 5), atol=1e-6)
    # only the traversed coordinate changes: the middle value is the base point's decode
    assert not np.allclose(res.images[0, 0], res.images[0, -1])
    with pytest.raises(ValidationError, match="dims holds 9"):
        run_traversal(small_vae, dims=[9])
    with pytest.raises(ValidationError, match="dims is empty"):
        run_traversal(small_vae, dims=[])


def test_report_with_factors_and_figures(
    small_vae: VAE, digits: np.ndarray, tmp_path: Path
) -> None:
    factors = np.arange(300)[:, None] % 3
    report = diagnose(small_vae, digits[:300], factors=factors, figures_dir=tmp_path)
    assert set(report.sections) == {
        "activity",
        "collapse",
        "mean_vs_sampled",
        "relevance",
        "disentanglement",
    }
    assert 0.0 <= report.sections["disentanglement"]["mig"] <= 1.0
    for name in ("kl_per_dim", "traversal"):
        path = report.figures[name]
        assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(len(r) == 3 for r in report.rows())
    assert report.to_dict()["model"] == "VAE"


def test_report_names_factors_of_the_wrong_length(small_vae: VAE, digits: np.ndarray) -> None:
    with pytest.raises(ShapeError, match=r"factors has 100 row\(s\) but data has 300"):
        diagnose(small_vae, digits[:300], factors=np.zeros((100, 1), dtype=int))
    # also when max_rows would cut both to the same length
    with pytest.raises(ShapeError, match=r"factors has 150 row\(s\) but data has 300"):
        diagnose(small_vae, digits[:300], factors=np.zeros((150, 1), dtype=int), max_rows=100)


def test_kl_bars_take_the_activity_result_and_codes_metrics_refuse_a_model(
    small_vae: VAE, digits: np.ndarray, tmp_path: Path
) -> None:
    from matplotlib.image import imread

    from latentinfer.diagnostics import mig, run_activity
    from latentinfer.plots import plot_kl_per_dim

    activity = run_activity(small_vae, digits[:100])
    path = plot_kl_per_dim(activity, tmp_path / "kl.png")
    assert imread(path).shape[2] in (3, 4)
    with pytest.raises(ValidationError, match=r"kl_per_dim must be a .* or an ActivityResult"):
        plot_kl_per_dim(object(), tmp_path / "bad.png")  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match=r"kl_per_dim must have shape \(D,\)"):
        plot_kl_per_dim(np.zeros((2, 2)), tmp_path / "bad.png")
    factors = (digits[:100, :2] > 0.5).astype(int)
    with pytest.raises(ValidationError, match=r"such as model\.transform\(X\); got the VAE model"):
        mig(small_vae, factors)
