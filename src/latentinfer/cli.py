"""The ``latentinfer`` command: list, fit, diagnose, bench, demo, data.

Every command has ``--help``. A bad argument ends with a one-line ``error: ...`` and exit
status 2, never a traceback (set ``LATENTINFER_DEBUG=1`` to see one).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core
from rich.console import Console
from rich.markup import escape  # messages and tables may hold brackets: E[z|x]
from rich.table import Table

from latentinfer.core.errors import ConfigError, LatentInferError, ValidationError
from latentinfer.core.processes import finish_processes
from latentinfer.core.trainer import check_trackers, is_main_process
from latentinfer.core.validation import did_you_mean

app = typer.Typer(
    name="latentinfer",
    help="Fit models with hidden variables, infer the hidden variables, diagnose them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)
err_console = Console(stderr=True)


def _add_family_apps() -> None:
    from latentinfer import cli_causal, cli_hgf, cli_reasoning

    app.add_typer(cli_hgf.app, name="hgf")
    app.add_typer(cli_causal.app, name="causal")
    app.add_typer(cli_reasoning.app, name="reason")


_add_family_apps()
#: Methods fitted by a family's own command: ``latentinfer fit NAME --data D ...`` runs
#: ``latentinfer PREFIX... FLAG D ...`` (the reasoning trainers take the data as a task).
FAMILY_FIT: dict[str, tuple[tuple[str, ...], str]] = {
    "hgf": (("hgf", "fit"), "--data"),
    "vluci": (("causal", "fit", "vluci"), "--data"),
    "cevae": (("causal", "fit", "cevae"), "--data"),
    "sft": (("reason", "train", "sft"), "--task"),
    "star": (("reason", "train", "star"), "--task"),
    "trice": (("reason", "train", "trice"), "--task"),
    "grpo": (("reason", "train", "grpo"), "--task"),
}

RUN_CONFIG = "config.json"


# ----------------------------------------------------------------------------- helpers
def _number_list(raw: str) -> list[Any] | None:
    """``"32,32"``, ``"(32, 32)"`` or ``"32,"`` → ``[32, 32]`` / ``[32]``; ``None`` unless
    every comma-separated part is a number."""
    body = raw.strip()
    if body[:1] == "(" and body[-1:] == ")":
        body = body[1:-1]
    if "," not in body:
        return None
    parts = [p.strip() for p in body.split(",")]
    if parts[-1] == "":
        parts.pop()
    try:
        values = [json.loads(p) for p in parts]
    except json.JSONDecodeError:
        return None
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if not values or not numbers:
        return None
    return values


def _parse_options(pairs: list[str] | None, *, flag: str) -> dict[str, Any]:
    """``["n=500", "flatten=false", "hidden=32,32"]`` → ``{"n": 500, "flatten": False,
    "hidden": [32, 32]}``: JSON values, with comma-separated numbers (``32,32``,
    ``(32,32)``) read as a list; anything else is kept as a string."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} takes KEY=VALUE; got {pair!r}.")
        low = raw.lower()
        if low in ("true", "false"):
            out[key] = low == "true"
        else:
            try:
                out[key] = json.loads(raw)
            except json.JSONDecodeError:
                numbers = _number_list(raw)
                out[key] = raw if numbers is None else numbers
    return out


def _parse_ints(text: str, *, flag: str) -> tuple[int, ...]:
    if text.strip() in ("", "none"):
        return ()
    try:
        return tuple(int(t) for t in text.split(","))
    except ValueError:
        raise ConfigError(
            f"{flag} takes comma-separated integers like 256,256; got {text!r}."
        ) from None


