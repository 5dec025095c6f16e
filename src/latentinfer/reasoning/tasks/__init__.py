"""Reasoning tasks: prompts, gold answers, answer extraction and checking.

=============== ==============================================================
name            what
=============== ==============================================================
``arithmetic``  multistep mod-10 arithmetic or multi-digit addition, scratchpads
``bayesnet``    held-out conditional queries on a random binary Bayes net
``jsonl``       your own question/answer(/rationale) JSONL files
=============== ==============================================================

:func:`get_task` builds one by name; every task is a :class:`Task`.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any

from latentinfer.core.errors import ConfigError, ValidationError
from latentinfer.reasoning.tasks.arithmetic import ArithmeticTask
from latentinfer.reasoning.tasks.base import Example, Task, normalize_answer
from latentinfer.reasoning.tasks.bayesnet import BayesNetTask, Query
from latentinfer.reasoning.tasks.jsonl import JSONLTask, read_jsonl

__all__ = [
    "TASKS",
    "ArithmeticTask",
    "BayesNetTask",
    "Example",
    "JSONLTask",
    "Query",
    "Task",
    "get_task",
    "normalize_answer",
    "read_jsonl",
]

#: Task name → class (add your own with ``TASKS["name"] = MyTask``).
TASKS: dict[str, type[Task]] = {
    "arithmetic": ArithmeticTask,
    "bayesnet": BayesNetTask,
    "jsonl": JSONLTask,
}


def get_task(name: str, **options: Any) -> Task:
    """Build the task ``name`` with its constructor ``options``.

    Example:
        >>> get_task("arithmetic", n_ops=3).n_ops
        3

    Raises:
        ValidationError: ``name`` is unknown (the message lists the names).
        ConfigError: an option is not one the task takes.
    """
    if name not in TASKS:
        close = difflib.get_close_matches(str(name), list(TASKS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValidationError(f"unknown task {name!r}; accepted: {', '.join(TASKS)}.{hint}")
    cls = TASKS[name]
    params = inspect.signature(cls.__init__).parameters
    accepted = [p for p in params if p != "self"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(
            f"task {name!r} has no option(s) {unknown}; accepted: {', '.join(accepted)}."
        )
    required = [
        p.name
        for p in params.values()
        if p.name != "self" and p.default is inspect.Parameter.empty and p.name not in options
    ]
    if required:
        raise ConfigError(
            f"task {name!r} needs the option(s) {required}: pass "
            + " ".join(f"{r}=..." for r in required)
            + f" (on the command line: --task-option {required[0]}=...)."
        )
    return cls(**options)
