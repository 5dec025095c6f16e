"""The same fit under ``accelerate launch`` with 2 CPU processes and in one process.

Accelerate 1.x's ``launch --cpu`` starts a single process unless an MPI host file is given;
``launch --multi_gpu --num_processes 2`` starts two through torchrun, and on a machine
without CUDA the trainer joins them into one gloo process group on the CPU.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).with_name("_distributed_fit.py")


@pytest.mark.distributed
def test_two_processes_follow_the_single_process_trajectory(
    tmp_path: Path, run_script: Callable[..., None]
) -> None:
    pytest.importorskip("tensorboard")  # the script's fit runs a TensorBoard tracker
    one = tmp_path / "one.json"
    two = tmp_path / "two.json"
    run_script(SCRIPT, str(one))
    run_script(SCRIPT, str(two), processes=2)
    a, b = json.loads(one.read_text()), json.loads(two.read_text())
    assert (a["processes"], b["processes"]) == (1, 2)
    assert len(a["losses"]) == len(b["losses"]) == 40
    # Same rows, same per-row noise, gradients averaged over the same effective batch: the
    # only difference is the order of float32 sums (gloo's all-reduce vs accumulation),
    # which grows slowly over 40 Adam steps; 1e-4 relative is far below the ~1e-2 step-to-step
    # change of the loss, so a wrong data split or noise would fail it.
    np.testing.assert_allclose(a["losses"], b["losses"], rtol=1e-4)
    np.testing.assert_allclose(a["val"], b["val"], rtol=1e-4)
    np.testing.assert_allclose(a["params"], b["params"], atol=1e-4)
