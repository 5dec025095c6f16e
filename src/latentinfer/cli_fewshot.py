"""``latentinfer fit niw_meta --data digits``: meta-train a few-shot classifier on episodes
of a labelled data set and report its held-out episode accuracy.

Called by ``latentinfer fit`` for models that learn from episodes (NIW-Meta) rather than
from a data matrix. The episodes' shape comes from ``--data-option n_way=5 k_shot=1
n_query=15 test_fraction=0.25`` (default test_fraction: a quarter of the classes, or
enough for one episode; the rest of the data options go to the data set); the test accuracy
is over ``--test-episodes`` episodes of classes held out from meta-training.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from latentinfer.core.errors import ConfigError

__all__ = ["TASK_OPTIONS", "fit_fewshot"]

#: Data options that shape the episodes rather than the data set.
TASK_OPTIONS = {"n_way": 5, "k_shot": 1, "n_query": 15, "test_fraction": None}


def fit_fewshot(
    model_name: str,
    model_cls: Any,
    data_name: str,
    *,
    data_options: dict[str, Any],
    model_options: dict[str, Any],
    train_options: dict[str, Any],
    seed: int,
    run_dir: Path,
    resume: bool,
    test_episodes: int,
) -> dict[str, Any]:
    """Meta-train ``model_cls`` on ``data_name``'s episodes; write config and summary."""
    from latentinfer import data as data_mod
    from latentinfer.cli import _make_model, start_run
    from latentinfer.core.validation import check_number
    from latentinfer.data import FewShotTask

    check_number(test_episodes, name="--test-episodes", low=2, integer=True)
    data_options = dict(data_options)  # the episode options are taken out of a copy
    task_options = {k: data_options.pop(k, v) for k, v in TASK_OPTIONS.items()}
    if "max_epochs" in train_options:
        raise ConfigError(
            f"--epochs does not apply to {model_cls.__name__}, which trains on episodes; pass "
            "--model-option n_episodes=N."
        )
    try:
        ds = data_mod.load(data_name, **data_options)
    except ConfigError as exc:
        raise ConfigError(f"--data-option: {exc}") from None
    if ds.y is None:
        raise ConfigError(
            f"--data {data_name} has no class labels, and few-shot episodes need them; use "
            "digits or glyphs."
        )
    n_classes = int(ds.y.unique().numel())
    n_way = task_options["n_way"]
    if isinstance(n_way, int) and 2 * n_way > n_classes:
        raise ConfigError(
            f"--data-option n_way={n_way}: {data_name} has {n_classes} classes, and meta-training "
            f"and meta-test classes must each hold n_way of them; use n_way ≤ {n_classes // 2}."
        )
    if task_options["test_fraction"] is None:
        # a quarter of the classes, or enough for one episode (digits: 5 of 10 classes)
        task_options["test_fraction"] = max(0.25, int(n_way) / n_classes)
    try:
        task = FewShotTask(ds, seed=seed, **task_options)
    except ConfigError as exc:
        raise ConfigError(f"--data-option (episodes): {exc}") from None
    model = _make_model(model_cls, seed, {**model_options, "train_config": train_options})
    config = {
        "model": model_name,
        "data": data_name,
        "data_options": data_options,
        "task_options": task_options,
        "model_options": model_options,
        "train_options": train_options,
        "seed": seed,
    }
    main = start_run(run_dir, config, resume=resume, model_cls=model_cls)
    start = time.perf_counter()
    model.fit(task, run_dir=run_dir, resume=resume)
    seconds = time.perf_counter() - start
    ev = model.evaluate(task, test_episodes, seed=10_000 + seed)
    summary = {
        "model": model_name,
        "data": data_name,
        "episodes": f"{task.n_way}-way {task.k_shot}-shot, {task.n_query} queries per class",
        "test_accuracy": ev.accuracy,
        "test_accuracy_ci95": ev.ci95,
        "test_nll": ev.nll,
        "test_ece": ev.ece,
        "test_episodes": ev.n_episodes,
        "seconds": seconds,
    }
    if main:
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary
