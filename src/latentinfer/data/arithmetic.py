"""Procedural arithmetic problems with gold scratchpad rationales (for the reasoning tasks).

Two kinds, both offline and exactly checkable:

- ``"mod10"``: multistep arithmetic mod 10. A start digit and ``n_ops`` operations
  ``+ - *`` with a digit each, evaluated left to right mod 10 (no precedence):
  ``7+3*4-2`` → ``((7+3)·4−2) mod 10 = 8``. Rationale: one step per operation,
  ``+3=0;*4=0;-2=8``.
- ``"addition"``: two ``n_digits``-digit numbers. Rationale: the column sums from the right
  with carries, ``7+6=13;5+8+1=14;3+4+1=8`` for ``357+486`` (answer ``843``).

Train and test questions are disjoint for every seed and size: a question belongs to the
test split when a hash of its text falls in the lowest ``test_share`` of the range.

Example:
    >>> problems = arithmetic_problems(2, split="train", n_ops=3, seed=0)
    >>> [len(p) for p in problems]  # (question, rationale, answer)
    [3, 3]
    >>> evaluate_mod10("7+3*4-2")
    (8, [0, 0, 8])
"""

from __future__ import annotations

import random
import zlib

from latentinfer.core.errors import ConfigError
from latentinfer.core.validation import check_choice, check_number

__all__ = ["KINDS", "arithmetic_problems", "evaluate_mod10", "in_test_split"]

KINDS = ("mod10", "addition")
_OPS = "+-*"


def in_test_split(question: str, test_share: float) -> bool:
    """Whether ``question`` belongs to the test split (a deterministic hash of its text)."""
    return (zlib.crc32(question.encode()) % 1_000_000) < test_share * 1_000_000


def evaluate_mod10(question: str) -> tuple[int, list[int]]:
    """The value of a ``"mod10"`` question and its running values after each operation."""
    value = int(question[0])
    steps = []
    for i in range(1, len(question), 2):
        op, b = question[i], int(question[i + 1])
        if op == "+":
            value = (value + b) % 10
        elif op == "-":
            value = (value - b) % 10
        elif op == "*":
            value = (value * b) % 10
        else:
            raise ConfigError(f"question {question!r} holds the operator {op!r}; accepted: + - *.")
        steps.append(value)
    return value, steps


def _mod10(rng: random.Random, n_ops: int) -> tuple[str, str, str]:
    question = str(rng.randrange(10)) + "".join(
        rng.choice(_OPS) + str(rng.randrange(10)) for _ in range(n_ops)
    )
    answer, steps = evaluate_mod10(question)
    rationale = ";".join(f"{question[2 * k + 1 : 2 * k + 3]}={v}" for k, v in enumerate(steps))
    return question, rationale, str(answer)


def _addition(rng: random.Random, n_digits: int) -> tuple[str, str, str]:
    low = 10 ** (n_digits - 1) if n_digits > 1 else 0
    a, b = rng.randrange(low, 10**n_digits), rng.randrange(low, 10**n_digits)
    da, db = str(a).zfill(n_digits)[::-1], str(b).zfill(n_digits)[::-1]
    carry, steps = 0, []
    for x, y in zip(da, db):
        s = int(x) + int(y) + carry
        steps.append(f"{x}+{y}{'+1' if carry else ''}={s}")
        carry = s // 10
    return f"{a}+{b}", ";".join(steps), str(a + b)


def arithmetic_problems(
    n: int,
    *,
    split: str = "train",
    kind: str = "mod10",
    n_ops: int = 6,
    n_digits: int = 3,
    test_share: float = 0.2,
    seed: int = 0,
) -> list[tuple[str, str, str]]:
    """``n`` distinct problems of one split as ``(question, rationale, answer)`` strings.

    Args:
        n: how many (distinct questions; fewer exist only for tiny settings, which raise).
        split: ``"train"`` or ``"test"``.
        kind: ``"mod10"`` or ``"addition"``.
        n_ops: operations per ``"mod10"`` question (≥ 1).
        n_digits: digits per ``"addition"`` operand (≥ 1).
        test_share: the share of all questions that belongs to the test split, in (0, 1).
        seed: seeds the draw.

    Raises:
        ConfigError: an option is out of range, or the split has fewer than ``n`` questions.
    """
    check_number(n, name="n", low=1, integer=True)
    check_choice(split, name="split", choices=("train", "test"))
    check_choice(kind, name="kind", choices=KINDS)
    check_number(n_ops, name="n_ops", low=1, integer=True)
    check_number(n_digits, name="n_digits", low=1, integer=True)
    check_number(
        test_share, name="test_share", low=0, high=1, low_inclusive=False, high_inclusive=False
    )
    check_number(seed, name="seed", low=0, integer=True)
    space = 10 * 30**n_ops if kind == "mod10" else 100**n_digits
    share = test_share if split == "test" else 1 - test_share
    if n > 0.5 * share * space:
        raise ConfigError(
            f"n={n} is more than half of the ~{int(share * space)} {split} questions of this "
            "setting; lower n or raise n_ops / n_digits."
        )
    rng = random.Random(zlib.crc32(f"{kind}:{split}:{seed}".encode()))
    want_test = split == "test"
    seen: set[str] = set()
    out: list[tuple[str, str, str]] = []
    while len(out) < n:
        problem = _mod10(rng, n_ops) if kind == "mod10" else _addition(rng, n_digits)
        q = problem[0]
        if q in seen or in_test_split(q, test_share) != want_test:
            continue
        seen.add(q)
        out.append(problem)
    return out
