"""Chain of thought helps on arithmetic: scratchpad SFT against direct-answer SFT.

Multistep mod-10 arithmetic with 6 operations (``7+1*3-4*2*4-1``, left to right, mod 10;
``latentinfer.reasoning.tasks.ArithmeticTask``). Two copies of the same tiny Llama model
(2 layers, d = 128, 4 heads, character tokenizer) are fine-tuned with SFT for the same
number of steps on the same questions: one on the gold scratchpad then the answer
(``+1=8;*3=4;-4=0;*2=0;*4=0;-1=9 #9``), one on the answer alone (``#9``). Held-out greedy
accuracy on questions never seen in training; the claim (our pilot, after Nye et al.'s
scratchpads): the rationale model is near 100 %, the direct one near the majority class.

    python benchmarks/reasoning/arithmetic_rationale.py           # ~5 min on 1 thread
    python benchmarks/reasoning/arithmetic_rationale.py --quick
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import print_table, setup, write_result
from latentinfer.reasoning import SFT, SFTConfig, accuracy, char_tokenizer, tiny_lm
from latentinfer.reasoning.tasks import ArithmeticTask


def main() -> None:
    args = setup(
        __doc__.splitlines()[0],
        steps=(int, 1000, "SFT steps per model"),
        seeds=(int, 1, "seeds"),
        n_train=(int, 10000, "training questions"),
        n_test=(int, 500, "held-out questions"),
    )
    steps = 60 if args.quick else args.steps
    n_test = 100 if args.quick else args.n_test
    task = ArithmeticTask(kind="mod10", n_ops=6)
    tok = char_tokenizer()
    rows, runs = [], []
    for seed in range(args.seeds):
        train = task.examples("train", args.n_train, seed=seed)
        test = task.examples("test", n_test, seed=seed)
        majority = Counter(e.answer for e in test).most_common(1)[0][1] / len(test)
        for mode, with_rationale in (("rationale", True), ("direct", False)):
            lm = tiny_lm(tok, arch="llama", d_model=128, n_layers=2, n_heads=4, seed=seed)
            cfg = SFTConfig(
                steps=steps,
                batch_size=64,
                lr=1e-3,
                weight_decay=0.01,
                with_rationale=with_rationale,
                seed=seed,
                progress=False,
            )
            start = time.perf_counter()
            result = SFT(cfg).fit(lm, tok, task, train)
            seconds = time.perf_counter() - start
            acc = accuracy(lm, tok, task, test, max_new_tokens=48)
            run = {
                "seed": seed,
                "mode": mode,
                "steps": result.steps,
                "final_train_loss": result.final_loss,
                "test_accuracy": acc,
                "majority_class": majority,
                "train_seconds": seconds,
            }
            runs.append(run)
            rows.append([seed, mode, steps, acc, majority, seconds])
            print(f"seed {seed} {mode}: accuracy {acc:.3f} ({seconds:.0f} s)", flush=True)
    print_table(["seed", "targets", "steps", "held-out acc.", "majority class", "train s"], rows)
    rat = [r["test_accuracy"] for r in runs if r["mode"] == "rationale"]
    direct = [r["test_accuracy"] for r in runs if r["mode"] == "direct"]
    payload = {
        "task": {"kind": "mod10", "n_ops": 6, "n_train": args.n_train, "n_test": n_test},
        "model": {"arch": "llama", "d_model": 128, "n_layers": 2, "n_heads": 4},
        "sft": {"steps": steps, "batch_size": 64, "lr": 1e-3, "optimizer": "AdamW 0.01"},
        "runs": runs,
        "rationale_mean": sum(rat) / len(rat),
        "direct_mean": sum(direct) / len(direct),
        "claim_reproduced": all(r > d + 0.3 for r, d in zip(rat, direct)),
    }
    write_result("arithmetic_rationale", args, payload)


if __name__ == "__main__":
    main()
