"""Training throughput and held-out NLL: the same VAE trained by pythae 0.1.2 and by us.

Claim checked: on a small MLP VAE (scikit-learn digits, 1,437 training rows, batch 128),
latentinfer's ``VAE.fit`` trains faster than pythae's ``TrainingPipeline`` on one CPU
thread, at the same held-out likelihood. Both sides train the same network (MLP encoder
64-256-256 → μ, log σ² of 16 dims; decoder 16-256-256-64; ReLU; Bernoulli likelihood),
with Adam at 1e-3, batches of 128, 100 epochs, no early stopping, and one pass over the
360 test rows per epoch for the validation/eval loss. A third row trains ours with
``mixed_precision="bf16"`` (bf16 autocast of the matrix products on the CPU); it is a
different numeric setting and is reported beside, not instead of, the fp32 comparison.

Our fit flushes subnormal floats to zero while it trains (``TrainConfig.flush_denormal``, on
by default; PyTorch's own default is off): on CPUs that handle subnormals in microcode, Adam's
second-moment estimates otherwise make each step several times slower. So that the gain of
that setting is visible on its own, a fourth row trains pythae with the same flag set around
its fit (``latentinfer.core.denormals.flushing_denormals``); the headline ratio is against
pythae as a user runs it, with PyTorch's defaults.

Throughput is training rows per second of wall clock over the whole fit call (model
construction excluded; pythae's call includes its data checks, best-model copies and the
final save it always does). After one untimed 1-epoch warm-up of each, implementations are
interleaved per repetition (pythae, ours fp32, ours bf16, pythae with subnormals flushed;
seeds 0, 1, 2) and medians
reported. Held-out NLL is −IWAE (K = 500) on
the 360 test rows, computed by the same function (``latentinfer.inference.iwae_bound``)
for every model, pythae's through a small adapter, on the final-epoch weights.

The run also times a single-thread 128×256×256 matrix product to state how close each
implementation comes to the arithmetic floor (6 · Σ in·out FLOPs per training row).

Needs ``pip install pythae==0.1.2`` (the ``bench-vae`` extra).

    python benchmarks/vae/speed_vs_pythae.py            # full run (a few minutes, 1 thread)
    python benchmarks/vae/speed_vs_pythae.py --quick    # smoke run (5 epochs, 1 repetition)
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported
os.environ.setdefault("TQDM_DISABLE", "1")  # pythae's per-epoch progress bars

import logging
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch
from torch import nn
from torch.distributions import Bernoulli, Distribution, Independent, Normal

from _common import cpu_info, print_table, setup, write_result
from latentinfer.core.denormals import flushing_denormals
from latentinfer.inference import iwae_bound
from latentinfer.vae import VAE

LATENT = 16
HIDDEN = 256
N_FEAT = 64
BATCH = 128
LR = 1e-3
K_IWAE = 500
# (in, out) of the six linear layers, the same on both sides (μ and log σ² from one head).
LAYERS = [
    (N_FEAT, HIDDEN),
    (HIDDEN, HIDDEN),
    (HIDDEN, 2 * LATENT),
    (LATENT, HIDDEN),
    (HIDDEN, HIDDEN),
    (HIDDEN, N_FEAT),
]
MACS_PER_ROW = sum(i * o for i, o in LAYERS)


# ----------------------------------------------------------------------------- data
def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn digits / 16 in [0, 1], float32: first 1,437 rows train, last 360 test."""
    from sklearn.datasets import load_digits

    x = (load_digits().data / 16.0).astype(np.float32)
    return x[:1437], x[1437:]


# --------------------------------------------------------------------------- pythae
def _quiet_pythae() -> None:
    """Disable pythae's console loggers (its per-epoch loss prints); tqdm is off by env."""
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("pythae"):
            logging.getLogger(name).disabled = True


