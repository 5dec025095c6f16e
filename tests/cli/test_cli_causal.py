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
               "--epochs", "2", "--no-progress", "--model-option", "hidden=16,16",
               "--model-option", "n_plugin_fits=3", "--run-dir", str(run)])  # fmt: skip
    assert "sqrt_pehe_within" in out
    config = json.loads((run / "config.json").read_text())
    assert config["proxies"] == [5, 6, 7, 8, 9] and config["n_fit"] == 240
    summary = json.loads((run / "summary.json").read_text())
    assert {"ate", "ate_error_within", "coverage_within", "sqrt_pehe_out_of_sample"} <= set(summary)
    with (run / "effects.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    # every row, in order, with its split; held-out rows too get effects and intervals
    assert [int(r["row"]) for r in rows] == list(range(300))
    assert sum(r["split"] == "fit" for r in rows) == 240
    assert all(r["effect"] and r["lower"] and r["true_effect"] for r in rows)
    assert (run / "metrics.jsonl").is_file() and (run / "model").exists()
    # the default --base linear: the saved model gives effects for new rows
    from latentinfer.causal import VLUCI
    from latentinfer.data import causal_sample, load

    x = causal_sample(load("confounded_proxies", n=300)).X
    test = [int(r["row"]) for r in rows if r["split"] == "test"]
    saved = np.asarray(VLUCI.load(run / "model").effect(x[test]))
    np.testing.assert_allclose(saved, [float(rows[i]["effect"]) for i in test], rtol=1e-4)
    assert "note:" not in out


def test_a_vluci_run_says_when_its_saved_model_lacks_the_plug_in(tmp_path: Path) -> None:
    out = _ok(["causal", "fit", "vluci", "--data", "confounded_proxies", "--data-option",
               "n=200", "--epochs", "1", "--no-progress", "--base", "gbm", "--model-option",
               "hidden=[8]", "--model-option", "n_plugin_fits=2", "--run-dir",
               str(tmp_path / "v")])  # fmt: skip
    assert "not its --base gbm plug-in fits" in " ".join(out.split())


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
    out = _ok(["causal", "fit", "tlearner", "--data", str(path), "--outcome", "outcome",
               "--treatment", "arm", "--run-dir", str(run)])  # fmt: skip
    assert "100 fitting rows, none held out" in out  # no truth to score held-out rows on
    summary = json.loads((run / "summary.json").read_text())
    assert abs(summary["ate"] - 2.0) < 0.5  # 100 rows, residual sd ≈ 1.4: ~3 SE
    assert "sqrt_pehe_within" not in summary  # no true effects for a user's file
    with (run / "effects.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 100 and {r["split"] for r in rows} == {"fit"}
    assert json.loads((run / "config.json").read_text())["test_fraction"] == 0.0
    # asked for, rows are held out of the fit and still get effects (from X alone)
    held = tmp_path / "held"
    _ok(["causal", "fit", "tlearner", "--data", str(path), "--outcome", "outcome",
         "--treatment", "arm", "--test-fraction", "0.2", "--run-dir", str(held)])  # fmt: skip
    with (held / "effects.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 100 and sum(r["split"] == "test" for r in rows) == 20
    assert all(r["effect"] and not r["true_effect"] for r in rows)


def test_bad_arguments_get_one_line_errors(tmp_path: Path) -> None:
    for args, message in (
        (["causal", "fit", "bart", "--data", "confounded"], "not one of vluci"),
        (["causal", "fit", "tlearner", "--data", "confounded", "--base", "none"], "needs a"),
        (["causal", "fit", "ols", "--data", str(tmp_path / "x.csv")], "not a file"),
        (["causal", "fit", "ols", "--data", "confounded", "--epochs", "3"], "latent models"),
        (["causal", "fit", "ols", "--data", "confounded", "--latent-dim", "3"], "latent models"),
        (["causal", "fit", "vluci", "--data", "confounded", "--proxies", "a,b"], "--proxies"),
        (
            ["causal", "fit", "ols", "--data", "confounded", "--model-option", "foo=1"],
            "ols has no option(s) ['foo']; accepted: interactions",
        ),
        # caught before the folder is made (a corrected rerun must not find a half run)
        (["causal", "fit", "vluci", "--data", "confounded", "--alpha", "1"],
         "--alpha must lie in (0, 1); got 1.0"),
        (["causal", "fit", "ols", "--data", "confounded", "--alpha", "0"], "--alpha must lie"),
        (["causal", "fit", "vluci", "--data", "confounded_proxies", "--proxies", "50"],
         "--proxies [50] are not columns of X, which has 10 column(s) (0 to 9)"),
        (["causal", "fit", "vluci", "--data", "confounded", "--proxies", "1,1"], "twice"),
        (["causal", "fit", "tlearner", "--data", "confounded", "--proxies", "1"],
         "--proxies applies to vluci"),
        (["causal", "fit", "ols", "--data", "confounded", "--base", "gbm"],
         "--base applies to vluci, tlearner, slearner, not ols"),
        (["causal", "fit", "cevae", "--data", "confounded", "--epochs", "0"],
         "--epochs must lie in [1, inf)"),
        (["causal", "fit", "cevae", "--data", "confounded", "--latent-dim", "0"],
         "--latent-dim must lie in [1, inf)"),
        (["causal", "fit", "ols", "--data", "confounded", "--seed", "-1"], "--seed must lie"),
        (["causal", "fit", "vluci", "--data", "confounded", "--model-option", "n_plugin_fits=1"],
         "n_plugin_fits must lie in [2, inf)"),
    ):  # fmt: skip
        result = runner.invoke(app, [*args, "--run-dir", str(tmp_path / "r")])
        assert result.exit_code != 0
        assert message in str(result.exception) + result.output, (args, result.output)
    assert not (tmp_path / "r").exists()  # nothing is written before the options are checked


def test_csv_errors_name_the_flag_and_the_files_own_line(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("y,t,x\n1.0,0,0.5\n\n2.0,0.5,0.1\n")  # a blank line 3, then line 4
    result = runner.invoke(app, ["causal", "fit", "ols", "--data", str(path)])
    assert "--treatment 't' must be a binary column coded 0/1; line 4" in str(result.exception)
    path.write_text("y,t,x\n1.0,0,0.5\n\n2.0,1,abc\n")
    result = runner.invoke(app, ["causal", "fit", "ols", "--data", str(path)])
    assert "line 4: column 'x' holds 'abc'" in str(result.exception)


def test_run_folders_are_protected_and_resumed_with_their_options(tmp_path: Path) -> None:
    run = tmp_path / "ols"
    _ok(["causal", "fit", "ols", "--data", "confounded", "--run-dir", str(run)])
    before = (run / "summary.json").read_text()
    again = runner.invoke(app, ["causal", "fit", "ols", "--data", "confounded", "--run-dir",
                                str(run)])  # fmt: skip
    assert "already holds a run" in str(again.exception)
    assert (run / "summary.json").read_text() == before
    diagnosed = runner.invoke(app, ["diagnose", str(run)])
    assert "holds a `latentinfer causal fit` run" in str(diagnosed.exception)
    latent = tmp_path / "cevae"
    base = ["causal", "fit", "cevae", "--data", "confounded", "--run-dir", str(latent),
            "--no-progress", "--model-option", "latent_dim=4"]  # fmt: skip
    _ok([*base, "--epochs", "1"])
    other = runner.invoke(app, [*base[:-1], "latent_dim=5", "--epochs", "2", "--resume"])
    assert "created with --latent-dim 4 (now 5)" in str(other.exception)
    _ok([*base, "--epochs", "2", "--resume"])
    shorter = runner.invoke(app, [*base, "--epochs", "1", "--resume"])
    assert "raise --epochs" in str(shorter.exception)  # the flag, not TrainConfig's field
