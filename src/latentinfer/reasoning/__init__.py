"""Latent reasoning: the rationale (chain of thought) as a latent variable of a language model.

Needs the ``reasoning`` extra (``pip install "latentinfer[reasoning]"``: Hugging Face
``transformers`` and ``tokenizers``); ``import latentinfer`` works without it, and touching
a name here without it raises :class:`~latentinfer.core.errors.MissingDependencyError`.

- models: :func:`tiny_lm` (a GPT-2/Llama model from a config), :func:`load_lm` (any local
  causal LM), :func:`char_tokenizer` (a character-level ``PreTrainedTokenizerFast``);
- one generation and scoring path: :func:`sample`, :func:`greedy`, :func:`sample_tokens`,
  :func:`log_prob`;
- tasks: :mod:`latentinfer.reasoning.tasks` (:func:`get_task`: ``arithmetic``,
  ``bayesnet``, ``jsonl``);
- trainers: :class:`SFT` (with or without rationales); evaluation: :func:`accuracy`
  (greedy or self-consistency).

Names are imported on first use, so importing this package is cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from latentinfer.reasoning._deps import require

__all__ = [
    "SFT",
    "Example",
    "Generation",
    "SFTConfig",
    "SFTResult",
    "Task",
    "accuracy",
    "char_tokenizer",
    "get_task",
    "greedy",
    "load_lm",
    "log_prob",
    "sample",
    "sample_tokens",
    "tiny_lm",
]

_WHERE = {
    "char_tokenizer": "tokenizer",
    "tiny_lm": "lm",
    "load_lm": "lm",
    "Generation": "generation",
    "greedy": "generation",
    "log_prob": "generation",
    "sample": "generation",
    "sample_tokens": "generation",
    "Example": "tasks",
    "Task": "tasks",
    "get_task": "tasks",
    "SFT": "sft",
    "SFTConfig": "sft",
    "SFTResult": "sft",
    "accuracy": "evaluate",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        require("transformers")
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
