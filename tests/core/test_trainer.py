"""The training loop's invariants: accumulation, resume, NaN guard, early stopping, logs."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from _models import BreaksAtStep, Regression, regression_data

from latentinfer.core import (
    ConfigError,
    LossOutput,
    NonFiniteError,
    TrainConfig,
    latest_checkpoint,
    train,
)
from latentinfer.core.checkpoint import load_checkpoint
from latentinfer.core.metrics import read_metrics
from latentinfer.vae import VAE

QUIET = {"progress": False}


def _params(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _train_losses(run_dir: Path) -> list[float]:
    return [r["loss"] for r in read_metrics(run_dir / "metrics.jsonl") if r["split"] == "train"]


def test_gradient_accumulation_equals_the_full_batch(tmp_path: Path) -> None:
    # Deterministic loss: 1 micro-batch of 8 and 4 micro-batches of 2 give the same
    # gradients up to float32 summation order, so parameters agree to ~1e-6.
    data = regression_data(n=40)
    runs = {}
    for accum in (1, 4):
        torch.manual_seed(0)
        model = Regression()
        cfg = TrainConfig(
            max_epochs=3, batch_size=8, grad_accum=accum, val_fraction=0, lr=1e-2, **QUIET
        )
        train(model, data, cfg, seed=0, run_dir=tmp_path / f"a{accum}")
        runs[accum] = (_params(model), _train_losses(tmp_path / f"a{accum}"))
    assert torch.allclose(runs[1][0], runs[4][0], atol=1e-6)
    assert runs[1][1] == pytest.approx(runs[4][1], rel=1e-5)
    assert len(runs[1][1]) == 15  # 3 epochs × 5 steps, one record per step


def test_uneven_last_batch_is_weighted_by_rows() -> None:
    # 10 rows, batch 4: the last batch has 2 rows split over 2 micro-batches of 1; the
    # accumulated gradient must still be the batch mean's.
    data = regression_data(n=10)
    finals = []
    for accum in (1, 2):
        torch.manual_seed(0)
        model = Regression()
        train(
            model,
            data,
            TrainConfig(max_epochs=2, batch_size=4, grad_accum=accum, val_fraction=0, **QUIET),
            seed=3,
        )
        finals.append(_params(model))
    assert torch.allclose(finals[0], finals[1], atol=1e-6)


def _vae(seed: int = 0) -> VAE:
    return VAE(latent_dim=3, hidden=(16,), seed=seed).build((6,))


def _vae_data() -> torch.Tensor:
    return torch.rand(96, 6, generator=torch.Generator().manual_seed(5)).round()


def test_resume_continues_exactly(tmp_path: Path) -> None:
    # N steps in one go equal k steps, a new process-like start, a resume and N − k steps:
    # same data order, same noise, same optimiser and scheduler state → identical weights.
    data = _vae_data()
    cfg = TrainConfig(
        max_epochs=100,
        max_steps=24,
        batch_size=16,
        patience=None,
        checkpoint_every=4,
        lr_schedule="cosine",
        warmup_steps=3,
        **QUIET,
    )
    straight = _vae()
    train(straight, data, cfg, seed=7, run_dir=tmp_path / "straight")

    class Crash:
        def on_step_end(self, state: object, model: object) -> None:
            if state.step == 10:  # type: ignore[attr-defined]
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(_vae(), data, cfg, seed=7, run_dir=tmp_path / "split", callbacks=[Crash()])
    # a fresh model (different init) must be fully overwritten by the checkpoint
    resumed = _vae(seed=99)
    ckpt = latest_checkpoint(tmp_path / "split" / "checkpoints")
    assert ckpt is not None and ckpt.name == "step-00000008"
    first = load_checkpoint(ckpt)[1]["trainer_state"]["seconds"]  # training time to step 8
    result = train(resumed, data, cfg, seed=7, run_dir=tmp_path / "split", resume=True)
    assert result.steps == 24
    assert torch.equal(_params(straight), _params(resumed))
    assert _train_losses(tmp_path / "straight") == _train_losses(tmp_path / "split")
    # the run's training time adds the first call's (to its step-8 checkpoint) to this one's
    # (this call's share counts from the loop's set-up, a little before result.seconds does)
    assert first > 0 and first + result.seconds <= result.total_seconds < first + result.seconds + 5


def test_ctrl_c_checkpoints_the_step_it_ends_and_resumes_exactly(tmp_path: Path) -> None:
    # SIGINT at step 10 with checkpoints every 8 steps: the step is finished, checkpointed
    # (step-00000010, not the last scheduled one at 8) and the run resumes to the same end
    import os
    import signal

    data = _vae_data()
    cfg = TrainConfig(max_epochs=100, max_steps=16, batch_size=16, patience=None,
                      checkpoint_every=8, **QUIET)  # fmt: skip
    straight = _vae()
    train(straight, data, cfg, seed=7, run_dir=tmp_path / "straight")

    class CtrlC:
        def on_step_end(self, state: object, model: object) -> None:
            if state.step == 10:  # type: ignore[attr-defined]
                os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt, match="interrupted at step 10"):
        train(_vae(), data, cfg, seed=7, run_dir=tmp_path / "split", callbacks=[CtrlC()])
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back
    ckpt = latest_checkpoint(tmp_path / "split" / "checkpoints")
    assert ckpt is not None and ckpt.name == "step-00000010"
    resumed = _vae(seed=99)
    train(resumed, data, cfg, seed=7, run_dir=tmp_path / "split", resume=True)
    assert torch.equal(_params(straight), _params(resumed))


_KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, torch
    torch.set_num_threads(1)
    from latentinfer.core import TrainConfig, train
    from latentinfer.vae import VAE

    run_dir, kill_at, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    data = torch.rand(96, 6, generator=torch.Generator().manual_seed(5)).round()
    model = VAE(latent_dim=3, hidden=(16,), seed=0).build((6,))

    class Killer:
        def on_step_end(self, state, model):
            if state.step == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    cfg = TrainConfig(max_epochs=100, max_steps=30, batch_size=16, patience=None,
                      checkpoint_every=5, progress=False)
    train(model, data, cfg, seed=3, run_dir=run_dir, resume=True,
          callbacks=[Killer()] if kill_at > 0 else [])
    torch.save(torch.cat([p.detach().flatten() for p in model.parameters()]), out)
    """
)


