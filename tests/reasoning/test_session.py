"""The reasoning trainers' shared session: the step log and the checkpoint schedule."""

from __future__ import annotations

from pathlib import Path

import pytest

from latentinfer.core.errors import ConfigError
from latentinfer.core.metrics import MetricsWriter, read_metrics
from latentinfer.reasoning import char_tokenizer, tiny_lm
from latentinfer.reasoning._session import StepLog, TrainerSession
from latentinfer.reasoning._training import Processes
from latentinfer.reasoning.grpo import GRPOConfig


def test_step_log_writes_on_flush_and_finish_only(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    with StepLog(MetricsWriter(path)) as log:
        log.add({"step": 1}, flush=False)
        assert read_metrics(path) == []
        log.add({"step": 2}, flush=True)
        assert [r["step"] for r in read_metrics(path)] == [1, 2]
        log.add({"step": 3}, flush=False)
        log.finish({"step": 3, "final_test_accuracy": 0.5})
    assert [r["step"] for r in read_metrics(path)] == [1, 2, 3, 3]
    assert [r["step"] for r in log.records] == [1, 2, 3]  # the closing record is not kept


def test_step_log_closes_its_file_when_the_fit_dies(tmp_path: Path) -> None:
    writer = MetricsWriter(tmp_path / "metrics.jsonl")
    with pytest.raises(RuntimeError, match="boom"), StepLog(writer) as log:
        log.add({"step": 1}, flush=True)
        raise RuntimeError("boom")
    assert writer._fh.closed
    assert [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl")] == [1]


def test_step_log_without_a_folder_keeps_records_in_memory() -> None:
    with StepLog(None) as log:
        log.add({"step": 1}, flush=True)
        log.finish({"step": 1, "final_test_accuracy": 1.0})
    assert log.records == [{"step": 1}]


@pytest.mark.parametrize(("run_dir", "every", "due"), [(True, 2, [2, 4]), (True, None, []),
                                                       (False, 2, [])])  # fmt: skip
def test_checkpoints_fall_every_k_steps_and_only_with_a_folder(
    tmp_path: Path, run_dir: bool, every: int | None, due: list[int]
) -> None:
    tok = char_tokenizer()
    run = TrainerSession.open(
        GRPOConfig(progress=False),
        tiny_lm(tok, d_model=16, n_layers=1, n_heads=2),
        4,
        Processes("cpu"),
        run_dir=tmp_path if run_dir else None,
        resume=False,
        trajectory=(),
    )
    assert not run.resumed
    assert [s for s in range(1, 5) if run.checkpoint_due(s, every)] == due


def test_a_fresh_fit_over_a_folder_with_checkpoints_is_refused(tmp_path: Path) -> None:
    # without resume=True a second fit would overwrite the first one's checkpoints
    tok = char_tokenizer()

    def open_run(resume: bool) -> TrainerSession:
        return TrainerSession.open(
            GRPOConfig(progress=False),
            tiny_lm(tok, d_model=16, n_layers=1, n_heads=2),
            4,
            Processes("cpu"),
            run_dir=tmp_path,
            resume=resume,
            trajectory=(),
        )

    open_run(False).save(1, {})
    with pytest.raises(ConfigError, match="already holds a run's checkpoints; pass resume=True"):
        open_run(False)
    assert open_run(True).resumed
