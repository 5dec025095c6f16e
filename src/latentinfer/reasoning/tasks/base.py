"""What a reasoning task is: questions, gold answers, a prompt format and an answer checker.

A :class:`Task` turns a question into a prompt, an :class:`Example` into the completion a
model is trained to produce (the rationale, then the answer, or the answer alone), and a
model's completion back into an answer. Every trainer and evaluator goes through these
four methods, so a new task is a subclass that draws examples.

The shared text format (subclasses may override it):

- prompt: ``"{question}\\n"``; with a hint (STaR's rationalization gives the gold answer):
  ``"{question} [answer: {hint}]\\n"``;
- target: ``"{rationale} #{answer}"`` with a rationale, ``"#{answer}"`` without; the
  trainers append eos;
- extraction: the text after the last ``#``, stripped (so GSM8K's ``#### 42`` reads ``42``);
  ``None`` when there is no ``#``.
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass

from latentinfer.core.errors import ConfigError, ValidationError
from latentinfer.core.validation import check_choice, check_number

__all__ = ["SPLITS", "Example", "Task", "normalize_answer"]

SPLITS = ("train", "test")
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)$")


@dataclass(frozen=True)
class Example:
    """One question with its gold answer and, optionally, a gold rationale.

    Attributes:
        question: the question text (without the prompt's formatting).
        answer: the gold answer text.
        rationale: a gold chain of thought that ends just before the answer, or ``None``.
    """

    question: str
    answer: str
    rationale: str | None = None


def normalize_answer(text: str) -> str:
    """Strip spaces and a final period; write numbers without thousands separators or
    trailing zeros (``"1,000.0"`` → ``"1000"``)."""
    out = text.strip().rstrip(".").strip()
    plain = out.replace(",", "")
    if _NUMBER.match(plain):
        if "." in plain:
            plain = plain.rstrip("0").rstrip(".") or "0"
        return plain.lstrip("+")
    return out


class Task(abc.ABC):
    """A reasoning task (subclass and implement :meth:`examples`).

    Attributes:
        name: the registry name (``get_task(name)``).
        answer_marker: the text that precedes the answer in a completion.
    """

    name: str = "task"
    answer_marker: str = "#"

    # ------------------------------------------------------------------ data
    @abc.abstractmethod
    def examples(self, split: str, n: int, *, seed: int = 0) -> list[Example]:
        """``n`` examples of ``split`` (``"train"`` or ``"test"``; the two never share a
        question), drawn with ``seed``."""

    def _check_request(self, split: str, n: int, seed: int) -> None:
        check_choice(split, name="split", choices=SPLITS)
        check_number(n, name="n", low=1, integer=True)
        check_number(seed, name="seed", low=0, integer=True)

    # ---------------------------------------------------------------- format
    def prompt(self, question: str, *, hint: str | None = None) -> str:
        """The prompt for ``question``; ``hint`` (the gold answer) is shown when given."""
        if not isinstance(question, str) or not question:
            raise ValidationError(f"question must be a non-empty str; got {question!r}.")
        if hint is None:
            return f"{question}\n"
        return f"{question} [answer: {hint}]\n"

    def target(self, example: Example, *, with_rationale: bool = True) -> str:
        """The completion to train on: ``"{rationale} #{answer}"`` or ``"#{answer}"``.

        Raises:
            ValidationError: ``with_rationale`` is asked for but the example has none.
        """
        marker = self.answer_marker
        if not with_rationale:
            return f"{marker}{example.answer}"
        if example.rationale is None:
            raise ValidationError(
                f"example {example.question!r} has no rationale; pass with_rationale=False "
                "or examples with gold rationales."
            )
        return f"{example.rationale} {marker}{example.answer}"

    def extract_answer(self, completion: str) -> str | None:
        """The answer a completion gives: the text after the last answer marker."""
        marker = self.answer_marker
        if marker not in completion:
            return None
        answer = completion.rsplit(marker, 1)[1].strip()
        return answer or None

    def is_correct(self, completion: str, answer: str) -> bool:
        """Whether ``completion``'s extracted answer equals ``answer`` (after
        :func:`normalize_answer`)."""
        got = self.extract_answer(completion)
        return got is not None and normalize_answer(got) == normalize_answer(answer)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def check_positive_int(value: object, *, name: str) -> int:
    """A task option that must be a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive integer; got {value!r}.")
    return value
