"""Arithmetic with a scratchpad rationale: the task where chain of thought visibly helps.

Built on :func:`latentinfer.data.arithmetic.arithmetic_problems`. With the default
``kind="mod10", n_ops=6`` a question is ``7+1*3-4*2*4-1`` (left to right, mod 10), its
rationale ``+1=8;*3=4;-4=0;*2=0;*4=0;-1=9`` and its answer ``9``; the training target with a
rationale is ``"+1=8;*3=4;-4=0;*2=0;*4=0;-1=9 #9"``, without one ``"#9"``. A direct answer has
to do six lookups in one forward pass; the scratchpad needs one per generated step.

Example:
    >>> task = ArithmeticTask(n_ops=2)
    >>> ex = task.examples("train", 1, seed=0)[0]
    >>> task.prompt(ex.question) == ex.question + "\\n"
    True
    >>> task.is_correct(task.target(ex), ex.answer)
    True
"""

from __future__ import annotations

from latentinfer.core.validation import check_choice, check_number
from latentinfer.data.arithmetic import KINDS, arithmetic_problems
from latentinfer.reasoning.tasks.base import Example, Task

__all__ = ["ArithmeticTask"]


class ArithmeticTask(Task):
    """Multistep mod-10 arithmetic or multi-digit addition, with gold scratchpads.

    Args:
        kind: ``"mod10"`` (``n_ops`` operations ``+ - *`` on digits, mod 10) or
            ``"addition"`` (two ``n_digits``-digit numbers, column sums with carries).
        n_ops: operations per ``"mod10"`` question.
        n_digits: digits per ``"addition"`` operand.
        test_share: the share of all questions reserved for the test split.
    """

    name = "arithmetic"

    def __init__(
        self, *, kind: str = "mod10", n_ops: int = 6, n_digits: int = 3, test_share: float = 0.2
    ) -> None:
        self.kind = check_choice(kind, name="kind", choices=KINDS)
        self.n_ops = int(check_number(n_ops, name="n_ops", low=1, integer=True))
        self.n_digits = int(check_number(n_digits, name="n_digits", low=1, integer=True))
        self.test_share = float(
            check_number(
                test_share,
                name="test_share",
                low=0,
                high=1,
                low_inclusive=False,
                high_inclusive=False,
            )
        )

    def examples(self, split: str, n: int, *, seed: int = 0) -> list[Example]:
        """``n`` distinct problems of ``split`` with gold rationales."""
        self._check_request(split, n, seed)
        problems = arithmetic_problems(
            n,
            split=split,
            kind=self.kind,
            n_ops=self.n_ops,
            n_digits=self.n_digits,
            test_share=self.test_share,
            seed=seed,
        )
        return [Example(question=q, answer=a, rationale=r) for q, r, a in problems]

    def options(self) -> dict[str, object]:
        """The constructor options (what a run folder stores to rebuild the task)."""
        return {
            "kind": self.kind,
            "n_ops": self.n_ops,
            "n_digits": self.n_digits,
            "test_share": self.test_share,
        }
