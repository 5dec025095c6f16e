"""Bring your own task: JSONL files of question / answer (/ rationale) records.

One JSON object per line with a ``question`` and an ``answer`` (strings or numbers) and
optionally a ``rationale``; other keys are ignored. Point ``train`` and ``test`` at two
files (a local copy of GSM8K's ``train.jsonl`` / ``test.jsonl`` after renaming its fields,
or BIG-Bench task exports); nothing is downloaded. GSM8K-style answers whose text ends in
``#### 42`` are split into rationale and answer when ``split_gsm8k=True`` (the default).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from latentinfer.core.errors import ValidationError
from latentinfer.reasoning.tasks.base import SPLITS, Example, Task

__all__ = ["JSONLTask", "read_jsonl"]


def read_jsonl(path: str | Path, *, split_gsm8k: bool = True) -> list[Example]:
    """Read a JSONL file of question/answer(/rationale) records.

    Raises:
        ValidationError: the file is missing or empty, a line is not JSON, or a record lacks
            ``question`` / ``answer`` (the message names the file and line).
    """
    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"path {str(p)!r} is not a file; pass a JSONL file of records.")
    out: list[Example] = []
    with p.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValidationError(f"{str(p)!r}, line {line_no}: not JSON ({exc}).") from None
            if not isinstance(rec, dict) or "question" not in rec or "answer" not in rec:
                raise ValidationError(
                    f"{str(p)!r}, line {line_no}: a record needs 'question' and 'answer' keys "
                    f"(and optionally 'rationale'); got {line.strip()[:80]!r}."
                )
            answer = str(rec["answer"]).strip()
            rationale = rec.get("rationale")
            if split_gsm8k and rationale is None and "####" in answer:
                rationale, answer = (s.strip() for s in answer.rsplit("####", 1))
            out.append(
                Example(
                    question=str(rec["question"]).strip(),
                    answer=answer,
                    rationale=None if rationale is None else str(rationale).strip(),
                )
            )
    if not out:
        raise ValidationError(f"{str(p)!r} holds no records.")
    return out


class JSONLTask(Task):
    """A task read from JSONL files.

    Args:
        train: the training file.
        test: the test file (``None``: the last ``test_share`` of ``train``'s records, in
            file order, are the test split).
        test_share: see ``test``.
        split_gsm8k: split ``"... #### 42"`` answers into rationale and answer.
    """

    name = "jsonl"

    def __init__(
        self,
        train: str | Path,
        test: str | Path | None = None,
        *,
        test_share: float = 0.2,
        split_gsm8k: bool = True,
    ) -> None:
        self.paths = {"train": str(train), "test": None if test is None else str(test)}
        self.test_share = test_share
        self.split_gsm8k = split_gsm8k
        records = read_jsonl(train, split_gsm8k=split_gsm8k)
        if test is None:
            n_test = max(1, round(test_share * len(records)))
            if n_test >= len(records):
                raise ValidationError(
                    f"train {str(train)!r} has {len(records)} record(s), too few to hold out a "
                    "test split; pass test=... ."
                )
            self._data = {"train": records[:-n_test], "test": records[-n_test:]}
        else:
            self._data = {"train": records, "test": read_jsonl(test, split_gsm8k=split_gsm8k)}

    def examples(self, split: str, n: int, *, seed: int = 0) -> list[Example]:
        """``n`` records of ``split`` in a seeded random order (without replacement).

        Raises:
            ValidationError: the split has fewer than ``n`` records.
        """
        self._check_request(split, n, seed)
        pool = self._data[split]
        if n > len(pool):
            raise ValidationError(
                f"n={n} but the {split} split has {len(pool)} record(s); lower n (on the "
                f"command line: --n-{split})."
            )
        order = list(range(len(pool)))
        random.Random(seed).shuffle(order)
        return [pool[i] for i in order[:n]]

    def size(self, split: str) -> int:
        """The number of records of ``split``."""
        if split not in SPLITS:
            raise ValidationError(f"split must be one of {SPLITS}; got {split!r}.")
        return len(self._data[split])

    def options(self) -> dict[str, object]:
        """The constructor options (what a run folder stores to rebuild the task)."""
        return {
            "train": self.paths["train"],
            "test": self.paths["test"],
            "test_share": self.test_share,
            "split_gsm8k": self.split_gsm8k,
        }
