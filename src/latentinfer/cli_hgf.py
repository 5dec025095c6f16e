"""``latentinfer hgf``: fit, filter and simulate hierarchical Gaussian filters on CSV files.

``latentinfer fit hgf ...`` is the same as ``latentinfer hgf fit ...``. The CSV format is
:mod:`latentinfer.bayes.hgf.trials`'s (one row per trial).
"""

from __future__ import annotations

import csv
import json
import re
import time
import warnings
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console

from latentinfer.core.errors import ConfigError, LatentInferError, ValidationError
from latentinfer.core.validation import check_number

CSV_HELP = (
    "A CSV of trials, one row per trial, with a header row. Columns: `input` (the "
    "observation; an empty cell or nan is a missing input, skipped as pyhgf's observed = 0; "
    "in a one-column file a blank line between trials is one), "
    "and optionally `observed` (1/0), `response` (the subject's response, for "
    "--response-model), `subject` (each subject is its own series) and `time_step` "
    "(positive; default 1). Rename them with --input-column, --response-column, "
    "--subject-column, --time-column."
)
#: The library's Python terms, in the command line's.
_CLI_TERMS = (
    ("update_type must", "--update-type must"),
    ("must be a torch.distributions.Distribution or (loc, scale) for a Normal on the fitting "
     "scale", "takes LOC,SCALE (a Normal on the fitting scale)"),
    ("(fix or drop a parameter, or add a prior)", "(--free fewer parameters, or add a --prior)"),
    ("unknown parameter name", "--free: unknown parameter name"),
    ("(net.set_parameter)", "(--param NAME=VALUE)"),
    ("response_model='unit_square_sigmoid'", "--response-model unit_square_sigmoid"),
    ("a binary HGF (HGF.binary3)", "a binary HGF (--model binary3)"),
    ("response_model='gaussian'", "--response-model gaussian"),
    ("filter them to see where the beliefs break (net.filter(...))",
     "run `latentinfer hgf filter` with them to see where the beliefs break"),
    (", or pass on_invalid='mark' to keep the other series", ""),
)  # fmt: skip

app = typer.Typer(
    name="hgf",
    help="Hierarchical Gaussian filters on CSV data: fit, filter, simulate.\n\n" + CSV_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)

LAYOUT_HELP = "continuous2, continuous3, binary2, binary3 (continuousN, binaryN for deeper)."
DATA_HELP = "CSV of trials (columns: see `latentinfer hgf --help`)."
_FLAGS = {
    "path": "--data",
    "input_columns": "--input-column",
    "response_column": "--response-column",
    "subject_column": "--subject-column",
    "time_column": "--time-column",
}
#: What the commands write into a run folder (removed first when a run is redone there).
_OUTPUTS = ("config.json", "params.csv", "beliefs.csv", "summary.json", "figures/beliefs.png",
            "figures/surprise.png")  # fmt: skip


# ------------------------------------------------------------------------------ data
def _setup(
    data: Path,
    layout: str,
    update_type: str,
    param: list[str] | None,
    *,
    input_column: list[str] | None,
    response_column: str | None,
    subject_column: str | None,
    time_column: str | None,
    response_model: str | None,
) -> tuple[Any, str | None, dict[str, Any], Any]:
    """What `fit` and `filter` start from: the trials of ``data``, the response column used
    (None without a response model), the ``--param`` values and the HGF they set."""
    from latentinfer.bayes.hgf.trials import read_trials

    resp_col = None
    if response_model is not None and data.is_file():  # read_trials names a missing file
        with data.open(newline="") as fh:
            fields = [h.strip() for h in next(csv.reader(fh), [])]
        resp_col = response_column or ("response" if "response" in fields else None)
        if resp_col is None:
            raise ConfigError(
                "--response-model needs responses: add a 'response' column or pass "
                "--response-column."
            )
    trials = read_trials(
        data,
        input_columns=input_column,
        response_column=resp_col,
        subject_column=subject_column,
        time_column=time_column,
        option_names=_FLAGS,
    )
    params = _parse_values(param, flag="--param")
    hgf = _model(layout, update_type, params)
    n = len(hgf.structure().inputs)
    given = list(input_column or ["input"])
    if len(given) != n:
        raise ConfigError(
            f"--input-column: {layout} has {n} input(s); got {len(given)} column(s) "
            f"({', '.join(given)})."
        )
    seen = np.asarray(trials.inputs)[np.asarray(trials.observed) > 0]
    if hgf.model_type == "continuous" and seen.size > 1 and np.isin(seen, (0, 1)).all():
        console.print(
            f"[yellow]warning:[/yellow] every input is 0 or 1, and --model {layout} treats "
            "them as continuous numbers; for binary outcomes pass --model binary3 (or "
            "binary2).",
            highlight=False,
        )
    return trials, resp_col, params, hgf


