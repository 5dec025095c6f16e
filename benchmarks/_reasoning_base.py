"""The shared setting of the reasoning benchmarks: task, tokenizer and the SFT base model.

The base model is a 2-layer Llama-architecture model (d_model 64, ≈0.1M parameters) with a
character tokenizer, fine-tuned with gold scratchpads on a few hundred examples of mod-10
arithmetic with three operations, in chunks of 100 steps until its held-out greedy accuracy
reaches a target (0.35 by default; reasoning.md's pilot: a base at 0.14 did not separate
TRICE from STaR, so we aim at 0.3–0.6). The methods then train from copies of it on
*answer-only* examples that the base never saw.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

from latentinfer.reasoning.evaluate import accuracy
from latentinfer.reasoning.lm import tiny_lm
from latentinfer.reasoning.sft import SFT, SFTConfig
from latentinfer.reasoning.tasks.arithmetic import ArithmeticTask
from latentinfer.reasoning.tasks.base import Example
from latentinfer.reasoning.tokenizer import char_tokenizer

ALPHABET = "0123456789+-*=;# [answer:]\n"


@dataclass
class Setting:
    task: Any
    tokenizer: Any
    base_state: dict[str, Any]
    base_accuracy: float
    base_steps: int
    base_seconds: float
    train: list[Example]  # answer-only
    test: list[Example]
    max_new_tokens: int
    options: dict[str, Any]

    def model(self) -> Any:
        """A fresh copy of the base model."""
        lm = tiny_lm(self.tokenizer, **self.options["lm"])
        lm.load_state_dict(copy.deepcopy(self.base_state))
        return lm


def build(
    *,
    n_ops: int = 3,
    n_gold: int = 200,
    n_train: int = 1000,
    n_test: int = 300,
    target: float = 0.35,
    max_base_steps: int = 2000,
    d_model: int = 64,
) -> Setting:
    """Draw the data and SFT the base model until its held-out accuracy reaches ``target``."""
    task = ArithmeticTask(n_ops=n_ops)
    tok = char_tokenizer(ALPHABET)
    pool = task.examples("train", n_gold + n_train, seed=0)
    gold, rest = pool[:n_gold], pool[n_gold:]
    train = [Example(e.question, e.answer) for e in rest]  # answers only
    test = task.examples("test", n_test, seed=0)
    lm_opts = {"d_model": d_model, "n_layers": 2, "n_heads": 4, "max_len": 64, "seed": 0}
    lm = tiny_lm(tok, **lm_opts)
    max_new = 4 * n_ops + 6
    t0, steps, acc = time.time(), 0, 0.0
    while steps < max_base_steps:
        cfg = SFTConfig(
            steps=100, batch_size=32, lr=1e-3, progress=False, seed=steps, log_every=100
        )
        SFT(cfg).fit(lm, tok, task, gold)
        steps += 100
        acc = accuracy(lm, tok, task, test, max_new_tokens=max_new)
        print(f"base SFT: {steps} steps, held-out accuracy {acc:.3f}", flush=True)
        if acc >= target:
            break
    return Setting(
        task=task,
        tokenizer=tok,
        base_state=copy.deepcopy(lm.state_dict()),
        base_accuracy=float(acc),
        base_steps=steps,
        base_seconds=round(time.time() - t0, 1),
        train=train,
        test=test,
        max_new_tokens=max_new,
        options={
            "n_ops": n_ops,
            "n_gold": n_gold,
            "n_train": n_train,
            "n_test": n_test,
            "target": target,
            "lm": lm_opts,
        },
    )
