"""``latentinfer reason``: train and evaluate reasoning models (SFT, and the trainers that
register in :data:`TRAINERS`).

``latentinfer reason train sft --task arithmetic --steps 1000`` builds a tiny Llama model
with a character tokenizer (or starts from ``--init PATH``, a run folder or a
``save_pretrained`` folder), trains it, evaluates greedy accuracy on held-out questions and
writes a run folder: ``config.json``, ``metrics.jsonl``, ``checkpoints/``, ``model/``
(model and tokenizer, ``save_pretrained``) and ``summary.json``.
``latentinfer reason eval RUN_DIR`` prints a run's held-out accuracy.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from latentinfer.core.errors import ConfigError, ValidationError
from latentinfer.core.validation import did_you_mean

app = typer.Typer(
    name="reason",
    help="Latent reasoning: fine-tune language models on rationales, evaluate them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)

RUN_CONFIG = "config.json"


@dataclass(frozen=True)
class TrainerEntry:
    """A trainer ``latentinfer reason train NAME`` can run.

    Attributes:
        config: its config dataclass (``--option KEY=VALUE`` sets a field; ``--steps``,
            ``--batch-size``, ``--lr`` and ``--seed`` set the field of that name if it has one).
        build: ``config → trainer``; the trainer has
            ``fit(model, tokenizer, task, examples, *, run_dir=None, resume=False)``.
        help: one line for ``--help``.
    """

    config: Callable[[], Any]
    build: Callable[[Any], Any]
    help: str


def _sft_entry() -> TrainerEntry:
    from latentinfer.reasoning.sft import SFT, SFTConfig

    return TrainerEntry(SFTConfig, SFT, "supervised fine-tuning on gold rationales or answers")


#: Trainer name → a function returning its :class:`TrainerEntry` (called on use, so this
#: module imports nothing heavy). Other trainers register here, e.g.
#: ``TRAINERS["star"] = _star_entry``.
TRAINERS: dict[str, Callable[[], TrainerEntry]] = {"sft": _sft_entry}


def _star_entry() -> TrainerEntry:
    from latentinfer.reasoning.star import STaR, STaRConfig

    return TrainerEntry(
        STaRConfig, STaR, "STaR: rejection sampling of correct rationales, rationalization"
    )


def _trice_entry() -> TrainerEntry:
    from latentinfer.reasoning.trice import TRICE, TRICEConfig

    return TrainerEntry(
        TRICEConfig, TRICE, "TRICE: MCMC-EM over rationales with the control-variate gradient"
    )


def _grpo_entry() -> TrainerEntry:
    from latentinfer.reasoning.grpo import GRPO, GRPOConfig

    return TrainerEntry(
        GRPOConfig, GRPO, "GRPO: group-relative policy gradient with the task's checker"
    )


TRAINERS["star"] = _star_entry
TRAINERS["trice"] = _trice_entry
TRAINERS["grpo"] = _grpo_entry


# ----------------------------------------------------------------------------- helpers
def _parse_options(pairs: list[str] | None, *, flag: str) -> dict[str, Any]:
    from latentinfer.cli import _parse_options as parse

    return parse(pairs, flag=flag)


def _trainer_entry(name: str) -> TrainerEntry:
    if name not in TRAINERS:
        close = difflib.get_close_matches(name, list(TRAINERS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValidationError(f"unknown trainer {name!r}; accepted: {', '.join(TRAINERS)}.{hint}")
    return TRAINERS[name]()


def _make_config(entry: TrainerEntry, options: dict[str, Any]) -> Any:
    cls = entry.config
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(options) - fields)
    if unknown:
        raise ConfigError(
            f"--option: {getattr(cls, '__name__', cls)} has no option(s) {unknown}; accepted: "
            f"{', '.join(sorted(fields))}."
        )
    return cls(**options)


def _table(title: str, rows: list[tuple[str, str]]) -> None:
    from latentinfer.cli import _print_table

    _print_table(title, list(rows), ("quantity", "value"))


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _load_model(where: Path, *, flag: str = "--init") -> tuple[Any, Any]:
    from latentinfer.reasoning.lm import load_lm

    if not where.exists():
        raise ValidationError(
            f"{flag} {str(where)!r} does not exist; pass a run folder of `latentinfer reason "
            "train` (or a folder written by save_pretrained)."
        )
    folder = where / "model" if (where / "model" / "config.json").is_file() else where
    from latentinfer.reasoning._deps import require

    hf_logging = require("transformers").utils.logging
    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a local tiny model: its "Loading weights" bar is noise
    try:
        return load_lm(folder)
    finally:
        if shown:
            hf_logging.enable_progress_bar()


# ---------------------------------------------------------------------------- commands
@app.command("train")
def train_cmd(
    trainer: Annotated[str, typer.Argument(help=f"Trainer: {', '.join(TRAINERS)}.")],
    task: Annotated[str, typer.Option(help="Task: arithmetic, bayesnet or jsonl.")] = "arithmetic",
    task_option: Annotated[
        list[str] | None,
        typer.Option("--task-option", help="Task option KEY=VALUE (repeatable)."),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option("--option", help="Trainer config option KEY=VALUE (repeatable)."),
    ] = None,
    steps: Annotated[int | None, typer.Option(help="Optimiser steps.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Examples per step.")] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate.")] = None,
    n_train: Annotated[int, typer.Option(help="Training examples.")] = 2000,
    n_test: Annotated[int, typer.Option(help="Held-out examples for the accuracy.")] = 200,
    init: Annotated[
        Path | None,
        typer.Option(help="Start from this run folder or save_pretrained folder."),
    ] = None,
    arch: Annotated[str, typer.Option(help="Tiny model: llama or gpt2.")] = "llama",
    d_model: Annotated[int, typer.Option(help="Tiny model: hidden size.")] = 128,
    n_layers: Annotated[int, typer.Option(help="Tiny model: layers.")] = 2,
    n_heads: Annotated[int, typer.Option(help="Tiny model: attention heads.")] = 4,
    max_len: Annotated[int, typer.Option(help="Tiny model: positions.")] = 256,
    max_new_tokens: Annotated[int, typer.Option(help="Longest completion at evaluation.")] = 64,
    seed: Annotated[int, typer.Option(help="Seed of the data, model and training.")] = 0,
    run_dir: Annotated[
        Path | None, typer.Option(help="Run folder (default: runs/reason-TRAINER-TASK-SEED).")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue from the run folder's last checkpoint.")
    ] = False,
) -> None:
    """Train a reasoning model on a task; write a run folder and print held-out accuracy."""
    from latentinfer.core.checkpoint import latest_checkpoint
    from latentinfer.core.trainer import is_main_process
    from latentinfer.reasoning.evaluate import accuracy
    from latentinfer.reasoning.lm import tiny_lm
    from latentinfer.reasoning.sft import save_model
    from latentinfer.reasoning.tasks import get_task
    from latentinfer.reasoning.tokenizer import char_tokenizer

    # everything is checked before the run folder is touched
    entry = _trainer_entry(trainer)
    trainer_options = _parse_options(option, flag="--option")
    shortcuts = {"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed}
    fields = {f.name for f in dataclasses.fields(entry.config)}  # type: ignore[arg-type]
    for key, value in shortcuts.items():
        if value is not None and key in fields:
            trainer_options.setdefault(key, value)
    config = _make_config(entry, trainer_options)
    task_options = _parse_options(task_option, flag="--task-option")
    task_obj = get_task(task, **task_options)
    train_examples = task_obj.examples("train", n_train, seed=seed)
    test_examples = task_obj.examples("test", n_test, seed=seed)
    model_options = {
        "arch": arch,
        "d_model": d_model,
        "n_layers": n_layers,
        "n_heads": n_heads,
        "max_len": max_len,
    }
    folder = run_dir or Path("runs") / f"reason-{trainer}-{task}-{seed}"
    run_config = {
        "trainer": trainer,
        "trainer_options": json.loads(json.dumps(dataclasses.asdict(config), default=str)),
        "task": task,
        "task_options": task_options,
        "model": str(init) if init is not None else model_options,
        "n_train": n_train,
        "n_test": n_test,
        "max_new_tokens": max_new_tokens,
        "seed": seed,
    }
    saved = folder / RUN_CONFIG
    if resume and saved.is_file():
        old = json.loads(saved.read_text())
        keys = ("trainer", "task", "task_options", "model", "n_train", "seed")
        diff = [
            f"{k}={old.get(k)!r} (now {run_config[k]!r})"
            for k in keys
            if old.get(k) != run_config[k]
        ]
        if diff:
            raise ConfigError(
                f"cannot resume {str(folder)!r}: it was created with "
                + ", ".join(diff)
                + "; resume with the same options or choose a new --run-dir."
            )
    elif not resume and latest_checkpoint(folder / "checkpoints") is not None:
        raise ConfigError(
            f"run folder {str(folder)!r} already holds a run; pass --resume to continue it, "
            "or choose a new --run-dir."
        )
    if init is not None:
        model, tokenizer = _load_model(init)
    else:
        tokenizer = char_tokenizer()
        model = tiny_lm(tokenizer, seed=seed, **model_options)  # type: ignore[arg-type]
    main = is_main_process()
    if main:
        folder.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps(run_config, indent=1))
    start = time.perf_counter()
    result = entry.build(config).fit(
        model, tokenizer, task_obj, train_examples, run_dir=folder, resume=resume
    )
    seconds = time.perf_counter() - start
    if not main:
        return
    save_model(model, tokenizer, folder / "model")
    acc = accuracy(model, tokenizer, task_obj, test_examples, max_new_tokens=max_new_tokens)
    summary = {
        "trainer": trainer,
        "task": task,
        "steps": getattr(result, "steps", None),
        "train_seconds": seconds,
        "test_accuracy_greedy": acc,
        "n_test": n_test,
    }
    (folder / "summary.json").write_text(json.dumps(summary, indent=1))
    _table(f"{trainer} on {task}", [(k, _fmt(v)) for k, v in summary.items()])
    console.print(f"run folder: {folder}")


@app.command("eval")
def eval_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by `reason train`.")],
    mode: Annotated[str, typer.Option(help="greedy or self_consistency.")] = "greedy",
    num_samples: Annotated[int, typer.Option(help="Samples per question (self-consistency).")] = 8,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 1.0,
    n_test: Annotated[
        int | None, typer.Option(help="Held-out examples (default: the run's).")
    ] = None,
    max_new_tokens: Annotated[
        int | None, typer.Option(help="Longest completion (default: the run's).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the samples.")] = 0,
) -> None:
    """Print the held-out accuracy of a trained run (greedy or self-consistency)."""
    from latentinfer.reasoning.evaluate import MODES, accuracy
    from latentinfer.reasoning.tasks import get_task

    if mode not in MODES:
        raise ConfigError(
            f"--mode must be one of {', '.join(MODES)}; got {mode!r}.{did_you_mean(mode, MODES)}"
        )
    cfg_path = run_dir / RUN_CONFIG
    if not run_dir.exists():
        raise ValidationError(f"RUN_DIR {str(run_dir)!r} does not exist.")
    if not cfg_path.is_file():
        raise ValidationError(
            f"RUN_DIR {str(run_dir)!r} has no {RUN_CONFIG}; pass a folder written by "
            "`latentinfer reason train`."
        )
    cfg = json.loads(cfg_path.read_text())
    if "task" not in cfg or "trainer" not in cfg:
        made_by = cfg.get("command") or (f"fit {cfg['model']}" if "model" in cfg else "?")
        raise ValidationError(
            f"RUN_DIR {str(run_dir)!r} holds a `latentinfer {made_by}` run, not one of "
            "`latentinfer reason train`; `reason eval` scores reasoning models on their task."
        )
    if not (run_dir / "model" / "config.json").is_file():
        raise ValidationError(
            f"RUN_DIR {str(run_dir)!r} has no trained model in model/ (the run did not "
            "finish?); resume it with `latentinfer reason train ... --resume`."
        )
    task = get_task(cfg["task"], **cfg.get("task_options", {}))
    n = n_test or cfg.get("n_test", 200)
    examples = task.examples("test", n, seed=cfg.get("seed", 0))
    model, tokenizer = _load_model(run_dir)
    acc = accuracy(
        model,
        tokenizer,
        task,
        examples,
        mode=mode,
        num_samples=num_samples,
        temperature=temperature,
        max_new_tokens=max_new_tokens or cfg.get("max_new_tokens", 64),
        seed=seed,
    )
    _table(
        f"{cfg['trainer']} on {cfg['task']}",
        [("mode", mode), ("n_test", str(n)), ("accuracy", f"{acc:.4g}")],
    )
