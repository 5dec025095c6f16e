"""``latentinfer hgf`` and ``latentinfer fit hgf``: simulate, fit, run folder, one-line errors."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from latentinfer.cli import app

runner = CliRunner()


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_simulate_then_fit_through_the_fit_command(tmp_path: Path) -> None:
    data, run = tmp_path / "trials.csv", tmp_path / "run"
    _ok(["hgf", "simulate", "--out", str(data), "--model", "binary3", "--steps", "120",
         "--subjects", "3", "--inverse-temperature", "2", "--seed", "1"])  # fmt: skip
    rows = _rows(data)
    assert len(rows) == 360 and set(rows[0]) == {"subject", "input", "response"}
    out = _ok(["fit", "hgf", "--data", str(data), "--model", "binary3",
               "--response-model", "unit_square_sigmoid", "--free", "tonic_volatility_2",
               "--free", "inverse_temperature", "--run-dir", str(run)])  # fmt: skip
    assert "inverse_temperature" in out and "converged" in out
    for name in ("config.json", "params.csv", "beliefs.csv", "summary.json"):
        assert (run / name).is_file(), name
    assert (run / "figures" / "beliefs.png").is_file()
    params = _rows(run / "params.csv")
    assert len(params) == 6 and all(float(p["stderr"]) > 0 for p in params)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["subjects"] == 3 and summary["objective"] == "response"
    beliefs = _rows(run / "beliefs.csv")
    assert len(beliefs) == 360 and "x2_mean" in beliefs[0]


def test_continuous_fit_with_uneven_subjects(tmp_path: Path) -> None:
    data = tmp_path / "u.csv"
    with data.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["subject", "input"])
        for s, n in (("a", 80), ("b", 60)):
            for t in range(n):
                w.writerow([s, f"{0.01 * t * (1 if s == 'a' else -1):.4f}"])
    run = tmp_path / "r"
    _ok(["hgf", "fit", "--data", str(data), "--model", "continuous2", "--run-dir", str(run),
         "--param", "tonic_volatility_1=-5"])  # fmt: skip
    beliefs = _rows(run / "beliefs.csv")
    assert len(beliefs) == 140  # padded steps of the shorter subject are not written


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    env.pop("LATENTINFER_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "latentinfer.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("fit", "hgf", "--data", "/nonexistent.csv"), "is not a file"),
        (("hgf", "fit", "--data", "{csv}", "--model", "gauss2"), "unknown HGF layout"),
        (("hgf", "fit", "--data", "{csv}", "--input-column", "u"), "has no column(s) ['u']"),
        (("hgf", "fit", "--data", "{csv}", "--free", "omega"), "unknown parameter name"),
        (("hgf", "fit", "--data", "{csv}", "--response-model", "gaussian"), "needs responses"),
        (("hgf", "fit", "--data", "{csv}", "--param", "x"), "--param takes NAME=VALUE"),
        (("fit", "vae", "--data", "digits", "--model", "binary3"), "unknown option(s)"),
    ],
)
def test_bad_arguments_fail_in_one_line(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    data = tmp_path / "in.csv"
    data.write_text("input\n0.1\n0.2\n0.15\n")
    result = _cli(*(a.replace("{csv}", str(data)) for a in args))
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and message in lines[0], lines[0]


def test_hgf_commands_have_help() -> None:
    assert "simulate" in _ok(["hgf", "--help"])
    assert "--response-model" in _ok(["hgf", "fit", "--help"])
