"""``latentinfer causal fit`` and ``latentinfer fit vluci``: run folders, scores, errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from latentinfer.cli import app

runner = CliRunner()


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_vluci_on_a_data_set_through_the_fit_command(tmp_path: Path) -> None:
    run = tmp_path / "run"
    out = _ok(["fit", "vluci", "--data", "confounded_proxies", "--data-option", "n=300",
               "--epochs", "2", "--no-progress", "--model-option", "hidden=[16]",
               "--model-option", "n_plugin_fits=3", "--run-dir", str(run)])  # fmt: skip
    assert "sqrt_pehe_within" in out
    config = json.loads((run / "config.json").read_text())
    assert config["proxies"] == [5, 6, 7, 8, 9] and config["n_fit"] == 240
    summary = json.loads((run / "summary.json").read_text())
    assert {"ate", "ate_error_within", "coverage_within", "sqrt_pehe_out_of_sample"} <= set(summary)
    with (run / "effects.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 240 and rows[0]["lower"] and rows[0]["true_effect"]
    assert (run / "metrics.jsonl").is_file() and (run / "model").exists()


def test_meta_learner_on_a_csv_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "trial.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["outcome", "arm", "age", "dose"])
        for _ in range(100):
            t, age = int(rng.integers(0, 2)), rng.normal()
            w.writerow([2 * t + age + rng.normal(), t, age, rng.normal()])
    run = tmp_path / "r"
    _ok(["causal", "fit", "tlearner", "--data", str(path), "--outcome", "outcome",
         "--treatment", "arm", "--run-dir", str(run)])  # fmt: skip
    summary = json.loads((run / "summary.json").read_text())
    assert abs(summary["ate"] - 2.0) < 0.6  # 80 rows, residual sd ≈ 1.4: ~3 SE
    assert "sqrt_pehe_within" not in summary  # no true effects for a user's file


def test_bad_arguments_get_one_line_errors(tmp_path: Path) -> None:
    for args, message in (
        (["causal", "fit", "bart", "--data", "confounded"], "not one of vluci"),
        (["causal", "fit", "tlearner", "--data", "confounded", "--base", "none"], "needs a"),
        (["causal", "fit", "ols", "--data", str(tmp_path / "x.csv")], "not a file"),
        (["causal", "fit", "ols", "--data", "confounded", "--epochs", "3"], "latent models"),
        (["causal", "fit", "vluci", "--data", "confounded", "--proxies", "a,b"], "--proxies"),
    ):
        result = runner.invoke(app, [*args, "--run-dir", str(tmp_path / "r")])
        assert result.exit_code != 0
        assert message in str(result.exception) + result.output, (args, result.output)
