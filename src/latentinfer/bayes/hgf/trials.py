"""A CSV of trials, one row per trial, as the arrays :meth:`Network.fit` and
:meth:`Network.filter` take.

Columns (by default; each can be renamed):

- ``input``: the observation (several input columns for a network with several inputs).
  An empty cell, ``nan`` or ``NA`` is a missing input: it is skipped (pyhgf's
  ``observed = 0``) and adds no surprise. In a file of one column an empty cell is a blank
  line: blank lines between trials are missing inputs there (blank lines after the last
  trial are ignored); in a file of several columns blank lines are skipped.
- ``observed`` (optional): 1 observed, 0 missing (pyhgf's mask), for all input columns.
- ``response`` (optional): the subject's response; empty or ``nan`` is a missing response.
- ``subject`` (optional): each subject is its own series, in order of first appearance;
  shorter series are padded with missing inputs. Without it the file is one series.
- ``time_step`` (optional): the time elapsed since the previous trial, positive.

Line numbers in errors are the file's own (the header is line 1; blank lines count). Every
other row needs one cell per column.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentinfer.core.errors import ValidationError

__all__ = ["Trials", "read_trials"]

_MISSING = ("", "nan", "na", "n/a", "none", "null")


@dataclass(frozen=True)
class Trials:
    """The trials of a CSV file as padded arrays.

    Attributes:
        subjects: subject names, in order of first appearance (``["s0"]`` without a subject
            column).
        inputs: ``(subjects, time)`` (``(subjects, time, n_inputs)`` for several input
            columns); NaN where missing or padded.
        observed: like ``inputs``: 1 observed, 0 missing or padded.
        responses: ``(subjects, time)``, NaN where missing, or None without a response column.
        time_steps: ``(subjects, time)``, or None without a time-step column.
        lengths: the number of trials of each subject.
        lines: ``(subjects, time)`` the file line of each trial (0 where padded).
    """

    subjects: list[str]
    inputs: np.ndarray
    observed: np.ndarray
    responses: np.ndarray | None
    time_steps: np.ndarray | None
    lengths: list[int]
    lines: np.ndarray

    def where(self, series: int, step: int) -> str:
        """``series``/``step`` (0-based, as the filter's errors give them) in the file's
        terms: the subject's name, its trial number and the file line."""
        if not (0 <= series < len(self.subjects)) or not (0 <= step < self.lengths[series]):
            return f"series {series}, step {step}"
        line = int(self.lines[series, step])
        return f"subject {self.subjects[series]!r}, trial {step + 1} (line {line})"


def read_trials(
    path: str | Path,
    *,
    input_columns: list[str] | None = None,
    response_column: str | None = None,
    subject_column: str | None = None,
    time_column: str | None = None,
    observed_column: str = "observed",
    option_names: dict[str, str] | None = None,
) -> Trials:
    """Read a trials CSV (see the module docstring for its columns).

    Args:
        path: the CSV file.
        input_columns: the input column(s) (default ``["input"]``).
        response_column: the response column, or None (the default) to read no responses,
            even from a file with a ``response`` column: responses are only wanted for a
            response model (``latentinfer hgf fit --response-model`` reads ``response``
            when the file has one).
        subject_column: the subject column (default: ``subject`` if the file has one). A
            column named here must exist.
        time_column: the time-step column (default: ``time_step`` if the file has one). A
            column named here must exist.
        observed_column: the 0/1 observed column, used if the file has it.
        option_names: how errors name each argument (the command line passes its flags).

    Raises:
        ValidationError: a missing file or column, an empty file, a cell that is not a
            number, an observed input that is missing, ``observed`` not 0/1, or a time step
            that is not positive; each names the line and column.
    """
    path = Path(path)
    names = {
        "path": "path",
        "input_columns": "input_columns",
        "response_column": "response_column",
        "subject_column": "subject_column",
        "time_column": "time_column",
        **(option_names or {}),
    }
    where = f"{names['path']} {str(path)!r}"
    if not path.is_file():
        raise ValidationError(f"{where} is not a file; pass a CSV of trials.")
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        read = [(reader.line_num, row) for row in reader]
    blank = [not any(c.strip() for c in row) for _, row in read]
    if header and len(header) == 1:  # a blank line is the one column's empty cell
        last = max((i for i, b in enumerate(blank) if not b), default=-1)
        rows = [(line, row or [""]) for line, row in read[: last + 1]]
    else:
        rows = [r for r, b in zip(read, blank) if not b]
    if not header:
        raise ValidationError(f"{where} is empty; it needs a header row and one row per trial.")
    fields = [h.strip() for h in header]
    if not rows:
        raise ValidationError(f"{where} has a header but no trials.")
    inputs = list(input_columns or ["input"])

    def unique(column: str) -> int:
        at = [k + 1 for k, f in enumerate(fields) if f == column]
        if len(at) > 1:
            raise ValidationError(
                f"{where}: column {column!r} appears {len(at)} times in the header (columns "
                f"{', '.join(map(str, at))}); rename all but one."
            )
        return at[0] - 1

    def require(column: str, option: str) -> int:
        if column not in fields:
            raise ValidationError(
                f"{names[option]} {column!r} is not a column of {str(path)!r}; its columns "
                f"are {fields}."
            )
        return unique(column)

    in_idx = [require(c, "input_columns") for c in inputs]
    resp_idx = require(response_column, "response_column") if response_column else None
    subj_col = subject_column or ("subject" if "subject" in fields else None)
    subj_idx = require(subj_col, "subject_column") if subj_col else None
    time_col = time_column or ("time_step" if "time_step" in fields else None)
    time_idx = require(time_col, "time_column") if time_col else None
    obs_idx = unique(observed_column) if observed_column in fields else None

    def cell(row: list[str], k: int) -> str:
        return row[k].strip() if k < len(row) else ""

    def number(row: list[str], k: int, line: int) -> float:
        raw = cell(row, k)
        if raw.lower() in _MISSING:
            return math.nan
        try:
            return float(raw)
        except ValueError:
            raise ValidationError(
                f"{str(path)!r}, line {line}: column {fields[k]!r} holds {raw!r}, not a number."
            ) from None

    order: dict[str, list[tuple[int, list[str]]]] = {}
    for line, row in rows:
        if len(row) != len(fields):
            raise ValidationError(
                f"{str(path)!r}, line {line}: {len(row)} cell(s) but the header has "
                f"{len(fields)} columns; every row needs a cell per column (an empty cell or "
                "nan for a missing value)."
            )
        key = cell(row, subj_idx) if subj_idx is not None else "s0"
        if key == "":
            raise ValidationError(
                f"{str(path)!r}, line {line}: the {subj_col!r} cell is empty; name the trial's "
                "subject."
            )
        order.setdefault(key, []).append((line, row))
    subjects = list(order)
    length = max(len(v) for v in order.values())
    shape = (len(subjects), length, len(inputs))
    u = np.full(shape, math.nan)
    observed = np.zeros(shape)
    responses = np.full(shape[:2], math.nan)
    dts = np.ones(shape[:2])
    lines = np.zeros(shape[:2], dtype=np.int64)
    for s, key in enumerate(subjects):
        for t, (line, row) in enumerate(order[key]):
            lines[s, t] = line
            values = [number(row, k, line) for k in in_idx]
            seen = 1.0
            if obs_idx is not None:
                seen = number(row, obs_idx, line)
                if seen not in (0.0, 1.0):
                    raise ValidationError(
                        f"{str(path)!r}, line {line}: column {observed_column!r} holds "
                        f"{cell(row, obs_idx)!r}; it takes 1 (observed) or 0 (missing)."
                    )
            for k, v in enumerate(values):
                missing = math.isnan(v)
                if missing and seen == 1.0 and obs_idx is not None:
                    raise ValidationError(
                        f"{str(path)!r}, line {line}: column {inputs[k]!r} is missing (empty or "
                        f"nan) but {observed_column!r} is 1; set it to 0 for a missing input."
                    )
                if math.isinf(v):
                    raise ValidationError(
                        f"{str(path)!r}, line {line}: column {inputs[k]!r} is infinite."
                    )
                u[s, t, k] = v
                observed[s, t, k] = 0.0 if missing else seen
            if resp_idx is not None:
                responses[s, t] = number(row, resp_idx, line)
            if time_idx is not None:
                dt = number(row, time_idx, line)
                if not dt > 0:
                    raise ValidationError(
                        f"{str(path)!r}, line {line}: column {time_col!r} holds "
                        f"{cell(row, time_idx)!r}; time steps must be positive numbers (the "
                        "time since the previous trial)."
                    )
                dts[s, t] = dt
    squeeze = len(inputs) == 1
    return Trials(
        subjects=subjects,
        inputs=u[..., 0] if squeeze else u,
        observed=observed[..., 0] if squeeze else observed,
        responses=responses if resp_idx is not None else None,
        time_steps=dts if time_idx is not None else None,
        lengths=[len(order[k]) for k in subjects],
        lines=lines,
    )