def _parse_values(pairs: list[str] | None, *, flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} takes NAME=VALUE; got {pair!r}.")
        parts = raw.split(",")
        try:
            values = [float(v) for v in parts]
        except ValueError:
            accepted = "LOC,SCALE (two numbers)" if flag == "--prior" else "a number"
            raise ConfigError(f"{flag} {key}: {raw!r} is not {accepted}.") from None
        out[key] = values[0] if len(values) == 1 else tuple(values)
    return out


def _model(layout: str, update_type: str, params: dict[str, Any]) -> Any:
    from latentinfer.bayes import HGF

    try:
        hgf = HGF.from_name(layout, update_type=update_type)
    except ConfigError as exc:
        raise ConfigError(_cli_terms(str(exc))) from None
    for name, value in params.items():
        if isinstance(value, tuple):
            raise ConfigError(f"--param {name} takes one number; got {value}.")
        try:
            hgf.set_parameter(name, value)
        except ConfigError as exc:
            raise ConfigError(f"--param {name}={value:g}: {exc}") from None
    return hgf


def _in_file_terms(
    exc: LatentInferError, trials: Any, labels: dict[int, str] | None = None
) -> LatentInferError:
    """``exc`` led by the file's subject, trial and line for the library's 0-based series
    and step, with pyhgf's level names for node numbers and flags for Python hints."""
    text = str(exc)
    located = re.search(r"(?:series (\d+)|the series): at step (\d+)", text)
    pair = re.search(r"at \(series, step\) \((\d+), (\d+)\)", text)
    listed = re.search(r"subject\(s\) \[([\d, ]+)\]", text)
    prefix = ""
    if located:  # the file's terms replace the 0-based ones
        prefix = trials.where(int(located.group(1) or 0), int(located.group(2))) + ": "
        text = text.replace(located.group(0) + ", ", "")
    elif pair:
        prefix = trials.where(int(pair.group(1)), int(pair.group(2))) + ": "
        text = text.replace(" " + pair.group(0), "")
    elif listed:
        names = [trials.subjects[int(i)] for i in listed.group(1).split(",")]
        text = text.replace(listed.group(0), f"subject(s) {', '.join(repr(n) for n in names)}")
    for node, label in (labels or {}).items():
        text = text.replace(f"node {node}'s", f"{label}'s")
    exc.args = (prefix + _cli_terms(text), *exc.args[1:])
    return exc


def _cli_terms(text: str) -> str:
    """The library's argument names and Python hints in the command line's terms."""
    text = re.sub(r"priors\['([^']+)'\]", r"--prior \1", text)
    for python, cli in _CLI_TERMS:
        text = text.replace(python, cli)
    return text


def _run_folder(folder: Path) -> Path:
    """Make ``folder`` ready for a run: refuse a file or another command's run; remove what
    an earlier HGF run wrote there, so that no stale figure is left beside new results."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--run-dir {str(folder)!r} is a file; pass a folder.")
    config = folder / "config.json"
    if config.is_file():
        try:
            command = json.loads(config.read_text()).get("command", "")
        except (json.JSONDecodeError, AttributeError):
            command = ""
        if not str(command).startswith("hgf"):
            raise ConfigError(
                f"--run-dir {str(folder)!r} holds a run of another command ({command or '?'}); "
                "pass a new folder."
            )
        console.print(f"replacing the earlier HGF run ({command}) in {folder}", highlight=False)
    for name in _OUTPUTS:
        (folder / name).unlink(missing_ok=True)
    (folder / "figures").mkdir(parents=True, exist_ok=True)
    return folder


def _write_results(folder: Path, trials: Any, result: Any, title: str) -> list[Path]:
    """beliefs.csv and the two figures; returns the figures' paths."""
    from latentinfer.plots.hgf import plot_surprise, plot_trajectories

    _write_beliefs(folder / "beliefs.csv", trials, result)
    first = trials.subjects[0]
    trial_axis: dict[str, Any] = {"first_step": 1, "step_label": "trial"}  # as beliefs.csv
    return [
        plot_trajectories(result, folder / "figures" / "beliefs.png", series=0,
                          title=f"{title} (subject {first})", **trial_axis),
        plot_surprise(result, folder / "figures" / "surprise.png",
                      series_names=trials.subjects, **trial_axis),
    ]  # fmt: skip


