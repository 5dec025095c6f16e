"""Rationales sampled per second: latentinfer's ``sample`` against ``transformers.generate``.

The same tiny model (freshly initialised: it rarely samples eos, so both sides generate
nearly ``max_new_tokens`` tokens per row; the tokens each generated are recorded), the same
prompts (arithmetic questions of
different lengths, left-padded), the same number of samples per prompt, the same thread
count, pure sampling at temperature 1 on both sides (``generate(do_sample=True,
top_k=0, top_p=1.0, num_return_sequences=k)``). Calls alternate between the two and the
median over repeats is reported; the ratio is ours / transformers (> 1: ours is faster).

    pip install -e ".[bench-reasoning]"                      # transformers 5.24.0, pinned
    python benchmarks/reasoning/generation_speed.py          # 1 thread; minutes (below)
    python benchmarks/reasoning/generation_speed.py --quick

Run time and the absolute rates depend on the machine and its load (the committed full run
took about 12 min, 728 s, on a 2-core machine); the claim is the ratio, which the alternating
calls make comparable between the two sides.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
import transformers

from _common import print_table, setup, write_result
from latentinfer.reasoning import char_tokenizer, sample_tokens, tiny_lm
from latentinfer.reasoning.tasks import ArithmeticTask


def _hf(model, tok, prompts, k, max_new, seed):  # type: ignore[no-untyped-def]
    enc = tok(prompts, padding=True, padding_side="left", return_tensors="pt")
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = model.generate(
            **enc,
            do_sample=True,
            temperature=1.0,
            top_k=0,
            top_p=1.0,
            num_return_sequences=k,
            max_new_tokens=max_new,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
        )
    new = out[:, enc["input_ids"].shape[1] :]
    return int((new != tok.pad_token_id).sum())


def _ours(model, tok, prompts, k, max_new, seed):  # type: ignore[no-untyped-def]
    g = torch.Generator().manual_seed(seed)
    gen = sample_tokens(model, tok, prompts, num_samples=k, max_new_tokens=max_new, generator=g)
    return int(gen.lengths.sum() + gen.finished.sum())


def main() -> None:
    args = setup(__doc__.splitlines()[0], repeats=(int, 9, "timed repeats per side"))
    repeats = 3 if args.quick else args.repeats
    max_new = 48
    tok = char_tokenizer()
    task = ArithmeticTask(kind="mod10", n_ops=6)
    questions = [e.question for e in task.examples("test", 64, seed=0)]
    # prompts of different lengths: a few-shot prefix of 0-2 solved examples
    shots = [task.prompt(e.question) + task.target(e) + "\n" for e in task.examples("train", 2)]
    prompts = ["".join(shots[: i % 3]) + task.prompt(q) for i, q in enumerate(questions)]
    settings = [("llama", 16, 4), ("llama", 64, 4), ("gpt2", 16, 4), ("gpt2", 64, 4)]
    if args.quick:
        settings = settings[:1]
    rows, results = [], []
    for arch, n_prompts, k in settings:
        model = tiny_lm(tok, arch=arch, d_model=128, n_layers=2, n_heads=4, seed=0)
        batch = prompts[:n_prompts]
        for fn in (_ours, _hf):  # warm-up
            fn(model, tok, batch, k, max_new, 0)
        times: dict[str, list[float]] = {"ours": [], "transformers": []}
        tokens: dict[str, int] = {}
        for r in range(repeats):
            for name, fn in (("ours", _ours), ("transformers", _hf)):
                start = time.perf_counter()
                tokens[name] = fn(model, tok, batch, k, max_new, r)
                times[name].append(time.perf_counter() - start)
        med = {n: statistics.median(t) for n, t in times.items()}
        n_rows = n_prompts * k
        rate = {n: n_rows / med[n] for n in med}
        ratio = rate["ours"] / rate["transformers"]
        rows.append([arch, n_rows, max_new, rate["ours"], rate["transformers"], ratio])
        results.append(
            {
                "arch": arch,
                "prompts": n_prompts,
                "samples_per_prompt": k,
                "rows": n_rows,
                "max_new_tokens": max_new,
                "tokens_generated": tokens,
                "median_seconds": med,
                "rationales_per_second": rate,
                "ratio": ratio,
                "all_seconds": times,
            }
        )
    print_table(
        ["arch", "rationales/batch", "tokens each", "ours /s", "transformers /s", "ratio"], rows
    )
    payload = {
        "transformers": transformers.__version__,
        "model": {"d_model": 128, "n_layers": 2, "n_heads": 4, "vocab": len(tok)},
        "repeats": repeats,
        "results": results,
        "min_ratio": min(r["ratio"] for r in results),
    }
    write_result("generation_speed", args, payload)


if __name__ == "__main__":
    main()
