"""TRICE and STaR under ``accelerate launch`` with 2 CPU processes against one process.

Accelerate 1.x's ``launch --cpu`` starts a single process unless an MPI host file is given;
``launch --multi_gpu --num_processes 2`` starts two through torchrun, and on a machine
without CUDA the trainer's Accelerator joins them into one gloo process group on the CPU
(as in tests/core/test_distributed.py).

The two-process run trains 2 steps, writes a checkpoint and stops; a second two-process
launch resumes it to 4 steps. The single-process run trains 4 steps straight. Sampling is
scripted (see _distributed_reasoning.py), so both see the same proposals; everything else is
real: the sharded loss, DDP's gradient average, AdamW, β and the weights over the global
minibatch, the gathered memory, MoPPS, systematic resampling (drawn on the main process)
and the sharded variance probe. The first launch also runs two STaR rounds with uneven
shards (5 questions, minibatches of 3) and three GRPO steps (3 questions over 2 processes)
against the same in one process.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).with_name("_distributed_reasoning.py")


@pytest.mark.distributed
def test_two_processes_follow_the_single_process_runs(
    tmp_path: Path, run_script: Callable[..., None]
) -> None:
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    run_one, run_two = tmp_path / "run-one", tmp_path / "run-two"
    run_script(SCRIPT, str(one), str(run_one), "4")
    first = tmp_path / "two-first.json"
    run_script(SCRIPT, str(first), str(run_two), "2", processes=2)
    # resume: the first launch made 3 sample calls (the init and 2 steps)
    run_script(SCRIPT, str(two), str(run_two), "4", "3", processes=2)
    a, b = json.loads(one.read_text()), json.loads(two.read_text())
    assert (a["processes"], b["processes"]) == (1, 2)
    assert a["steps"] == b["steps"] == [1, 2, 3, 4]
    # exact: what is decided from the gathered proposals and the global minibatch
    for key in ("accepted", "first_valid", "beta", "memory_valid", "rollouts"):
        assert a["metrics"][key] == b["metrics"][key], key
    assert sum(a["metrics"]["accepted"]) > 0
    assert a["memory"] == b["memory"] and a["valid"] == b["valid"]
    assert a["samples"] == b["samples"]
    # held-out accuracy: each process decodes its shard, the hits are summed; the weights
    # agree to 1e-5, far inside the greedy argmax margins of this model
    assert a["test_accuracy"] == b["test_accuracy"]
    assert [v is not None for v in a["test_accuracy"]] == [False, True, False, True]
    assert a["final_test_accuracy"] == b["final_test_accuracy"] is not None
    # within float rounding: the two shards' losses and gradients are summed by gloo's
    # all-reduce instead of inside one batch, and the sums grow apart slowly over the Adam
    # steps; 1e-4 is far below the step-to-step changes (the losses move by tens of %).
    for key in ("loss", "grad_norm", "grad_var_cv", "grad_var_nocv"):
        np.testing.assert_allclose(a["metrics"][key], b["metrics"][key], rtol=1e-4, err_msg=key)
    np.testing.assert_allclose(a["params"], b["params"], atol=1e-5)
    # STaR: the same kept sets (in the same order) and fine-tuning losses
    sa, sb = a["star"], json.loads(first.read_text())["star"]
    for key in ("samples", "rollouts", "train_accuracy", "kept", "kept_rationalized"):
        assert sa["metrics"][key] == sb["metrics"][key], key
    assert sa["kept"] == sb["kept"] and sum(sa["metrics"]["kept"]) > 0
    np.testing.assert_allclose(sa["metrics"]["loss"], sb["metrics"]["loss"], rtol=1e-4)
    np.testing.assert_allclose(sa["params"], sb["params"], atol=1e-5)
    # GRPO: 3 questions over 2 processes (uneven shards), the same rewards and MoPPS picks
    ga, gb = sa["grpo"], sb["grpo"]
    for key in ("reward", "all_agree", "rollouts"):
        assert ga["metrics"][key] == gb["metrics"][key], key
    assert any(0 < r < 1 for r in ga["metrics"]["reward"])
    np.testing.assert_allclose(ga["metrics"]["loss"], gb["metrics"]["loss"], rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(ga["params"], gb["params"], atol=1e-5)