def test_killed_run_resumes_to_the_same_result(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(_KILL_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def run(run_dir: Path, kill_at: int, out: Path) -> int:
        return subprocess.run(
            [sys.executable, str(script), str(run_dir), str(kill_at), str(out)],
            env=env,
            capture_output=True,
            timeout=300,
        ).returncode

    assert run(tmp_path / "once", 0, tmp_path / "once.pt") == 0
    # killed with SIGKILL after step 13: checkpoints at 5 and 10 survive
    assert run(tmp_path / "killed", 13, tmp_path / "never.pt") == -signal.SIGKILL
    assert latest_checkpoint(tmp_path / "killed" / "checkpoints").name == "step-00000010"
    assert run(tmp_path / "killed", 0, tmp_path / "resumed.pt") == 0
    assert torch.equal(torch.load(tmp_path / "once.pt"), torch.load(tmp_path / "resumed.pt"))
    # the metrics file reads as one run: steps 1..30 once each
    steps = [
        r["step"]
        for r in read_metrics(tmp_path / "killed" / "metrics.jsonl")
        if r["split"] == "train"
    ]
    assert steps == list(range(1, 31))


def test_nan_guard_names_step_and_part_and_keeps_the_good_checkpoint(tmp_path: Path) -> None:
    data = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    model = BreaksAtStep(bad_step=9)
    cfg = TrainConfig(
        max_epochs=5, batch_size=8, val_fraction=0, checkpoint_every=4, log_every=4, **QUIET
    )
    with pytest.raises(NonFiniteError) as info:
        train(model, data, cfg, seed=0, run_dir=tmp_path)
    err = info.value
    assert err.step == 9 and err.part == "kl"
    assert "step 9" in str(err) and "'kl'" in str(err)
    # the checkpoint at step 8 was written after a clean flush; nothing later was
    assert latest_checkpoint(tmp_path / "checkpoints").name == "step-00000008"
    assert err.checkpoint is not None and err.checkpoint.endswith("step-00000008")


def test_early_stopping_restores_the_best_weights() -> None:
    x, y = regression_data(n=64)
    model = Regression()
    cfg = TrainConfig(max_epochs=400, batch_size=16, patience=3, lr=0.05, **QUIET)
    result = train(model, (x, y), cfg, seed=0)
    assert result.stopped_early and result.epochs < 400
    best = min(h["val_loss"] for h in result.history)
    assert result.best_val_loss == pytest.approx(best)
    assert result.history[result.best_epoch - 1]["val_loss"] == pytest.approx(best)


def test_metrics_file_has_train_and_validation_records(tmp_path: Path) -> None:
    data = regression_data(n=50)
    train(
        Regression(),
        data,
        TrainConfig(max_epochs=2, batch_size=10, **QUIET),
        seed=0,
        run_dir=tmp_path,
    )
    records = read_metrics(tmp_path / "metrics.jsonl")
    train_recs = [r for r in records if r["split"] == "train"]
    val_recs = [r for r in records if r["split"] == "val"]
    assert [r["step"] for r in train_recs] == list(range(1, 11))  # 45 rows → 5 steps/epoch
    assert {"loss", "fit", "penalty"} <= set(train_recs[0])
    assert all(r["loss"] == pytest.approx(r["fit"] + r["penalty"]) for r in train_recs)
    assert [r["epoch"] for r in val_recs] == [1, 2]
    assert "rows_per_s" in train_recs[-1]


def test_tensorboard_tracker_writes_events(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    data = regression_data(n=32)
    train(
        Regression(),
        data,
        TrainConfig(max_epochs=2, batch_size=8, trackers=("tensorboard",), **QUIET),
        seed=0,
        run_dir=tmp_path,
    )
    assert list(tmp_path.rglob("events.out.tfevents.*"))


def test_a_tracker_whose_package_is_missing_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Accelerate drops such a tracker silently; the run would log nowhere without a word
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a)
    )
    cfg = TrainConfig(max_epochs=1, batch_size=8, trackers=("mlflow",), **QUIET)
    with pytest.raises(ConfigError, match=r"need the package\(s\) \['mlflow'\].*pip install"):
        train(Regression(), regression_data(n=16), cfg, seed=0, run_dir=tmp_path)


def test_progress_bar_runs(capsys: pytest.CaptureFixture[str]) -> None:
    data = regression_data(n=32)
    train(Regression(), data, TrainConfig(max_epochs=2, batch_size=8, progress=True), seed=0)
    assert "training" in capsys.readouterr().err


def test_resume_refuses_changed_options(tmp_path: Path) -> None:
    data = regression_data(n=32)
    cfg = TrainConfig(max_epochs=2, batch_size=8, **QUIET)
    train(Regression(), data, cfg, seed=0, run_dir=tmp_path)
    with pytest.raises(ConfigError, match="lr"):
        train(Regression(), data, cfg.replace(lr=0.1), seed=0, run_dir=tmp_path, resume=True)
    with pytest.raises(ConfigError, match="seed"):
        train(Regression(), data, cfg, seed=1, run_dir=tmp_path, resume=True)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("batch_size", 0),
        ("lr", -1.0),
        ("val_fraction", 1.0),
        ("lr_schedule", "step"),
        ("trackers", ("wandb",)),
        ("mixed_precision", "fp16"),
        ("max_epochs", 2.5),
        ("flush_denormal", "yes"),
        ("restore_best", "no"),
        ("progress", "yes"),
        ("grad_accum", 200),
    ],
)
def test_bad_training_options_name_the_option(option: str, value: object) -> None:
    with pytest.raises(ConfigError, match=option):
        TrainConfig(**{option: value})