# --------------------------------------------------------------------------- commands
_Data = Annotated[Path, typer.Option("--data", help=DATA_HELP)]
_Layout = Annotated[str, typer.Option(help=f"The HGF layout: {LAYOUT_HELP}")]
_Update = Annotated[str, typer.Option(help="eHGF or standard.")]
_Inputs = Annotated[list[str] | None, typer.Option(help="Input column(s) (default: input).")]
_Responses = Annotated[
    str | None, typer.Option(help="Column of responses (default: response, if present).")
]
_Subjects = Annotated[
    str | None, typer.Option(help="Column naming subjects (default: subject, if present).")
]
_Times = Annotated[
    str | None, typer.Option(help="Column of time steps (default: time_step, if present).")
]
_Params = Annotated[
    list[str] | None,
    typer.Option(help="Parameter value NAME=VALUE, pyhgf's names (repeatable)."),
]
_RunDir = Annotated[Path | None, typer.Option(help="Run folder (default: runs/hgf-DATA).")]


@app.command("fit", short_help="Fit an HGF to each subject; write parameters, beliefs and figures.")
def fit(
    data: _Data,
    model: _Layout = "continuous2",
    update_type: _Update = "eHGF",
    input_column: _Inputs = None,
    response_column: _Responses = None,
    subject_column: _Subjects = None,
    time_column: _Times = None,
    response_model: Annotated[
        str | None,
        typer.Option(help="unit_square_sigmoid (binary choices) or gaussian; needs responses."),
    ] = None,
    free: Annotated[
        list[str] | None,
        typer.Option(
            help="Parameter to fit, pyhgf's name (repeatable; default: tonic volatilities)."
        ),
    ] = None,
    param: _Params = None,
    prior: Annotated[
        list[str] | None,
        typer.Option(help="Normal prior NAME=LOC,SCALE on the fitting scale (repeatable)."),
    ] = None,
    max_steps: Annotated[int, typer.Option(help="Adam steps before Newton polishing.")] = 300,
    seed: Annotated[
        int, typer.Option(help="Recorded with the run (the fit is deterministic).")
    ] = 0,
    run_dir: _RunDir = None,
) -> None:
    """Fit an HGF to each subject's inputs (or responses); write a run folder with
    params.csv (estimates and Laplace standard errors), beliefs.csv and figures."""
    from latentinfer.bayes.hgf.responses import RESPONSE_PARAMETERS

    check_number(max_steps, name="--max-steps", low=0, integer=True)
    for name in free or []:
        if name in RESPONSE_PARAMETERS and response_model != RESPONSE_PARAMETERS[name]:
            raise ConfigError(
                f"--free {name} is the parameter of the {RESPONSE_PARAMETERS[name]} response "
                f"model; pass --response-model {RESPONSE_PARAMETERS[name]} (and responses)."
            )
    trials, resp_col, params, hgf = _setup(
        data,
        model,
        update_type,
        param,
        input_column=input_column,
        response_column=response_column,
        subject_column=subject_column,
        time_column=time_column,
        response_model=response_model,
    )
    priors = _parse_values(prior, flag="--prior")
    folder = run_dir or Path("runs") / f"hgf-{data.stem}"
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            hgf.fit(
                trials.inputs,
                trials.responses,
                free=free,
                priors=priors or None,
                response_model=response_model,
                observed=trials.observed,
                time_steps=trials.time_steps,
                max_steps=max_steps,
            )
        seconds = time.perf_counter() - start
        result = _filter(hgf, trials)
    except LatentInferError as exc:
        raise _in_file_terms(exc, trials, hgf.node_labels()) from None
    for w in caught:  # one line each, in the file's terms, not Python's warning format
        note = _in_file_terms(ValidationError(str(w.message)), trials)
        console.print(f"[yellow]warning:[/yellow] {note}", highlight=False)
    fit_ = hgf.fit_
    _run_folder(folder)
    config = {
        "command": "hgf fit",
        "data": str(data),
        "model": model,
        "update_type": update_type,
        "input_columns": list(input_column or ["input"]),
        "response_column": resp_col,
        "response_model": response_model,
        "free": list(fit_.names),
        "params": params,
        "priors": {k: list(v) if isinstance(v, tuple) else v for k, v in priors.items()},
        "max_steps": max_steps,
        "seed": seed,
    }
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    _write_params(folder / "params.csv", trials.subjects, fit_)
    summary = {
        **_summary(trials, result),
        "objective": fit_.objective_kind,
        "converged": int(np.sum(fit_.converged)),
        "not_converged": [
            n for n, ok in zip(trials.subjects, np.atleast_1d(fit_.converged)) if not ok
        ],
        "fit_log_likelihood": [float(v) for v in np.atleast_1d(fit_.log_likelihood)],
        "seconds": seconds,
    }
    paths = _write_results(folder, trials, result, f"HGF {model} fitted")
    (folder / "summary.json").write_text(json.dumps(summary, indent=1))  # last: complete
    rows = []
    for name in fit_.names:
        v, se = np.atleast_1d(fit_.values[name]), np.atleast_1d(fit_.stderr[name])
        text = (
            f"{v[0]:.4g} ± {se[0]:.2g}"
            if len(v) == 1
            else f"mean {v.mean():.4g} (sd {v.std():.2g})"
        )
        rows.append((name, text))
    from latentinfer.cli import _print_table

    n = len(trials.subjects)
    _print_table(f"HGF {model} fitted to {n} subject(s) in {seconds:.1f} s", rows,
                 ("parameter", "estimate"))  # fmt: skip
    console.print(f"converged: {summary['converged']}/{n}; run folder: {folder}")
    for p in paths:
        console.print(f"figure: {p}")


