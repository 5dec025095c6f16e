"""Run by test_distributed.py, in one process or under ``accelerate launch``.

Fits a small VAE for a fixed number of steps with an effective batch of 32 rows: one
process accumulates 2 micro-batches, two processes take one micro-batch each. Writes the
per-step training losses and the final weights (main process only). A TensorBoard tracker
runs on the main process: ending it must leave that process's group to the end of the
script, where every process leaves together.
"""

import json
import os
import sys

import torch

torch.set_num_threads(1)

from accelerate import PartialState  # noqa: E402

from latentinfer.core import TrainConfig, finish_processes, train  # noqa: E402
from latentinfer.core.metrics import read_metrics  # noqa: E402
from latentinfer.vae import VAE  # noqa: E402

out = sys.argv[1]
world = int(os.environ.get("WORLD_SIZE", "1"))
accum = 2 // world
data = torch.rand(200, 8, generator=torch.Generator().manual_seed(0)).round()
model = VAE(latent_dim=3, hidden=(32,), seed=0).build((8,))
cfg = TrainConfig(
    max_epochs=50,
    max_steps=40,
    batch_size=32,
    grad_accum=accum,
    device="cpu",
    patience=None,
    progress=False,
    trackers=("tensorboard",),
)
result = train(model, data, cfg, seed=11, run_dir=out + ".run")
state = PartialState()  # initialised by train's Accelerator
if state.is_main_process:
    losses = [r["loss"] for r in read_metrics(out + ".run/metrics.jsonl") if r["split"] == "train"]
    val = [h["val_loss"] for h in result.history]
    params = torch.cat([p.detach().flatten() for p in model.parameters()]).tolist()
    with open(out, "w") as fh:
        json.dump(
            {"losses": losses, "val": val, "params": params, "processes": state.num_processes}, fh
        )
finish_processes()  # leave the process group together: a process that exits first can abort
