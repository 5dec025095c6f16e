"""The shared generation and scoring path: exact log p, greedy = HF generate, batching."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from latentinfer.core.errors import ConfigError, ShapeError, ValidationError
from latentinfer.reasoning import greedy, log_prob, sample, sample_tokens, tiny_lm
from latentinfer.reasoning.tokenizer import char_tokenizer

PROMPTS = ["1+2=", "hello world, 34*", "x"]


def _direct_log_prob(lm: Any, tok: Any, prompt: str, completion: str) -> float:
    """Token by token, one unpadded sequence: Σ log softmax(logits)[next token]."""
    p = tok(prompt)["input_ids"]
    ids = p + tok(completion, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    with torch.no_grad():
        logp = lm(torch.tensor([ids])).logits.log_softmax(-1)[0].double()
    return sum(float(logp[j - 1, ids[j]]) for j in range(len(p), len(ids)))


def test_log_prob_is_exact_and_differentiable(lm: Any, tok: Any) -> None:
    completions = ["3", "abc def", ""]
    got = log_prob(lm, tok, PROMPTS, completions)
    assert got.shape == (3,)
    want = [_direct_log_prob(lm, tok, p, c) for p, c in zip(PROMPTS, completions)]
    torch.testing.assert_close(got.double(), torch.tensor(want, dtype=torch.float64), atol=1e-4,
                               rtol=1e-5)  # fmt: skip
    got.sum().backward()
    grads = [p.grad for p in lm.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    lm.zero_grad(set_to_none=True)
    # without eos: the eos term is dropped
    no_eos = log_prob(lm, tok, PROMPTS[:1], ["3"], add_eos=False)
    with torch.no_grad():
        eos_term = log_prob(lm, tok, PROMPTS[:1], ["3"]) - no_eos
    assert float(eos_term) < 0
    # chunked scoring equals one batch
    torch.testing.assert_close(log_prob(lm, tok, PROMPTS, completions, batch_size=1), got)


def test_greedy_equals_hf_generate_and_single_prompts(lm: Any, tok: Any) -> None:
    gen = sample_tokens(lm, tok, PROMPTS, temperature=0.0, max_new_tokens=10)
    enc = tok(PROMPTS, padding=True, padding_side="left", return_tensors="pt")
    with torch.no_grad():
        hf = lm.generate(
            **enc,
            do_sample=False,
            max_new_tokens=10,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
        )
    new = hf[:, enc["input_ids"].shape[1] :]
    assert torch.equal(gen.tokens[:, : new.shape[1]], new)
    batched = greedy(lm, tok, PROMPTS, max_new_tokens=10)
    alone = [greedy(lm, tok, [p], max_new_tokens=10)[0] for p in PROMPTS]
    assert batched == alone
    assert sample(lm, tok, PROMPTS, temperature=0, max_new_tokens=10) == [[b] for b in batched]
    # chunked rows, with and without the prompt's forward pass shared by its samples
    for batch_size in (1, 4):
        two = sample_tokens(
            lm, tok, PROMPTS, num_samples=2, temperature=0, max_new_tokens=10,
            batch_size=batch_size,
        )  # fmt: skip
        assert torch.equal(two.tokens[::2], gen.tokens) and torch.equal(
            two.tokens[1::2], gen.tokens
        )


def test_sampling_is_reproducible_by_generator(lm: Any, tok: Any) -> None:
    def draw(seed: int) -> list[list[str]]:
        g = torch.Generator().manual_seed(seed)
        return sample(lm, tok, PROMPTS, num_samples=3, max_new_tokens=8, generator=g)

    a, b, c = draw(0), draw(0), draw(1)
    assert a == b and a != c
    assert len(a) == 3 and all(len(o) == 3 for o in a)


def test_batched_sampling_matches_the_exact_distribution() -> None:
    """Left-padded batches sample from the model's own distribution.

    A 2-letter vocabulary and 2 new tokens make every outcome enumerable; prompts of
    different lengths share a batch. 3,000 samples per prompt; bound: a chi-square
    statistic below the 99.9 % quantile of its distribution.
    """
    tok = char_tokenizer("ab")
    lm = tiny_lm(tok, d_model=32, n_layers=1, n_heads=2, seed=3)
    prompts = ["a", "babba"]
    n = 3000
    g = torch.Generator().manual_seed(0)
    gen = sample_tokens(lm, tok, prompts, num_samples=n, max_new_tokens=2, generator=g)
    vocab = len(tok)
    eos = tok.eos_token_id
    for i, prompt in enumerate(prompts):
        rows = gen.tokens[i * n : (i + 1) * n]
        with torch.no_grad():
            ids = torch.tensor([tok(prompt)["input_ids"]])
            p1 = lm(ids).logits[0, -1].softmax(-1).double()
            second = (
                lm(torch.cat([ids.expand(vocab, -1), torch.arange(vocab)[:, None]], 1))
                .logits[:, -1]
                .softmax(-1)
                .double()
            )
        # outcomes: (eos) or (t1, t2) for t1 ≠ eos
        exact = {(eos,): float(p1[eos])}
        for t1 in range(vocab):
            if t1 != eos:
                for t2 in range(vocab):
                    exact[(t1, t2)] = float(p1[t1] * second[t1, t2])
        counts = dict.fromkeys(exact, 0)
        for r in rows.tolist():
            counts[(eos,) if r[0] == eos else (r[0], r[1])] += 1
        chi2 = sum((counts[k] - n * p) ** 2 / (n * p) for k, p in exact.items() if n * p > 5)
        dof = sum(1 for p in exact.values() if n * p > 5) - 1
        # Wilson–Hilferty 99.9 % quantile of chi-square(dof)
        z = 3.09
        bound = dof * (1 - 2 / (9 * dof) + z * math.sqrt(2 / (9 * dof))) ** 3
        assert chi2 < bound, (prompt, chi2, bound)


def test_generation_stops_rows_at_eos(lm: Any, tok: Any) -> None:
    g = torch.Generator().manual_seed(0)
    gen = sample_tokens(lm, tok, PROMPTS, num_samples=4, max_new_tokens=12, generator=g)
    for r in range(gen.tokens.shape[0]):
        n = int(gen.lengths[r])
        row = gen.tokens[r]
        if bool(gen.finished[r]):
            assert row[n] == tok.eos_token_id
            assert bool((row[n + 1 :] == tok.pad_token_id).all())
        else:
            assert n == 12


def test_bad_inputs_name_the_argument(lm: Any, tok: Any) -> None:
    with pytest.raises(ValidationError, match="prompts is empty"):
        sample(lm, tok, [])
    with pytest.raises(ValidationError, match=r"prompts\[1\] is an empty string"):
        sample(lm, tok, ["a", ""])
    with pytest.raises(ValidationError, match="single str"):
        sample(lm, tok, "abc")
    with pytest.raises(ConfigError, match="temperature must lie in"):
        sample(lm, tok, ["a"], temperature=-1.0)
    with pytest.raises(ConfigError, match="num_samples"):
        sample(lm, tok, ["a"], num_samples=0)
    with pytest.raises(ConfigError, match="max_new_tokens"):
        greedy(lm, tok, ["a"], max_new_tokens=0)
    with pytest.raises(ValidationError, match="max_new_tokens=1000 exceeds"):
        greedy(lm, tok, ["a"], max_new_tokens=1000)
    with pytest.raises(ShapeError, match="2 prompts and 1 completions"):
        log_prob(lm, tok, ["a", "b"], ["c"])
    with pytest.raises(ValidationError, match=r"completions\[0\] must be a str"):
        log_prob(lm, tok, ["a"], [3])