def _model_class(name: str) -> Any:
    import difflib

    from latentinfer import methods

    models = [m.name for m in methods.METHODS if m.kind == "model"]
    listing = models + [k for k in FAMILY_FIT if k not in models]  # what `fit` takes
    if name not in models:
        rows = {m.name: m for m in methods.METHODS}
        if name in rows:
            kind = rows[name].kind
            article = "an" if kind[0] in "aeiou" else "a"
            raise ValidationError(
                f"{name!r} is {article} {kind}, not a model to fit; fit takes: "
                f"{', '.join(listing)}."
            )
        close = difflib.get_close_matches(name, listing, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        if name.lower().replace("-", "").replace("_", "") in ("betavae", "βvae"):
            hint = " The β-VAE is `vae` with --beta B (e.g. --beta 4)."
        raise ValidationError(f"unknown model {name!r}; accepted: {', '.join(listing)}.{hint}")
    return methods.load_object(methods.get(name))


def _make_model(
    model_cls: Any, seed: int, options: dict[str, Any], *, flagged: Sequence[str] = ()
) -> Any:
    """Build a model from command-line options, naming unknown ones. ``flagged``: the
    options set by a flag of their own (``--latent-dim``); errors name that flag, and
    ``--model-option`` for the others."""
    check_model_options(model_cls, options, label=model_cls.__name__)
    try:
        return model_cls(seed=seed, **options)
    except ConfigError as exc:
        given = {k: _MODEL_FLAGS[k] for k in flagged}
        given |= {k: f"--model-option {k}" for k in options if k not in given}
        raise ConfigError(flag_terms(str(exc), given)) from None


def check_model_options(
    cls: Any,
    options: dict[str, Any],
    *,
    label: str,
    internal: tuple[str, ...] = ("seed", "train_config"),
) -> None:
    """Refuse options that ``cls``'s constructor does not take, naming the flag that set one
    (``--latent-dim``) or listing the accepted ``--model-option`` names. ``internal``: the
    constructor's arguments that the command sets itself (``train_config``: the training
    flags)."""
    import inspect

    accepted = [
        n for n, p in inspect.signature(cls).parameters.items()
        if n not in internal and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]  # fmt: skip
    unknown = sorted(set(options) - set(accepted) - set(internal))
    flags = [_MODEL_FLAGS[k] for k in unknown if k in _MODEL_FLAGS]
    if flags:
        raise ConfigError(f"{', '.join(flags)} does not apply to {label}.")
    if unknown:
        raise ConfigError(
            f"--model-option: {label} has no option(s) {unknown}; accepted: "
            f"{', '.join(accepted) or 'none'}."
        )


#: Model options that `fit` sets from a flag of their own.
_MODEL_FLAGS = {
    "latent_dim": "--latent-dim",
    "likelihood": "--likelihood",
    "hidden": "--hidden",
    "beta": "--beta",
}


#: What a resumed `fit` run must share with the run it continues (those in its config).
_FIT_RUN_KEYS = ("model", "data", "data_options", "task_options", "model_options", "seed")


def _check_run_folder(
    run_dir: Path,
    config: dict[str, Any],
    *,
    resume: bool,
    model_cls: Any = None,
    keys: tuple[str, ...] = _FIT_RUN_KEYS,
    model_key: str = "model",
) -> None:
    """A resumed run must use the options it was created with: every one of ``keys`` in
    ``config``, and ``model_options`` compared option by option against ``model_cls``'s
    defaults (an option typed at its default value is the same run as one left out) when
    ``config[model_key]`` names the same model."""
    saved_path = run_dir / RUN_CONFIG
    if not resume or not saved_path.is_file():
        return
    saved = json.loads(saved_path.read_text())
    config = json.loads(json.dumps(config, default=str))  # tuples → lists, as saved
    compared = [k for k in keys if k in config]
    options = []
    if model_cls is not None and saved.get(model_key) == config[model_key]:
        options = option_differences(model_cls, saved.get("model_options") or {},
                                     config["model_options"])  # fmt: skip
        compared.remove("model_options")
    diff = [
        f"{k}={saved.get(k)!r} (now {config[k]!r})" for k in compared if saved.get(k) != config[k]
    ]
    diff += options
    if diff:
        raise ConfigError(
            f"cannot resume {str(run_dir)!r}: it was created with "
            + ", ".join(diff)
            + "; resume with the same options or choose a new --run-dir."
        )


def start_run(run_dir: Path, config: dict[str, Any], *, resume: bool, model_cls: Any) -> bool:
    """Open ``run_dir`` for a `fit` run: refuse a folder holding a run unless resuming it
    with the same options, then create it and write ``config.json`` on the main process.

    Returns:
        Whether this is the main process (the one that writes the run's files).
    """
    from latentinfer.core.checkpoint import latest_checkpoint

    _check_run_folder(run_dir, config, resume=resume, model_cls=model_cls)
    if not resume and latest_checkpoint(run_dir / "checkpoints") is not None:
        raise ConfigError(
            f"run folder {str(run_dir)!r} already holds a run; pass --resume to continue it, "
            "or choose a new --run-dir."
        )
    main = is_main_process()
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / RUN_CONFIG).write_text(json.dumps(config, indent=1))
    return main


