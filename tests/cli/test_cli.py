"""The command line: every command runs, writes its run folder, and fails in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from latentinfer.cli import app

runner = CliRunner()


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_list_and_data() -> None:
    out = _ok(["list"])
    assert "ardvae" in out and all(len(line) <= 80 for line in out.splitlines())  # one row each
    full = _cli("list", "--full")  # whole paths and ids, not cut to the terminal
    assert "2501.10901" in full.stdout and "benchmarks/vae/speed_vs_pythae.py" in full.stdout
    assert "ardvae" in _ok(["list", "--family", "vae"])
    assert "sprites" in _ok(["data"])


@pytest.mark.parametrize("command", ["list", "data", "fit", "diagnose", "bench", "demo"])
def test_every_command_has_help(command: str) -> None:
    assert "--help" in _ok([command, "--help"]) or "Usage" in _ok([command, "--help"])


def test_fit_then_diagnose(tmp_path: Path) -> None:
    run = tmp_path / "run"
    out = _ok(
        [
            "fit",
            "ardvae",
            "--data",
            "digits",
            "--latent-dim",
            "6",
            "--hidden",
            "32",
            "--epochs",
            "2",
            "--run-dir",
            str(run),
            "--iwae-k",
            "4",
        ]
    )
    assert "test_nll" in out
    for name in (
        "config.json",
        "metrics.jsonl",
        "summary.json",
        "model/state.safetensors",
        "model/state.json",
    ):
        assert (run / name).is_file(), name
    assert list((run / "checkpoints").glob("step-*"))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs"] == 2 and summary["n_relevant_dims"] >= 0
    assert summary["processes"] == 1 and summary["seconds"] > 0
    out = _ok(["diagnose", str(run)])
    assert "collapse" in out and "activity" in out
    assert "E[z|x]" in out  # printed as text, not taken for Rich markup
    assert (run / "figures" / "kl_per_dim.png").is_file()
    assert (run / "figures" / "traversal.png").is_file()
    assert json.loads((run / "diagnostics.json").read_text())["model"] == "ARDVAE"


def test_fit_resume_and_options(tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = [
        "fit",
        "vae",
        "--data",
        "linear",
        "--data-option",
        "n=300",
        "--data-option",
        "n_features=6",
        "--model-option",
        'posterior_variance="shared"',
        "--hidden",
        "16",
        "--epochs",
        "2",
        "--run-dir",
        str(run),
        "--iwae-k",
        "4",
    ]
    _ok(args)
    # an option typed at its default value (VAE's latent_dim=16) is the same run
    resumed = [*args[:-4], "--latent-dim", "16", "--epochs", "3", "--run-dir", str(run)]
    _ok([*resumed, "--resume", "--iwae-k", "4"])
    assert json.loads((run / "summary.json").read_text())["epochs"] == 3


def test_fit_a_few_shot_model_on_episodes(tmp_path: Path) -> None:
    # niw_meta learns from episodes, not a data matrix: digits' 10 classes give 5 test
    # classes for 5-way episodes; the summary holds the held-out episode accuracy
    run = tmp_path / "niw"
    args = ["fit", "niw_meta", "--data", "digits", "--model-option", "n_episodes=8",
            "--test-episodes", "20", "--run-dir", str(run)]  # fmt: skip
    out = _ok(args)
    summary = json.loads((run / "summary.json").read_text())
    assert "test_accuracy" in out and 0.2 < summary["test_accuracy"] <= 1.0
    assert summary["episodes"].startswith("5-way 1-shot")
    again = _cli(*args)
    assert again.returncode == 2 and "already holds a run" in again.stderr
    bare = _cli("fit", "niw_meta", "--data", "digits", "--run-dir", str(run), "--resume")
    assert "created with --model-option n_episodes=8 (now 2000)" in bare.stderr, bare.stderr
    epochs = _cli("fit", "niw_meta", "--data", "digits", "--epochs", "2")
    assert epochs.returncode == 2 and "--model-option n_episodes" in epochs.stderr


def test_conditional_model_uses_labels(tmp_path: Path) -> None:
    _ok(
        [
            "fit",
            "cvae",
            "--data",
            "digits",
            "--latent-dim",
            "2",
            "--hidden",
            "16",
            "--epochs",
            "1",
            "--run-dir",
            str(tmp_path / "c"),
            "--iwae-k",
            "2",
        ]
    )


def test_demo_runs(tmp_path: Path) -> None:
    out = _ok(["demo", "--epochs", "2", "--run-dir", str(tmp_path / "demo")])
    assert "ARD kept" in out and "figure traversal" in out


def test_demo_run_twice_makes_a_new_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        _ok(["demo", "--epochs", "1"])
    assert (tmp_path / "runs/demo-ardvae-digits/summary.json").is_file()
    assert (tmp_path / "runs/demo-ardvae-digits-2/summary.json").is_file()


def test_bench_lists_scripts_and_forwards_their_options() -> None:
    out = _ok(["bench"])
    assert "ard_relevance" in out and "make_hgf_reference" not in out  # a tool, not a bench
    shown = _cli("bench", "mopps_filter", "--", "--threads", "2", "--help")
    assert shown.returncode == 0 and "--threads THREADS" in shown.stdout, shown.stderr


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
        (("fit", "nope", "--data", "digits"), "unknown model 'nope'"),
        (("fit", "vae", "--data", "mnist"), "unknown data set name 'mnist'"),
        (("fit", "collapse", "--data", "digits"), "is a diagnostic, not a model"),
        (("fit", "vae", "--data", "digits", "--hidden", "a,b"), "--hidden takes"),
        (("fit", "vae", "--data", "digits", "--data-option", "n"), "--data-option takes"),
        (("fit", "vae", "--data", "digits", "--epochs", "0"), "--epochs must lie"),
        (("diagnose", "/nonexistent/run"), "does not exist"),
        (("bench", "nope"), "unknown benchmark"),
        (("fit", "vea", "--data", "digits"), "Did you mean 'vae'"),
        (("fit", "beta-vae", "--data", "digits"), "The β-VAE is `vae` with --beta B"),
        (("fit", "grpo", "--data", "nope"), "unknown task 'nope'"),  # forwarded to reason train
        (("fit", "niw_meta", "--data", "digits", "--data-option", "n_way=20"), "n_way ≤ 5"),
        (("fit", "niw_meta", "--data", "sprites"), "sprites has no class labels"),
        (("fit", "niw_meta", "--data", "digits", "--latent-dim", "4"), "--latent-dim does not"),
        (("fit", "mopps", "--data", "digits"), "fit takes: vae, ardvae"),
        (("fit", "vae", "--data", "digits", "--latent-dim", "0"), "--latent-dim must lie"),
        (("fit", "vae", "--data", "digits", "--model-option", "foo=1"), "no option(s) ['foo']"),
        (("fit", "vae", "--data", "digits", "--iwae-k", "0"), "--iwae-k must lie"),
        (
            ("fit", "vae", "--data", "digits", "--test-episodes", "5"),
            "--test-episodes applies to the few-shot models (niw_meta), not vae",
        ),
        (
            ("fit", "niw_meta", "--data", "digits", "--iwae-k", "5"),
            "--iwae-k applies to the latent-variable models",
        ),
        (
            (
                "fit",
                "vae",
                "--data",
                "digits",
                "--likelihood",
                "categorical",
                "--model-option",
                "n_categories=17",
            ),
            "non-integer values such as 0.3125",
        ),
        (("fit", "vae", "--data", "linear", "--data-option", "n=x"), "--data-option: n must"),
        (("diagnose", "."), "has no config.json"),
        (
            (
                "fit",
                "vae",
                "--data",
                "digits",
                "--model-option",
                "latent_dim=3",
                "--latent-dim",
                "5",
            ),
            "--latent-dim and --model-option latent_dim=... both set latent_dim",
        ),
        (
            ("fit", "vae", "--data", "digits", "--model-option", "beta=-1"),
            "--model-option beta must",
        ),
        (("fit", "vae", "--data", "digits", "--beta", "-1"), "--beta must lie"),
        (("diagnose", ".", "--max-rows", "3"), "--max-rows must lie in [10, inf)"),
    ],
)
def test_bad_arguments_fail_in_one_line(args: tuple[str, ...], message: str) -> None:
    result = _cli(*args)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and message in lines[0], lines[0]
    assert "Traceback" not in result.stderr


def test_run_folders_are_protected(tmp_path: Path) -> None:
    run = tmp_path / "run"
    base = ["fit", "vae", "--data", "digits", "--hidden", "16", "--iwae-k", "2"]
    _ok([*base, "--epochs", "2", "--run-dir", str(run)])
    before = (run / "config.json").read_text()
    # a fresh fit into a folder that holds a run is refused, and touches nothing
    again = _cli(*base, "--epochs", "1", "--run-dir", str(run))
    assert again.returncode == 2 and "already holds a run" in again.stderr
    # resuming with other data is refused before anything is written
    other = _cli(
        "fit", "vae", "--data", "sprites", "--epochs", "3", "--run-dir", str(run), "--resume"
    )
    assert other.returncode == 2 and "created with data='digits'" in other.stderr
    assert (run / "config.json").read_text() == before
    # options that fail validation leave no folder behind
    bad = tmp_path / "bad"
    assert _cli(*base, "--epochs", "0", "--run-dir", str(bad)).returncode == 2
    assert not bad.exists()


def test_fit_forwards_reasoning_trainers_with_the_data_as_their_task(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    run = tmp_path / "sft"
    args = ["fit", "sft", "--data", "arithmetic", "--task-option", "n_ops=2", "--steps", "2",
            "--batch-size", "8", "--n-train", "16", "--n-test", "4", "--max-new-tokens", "8",
            "--d-model", "32", "--n-layers", "1", "--n-heads", "2", "--max-len", "64",
            "--seed", "3", "--run-dir", str(run)]  # fmt: skip
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 2
    assert json.loads((run / "config.json").read_text())["seed"] == 3


_INTERRUPTED = """
import sys
import latentinfer.bayes.hgf.network as network
import latentinfer.vae.base as vae_base
from latentinfer.cli import main

