"""Run by test_distributed_trainers.py, in one process or under ``accelerate launch``.

A few TRICE steps on a tiny model (d_model 32) with MoPPS selection, systematic
resampling and the variance probe. Sampling is scripted: the c-th call to ``sample`` on a
process (the init, then one call a step, on every process alike) answers prompt p
correctly when ``(crc32(p) + c) % 3 == 0``, else wrongly, so the proposals do not depend
on the random streams (which differ between one and two processes); the loss, its
gradient (all-reduced by DDP), the clipping, AdamW, β over the global minibatch, the
memory and the selector run for real.

Held-out greedy accuracy (every 2 steps on 5 examples, at the end on 7) runs the real
model, sharded over the processes.

Then (not when resuming) two STaR rounds with uneven shards: 5 questions a round by
MoPPS, fine-tuning minibatches of 3, so a round's kept set can be smaller than the number
of processes. Its script answers by (prompt, round), since a process with an empty shard
makes no ``sample`` call.

Usage: ``_distributed_reasoning.py OUT RUN_DIR STEPS [FIRST_CALL]``; with FIRST_CALL the
TRICE run resumes from RUN_DIR (FIRST_CALL: the number of ``sample`` calls the resumed part
skipped). Writes the per-step metrics, the memory and the final weights (main process only).
"""

import json
import os
import sys
import zlib

import torch

torch.set_num_threads(1)

from accelerate import PartialState  # noqa: E402

from latentinfer.core import finish_processes  # noqa: E402
from latentinfer.core.metrics import read_metrics  # noqa: E402
from latentinfer.reasoning import grpo as grpo_mod  # noqa: E402
from latentinfer.reasoning import star as star_mod  # noqa: E402
from latentinfer.reasoning import trice as trice_mod  # noqa: E402
from latentinfer.reasoning.grpo import GRPO, GRPOConfig  # noqa: E402
from latentinfer.reasoning.lm import tiny_lm  # noqa: E402
from latentinfer.reasoning.star import STaR, STaRConfig  # noqa: E402
from latentinfer.reasoning.tasks.arithmetic import ArithmeticTask  # noqa: E402
from latentinfer.reasoning.tokenizer import char_tokenizer  # noqa: E402
from latentinfer.reasoning.trice import TRICE, TRICEConfig  # noqa: E402

out, run_dir, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
resume = len(sys.argv) > 4
task = ArithmeticTask(n_ops=2)
train = task.examples("train", 8, seed=0)
by_prompt = {}
for ex in train:
    by_prompt[task.prompt(ex.question)] = ex
    by_prompt[task.prompt(ex.question, hint=ex.answer)] = ex
calls = [int(sys.argv[4]) if resume else 0]


def answer(p: str, c: int, every: int) -> list[str]:
    ex = by_prompt[p]
    right = task.target(ex)
    if (zlib.crc32(p.encode()) + c) % every == 0:
        return [right]
    return [f"{right.rsplit('#', 1)[0]}#{(int(ex.answer) + 1 + c) % 10}"]  # wrong answer


def scripted(model, tokenizer, prompts, **kw):
    calls[0] += 1
    return [answer(p, calls[0], 3) for p in prompts]


rounds = [0]


def scripted_star(model, tokenizer, prompts, **kw):
    return [answer(p, rounds[0], 2 if "[answer" in p else 3) for p in prompts]


grpo_calls = [0]


def scripted_grpo(model, tokenizer, prompts, num_samples=1, **kw):
    # a process with an empty shard makes no call: answer by (prompt, step, sample)
    grpo_calls[0] += 1
    step = grpo_calls[0]
    return [
        tuple(answer(p, step + j + (zlib.crc32(p.encode()) % 2), 3)[0] for j in range(num_samples))
        for p in prompts
    ]


collect = STaR._collect


def counted_collect(self, *args, **kw):
    rounds[0] += 1
    return collect(self, *args, **kw)


trice_mod.sample = scripted
star_mod.sample = scripted_star
grpo_mod.sample = scripted_grpo
STaR._collect = counted_collect
tok = char_tokenizer()
model = tiny_lm(tok, d_model=32, n_layers=1, n_heads=2, max_len=64, seed=0)
cfg = TRICEConfig(
    steps=steps,
    batch_size=4,
    lr=1e-2,
    max_new_tokens=14,
    subsample=6,
    variance_every=1,
    selector="mopps",
    checkpoint_every=2,
    eval_every=2,
    eval_max=5,
    device="cpu",
    progress=False,
    seed=0,
)
# held-out greedy accuracy is sharded over the processes (5 and 7 rows: uneven shards)
held = task.examples("test", 7, seed=1)
result = TRICE(cfg).fit(model, tok, task, train, eval_examples=held, run_dir=run_dir, resume=resume)
star = None
if not resume:
    star_model = tiny_lm(tok, d_model=32, n_layers=1, n_heads=2, max_len=64, seed=1)
    star_cfg = STaRConfig(
        rounds=2,
        base_steps=3,
        restart=True,
        batch_size=3,
        lr=1e-2,
        max_new_tokens=14,
        questions_per_round=5,
        selector="mopps",
        device="cpu",
        progress=False,
        seed=0,
    )
    star_res = STaR(star_cfg).fit(star_model, tok, task, train, run_dir=run_dir + "-star")
    grpo_cfg = GRPOConfig(
        steps=3,
        batch_size=3,
        group_size=3,
        lr=1e-2,
        max_new_tokens=14,
        selector="mopps",
        device="cpu",
        progress=False,
        seed=0,
    )
    grpo_model = tiny_lm(tok, d_model=32, n_layers=1, n_heads=2, max_len=64, seed=2)
    grpo_res = GRPO(grpo_cfg).fit(grpo_model, tok, task, train)
    grpo = {
        "metrics": {
            k: [r[k] for r in grpo_res.metrics]
            for k in ("reward", "all_agree", "rollouts", "loss", "grad_norm")
        },
        "params": torch.cat([p.detach().flatten() for p in grpo_model.parameters()]).tolist(),
    }
    star = {
        "grpo": grpo,
        "metrics": {
            k: [r[k] for r in star_res.metrics]
            for k in ("samples", "rollouts", "train_accuracy", "kept", "kept_rationalized", "loss")
        },
        "kept": star_res.kept,
        "params": torch.cat([p.detach().flatten() for p in star_model.parameters()]).tolist(),
    }
state = PartialState()  # initialised by TRICE's Accelerator
if state.is_main_process:
    keys = ("loss", "grad_norm", "accepted", "first_valid", "beta", "memory_valid")
    keys += ("grad_var_cv", "grad_var_nocv", "rollouts")
    records = [r for r in read_metrics(os.path.join(run_dir, "metrics.jsonl")) if "loss" in r]
    params = torch.cat([p.detach().flatten() for p in model.parameters()]).tolist()
    with open(out, "w") as fh:
        json.dump(
            {
                "metrics": {k: [r[k] for r in records] for k in keys},
                "steps": [r["step"] for r in records],
                "memory": result.memory,
                "valid": result.valid,
                "samples": result.samples,
                "test_accuracy": [r.get("test_accuracy") for r in records],
                "final_test_accuracy": result.test_accuracy,
                "params": params,
                "processes": state.num_processes,
                "star": star,
            },
            fh,
        )
finish_processes()  # leave the process group together: a process that exits first can abort