def option_differences(model_cls: Any, was: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """The model options that differ between two runs, each as the flag that sets it
    (``--latent-dim 20 (now 3)``); an option typed at its default value is no difference."""

    def shown(v: Any) -> str:  # as typed after its flag: --hidden 256,256
        return ",".join(map(str, v)) if isinstance(v, list) else str(v)

    a, b = _with_defaults(model_cls, was), _with_defaults(model_cls, now)
    out = []
    for key, value in b.items():
        if a.get(key) != value:
            flag = _MODEL_FLAGS.get(key)
            old = f"{flag} {shown(a.get(key))}" if flag else f"--model-option {key}={a.get(key)!r}"
            out.append(f"{old} (now {shown(value) if flag else repr(value)})")
    return out


def _with_defaults(model_cls: Any, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` completed with ``model_cls``'s constructor defaults, JSON-normalised."""
    import inspect

    defaults = {
        n: p.default
        for n, p in inspect.signature(model_cls.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    return dict(json.loads(json.dumps({**defaults, **options}, default=repr)))


def _dataset_arrays(ds: Any, model_cls: Any) -> tuple[Any, ...]:
    """The data arguments a model's ``fit`` takes: ``(X,)`` or ``(X, one-hot labels)``."""
    if getattr(model_cls, "n_cond", 0) == 0:
        return (ds.X,)
    if ds.y is None:
        raise ValidationError(
            f"{model_cls.__name__} conditions on labels, and data set {ds.name!r} has none; "
            "use a labelled set such as digits."
        )
    import torch

    n_classes = int(ds.y.max()) + 1
    return (ds.X, torch.nn.functional.one_hot(ds.y, n_classes).float())


def _print_table(
    title: str,
    rows: Sequence[tuple[str, ...]],
    headers: tuple[str, ...],
    *,
    one_line: bool = False,
) -> None:
    """A Rich table; ``one_line`` keeps each row on one line, cutting the last column. Text
    is shown as it is (``Var_x E[z|x]`` is not Rich markup)."""
    table = Table(title=escape(title), show_lines=False)
    if one_line:  # every column whole but the last, which takes what is left
        widths = [max([len(h), *(len(str(r[j])) for r in rows)]) for j, h in enumerate(headers)]
        left = console.width - sum(widths[:-1]) - 3 * len(headers) - 1
        for h, width in zip(headers[:-1], widths):
            table.add_column(escape(h), no_wrap=True, width=width)
        table.add_column(
            escape(headers[-1]), no_wrap=True, overflow="ellipsis", max_width=max(left, 12)
        )
    else:
        for h in headers:
            table.add_column(escape(h))
    for r in rows:
        table.add_row(*(escape(str(c)) for c in r))
    console.print(table)


# ---------------------------------------------------------------------------- commands
@app.command("list")
def list_methods(
    family: Annotated[
        str | None, typer.Option(help="Only this family: vae, causal, reasoning, bayes.")
    ] = None,
    full: Annotated[bool, typer.Option(help="Show code, test and benchmark paths.")] = False,
) -> None:
    """Print the method index: every method, its family, paper and maturity."""
    from latentinfer import methods

    rows = methods.by_family(family) if family else methods.METHODS
    if full:  # whole paths, one block per method: a table would cut them
        for m in rows:
            console.print(f"[bold]{m.name}[/bold] ({m.family}, {m.kind}, {m.maturity})")
            console.print(f"  paper:     {m.paper} ({m.year}), arXiv {m.arxiv}", highlight=False)
            for label, value in (("code", m.object_path), ("test", m.test),
                                 ("benchmark", m.benchmark)):  # fmt: skip
                console.print(f"  {label + ':':<10} {value}", highlight=False)
        return
    _print_table(
        "latentinfer methods (--full: papers, arXiv ids, code, tests, benchmarks)",
        [(m.name, m.family, m.kind, m.maturity, f"{m.paper} ({m.year})") for m in rows],
        ("name", "family", "kind", "maturity", "paper"),
        one_line=True,
    )


@app.command("data")
def list_data() -> None:
    """Print the bundled and synthetic data sets and their options."""
    from latentinfer import data

    _print_table(
        "latentinfer data sets (set options with --data-option KEY=VALUE)",
        [(name, data.describe(name), ", ".join(data.options(name))) for name in data.available()],
        ("name", "description", "options"),
    )


def flag_terms(text: str, flags: dict[str, str] | None = None) -> str:
    """A library message with the `fit` flags for the options they set (``flags``: option
    → flag; default: the TrainConfig fields, :data:`_TRAIN_FLAGS`)."""
    for option, flag in (_TRAIN_FLAGS if flags is None else flags).items():
        text = re.sub(rf"\b{option}\b", flag, text)
    return text


#: TrainConfig fields → the `fit` flags that set them.
_TRAIN_FLAGS = {
    "max_epochs": "--epochs",
    "batch_size": "--batch-size",
    "lr": "--lr",
    "mixed_precision": "--mixed-precision",
    "checkpoint_every": "--checkpoint-every",
    "trackers": "--tracker",
}


def _fit_run(
    model_name: str,
    data_name: str,
    *,
    data_options: dict[str, Any],
    model_options: dict[str, Any],
    train_options: dict[str, Any],
    seed: int,
    run_dir: Path,
    resume: bool,
    iwae_k: int | None = None,
    test_episodes: int | None = None,
    flagged_options: tuple[str, ...] = (),
) -> dict[str, Any]:
    from latentinfer import data as data_mod
    from latentinfer.core.validation import check_number

    # Everything is checked before the run folder is touched.
    model_cls = _model_class(model_name)
    from latentinfer.bayes.episodic import FewShotClassifier

    few_shot = issubclass(model_cls, FewShotClassifier)
    if few_shot and iwae_k is not None:
        raise ConfigError(
            f"--iwae-k applies to the latent-variable models (vae, ardvae, ...), not {model_name}."
        )
    if not few_shot and test_episodes is not None:
        raise ConfigError(
            f"--test-episodes applies to the few-shot models (niw_meta), not {model_name}."
        )
    if few_shot:  # learns from episodes, not a data matrix
        from latentinfer.cli_fewshot import fit_fewshot

        return fit_fewshot(
            model_name,
            model_cls,
            data_name,
            data_options=data_options,
            model_options=model_options,
            train_options=train_options,
            seed=seed,
            run_dir=run_dir,
            resume=resume,
            test_episodes=1000 if test_episodes is None else test_episodes,
        )
    iwae_k = 100 if iwae_k is None else iwae_k
    check_number(iwae_k, name="--iwae-k", low=1, integer=True)
    try:
        ds = data_mod.load(data_name, **data_options)
    except ConfigError as exc:
        raise ConfigError(f"--data-option: {exc}") from None
    train_ds, test_ds = ds.split(0.2, seed=seed)
    model = _make_model(model_cls, seed, model_options, flagged=flagged_options)
    try:
        check_trackers(model._train_config(train_options).trackers)
    except ConfigError as exc:
        raise ConfigError(flag_terms(str(exc))) from None
    train_arrays = _dataset_arrays(train_ds, model_cls)
    # the data's own errors (values outside the likelihood's support) before the run folder
    model._as_data(train_arrays[0], list(train_arrays[1:]), fitting=True)
    config = {
        "model": model_name,
        "data": data_name,
        "data_options": data_options,
        "model_options": model_options,
        "train_options": train_options,
        "seed": seed,
        "test_fraction": 0.2,
    }
    main = start_run(run_dir, config, resume=resume, model_cls=model_cls)
    start = time.perf_counter()
    try:
        model.fit(*train_arrays, run_dir=run_dir, resume=resume, **train_options)
    except ConfigError as exc:  # e.g. a resumed checkpoint past --epochs
        raise ConfigError(flag_terms(str(exc))) from None
    seconds = time.perf_counter() - start
    nll = -model.score(*_dataset_arrays(test_ds, model_cls), k=iwae_k)
    summary = {
        "model": model_name,
        "data": data_name,
        "epochs": model.train_result_.epochs,
        "steps": model.train_result_.steps,
        "stopped_early": model.train_result_.stopped_early,
        "best_val_loss": model.train_result_.best_val_loss,
        "test_nll": nll,
        "iwae_k": iwae_k,
        # training time over the run and the calls it resumed; this call's fit beside it
        "seconds": model.train_result_.total_seconds,
        "seconds_this_call": seconds,
        # processes of this call (`accelerate launch --num_processes N` sets WORLD_SIZE)
        "processes": int(os.environ.get("WORLD_SIZE", "1")),
    }
    if hasattr(model, "n_relevant_"):
        summary["n_relevant_dims"] = int(model.n_relevant_)
    if main:
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


class _FitCommand(typer.core.TyperCommand):
    """``fit``, whose ``--help`` after a method fitted by a family's own command (``fit hgf
    --help``) shows that command's help rather than the VAE options of ``fit`` itself."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # click.Context
        if args and args[0] in FAMILY_FIT and "--help" in args[1:]:
            _run_command([*FAMILY_FIT[args[0]][0], "--help"])
        return super().parse_args(ctx, args)


@app.command(
    "fit",
    cls=_FitCommand,
    short_help="Fit a model on a data set into a run folder (fit hgf|vluci|cevae|trice... too).",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def fit(
    ctx: typer.Context,
    model: Annotated[
        str, typer.Argument(help="Method name from `latentinfer list` (e.g. ardvae).")
    ],
    data: Annotated[str, typer.Option("--data", help="Data set name from `latentinfer data`.")],
    latent_dim: Annotated[int | None, typer.Option(help="Latent dimensions.")] = None,
    likelihood: Annotated[
        str | None, typer.Option(help="auto, gaussian, bernoulli or categorical.")
    ] = None,
    hidden: Annotated[str | None, typer.Option(help="Hidden widths, e.g. 256,256.")] = None,
    beta: Annotated[float | None, typer.Option(help="KL weight β.")] = None,
    epochs: Annotated[
        int | None, typer.Option(help="Most epochs (early stopping may end sooner).")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Rows per optimiser step.")] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate.")] = None,
    mixed_precision: Annotated[str | None, typer.Option(help="no or bf16.")] = None,
    checkpoint_every: Annotated[
        int | None,
        typer.Option(
            help="Steps between checkpoints (default: at an epoch's end once 60 s have "
            "passed; Ctrl-C also checkpoints the step it ends)."
        ),
    ] = None,
    tracker: Annotated[
        list[str] | None, typer.Option(help="Also log to tensorboard or mlflow (repeatable).")
    ] = None,
    data_option: Annotated[
        list[str] | None,
        typer.Option("--data-option", help="Data set option KEY=VALUE (repeatable)."),
    ] = None,
    model_option: Annotated[
        list[str] | None,
        typer.Option("--model-option", help="Model option KEY=VALUE (repeatable)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split, initialisation and training.")] = 0,
    run_dir: Annotated[
        Path | None, typer.Option(help="Run folder (default: runs/MODEL-DATA-SEED).")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue from the run folder's last checkpoint.")
    ] = False,
    iwae_k: Annotated[
        int | None,
        typer.Option(help="Importance samples for the held-out NLL.  [default: 100]"),
    ] = None,
    test_episodes: Annotated[
        int | None,
        typer.Option(help="Held-out episodes of a few-shot model (niw_meta).  [default: 1000]"),
    ] = None,
) -> None:
    """Fit a model on a data set; write config, metrics, checkpoints and model to a run folder.
    `fit hgf --data FILE.csv --model binary3 ...` runs `latentinfer hgf fit` (see its
    --help); `fit vluci|cevae` runs `latentinfer causal fit`; `fit sft|star|trice|grpo --data
    TASK` runs `latentinfer reason train ... --task TASK`."""
    if model in FAMILY_FIT:
        prefix, data_flag = FAMILY_FIT[model]
        forwarded = [*prefix, data_flag, data, *ctx.args, *_given_options(ctx)]
        _run_command(forwarded)
        return
    if ctx.args:
        raise ConfigError(
            f"unknown option(s) {ctx.args} for `latentinfer fit {model}`; see --help."
        )
    model_options = _parse_options(model_option, flag="--model-option")
    flagged: list[str] = []  # options set by a flag of their own, not by --model-option
    for key, value in (
        ("latent_dim", latent_dim),
        ("likelihood", likelihood),
        ("beta", beta),
        ("hidden", None if hidden is None else _parse_ints(hidden, flag="--hidden")),
    ):
        if value is None:
            continue
        if key in model_options:
            raise ConfigError(
                f"{_MODEL_FLAGS[key]} and --model-option {key}=... both set {key}; pass one."
            )
        model_options[key] = value
        flagged.append(key)
    train_options: dict[str, Any] = {}
    for key, value in (
        ("max_epochs", epochs),
        ("batch_size", batch_size),
        ("lr", lr),
        ("mixed_precision", mixed_precision),
        ("checkpoint_every", checkpoint_every),
    ):
        if value is not None:
            train_options[key] = value
    if tracker:
        train_options["trackers"] = list(tracker)
    folder = run_dir or Path("runs") / f"{model}-{data}-{seed}"
    summary = _fit_run(
        model,
        data,
        data_options=_parse_options(data_option, flag="--data-option"),
        model_options=model_options,
        flagged_options=tuple(flagged),
        train_options=train_options,
        seed=seed,
        run_dir=folder,
        resume=resume,
        iwae_k=iwae_k,
        test_episodes=test_episodes,
    )
    if not is_main_process():
        return
    _print_table(
        f"fitted {model} on {data}",
        [(k, f"{v:.4g}" if isinstance(v, float) else str(v)) for k, v in summary.items()],
        ("quantity", "value"),
    )
    console.print(f"run folder: {folder}")


def _given_options(ctx: typer.Context) -> list[str]:
    """The `fit` options the user typed, as flags for the family command they go to.

    Repeatable options repeat their flag; booleans become ``--name``/``--no-name``. A
    family command that does not take one of them rejects it with its own message.
    """
    out: list[str] = []
    for name, value in ctx.params.items():
        source = ctx.get_parameter_source(name)
        if name in ("model", "data") or source is None or source.name != "COMMANDLINE":
            continue
        flag = f"--{name.replace('_', '-')}"
        if isinstance(value, bool):
            out.append(flag if value else f"--no-{name.replace('_', '-')}")
        elif isinstance(value, (list, tuple)):
            for v in value:
                out += [flag, str(v)]
        else:
            out += [flag, str(value)]
    return out


def _diagnose_run(run_dir: Path, *, max_rows: int, with_dci: bool = True) -> Any:
    from latentinfer import data as data_mod
    from latentinfer.diagnostics import diagnose
    from latentinfer.vae.base import LatentVariableModel

    cfg_path = run_dir / RUN_CONFIG
    if not run_dir.exists():
        raise ValidationError(f"RUN_DIR {str(run_dir)!r} does not exist.")
    if not cfg_path.is_file():
        raise ValidationError(
            f"RUN_DIR {str(run_dir)!r} has no {RUN_CONFIG}; pass a folder written by "
            "`latentinfer fit` or `latentinfer demo`."
        )
    cfg = json.loads(cfg_path.read_text())
    command = cfg.get("command") or ("causal fit" if "method" in cfg else None)
    if command is None and "task_options" in cfg:
        command = f"fit {cfg.get('model', '')}".strip()
    if command is not None or not (run_dir / "model").exists():
        what = f"a `latentinfer {command}` run" if command else "no saved model"
        raise ValidationError(
            f"RUN_DIR {str(run_dir)!r} holds {what}; `diagnose` reads the VAE-family models "
            "of `latentinfer fit` and `latentinfer demo` (this run's results are in "
            "summary.json and the folder's other files)."
        )
    model = LatentVariableModel.load(run_dir / "model")
    ds = data_mod.load(cfg["data"], **cfg.get("data_options", {}))
    _, test_ds = ds.split(cfg.get("test_fraction", 0.2), seed=cfg.get("seed", 0))
    arrays = _dataset_arrays(test_ds, type(model))
    report = diagnose(
        model,
        arrays if len(arrays) > 1 else arrays[0],
        factors=None if test_ds.factors is None else test_ds.factors.numpy(),
        figures_dir=run_dir / "figures",
        max_rows=max_rows,
        with_dci=with_dci,
    )
    (run_dir / "diagnostics.json").write_text(json.dumps(report.to_dict(), indent=1, default=str))
    return report


@app.command("diagnose")
def diagnose_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by `latentinfer fit`.")],
    max_rows: Annotated[int, typer.Option(help="Held-out rows to use.")] = 5000,
    dci: Annotated[
        bool, typer.Option(help="Compute DCI (gradient-boosted trees; the slowest part).")
    ] = True,
) -> None:
    """Print the diagnostics table of a fitted run and write its figures."""
    from latentinfer.core.validation import check_number

    check_number(max_rows, name="--max-rows", low=10 if dci else 1, integer=True)  # DCI: 10
    report = _diagnose_run(run_dir, max_rows=max_rows, with_dci=dci)
    _print_table(f"diagnostics of {report.model}", report.rows(), ("section", "quantity", "value"))
    for name, path in report.figures.items():
        console.print(f"figure {name}: {path}")


def _benchmark_scripts() -> dict[str, Path]:
    roots = [Path.cwd() / "benchmarks", Path(__file__).resolve().parents[2] / "benchmarks"]
    found: dict[str, Path] = {}
    for root in roots:
        if root.is_dir():
            for p in sorted(root.glob("*/*.py")):
                # helpers start with _, tools that write reference data with make_
                if not p.name.startswith(("_", "make_")):
                    found.setdefault(p.stem, p)
    return found


@app.command(
    "bench",
    short_help="Run a benchmark script from benchmarks/ (omit NAME to list them).",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def bench(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Benchmark name (omit to list them).")] = None,
    quick: Annotated[bool, typer.Option(help="A small, fast version (a smoke run).")] = False,
) -> None:
    """Run a benchmark script from benchmarks/ (they ship with the source repository).
    Other options go to the script: every one takes --threads N (torch threads, default 1)
    and --out FILE; `latentinfer bench NAME -- --help` lists the rest."""
    scripts = _benchmark_scripts()
    if name is None:

        def shown(p: Path) -> str:  # relative to the working folder when under it
            try:
                return str(p.relative_to(Path.cwd()))
            except ValueError:
                return str(p)

        _print_table(
            "benchmarks (latentinfer bench NAME [--quick] [--threads N])",
            [(k, shown(v)) for k, v in scripts.items()],
            ("name", "script"),
        )
        return
    if name not in scripts:
        if not scripts:
            raise ValidationError(
                "no benchmarks/ folder found; benchmarks ship with the source repository: "
                "run this command from a clone of it."
            )
        raise ValidationError(
            f"unknown benchmark {name!r}; accepted: {', '.join(scripts)}."
            f"{did_you_mean(name, scripts)}"
        )
    cmd = [sys.executable, str(scripts[name]), *(["--quick"] if quick else []), *ctx.args]
    raise typer.Exit(subprocess.call(cmd))


@app.command("demo")
def demo(
    run_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the run (default: runs/demo-ardvae-digits, or -2, -3, ... "
            "when that exists)."
        ),
    ] = None,
    epochs: Annotated[int, typer.Option(help="Most epochs.")] = 300,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
) -> None:
    """The quick tour: fit an ARD-VAE on scikit-learn's digits, diagnose it, write figures."""
    if run_dir is None:  # running the tour again makes a new folder, never an error
        base = Path("runs/demo-ardvae-digits")
        run_dir = next(
            p for p in (base, *(Path(f"{base}-{i}") for i in range(2, 10**6))) if not p.exists()
        )
    console.print(
        "[bold]latentinfer demo[/bold]: an ARD-VAE with 32 latent dimensions on the 1,797 "
        "8×8 digits; ARD should keep only the dimensions the data need."
    )
    summary = _fit_run(
        "ardvae",
        "digits",
        data_options={},
        model_options={"latent_dim": 32},
        train_options={"max_epochs": epochs},
        seed=seed,
        run_dir=run_dir,
        resume=False,
        iwae_k=100,
    )
    report = _diagnose_run(run_dir, max_rows=5000)
    s = report.sections
    console.print(
        f"\nfitted in {summary['seconds']:.0f} s ({summary['epochs']} epochs); held-out NLL "
        f"(IWAE, k=100): {summary['test_nll']:.2f} nats per image"
    )
    console.print(
        f"ARD kept {s['relevance']['relevant']} of 32 latent dimensions; "
        f"{s['activity']['active_units']} are active units; collapse: "
        f"{s['collapse']['verdict']}."
    )
    ms = s["mean_vs_sampled"]
    without = (
        f"{ms['corr_mean_without_passive']:.3f} without the {ms['passive']} passive ones"
        if ms["passive"] < 32
        else "every variable is passive"
    )
    console.print(
        f"mean representations: |r| = {ms['corr_mean_all']:.3f} between variables, "
        f"{without} (sampled: {ms['corr_sampled_all']:.3f}). By posterior variance: "
        f"{ms['active']} active (narrow for every input), {ms['passive']} passive (the "
        f"prior's ≈ 1 for every input), {ms['mixed']} mixed; the "
        "near-constant means of passive variables inflate the correlation. (The active "
        "units above count variables whose mean moves with the input, a different test.)"
    )
    if "disentanglement" in s:
        console.print(f"MIG against the digit class: {s['disentanglement']['mig']:.3f}")
    for name, path in report.figures.items():
        console.print(f"figure {name}: {path}")
    further = (
        "it stopped early, when the held-out loss stopped improving"
        if summary["stopped_early"]
        else f"to train it further: latentinfer fit ardvae --data digits --latent-dim 32 "
        f"--run-dir {run_dir} --resume --epochs N"
    )
    console.print(
        f"run folder: {run_dir}  (diagnostics.json and figures/ hold the above; "
        f"latentinfer diagnose {run_dir} prints them again; {further})"
    )


def _run_command(args: list[str]) -> None:
    """Run another command of this app inside the current one (what `fit hgf` does), letting
    its errors, exit codes and Ctrl-C reach the outer command as if it were this one."""
    command = typer.main.get_command(app)
    with command.make_context("latentinfer", list(args)) as ctx:
        command.invoke(ctx)


def _interrupt(exc: BaseException) -> KeyboardInterrupt | None:
    """The KeyboardInterrupt behind ``exc`` (Typer turns one into ``Exit(130)``), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def main() -> None:
    """Entry point: run the app, turning library errors into one-line messages."""
    try:
        app()
    except (KeyboardInterrupt, SystemExit) as exc:
        interrupt = _interrupt(exc)
        if interrupt is None:
            if isinstance(exc, SystemExit) and exc.code in (None, 0):
                finish_processes()  # under accelerate launch: leave the process group together
            raise
        if os.environ.get("LATENTINFER_DEBUG"):
            raise interrupt from None  # the interrupt's own traceback, not Typer's exit
        # the trainer's message says where it saved and how to go on
        note = str(interrupt) or "interrupted; files the command had not finished may be missing"
        err_console.print(f"[yellow]{escape(note)}[/yellow]", highlight=False, soft_wrap=True)
        sys.exit(130)
    except LatentInferError as exc:
        if os.environ.get("LATENTINFER_DEBUG"):
            raise

        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