def pythae_model(seed: int):
    """pythae's VAE with our architecture: custom BaseEncoder / BaseDecoder subclasses."""
    from pythae.models import VAE as PVAE
    from pythae.models import VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    class Encoder(BaseEncoder):
        def __init__(self) -> None:
            BaseEncoder.__init__(self)
            self.net = nn.Sequential(
                nn.Linear(N_FEAT, HIDDEN),
                nn.ReLU(),
                nn.Linear(HIDDEN, HIDDEN),
                nn.ReLU(),
                nn.Linear(HIDDEN, 2 * LATENT),
            )

        def forward(self, x: torch.Tensor) -> ModelOutput:
            mu, logvar = self.net(x.reshape(x.shape[0], -1)).chunk(2, dim=-1)
            return ModelOutput(embedding=mu, log_covariance=logvar)

    class Decoder(BaseDecoder):
        def __init__(self) -> None:
            BaseDecoder.__init__(self)
            self.net = nn.Sequential(
                nn.Linear(LATENT, HIDDEN),
                nn.ReLU(),
                nn.Linear(HIDDEN, HIDDEN),
                nn.ReLU(),
                nn.Linear(HIDDEN, N_FEAT),
                nn.Sigmoid(),
            )

        def forward(self, z: torch.Tensor) -> ModelOutput:
            return ModelOutput(reconstruction=self.net(z))

    torch.manual_seed(seed)
    cfg = VAEConfig(input_dim=(N_FEAT,), latent_dim=LATENT, reconstruction_loss="bce")
    return PVAE(cfg, encoder=Encoder(), decoder=Decoder())


class PythaeAdapter(nn.Module):
    """The latent-model contract (encode / prior / decode) over a trained pythae VAE."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.m = model

    def encode(self, x: torch.Tensor) -> Distribution:
        out = self.m.encoder(x)
        return Independent(Normal(out.embedding, torch.exp(0.5 * out.log_covariance)), 1)

    def prior(self) -> Distribution:
        return Independent(Normal(torch.zeros(LATENT), torch.ones(LATENT)), 1)

    def decode(self, z: torch.Tensor) -> Distribution:
        lead = z.shape[:-1]
        p = self.m.decoder(z.reshape(-1, LATENT)).reconstruction.reshape(*lead, N_FEAT)
        logits = torch.logit(p.clamp(1e-6, 1 - 1e-6))
        return Independent(Bernoulli(logits=logits, validate_args=False), 1)


def fit_pythae(
    xtr: np.ndarray, xte: np.ndarray, epochs: int, seed: int, flush: bool = False
) -> dict:
    from pythae.pipelines import TrainingPipeline
    from pythae.trainers import BaseTrainerConfig
    from pythae.trainers.training_callbacks import TrainHistoryCallback

    model = pythae_model(seed)
    history = TrainHistoryCallback()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = BaseTrainerConfig(
            output_dir=tmp,
            num_epochs=epochs,
            learning_rate=LR,
            per_device_train_batch_size=BATCH,
            per_device_eval_batch_size=BATCH,
            steps_saving=None,
            no_cuda=True,
            seed=seed,
            train_dataloader_num_workers=0,
            eval_dataloader_num_workers=0,
        )
        pipeline = TrainingPipeline(model=model, training_config=cfg)
        _quiet_pythae()
        with flushing_denormals(flush):
            t0 = time.perf_counter()
            pipeline(train_data=xtr, eval_data=xte, callbacks=[history])
            seconds = time.perf_counter() - t0
    trained = pipeline.trainer.model  # final-epoch weights (the same object as `model`)
    best = getattr(pipeline.trainer, "_best_model", None)  # what pythae saves as final_model
    return {
        "seconds": seconds,
        "final_eval_loss": history.history["eval_loss"][-1],
        "final_train_loss": history.history["train_loss"][-1],
        "nll": held_out_nll(PythaeAdapter(trained), xte, seed),
        "nll_best_eval_epoch_model": None
        if best is None
        else held_out_nll(PythaeAdapter(best), xte, seed),
    }


# ------------------------------------------------------------------------------ ours
def fit_ours(xtr: np.ndarray, xte: np.ndarray, epochs: int, seed: int, precision: str) -> dict:
    model = VAE(latent_dim=LATENT, hidden=(HIDDEN, HIDDEN), likelihood="bernoulli", seed=seed)
    t0 = time.perf_counter()
    model.fit(
        xtr,
        validation_data=xte,
        max_epochs=epochs,
        batch_size=BATCH,
        lr=LR,
        patience=None,
        restore_best=False,
        progress=False,
        mixed_precision=precision,
    )
    seconds = time.perf_counter() - t0
    model.eval()
    hist = model.history_[-1]
    return {
        "seconds": seconds,
        "final_eval_loss": hist.get("val_loss"),
        "final_train_loss": hist["train_loss"],
        "trainer_rows_per_second": model.train_result_.rows_per_second,
        "nll": held_out_nll(model, xte, seed),
    }


# ------------------------------------------------------------------------ evaluation
def held_out_nll(model: nn.Module, xte: np.ndarray, seed: int) -> float:
    """−IWAE (K = 500) in nats per row, the same function and draws' seed for every model."""
    model.eval()
    torch.manual_seed(10_000 + seed)
    return float(-iwae_bound(model, torch.from_numpy(xte), k=K_IWAE).mean())


