"""Held-out accuracy of a reasoning model: greedy decoding or self-consistency.

``mode="greedy"``: one greedy completion per question, correct when its extracted answer
matches. ``mode="self_consistency"`` (Wang et al. 2023): ``num_samples`` completions at
``temperature``, the most frequent extracted answer wins (ties: the answer seen first;
completions without an answer do not vote).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import torch

from latentinfer.core.errors import ValidationError
from latentinfer.core.validation import check_choice, check_number
from latentinfer.reasoning.generation import sample
from latentinfer.reasoning.tasks.base import Example, Task, normalize_answer

__all__ = ["MODES", "accuracy", "majority_answer"]

MODES = ("greedy", "self_consistency")


def majority_answer(task: Task, completions: Sequence[str]) -> str | None:
    """The most frequent extracted (normalized) answer among ``completions``."""
    votes: Counter[str] = Counter()
    for c in completions:
        a = task.extract_answer(c)
        if a is not None:
            votes[normalize_answer(a)] += 1
    return votes.most_common(1)[0][0] if votes else None


def accuracy(
    model: Any,
    tokenizer: Any,
    task: Task,
    examples: Sequence[Example],
    *,
    mode: str = "greedy",
    num_samples: int = 8,
    temperature: float = 1.0,
    max_new_tokens: int = 64,
    seed: int = 0,
    batch_size: int | None = 256,
) -> float:
    """The share of ``examples`` answered correctly.

    Args:
        model, tokenizer: the LM.
        task: builds the prompts and checks the answers.
        examples: held-out examples.
        mode: ``"greedy"`` or ``"self_consistency"``.
        num_samples: samples per question for self-consistency.
        temperature: sampling temperature for self-consistency.
        max_new_tokens: the longest completion.
        seed: seeds the self-consistency samples.
        batch_size: sequences per forward pass.

    Returns:
        Accuracy in [0, 1].
    """
    check_choice(mode, name="mode", choices=MODES)
    check_number(num_samples, name="num_samples", low=1, integer=True)
    if not isinstance(task, Task):
        raise ValidationError(f"task must be a latentinfer Task; got {type(task).__name__}.")
    items = list(examples)
    if not items:
        raise ValidationError("examples is empty; pass at least one Example.")
    prompts = [task.prompt(e.question) for e in items]
    if mode == "greedy":
        outs = sample(
            model,
            tokenizer,
            prompts,
            temperature=0.0,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
        )
        hits = [task.is_correct(o[0], e.answer) for o, e in zip(outs, items)]
    else:
        outs = sample(
            model,
            tokenizer,
            prompts,
            num_samples=num_samples,
            temperature=temperature,
            max_new_tokens=max_new_tokens,
            generator=torch.Generator().manual_seed(seed),
            batch_size=batch_size,
        )
        hits = []
        for o, e in zip(outs, items):
            vote = majority_answer(task, o)
            hits.append(vote is not None and vote == normalize_answer(e.answer))
    return sum(hits) / len(hits)