def test_one_tracker_may_be_named_alone() -> None:
    assert TrainConfig(trackers="tensorboard").trackers == ("tensorboard",)
    with pytest.raises(ConfigError, match=r"unknown training option\(s\) \['epochs'\]"):
        TrainConfig().replace(epochs=3)
    with pytest.raises(ConfigError, match=r"grad_accum must be at most batch_size \(8\)"):
        TrainConfig(batch_size=8, grad_accum=9)


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (lambda: ("net", regression_data(n=8)), "ValidationError", "model must be a torch.nn"),
        (
            lambda: (torch.nn.Sequential(), regression_data(n=8)),
            "ValidationError",
            "no trainable parameters",
        ),
        (
            lambda: (Regression(), tuple(t.numpy() for t in regression_data(n=8))),
            "ValidationError",
            "data must be a tensor, or a tuple of tensors.* got tuple of ndarray, ndarray. Convert",
        ),
        (
            lambda: (Regression(), regression_data(n=8)[0].numpy()),
            "ValidationError",
            "got ndarray",
        ),
        (
            lambda: (Regression(), (regression_data(n=8)[0], regression_data(n=6)[1])),
            "ShapeError",
            r"same number of rows; got \[8, 6\]",
        ),
    ],
)
def test_train_checks_what_it_is_given(args, error: str, match: str) -> None:
    import latentinfer.core.errors as errors

    with pytest.raises(getattr(errors, error), match=match):
        train(*args(), TrainConfig(**QUIET), seed=0)
    with pytest.raises(ConfigError, match=r"config must be a TrainConfig or None; got dict \(Tra"):
        train(Regression(), regression_data(n=8), {"max_epochs": 1}, seed=0)


def test_a_forward_that_returns_a_tensor_is_named() -> None:
    from latentinfer.core import ValidationError

    class Bare(Regression):
        def forward(self, batch):  # type: ignore[no-untyped-def]
            return super().forward(batch).total

    with pytest.raises(ValidationError, match=r"return a latentinfer LossOutput .* got Tensor"):
        train(Bare(), regression_data(n=16), TrainConfig(max_epochs=1, **QUIET), seed=0)