def matmul_gflops(dtype: torch.dtype, reps: int = 2000) -> float:
    """Best-of-5 single-thread rate of a (128×256)·(256×256) product, in GFLOP/s."""
    a = torch.randn(BATCH, HIDDEN).to(dtype)
    b = torch.randn(HIDDEN, HIDDEN).to(dtype)
    for _ in range(200):
        torch.mm(a, b)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b)
        best = min(best, (time.perf_counter() - t0) / reps)
    return 2 * BATCH * HIDDEN * HIDDEN / best / 1e9


# ------------------------------------------------------------------------------ main
def main() -> None:
    args = setup(__doc__.splitlines()[0])
    _quiet_pythae()
    epochs = 5 if args.quick else 100
    seeds = [0] if args.quick else [0, 1, 2]
    xtr, xte = digits()
    n_train = xtr.shape[0]
    steps_per_epoch = -(-n_train // BATCH)

    cpu = cpu_info()
    gflops = {"fp32": matmul_gflops(torch.float32), "bf16": matmul_gflops(torch.bfloat16)}
    print(
        f"single-thread 128×256×256 matmul: fp32 {gflops['fp32']:.1f} GFLOP/s, "
        f"bf16 {gflops['bf16']:.1f} GFLOP/s (threads={torch.get_num_threads()}; "
        f"{cpu['model']}, {cpu['capability']}, native bf16: {cpu['native_bf16']})"
    )

    impls = {
        "pythae 0.1.2": lambda s, ep=epochs: fit_pythae(xtr, xte, ep, s),
        "latentinfer fp32": lambda s, ep=epochs: fit_ours(xtr, xte, ep, s, "no"),
        "latentinfer bf16": lambda s, ep=epochs: fit_ours(xtr, xte, ep, s, "bf16"),
        "pythae 0.1.2, subnormals flushed": lambda s, ep=epochs: fit_pythae(xtr, xte, ep, s, True),
    }
    for fit in impls.values():  # untimed warm-up (1 epoch): one-off set-up costs
        fit(0, 1)
    raw: dict[str, list[dict]] = {name: [] for name in impls}
    for seed in seeds:
        for name, fit in impls.items():
            rec = fit(seed)
            rec["seed"] = seed
            rec["rows_per_second"] = n_train * epochs / rec["seconds"]
            raw[name].append(rec)
            print(
                f"seed {seed}  {name:32s}  {rec['seconds']:7.2f} s  "
                f"{rec['rows_per_second']:8.0f} rows/s  NLL {rec['nll']:.3f}",
                flush=True,
            )

    # Arithmetic floor: training FLOPs (forward 2·Σ in·out per row, ×3 with the backward)
    # and, beside it, the eval forward passes the fit also does (360 rows per epoch).
    train_flops_row = 6 * MACS_PER_ROW
    flops_step = train_flops_row * BATCH
    eval_flops_epoch = 2 * MACS_PER_ROW * xte.shape[0]
    flops_epoch = train_flops_row * n_train + eval_flops_epoch

    base = statistics.median(r["rows_per_second"] for r in raw["pythae 0.1.2"])
    summary, rows = {}, []
    for name, recs in raw.items():
        rps = statistics.median(r["rows_per_second"] for r in recs)
        secs = statistics.median(r["seconds"] for r in recs)
        rate = gflops["bf16" if "bf16" in name else "fp32"] * 1e9
        steps_s = steps_per_epoch * epochs / secs
        floor_steps_s = rate / flops_step
        nlls = [r["nll"] for r in recs]
        summary[name] = {
            "rows_per_second_median": rps,
            "seconds_median": secs,
            "ratio_vs_pythae": rps / base,
            "nll_mean": float(np.mean(nlls)),
            "nll_per_seed": nlls,
            "final_eval_loss_per_seed": [r["final_eval_loss"] for r in recs],
            "steps_per_second_median": steps_s,
            "floor_steps_per_second": floor_steps_s,
            "share_of_floor_train_only": rps * train_flops_row / rate,
            "share_of_floor_with_eval": (epochs * flops_epoch / secs) / rate,
        }
        rows.append(
            [
                name,
                round(rps),
                round(rps / base, 2),
                round(float(np.mean(nlls)), 3),
                " ".join(f"{v:.3f}" for v in nlls),
                round(steps_s, 1),
                round(floor_steps_s, 1),
                f"{100 * summary[name]['share_of_floor_train_only']:.0f}%",
            ]
        )

    print()
    print(
        f"digits, {n_train} train / {xte.shape[0]} test rows, batch {BATCH}, {epochs} epochs, "
        f"threads={torch.get_num_threads()}, seeds {seeds}; NLL = −IWAE(K={K_IWAE}) nats"
    )
    print_table(
        [
            "implementation",
            "rows/s (median)",
            "× pythae",
            "NLL mean",
            "NLL per seed",
            "steps/s",
            "floor steps/s",
            "of floor",
        ],
        rows,
    )
    write_result(
        "speed_vs_pythae",
        args,
        {
            "setup": {
                "data": "sklearn digits / 16, rows 0-1436 train, 1437-1796 test, float32",
                "architecture": "MLP 64-256-256 -> 2x16 ; 16-256-256-64, ReLU, Bernoulli",
                "epochs": epochs,
                "batch_size": BATCH,
                "lr": LR,
                "seeds": seeds,
                "iwae_k": K_IWAE,
                "n_train": n_train,
                "n_test": int(xte.shape[0]),
                "steps_per_epoch": steps_per_epoch,
                "timing": "wall clock of the fit call, model construction excluded; one untimed "
                "1-epoch warm-up per implementation, then interleaved repetitions",
            },
            "versions": {
                "pythae": version("pythae"),
                "torch": torch.__version__,
                "latentinfer": version("latentinfer"),
            },
            "cpu": cpu,
            "matmul_gflops_128x256x256": gflops,
            "flops": {
                "macs_per_row": MACS_PER_ROW,
                "train_flops_per_step": flops_step,
                "eval_flops_per_epoch": eval_flops_epoch,
                "flops_per_epoch": flops_epoch,
            },
            "summary": summary,
            "ratios_vs_pythae": {name: s["ratio_vs_pythae"] for name, s in summary.items()},
            "raw": raw,
        },
    )


if __name__ == "__main__":
    main()
