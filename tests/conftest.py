"""Shared fixtures and the randomized-test policy.

Randomized-test policy (after torch.distributions and NumPyro):

- Every test is seeded, through the library's explicit ``seed=`` arguments (the library
  never reads global random state for its own draws) and through the autouse fixture below
  for anything else. A seeded test must pass every time; it is never retried.
- A statistical test states its tolerance in a comment: several Monte Carlo standard
  errors, or an interpretable bound (a probability, a count). If a legitimate change moves a
  seeded statistical test over its bound, it is acceptable to change the seed once, never
  twice; a second failure means the tolerance or the code is wrong.
- Tests are fast (the whole suite runs in minutes on a 2-core CPU); work that takes longer
  is a benchmark, under ``benchmarks/``, and never gates.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

# One thread: the suite runs on busy 2-core machines, where thread contention slows small
# models by an order of magnitude and makes timings meaningless.
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    torch.manual_seed(1234)
    np.random.seed(1234)


@pytest.fixture(scope="session")
def digits() -> np.ndarray:
    """scikit-learn's digits scaled to [0, 1], shape (1797, 64)."""
    from sklearn.datasets import load_digits

    return (load_digits().data / 16.0).astype(np.float32)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def run_script() -> Callable[..., None]:
    """``run_script(script, *args, processes=1, port=None)``: run a test script in one process,
    or under ``accelerate launch`` with ``processes`` of them, on 1 thread each.

    Accelerate 1.x's ``launch --cpu`` starts a single process unless an MPI host file is
    given; ``launch --multi_gpu --num_processes N`` starts N through torchrun, and on a
    machine without CUDA an Accelerator joins them into one gloo process group on the CPU.
    Skips the test when the ``accelerate`` command is not installed.
    """

    def run(script: Path, *args: str, processes: int = 1, port: int | None = None) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(script.parent)}
        if processes == 1:
            subprocess.run([sys.executable, str(script), *args], env=env, check=True, timeout=300)
            return
        launcher = shutil.which("accelerate")
        if launcher is None:
            pytest.skip("the accelerate command is not installed")
        # a port the system just handed out: a fixed one can still be held (TIME_WAIT) by an
        # earlier run or taken by another process on the machine
        port = port or _free_port()
        command = [launcher, "launch", "--multi_gpu", "--num_processes", str(processes),
                   "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                   "--main_process_port", str(port), str(script), *args]  # fmt: skip
        done = subprocess.run(command, env=env, timeout=300, capture_output=True, text=True)
        if done.returncode != 0:  # say why: the launcher's own output is the only clue
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-150:])
            pytest.fail(f"accelerate launch exited with {done.returncode}:\n{tail}")

    return run
