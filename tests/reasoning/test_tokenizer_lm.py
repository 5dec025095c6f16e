"""The character tokenizer and the tiny / loaded models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from latentinfer.core.errors import ConfigError, ValidationError
from latentinfer.reasoning import char_tokenizer, load_lm, tiny_lm


def test_char_tokenizer_round_trips(tmp_path: Path) -> None:
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    tok = char_tokenizer()
    assert isinstance(tok, PreTrainedTokenizerFast)
    text = "7+3*4-2\n+3=0;*4=0 #8 [answer: x]"
    ids = tok(text)["input_ids"]
    assert ids[0] == tok.bos_token_id and len(ids) == len(text) + 1
    assert tok.decode(ids, skip_special_tokens=True) == text
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again(text)["input_ids"] == ids
    assert again.decode(ids, skip_special_tokens=True) == text
    small = char_tokenizer("ab")
    assert len(small) == 6 and small("abc")["input_ids"][-1] == small.unk_token_id
    with pytest.raises(ConfigError, match="alphabet"):
        char_tokenizer("")


def test_tiny_lm_and_load_lm(tmp_path: Path, tok: Any) -> None:
    for arch in ("llama", "gpt2"):
        lm = tiny_lm(tok, arch=arch, d_model=32, n_layers=1, n_heads=2, seed=5)
        assert lm.config.vocab_size == len(tok) and not lm.training
        same = tiny_lm(tok, arch=arch, d_model=32, n_layers=1, n_heads=2, seed=5)
        assert all(torch.equal(a, b) for a, b in zip(lm.parameters(), same.parameters()))
    lm.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    model, tok2 = load_lm(tmp_path)
    assert type(model).__name__ == "GPT2LMHeadModel"
    x = torch.tensor([tok("abc")["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(model(x).logits, lm(x).logits)
    assert tok2.pad_token_id is not None
    with pytest.raises(ValidationError, match="name_or_path"):
        load_lm(tmp_path / "missing")
    with pytest.raises(ConfigError, match="arch must be one of"):
        tiny_lm(tok, arch="bert")
    with pytest.raises(ConfigError, match="multiple of n_heads"):
        tiny_lm(tok, d_model=30, n_heads=4)


def test_missing_transformers_gives_a_clear_error() -> None:
    """Without transformers, `import latentinfer` and the CLI work; reasoning code says what
    to install (on the command line too, brackets intact)."""
    code = (
        "import sys; sys.modules['transformers'] = None; sys.modules['tokenizers'] = None\n"
        "import latentinfer, latentinfer.cli, latentinfer.reasoning.tasks\n"
        "from latentinfer.core.errors import MissingDependencyError\n"
        "try:\n"
        "    from latentinfer.reasoning import tiny_lm\n"
        "except MissingDependencyError as e:\n"
        "    print('library:', e)\n"
        "sys.argv = ['latentinfer', 'reason', 'train', 'sft']\n"
        "latentinfer.cli.main()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert "library: latentinfer.reasoning needs the 'transformers' package" in out.stdout
    assert 'pip install "latentinfer[reasoning]"' in out.stdout
    assert 'pip install "latentinfer[reasoning]"' in out.stderr.replace("\n", "")