def test_too_few_rows_is_a_clear_error() -> None:
    from latentinfer.core import ValidationError

    with pytest.raises(ValidationError, match="validation row"):
        train(Regression(), regression_data(n=1), TrainConfig(**QUIET), seed=0)


def test_bf16_mixed_precision_trains() -> None:
    from latentinfer.core.trainer import cpu_has_native_bf16

    data = _vae_data()
    model = _vae()
    cfg = TrainConfig(max_epochs=3, batch_size=32, mixed_precision="bf16", **QUIET)
    if cpu_has_native_bf16():
        result = train(model, data, cfg, seed=0)
    else:  # emulated bfloat16 is slow: the user is told, once per fit
        with pytest.warns(RuntimeWarning, match="without native bfloat16") as caught:
            result = train(model, data, cfg, seed=0)
        assert len([w for w in caught if "bfloat16" in str(w.message)]) == 1
    assert all(torch.isfinite(torch.tensor(h["val_loss"])) for h in result.history)
    assert all(p.dtype == torch.float32 for p in model.parameters())


class _RecordsFlushing(Regression):
    """Records, at every forward pass, whether subnormals are being flushed."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[bool] = []

    def forward(self, batch: tuple[torch.Tensor, torch.Tensor]) -> LossOutput:
        from latentinfer.core.denormals import flush_denormal_enabled

        self.seen.append(flush_denormal_enabled())
        return super().forward(batch)


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="an x86 CPU flag")
@pytest.mark.parametrize("flush", [True, False])
def test_subnormals_flush_during_the_fit_only(flush: bool) -> None:
    from latentinfer.core.denormals import flush_denormal_enabled

    tiny = torch.tensor([2.0**-130])  # a float32 subnormal
    assert not flush_denormal_enabled() and tiny.item() != 0.0
    model = _RecordsFlushing()
    cfg = TrainConfig(max_epochs=1, batch_size=8, flush_denormal=flush, **QUIET)
    train(model, regression_data(n=32), cfg, seed=0)
    assert model.seen and set(model.seen) == {flush}
    assert not flush_denormal_enabled()  # the caller's setting is back
    assert (tiny * 1.0).item() != 0.0


def test_a_caller_who_flushes_keeps_flushing() -> None:
    from latentinfer.core.denormals import flush_denormal_enabled, flushing_denormals

    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush subnormals")
    try:
        with flushing_denormals():
            assert flush_denormal_enabled()
        assert flush_denormal_enabled()
    finally:
        torch.set_flush_denormal(False)
    assert not flush_denormal_enabled()


def test_training_leaves_the_global_rng_alone() -> None:
    data = regression_data(n=32)
    torch.manual_seed(42)
    expected = torch.rand(3)
    torch.manual_seed(42)
    model = VAE(latent_dim=2, hidden=(8,), seed=0)
    model.fit(data[0], max_epochs=2, progress=False)
    assert torch.equal(torch.rand(3), expected)


def test_summary_json_of_history_is_serialisable() -> None:
    result = train(Regression(), regression_data(n=32), TrainConfig(max_epochs=2, **QUIET), seed=0)
    json.dumps(result.history)


def test_a_fresh_run_refuses_a_folder_with_checkpoints(tmp_path: Path) -> None:
    data = regression_data(n=40)
    cfg = TrainConfig(max_epochs=4, batch_size=8, checkpoint_every=2, **QUIET)
    train(Regression(), data, cfg, seed=0, run_dir=tmp_path)
    with pytest.raises(ConfigError, match="already holds checkpoints"):
        train(Regression(), data, cfg, seed=0, run_dir=tmp_path)
    with pytest.raises(ConfigError, match="past this run's end"):
        train(Regression(), data, cfg.replace(max_epochs=1), seed=0, run_dir=tmp_path, resume=True)


def test_resume_without_a_checkpoint_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="latentinfer"):
        train(
            Regression(),
            regression_data(n=32),
            TrainConfig(max_epochs=1, **QUIET),
            seed=0,
            run_dir=tmp_path,
            resume=True,
        )
    assert "no checkpoint" in caplog.text


def test_resume_refuses_a_different_model(tmp_path: Path) -> None:
    data = _vae_data()
    cfg = TrainConfig(max_epochs=2, batch_size=32, **QUIET)
    VAE(latent_dim=3, hidden=(16,), seed=0).fit(data, run_dir=tmp_path, **cfg.to_dict())
    with pytest.raises(ConfigError, match="latent_dim"):
        VAE(latent_dim=4, hidden=(16,), seed=0).fit(
            data, run_dir=tmp_path, resume=True, **cfg.to_dict()
        )