def interrupted(*args, **kwargs):
    raise KeyboardInterrupt("interrupted at step 7; saved CKPT: the same command with --resume")

network.Network.fit = interrupted  # what `fit hgf` reaches through `hgf fit`
vae_base.train = interrupted       # what `fit vae` reaches
sys.argv = ["latentinfer", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize("forwarded", [False, True])
def test_ctrl_c_exits_130_with_the_trainers_message(tmp_path: Path, forwarded: bool) -> None:
    # Typer turns KeyboardInterrupt into Exit(130), and a forwarded command (fit hgf runs
    # hgf fit) used to return that code to `fit`, which exited 0 with the folder half written
    if forwarded:
        data = tmp_path / "trials.csv"
        data.write_text("input\n" + "\n".join(["0.1", "0.3", "0.2", "0.5"] * 10) + "\n")
        args = ["fit", "hgf", "--data", str(data), "--run-dir", str(tmp_path / "run")]
    else:
        args = ["fit", "vae", "--data", "digits", "--epochs", "1", "--run-dir", str(tmp_path / "r")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    env.pop("LATENTINFER_DEBUG", None)
    result = subprocess.run(
        [sys.executable, "-c", _INTERRUPTED, *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 130, result.stderr
    assert "interrupted at step 7; saved CKPT" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("args", "code"), [(["list"], 0), (["fit", "no_such_model"], 2)])
def test_the_command_leaves_the_process_group_only_after_success(
    monkeypatch: pytest.MonkeyPatch, args: list[str], code: int
) -> None:
    # under accelerate launch every process must reach finish_processes' barrier, so a
    # command that failed (its peers may still be working or failed elsewhere) skips it
    import latentinfer.cli as cli

    calls: list[bool] = []
    monkeypatch.setattr(cli, "finish_processes", lambda: calls.append(True))
    monkeypatch.setattr(sys, "argv", ["latentinfer", *args])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert (exit_info.value.code or 0) == code
    assert calls == ([True] if code == 0 else [])


def test_finish_processes_is_a_no_op_without_a_process_group() -> None:
    import torch.distributed as dist

    from latentinfer.core import finish_processes

    assert not dist.is_initialized()
    finish_processes()
    assert not dist.is_initialized()


def test_options_read_json_values_and_comma_separated_numbers() -> None:
    from latentinfer.cli import _parse_options

    parsed = _parse_options(
        ["hidden=32,32", "h2=(16, 8)", "h3=[4]", "h4=5,", "n=3", "flag=True", "name=a,b",
         "mix=1,x", "s=text"],
        flag="--model-option",
    )  # fmt: skip
    assert parsed == {"hidden": [32, 32], "h2": [16, 8], "h3": [4], "h4": [5], "n": 3,
                      "flag": True, "name": "a,b", "mix": "1,x", "s": "text"}  # fmt: skip


def test_data_outside_the_likelihoods_support_is_refused_before_the_run_folder(
    tmp_path: Path,
) -> None:
    from latentinfer import ValidationError

    run = tmp_path / "bad"
    args = ["fit", "vae", "--data", "digits", "--data-option", "scale=counts", "--likelihood",
            "bernoulli", "--run-dir", str(run)]  # fmt: skip
    with pytest.raises(ValidationError, match=r"\[0, 1\] for likelihood='bernoulli'"):
        runner.invoke(app, args, catch_exceptions=False)
    assert not run.exists()
