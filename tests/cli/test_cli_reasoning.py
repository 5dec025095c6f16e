"""``latentinfer reason train sft`` and ``reason eval``: run folder, resume, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("transformers")

from latentinfer.cli import app
from latentinfer.cli_reasoning import TRAINERS

runner = CliRunner()
TINY = ["--d-model", "32", "--n-layers", "1", "--n-heads", "2", "--max-len", "64"]


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_train_sft_then_eval(tmp_path: Path) -> None:
    run = tmp_path / "run"
    out = _ok(["reason", "train", "sft", "--task", "arithmetic", "--task-option", "n_ops=2",
               "--steps", "4", "--batch-size", "8", "--n-train", "32", "--n-test", "8",
               "--max-new-tokens", "12", "--option", "checkpoint_every=2",
               "--run-dir", str(run), *TINY])  # fmt: skip
    assert "test_accuracy_greedy" in out
    for name in ("config.json", "metrics.jsonl", "summary.json", "model/config.json",
                 "model/tokenizer.json"):  # fmt: skip
        assert (run / name).is_file(), name
    assert list((run / "checkpoints").iterdir())
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["trainer"] == "sft" and cfg["trainer_options"]["steps"] == 4
    out = _ok(["reason", "eval", str(run)])
    assert "accuracy" in out
    out = _ok(["reason", "eval", str(run), "--mode", "self_consistency", "--num-samples", "2"])
    assert "self_consistency" in out
    # resume to more steps, then starting over in the same folder is refused
    _ok(["reason", "train", "sft", "--task", "arithmetic", "--task-option", "n_ops=2",
         "--steps", "6", "--batch-size", "8", "--n-train", "32", "--n-test", "8",
         "--max-new-tokens", "12", "--option", "checkpoint_every=2", "--run-dir", str(run),
         "--resume", *TINY])  # fmt: skip
    assert json.loads((run / "summary.json").read_text())["steps"] == 6
    result = runner.invoke(
        app, ["reason", "train", "sft", "--run-dir", str(run), "--steps", "6", *TINY]
    )
    assert result.exit_code != 0 and "already holds a run" in str(result.exception)


def test_bad_arguments_are_named(tmp_path: Path) -> None:
    cases = [
        (["reason", "train", "sfft"], "unknown trainer 'sfft'"),
        (["reason", "train", "sft", "--task", "nope"], "unknown task 'nope'"),
        (["reason", "train", "sft", "--option", "stepz=3"], "no option(s) ['stepz']"),
        (["reason", "train", "sft", "--task-option", "digits=3"], "no option(s) ['digits']"),
        (["reason", "eval", str(tmp_path)], "has no config.json"),
        (["reason", "eval", str(tmp_path / "none")], "does not exist"),
        (["reason", "train", "sft", "--task", "jsonl"], "--task-option train=..."),
        (["reason", "train", "trice", "--init", str(tmp_path / "none")], "--init"),
    ]
    vae_run = tmp_path / "vae"  # another command's run folder, named as such
    vae_run.mkdir()
    (vae_run / "config.json").write_text('{"model": "ardvae"}')
    cases.append((["reason", "eval", str(vae_run)], "holds a `latentinfer fit ardvae` run"))
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code != 0
        assert message in str(result.exception), (args, result.exception)
    assert "sft" in TRAINERS
    listed = runner.invoke(app, ["reason", "train", "--help"]).output
    assert all(name in listed for name in ("sft", "star", "trice", "grpo"))


def test_train_trice_and_star_then_eval(tmp_path: Path) -> None:
    common = ["--task", "arithmetic", "--task-option", "n_ops=2", "--n-train", "8",
              "--n-test", "4", "--max-new-tokens", "14", *TINY]  # fmt: skip
    run = tmp_path / "trice"
    out = _ok(["reason", "train", "trice", *common, "--steps", "2", "--batch-size", "4",
               "--option", "max_new_tokens=14", "--option", "variance_every=1",
               "--run-dir", str(run)])  # fmt: skip
    assert "test_accuracy_greedy" in out
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["trainer"] == "trice" and cfg["trainer_options"]["control_variate"] is True
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert "grad_var_cv" in records[0] and "grad_var_nocv" in records[0]
    assert json.loads((run / "summary.json").read_text())["steps"] == 2
    assert "accuracy" in _ok(["reason", "eval", str(run)])
    # resume to more steps
    _ok(["reason", "train", "trice", *common, "--steps", "3", "--batch-size", "4",
         "--option", "max_new_tokens=14", "--option", "variance_every=1",
         "--run-dir", str(run), "--resume"])  # fmt: skip
    assert json.loads((run / "summary.json").read_text())["steps"] == 3
    run = tmp_path / "star"
    _ok(["reason", "train", "star", *common, "--batch-size", "4", "--option", "rounds=1",
         "--option", "base_steps=2", "--option", "max_new_tokens=14",
         "--option", "selector=mopps", "--option", "questions_per_round=4",
         "--run-dir", str(run)])  # fmt: skip
    assert json.loads((run / "config.json").read_text())["trainer"] == "star"
    assert "accuracy" in _ok(["reason", "eval", str(run)])
    run = tmp_path / "grpo"
    _ok(["reason", "train", "grpo", *common, "--steps", "2", "--batch-size", "2",
         "--option", "group_size=3", "--option", "max_new_tokens=14",
         "--option", "selector=mopps", "--run-dir", str(run)])  # fmt: skip
    assert json.loads((run / "summary.json").read_text())["steps"] == 2


def test_trice_and_star_bad_options_are_named() -> None:
    cases = [
        (["reason", "train", "trice", "--option", "first_valid=drop"], "first_valid must be"),
        (["reason", "train", "trice", "--option", "selector=best"], "selector must be one of"),
        (["reason", "train", "star", "--option", "step_growth=0.5"], "step_growth must lie in"),
        (["reason", "train", "star", "--option", "beta=1"], "no option(s) ['beta']"),
    ]
    for args, message in cases:
        result = runner.invoke(app, [*args, *TINY])
        assert result.exit_code != 0
        assert message in str(result.exception), (args, result.exception)
    assert {"star", "trice"} <= set(TRAINERS)
