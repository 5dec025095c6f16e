"""SFT on the core loop: the loss falls, resume continues the run, evaluation modes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from latentinfer.core.errors import ConfigError, ShapeError, ValidationError
from latentinfer.reasoning import SFT, SFTConfig, accuracy, load_lm, tiny_lm
from latentinfer.reasoning.evaluate import majority_answer
from latentinfer.reasoning.sft import encode_pairs
from latentinfer.reasoning.tasks import get_task

TASK = get_task("arithmetic", n_ops=2)


def _cfg(**kw: Any) -> SFTConfig:
    base = {"steps": 30, "batch_size": 16, "lr": 3e-3, "progress": False, "log_every": 5}
    return SFTConfig(**(base | kw))


def test_encode_pairs_masks_only_targets(tok: Any) -> None:
    ids, attn, loss = encode_pairs(tok, ["ab", "abcd"], ["x", ""])
    assert ids.shape == attn.shape == loss.shape == (2, 6)
    # row 0: <bos> a b | x <eos> | pad
    assert loss[0].tolist() == [0, 0, 0, 1, 1, 0] and attn[0].tolist() == [1, 1, 1, 1, 1, 0]
    assert ids[0, 4] == tok.eos_token_id and loss[1].tolist() == [0, 0, 0, 0, 0, 1]
    with pytest.raises(ShapeError, match="same length"):
        encode_pairs(tok, ["a"], ["b", "c"])
    with pytest.raises(ValidationError, match="max_len=3"):
        encode_pairs(tok, ["abc"], ["d"], max_len=3)


def test_sft_lowers_the_loss_and_saves_the_model(tmp_path: Path, tok: Any) -> None:
    lm = tiny_lm(tok, d_model=32, n_layers=1, n_heads=2, seed=0)
    examples = TASK.examples("train", 64)
    result = SFT(_cfg()).fit(lm, tok, TASK, examples, run_dir=tmp_path)
    hist = result.train.history
    assert result.steps == 30 and hist[-1]["train_loss"] < 0.8 * hist[0]["train_loss"]
    assert result.n_examples == 64 and result.model_dir == tmp_path / "model"
    records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == 30 and "nll" in records[-1]
    model, _ = load_lm(tmp_path / "model")
    x = torch.tensor([tok("1+2")["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(model(x).logits, lm(x).logits)
    acc = accuracy(lm, tok, TASK, TASK.examples("test", 20), max_new_tokens=16)
    assert 0.0 <= acc <= 1.0


def test_sft_resume_equals_an_uninterrupted_run(tmp_path: Path, tok: Any) -> None:
    examples = TASK.examples("train", 48)
    full = tiny_lm(tok, d_model=32, n_layers=1, n_heads=2, seed=0)
    SFT(_cfg(steps=12)).fit(full, tok, TASK, examples)
    part = tiny_lm(tok, d_model=32, n_layers=1, n_heads=2, seed=0)
    SFT(_cfg(steps=6, checkpoint_every=3)).fit(part, tok, TASK, examples, run_dir=tmp_path)
    resumed = tiny_lm(tok, d_model=32, n_layers=1, n_heads=2, seed=0)
    out = SFT(_cfg(steps=12, checkpoint_every=3)).fit(
        resumed, tok, TASK, examples, run_dir=tmp_path, resume=True
    )
    assert out.steps == 12
    for a, b in zip(full.parameters(), resumed.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    with pytest.raises(ConfigError, match="already holds checkpoints"):
        SFT(_cfg(steps=12)).fit(resumed, tok, TASK, examples, run_dir=tmp_path)
    with pytest.raises(ConfigError, match="lr"):
        SFT(_cfg(steps=14, lr=1e-2)).fit(resumed, tok, TASK, examples, run_dir=tmp_path,
                                         resume=True)  # fmt: skip


def test_direct_sft_and_bad_options(tok: Any) -> None:
    lm = tiny_lm(tok, d_model=32, n_layers=1, n_heads=2)
    out = SFT(_cfg(steps=2, with_rationale=False)).fit(lm, tok, TASK, TASK.examples("train", 8))
    assert out.n_tokens == 8 * 3  # "#", the digit, eos
    with pytest.raises(ConfigError, match="steps"):
        SFTConfig(steps=0)
    with pytest.raises(ConfigError, match="batch_size"):
        SFTConfig(batch_size=0)
    with pytest.raises(ValidationError, match="examples is empty"):
        SFT(_cfg()).fit(lm, tok, TASK, [])


def test_accuracy_modes(tok: Any) -> None:
    lm = tiny_lm(tok, d_model=32, n_layers=1, n_heads=2)
    ex = TASK.examples("test", 6)
    greedy_acc = accuracy(lm, tok, TASK, ex, max_new_tokens=8)
    sc = accuracy(lm, tok, TASK, ex, mode="self_consistency", num_samples=3, max_new_tokens=8)
    assert 0 <= greedy_acc <= 1 and 0 <= sc <= 1
    assert majority_answer(TASK, ["x #3", "#4", "y #3", "none"]) == "3"
    assert majority_answer(TASK, ["none"]) is None
    with pytest.raises(ConfigError, match="mode must be one of"):
        accuracy(lm, tok, TASK, ex, mode="beam")
