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
    # binary3's levels by pyhgf's names: x1 the binary input, x2 and x3 above it
    assert len(beliefs) == 360 and {"x2_mean", "x3_precision"} <= set(beliefs[0])
    assert "x4_mean" not in beliefs[0] and beliefs[0]["trial"] == "1"
    assert (run / "figures" / "surprise.png").is_file()
    # an existing trials file is kept unless --overwrite; a rerun of the fit says it
    # replaces the earlier run, and writes summary.json (the completion mark) last
    again = runner.invoke(app, ["hgf", "simulate", "--out", str(data), "--steps", "5"])
    assert again.exit_code != 0 and len(_rows(data)) == 360
    _ok(["hgf", "simulate", "--out", str(data), "--steps", "5", "--model", "binary3",
         "--overwrite"])  # fmt: skip
    assert len(_rows(data)) == 5
    out = _ok(["hgf", "fit", "--data", str(data), "--model", "binary3", "--run-dir", str(run)])
    assert "replacing the earlier HGF run (hgf fit)" in out
    by_time = sorted(run.rglob("*.*"), key=lambda p: p.stat().st_mtime_ns)
    assert by_time[-1].name == "summary.json"


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
        (("hgf", "fit", "--data", "{csv}", "--input-column", "u"), "--input-column 'u' is not a"),
        (("hgf", "fit", "--data", "{csv}", "--subject-column", "id"), "--subject-column 'id'"),
        (("hgf", "filter", "--data", "{csv}", "--time-column", "dt"), "--time-column 'dt' is not"),
        (("hgf", "fit", "--data", "{csv}", "--free", "inverse_temperature"), "--response-model"),
        (("hgf", "fit", "--data", "{csv}", "--param", "omega_2=1"), "--param omega_2=1: unknown"),
        (("hgf", "fit", "--data", "{csv}", "--max-steps", "-1"), "--max-steps must"),
        (("hgf", "simulate", "--out", "{dir}", "--steps", "5"), "is a folder"),
        (("hgf", "simulate", "--out", "{dir}/x.csv", "--steps", "0"), "--steps must"),
        (
            (
                "hgf",
                "simulate",
                "--out",
                "{dir}/x.csv",
                "--model",
                "continuous3",
                "--param",
                "tonic_volatility_2=2",
            ),
            "diverged: subject s0 drew a non-finite input at trial",
        ),
        (("hgf", "fit", "--data", "{csv}", "--free", "omega"), "unknown parameter name"),
        (("hgf", "fit", "--data", "{csv}", "--response-model", "gaussian"), "needs responses"),
        (("hgf", "fit", "--data", "{csv}", "--param", "x"), "--param takes NAME=VALUE"),
        (("fit", "vae", "--data", "digits", "--model", "binary3"), "unknown option(s)"),
        # the HGF papers' symbols point to pyhgf's names; bad numbers name what is accepted
        (
            ("hgf", "filter", "--data", "{csv}", "--param", "omega_2=1"),
            "'omega_2' is the HGF papers' symbol; pyhgf's name is 'tonic_volatility_2'.",
        ),
        (
            ("hgf", "filter", "--data", "{csv}", "--param", "tonic_volatility_2=abc"),
            "--param tonic_volatility_2: 'abc' is not a number.",
        ),
        (
            ("hgf", "fit", "--data", "{csv}", "--prior", "tonic_volatility_2=a,1"),
            "'a,1' is not LOC,SCALE (two numbers).",
        ),
        (
            (
                "hgf",
                "fit",
                "--data",
                "{csv}",
                "--response-model",
                "unit_square_sigmoid",
                "--response-column",
                "input",
            ),
            "use a binary HGF (--model binary3)",
        ),
    ],
)
def test_bad_arguments_fail_in_one_line(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    data = tmp_path / "in.csv"
    data.write_text("input\n0.1\n0.2\n0.15\n")
    result = _cli(*(a.replace("{csv}", str(data)).replace("{dir}", str(tmp_path)) for a in args))
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and message in lines[0], lines[0]


def test_the_file_format_missing_inputs_blank_lines_and_line_numbers(tmp_path: Path) -> None:
    # blank lines are skipped but counted; an empty input is a missing one, skipped
    data = tmp_path / "gaps.csv"
    data.write_text("input,time_step\n0.1,1\n\n0.2,1\n,2\n0.15,1\nnan,1\n0.12,1\n")
    run = tmp_path / "run"
    out = _ok(["hgf", "filter", "--data", str(data), "--run-dir", str(run)])
    assert "filtered 1 subject(s)" in out
    beliefs = _rows(run / "beliefs.csv")
    assert [b["observed"] for b in beliefs] == ["1", "1", "0", "1", "0", "1"]
    assert [b["subject"] for b in beliefs] == ["s0"] * 6  # a named series without a column
    # the figures of a one-subject run are both written; nothing stale is kept
    assert {p.name for p in (run / "figures").iterdir()} == {"beliefs.png", "surprise.png"}
    summary = json.loads((run / "summary.json").read_text())
    assert summary["trials"] == [6] and len(summary["pyhgf_surprise"]) == 1
    data.write_text("input,time_step\n0.1,1\n\n0.2,0\n")
    result = _cli("hgf", "filter", "--data", str(data), "--run-dir", str(run))
    assert "line 4: column 'time_step' holds '0'" in result.stderr, result.stderr
    data.write_text("input,observed\n0.1,1\n,1\n")
    result = _cli("hgf", "filter", "--data", str(data), "--run-dir", str(run))
    assert "line 3: column 'input' is missing (empty or nan) but 'observed' is 1" in result.stderr


def test_filter_errors_name_the_subject_trial_and_line(tmp_path: Path) -> None:
    data = tmp_path / "walk.csv"
    rows = ["subject,input"] + [f"{s},{0.5 * (t % 7) * (1 + s)}" for s in (1, 2) for t in range(60)]
    data.write_text("\n".join(rows) + "\n")
    result = _cli("hgf", "filter", "--data", str(data), "--model", "continuous3",
                  "--param", "tonic_volatility_2=1", "--run-dir", str(tmp_path / "r"))  # fmt: skip
    assert result.returncode == 2, result.stderr
    # led by the file's subject, trial and line; pyhgf's level name, not the node number
    assert result.stderr.startswith("error: subject '"), result.stderr
    assert "(line " in result.stderr and "x3's posterior precision" in result.stderr
    assert "series 0" not in result.stderr


def test_binary_looking_inputs_and_a_duplicated_column(tmp_path: Path) -> None:
    data, run = tmp_path / "coins.csv", tmp_path / "run"
    # simulate and fit share their default layout (continuous2), so no flag is needed
    _ok(["hgf", "simulate", "--out", str(data), "--steps", "30"])
    assert "warning" not in _ok(["hgf", "filter", "--data", str(data), "--run-dir", str(run)])
    # 0/1 inputs under a continuous layout run, with a warning that names the binary ones
    _ok(["hgf", "simulate", "--out", str(data), "--steps", "30", "--model", "binary3",
         "--overwrite"])  # fmt: skip
    out = _ok(["hgf", "filter", "--data", str(data), "--run-dir", str(run)])
    assert "warning: every input is 0 or 1" in out and "--model binary3" in out
    out = _ok(["hgf", "filter", "--data", str(data), "--model", "binary3", "--run-dir", str(run)])
    assert "warning" not in out
    data.write_text("input,input\n0.1,0.2\n0.3,0.4\n")
    bad = runner.invoke(app, ["hgf", "filter", "--data", str(data), "--run-dir", str(run)])
    assert bad.exit_code != 0
    assert "column 'input' appears 2 times in the header (columns 1, 2)" in str(bad.exception)


def test_fit_help_of_a_family_method_is_that_commands_help() -> None:
    shown = _ok(["fit", "hgf", "--help"])
    assert "latentinfer hgf fit" in shown and "--response-model" in shown
    assert "--latent-dim" not in shown  # not the VAE options of `fit` itself
    assert "latentinfer causal fit" in _ok(["fit", "vluci", "--data", "x", "--help"])
    assert "--latent-dim" in _ok(["fit", "ardvae", "--help"])


def test_hgf_commands_have_help() -> None:
    assert "simulate" in _ok(["hgf", "--help"])
    assert "time_step" in _ok(["hgf", "--help"])  # the CSV format is described
    assert "--param" in _ok(["hgf", "filter", "--help"])
    assert "--response-model" in _ok(["hgf", "fit", "--help"])


def test_read_trials_pads_subjects_and_names_positions(tmp_path: Path) -> None:
    from latentinfer.bayes.hgf.trials import read_trials

    data = tmp_path / "two.csv"
    data.write_text("subject,a,b,observed\nx,1,2,1\ny,3,4,1\nx,5,,0\n")
    trials = read_trials(data, input_columns=["a", "b"])
    assert trials.subjects == ["x", "y"] and trials.lengths == [2, 1]
    assert trials.inputs.shape == (2, 2, 2) and trials.observed[0, 1].tolist() == [0.0, 0.0]
    assert trials.observed[1, 1].tolist() == [0.0, 0.0]  # padding is missing
    assert trials.where(0, 1) == "subject 'x', trial 2 (line 4)"


def test_a_blank_line_in_a_one_column_file_is_a_missing_input(tmp_path: Path) -> None:
    from latentinfer.bayes.hgf.trials import read_trials

    data = tmp_path / "one.csv"
    data.write_text("input\n0.1\n\n0.2\n \n0.3\n\n\n")  # two gaps, trailing blanks ignored
    trials = read_trials(data)
    assert trials.lengths == [5]
    assert trials.observed[0].tolist() == [1.0, 0.0, 1.0, 0.0, 1.0]
    assert trials.lines[0].tolist() == [2, 3, 4, 5, 6]
    data.write_text("input,time_step\n0.1,1\n\n0.2,1\n")  # several columns: skipped
    assert read_trials(data).lengths == [2]


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ("subject,input\na,1\na,1.1\nb,nan\nb,\n", ("fit",), "subject(s) 'b' have no observed"),
        ("subject,input\na,1\n,2\n", ("filter",), "line 3: the 'subject' cell is empty"),
        ("subject,input\na,1\na\n", ("filter",), "line 3: 1 cell(s) but the header has 2"),
        ("input\n1\n0\n2\n", ("filter", "--model", "binary2"),
         "subject 's0', trial 3 (line 4): inputs: input node 0 is binary"),
        ("input,response\n1,0\n0,2\n", ("fit", "--model", "binary2", "--response-model",
         "unit_square_sigmoid"), "trial 2 (line 3): responses: the unit-square"),
        ("a,b\n1,2\n", ("filter", "--input-column", "a", "--input-column", "b"),
         "--input-column: continuous2 has 1 input(s); got 2"),
        ("input\n1\n", ("fit", "--prior", "tonic_volatility_1=1"), "--prior tonic_volatility_1 "),
        ("input\n1\n", ("fit", "--update-type", "bar"), "--update-type must be one of"),
        ("input\n1\n", ("fit", "--free", "foo"), "--free: unknown parameter name 'foo'"),
    ],
)  # fmt: skip
def test_csv_and_flag_errors_in_the_files_terms(
    tmp_path: Path, text: str, args: tuple[str, ...], message: str
) -> None:
    data = tmp_path / "d.csv"
    data.write_text(text)
    result = _cli("hgf", args[0], "--data", str(data), *args[1:], "--run-dir", str(tmp_path / "r"))
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], lines


def test_a_flat_hessian_is_one_warning_line_and_recorded(tmp_path: Path) -> None:
    # the exploding default-parameter series of the library's fit test, as a CSV
    from latentinfer.bayes import HGF

    u = HGF(n_levels=3).simulate(300, batch=3, seed=0).numpy()
    data = tmp_path / "u.csv"
    rows = ["subject,input"] + [f"s{s},{float(v)!r}" for s in range(3) for v in u[s]]
    data.write_text("\n".join(rows) + "\n")
    run = tmp_path / "run"
    out = _ok(["hgf", "fit", "--data", str(data), "--model", "continuous3", "--run-dir", str(run)])
    warning = [line for line in out.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "subject(s) 's1'" in warning[0] and "--prior" in warning[0]
    assert json.loads((run / "summary.json").read_text())["not_converged"] == ["s1"]
