"""Tiny models shared by the reasoning tests (built once per session; no downloads)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("transformers")


@pytest.fixture(scope="session")
def tok() -> Any:
    from latentinfer.reasoning import char_tokenizer

    return char_tokenizer()


@pytest.fixture(scope="session", params=["llama", "gpt2"])
def lm(request: pytest.FixtureRequest, tok: Any) -> Any:
    from latentinfer.reasoning import tiny_lm

    return tiny_lm(tok, arch=request.param, d_model=32, n_layers=2, n_heads=2, seed=1)