@app.command(
    "filter", short_help="Filter each subject under given parameters; write beliefs and figures."
)
def filter_(
    data: _Data,
    model: _Layout = "continuous2",
    update_type: _Update = "eHGF",
    input_column: _Inputs = None,
    subject_column: _Subjects = None,
    time_column: _Times = None,
    param: _Params = None,
    run_dir: _RunDir = None,
) -> None:
    """Filter each subject's inputs under given parameters (no fitting); write a run folder
    with beliefs.csv, summary.json (log-likelihood and pyhgf's surprise) and figures."""
    trials, _, params, hgf = _setup(
        data,
        model,
        update_type,
        param,
        input_column=input_column,
        response_column=None,
        subject_column=subject_column,
        time_column=time_column,
        response_model=None,
    )
    folder = run_dir or Path("runs") / f"hgf-{data.stem}"
    try:
        result = _filter(hgf, trials)
    except LatentInferError as exc:
        raise _in_file_terms(exc, trials, hgf.node_labels()) from None
    _run_folder(folder)
    config = {
        "command": "hgf filter",
        "data": str(data),
        "model": model,
        "update_type": update_type,
        "input_columns": list(input_column or ["input"]),
        "params": params,
    }
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    summary = _summary(trials, result)
    paths = _write_results(folder, trials, result, f"HGF {model}")
    (folder / "summary.json").write_text(json.dumps(summary, indent=1))  # last: complete
    loglik = summary["input_log_likelihood"]
    console.print(
        f"filtered {len(trials.subjects)} subject(s); log-likelihood {sum(loglik):.4g} "
        f"(pyhgf surprise {sum(summary['pyhgf_surprise']):.4g}); run folder: {folder}"
    )
    for p in paths:
        console.print(f"figure: {p}")


def _filter(hgf: Any, trials: Any) -> Any:
    return hgf.filter(
        trials.inputs,
        observed=trials.observed,
        time_steps=trials.time_steps,
        surprise=("nlpd", "pyhgf"),
    )


def _summary(trials: Any, result: Any) -> dict[str, Any]:
    return {
        "subjects": len(trials.subjects),
        "names": trials.subjects,
        "trials": trials.lengths,
        "input_log_likelihood": [float(v) for v in np.atleast_1d(result.log_likelihood)],
        "pyhgf_surprise": [float(v) for v in np.atleast_1d(result.surprise("pyhgf"))],
    }


def _write_params(path: Path, subjects: list[str], fit_: Any) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["subject", "parameter", "value", "stderr", "scale"])
        for s, subject in enumerate(subjects):
            for name in fit_.names:
                v = np.atleast_1d(fit_.values[name])[s]
                se = np.atleast_1d(fit_.stderr[name])[s]
                w.writerow([subject, name, repr(float(v)), repr(float(se)), fit_.transforms[name]])


_BELIEF_COLUMNS = ("mean", "precision", "expected_mean", "expected_precision")


def _write_beliefs(path: Path, trials: Any, result: Any) -> None:
    """One row per trial: each node's beliefs under pyhgf's level names (``x2_mean``, ...),
    the per-trial surprise and whether the input was observed."""
    traj = result.node_trajectories
    nodes = list(result.structure.state_nodes)
    observed = np.asarray(trials.observed)
    if observed.ndim == 3:  # several inputs: a trial is observed if all its inputs are
        observed = observed.min(axis=2)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        header = ["subject", "trial"]
        binary_inputs = [i for i in result.structure.inputs if result.structure.nodes[i].is_binary]
        for i in binary_inputs:  # the binary input's level: its predicted p(u = 1)
            header.append(f"{result.label(i)}_expected_mean")
        for i in nodes:
            header += [f"{result.label(i)}_{q}" for q in _BELIEF_COLUMNS]
        header += ["surprise", "observed"]
        w.writerow(header)
        surprise = np.atleast_2d(np.asarray(result.surprise_per_step("nlpd")))
        cols = {
            (i, q): np.atleast_2d(np.asarray(traj[i][q])) for i in nodes for q in _BELIEF_COLUMNS
        }
        for i in binary_inputs:
            cols[(i, "p")] = np.atleast_2d(np.asarray(traj[i]["expected_mean"]))
        for s, subject in enumerate(trials.subjects):
            for t in range(trials.lengths[s]):
                row: list[Any] = [subject, t + 1]
                row += [f"{cols[(i, 'p')][s, t]:.10g}" for i in binary_inputs]
                for i in nodes:
                    row += [f"{cols[(i, q)][s, t]:.10g}" for q in _BELIEF_COLUMNS]
                row += [f"{surprise[s, t]:.10g}", int(observed[s, t])]
                w.writerow(row)


@app.command("simulate", short_help="Simulate trials (and choices) from an HGF into a CSV.")
def simulate(
    out: Annotated[Path, typer.Option("--out", help="The CSV file to write.")],
    model: _Layout = "continuous2",
    steps: Annotated[int, typer.Option(help="Trials per subject.")] = 300,
    subjects: Annotated[int, typer.Option(help="Number of subjects.")] = 1,
    param: _Params = None,
    inverse_temperature: Annotated[
        float | None,
        typer.Option(help="Also simulate binary choices (unit-square sigmoid) with this ζ."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the draws.")] = 0,
    overwrite: Annotated[
        bool, typer.Option(help="Replace --out if it exists (else an existing file is kept).")
    ] = False,
) -> None:
    """Simulate trials from an HGF's own predictive (and optionally choices) into a CSV
    that `latentinfer hgf fit` reads. Under pyhgf's default parameters a continuous HGF of
    3 or more levels drifts into exploding volatility within a few hundred trials; a lower
    top-level tonic volatility, such as --param tonic_volatility_3=-6, keeps it in range."""
    import torch

    from latentinfer.core.errors import NonFiniteError

    check_number(steps, name="--steps", low=1, integer=True)
    check_number(subjects, name="--subjects", low=1, integer=True)
    if out.is_dir():
        raise ConfigError(f"--out {str(out)!r} is a folder; pass the CSV file to write.")
    if out.exists() and not overwrite:
        raise ConfigError(
            f"--out {str(out)!r} exists; pass --overwrite to replace it, or another file."
        )
    hgf = _model(model, "eHGF", _parse_values(param, flag="--param"))
    if inverse_temperature is not None:
        if hgf.model_type != "binary":
            raise ConfigError("--inverse-temperature simulates binary choices: use a binary model.")
        if not inverse_temperature > 0:
            raise ConfigError(f"--inverse-temperature must be positive; got {inverse_temperature}.")
    try:
        u = hgf.simulate(steps, batch=subjects, seed=seed).reshape(subjects, steps)
    except NonFiniteError as exc:
        message = re.sub(r"series (\d+)", lambda m: f"subject s{m.group(1)}", str(exc))
        if hgf.model_type == "continuous" and hgf.n_levels >= 3 and not param:
            message += f" pyhgf's defaults do this; try --param tonic_volatility_{hgf.n_levels}=-6."
        message = re.sub(r"at step (\d+)", lambda m: f"at trial {int(m.group(1)) + 1}", message)
        raise NonFiniteError(
            message.replace("fewer steps", "fewer --steps"), step=exc.step, part=exc.part
        ) from None
    responses = None
    if inverse_temperature is not None:
        p = torch.as_tensor(hgf.filter(u).node_trajectories[0]["expected_mean"]).reshape(
            subjects, steps
        )
        z = inverse_temperature
        prob = p**z / (p**z + (1 - p) ** z)
        responses = torch.bernoulli(prob, generator=torch.Generator().manual_seed(seed + 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["subject", "input", *(["response"] if responses is not None else [])])
        for s in range(subjects):
            for t in range(steps):
                row = [f"s{s}", f"{float(u[s, t]):.10g}"]
                if responses is not None:
                    row.append(str(int(responses[s, t])))
                w.writerow(row)
    console.print(f"wrote {subjects} × {steps} trials to {out}")
