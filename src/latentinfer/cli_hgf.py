"""``latentinfer hgf``: fit, filter and simulate hierarchical Gaussian filters on CSV files.

``latentinfer fit hgf ...`` is the same as ``latentinfer hgf fit ...``.

A CSV file holds one row per trial: an input column (``input`` by default), optionally a
``response`` column (NaN or empty: missing), a ``subject`` column (each subject is its own
series; shorter series are padded with missing inputs) and a ``time_step`` column.
"""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console

from latentinfer.core.errors import ConfigError, ValidationError

app = typer.Typer(
    name="hgf",
    help="Hierarchical Gaussian filters on CSV data: fit, filter, simulate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)

LAYOUT_HELP = "continuous2, continuous3, binary2, binary3 (continuousN, binaryN for deeper)."


# ------------------------------------------------------------------------------ data
def read_trials(
    path: Path,
    *,
    input_columns: list[str],
    response_column: str | None,
    subject_column: str,
    time_column: str,
) -> dict[str, Any]:
    """Read a trials CSV into ``(subjects, time[, inputs])`` arrays padded with missing."""
    if not path.is_file():
        raise ValidationError(f"--data {str(path)!r} is not a file; pass a CSV of trials.")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        rows = list(reader)
    if not rows:
        raise ValidationError(f"--data {str(path)!r} has no rows.")
    missing = [c for c in input_columns if c not in fields]
    if missing:
        raise ValidationError(
            f"--data {str(path)!r} has no column(s) {missing}; its columns are {fields}. "
            "Name the input column(s) with --input-column."
        )
    if response_column is not None and response_column not in fields:
        raise ValidationError(
            f"--response-column {response_column!r} is not a column of {str(path)!r} "
            f"(columns: {fields})."
        )

    def number(row: dict[str, str], col: str, line: int, *, allow_empty: bool) -> float:
        raw = (row.get(col) or "").strip()
        if raw == "" or raw.lower() == "nan":
            if allow_empty:
                return math.nan
            raise ValidationError(
                f"--data {str(path)!r}, line {line}: column {col!r} is empty; inputs must be "
                "numbers (mark a missing input with an 'observed' column set to 0)."
            )
        try:
            return float(raw)
        except ValueError:
            raise ValidationError(
                f"--data {str(path)!r}, line {line}: column {col!r} holds {raw!r}, not a number."
            ) from None

    subjects: dict[str, list[int]] = {}
    for n, row in enumerate(rows):
        key = row.get(subject_column, "") if subject_column in fields else ""
        subjects.setdefault(key, []).append(n)
    names = list(subjects)
    length = max(len(v) for v in subjects.values())
    n_in = len(input_columns)
    u = np.zeros((len(names), length, n_in))
    observed = np.zeros((len(names), length, n_in))
    responses = np.full((len(names), length), math.nan)
    dt = np.ones((len(names), length))
    has_obs = "observed" in fields
    for s, key in enumerate(names):
        for t, n in enumerate(subjects[key]):
            row, line = rows[n], n + 2
            for k, col in enumerate(input_columns):
                u[s, t, k] = number(row, col, line, allow_empty=False)
            observed[s, t] = number(row, "observed", line, allow_empty=False) if has_obs else 1.0
            if response_column is not None:
                responses[s, t] = number(row, response_column, line, allow_empty=True)
            if time_column in fields:
                dt[s, t] = number(row, time_column, line, allow_empty=False)
    return {
        "subjects": names,
        "inputs": u[..., 0] if n_in == 1 else u,
        "observed": observed[..., 0] if n_in == 1 else observed,
        "responses": responses if response_column is not None else None,
        "time_steps": dt if time_column in fields else None,
        "lengths": [len(subjects[k]) for k in names],
    }


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
            raise ConfigError(f"{flag} {key}: {raw!r} is not a number (or loc,scale).") from None
        out[key] = values[0] if len(values) == 1 else tuple(values)
    return out


def _model(layout: str, update_type: str, params: dict[str, Any]) -> Any:
    from latentinfer.bayes import HGF

    hgf = HGF.from_name(layout, update_type=update_type)
    for name, value in params.items():
        if isinstance(value, tuple):
            raise ConfigError(f"--param {name} takes one number; got {value}.")
        hgf.set_parameter(name, value)
    return hgf


# --------------------------------------------------------------------------- commands
@app.command("fit")
def fit(
    data: Annotated[Path, typer.Option("--data", help="CSV of trials (see `latentinfer hgf`).")],
    model: Annotated[str, typer.Option(help=f"The HGF layout: {LAYOUT_HELP}")] = "continuous2",
    update_type: Annotated[str, typer.Option(help="eHGF or standard.")] = "eHGF",
    input_column: Annotated[
        list[str] | None, typer.Option(help="Input column(s) (default: input).")
    ] = None,
    response_column: Annotated[
        str | None, typer.Option(help="Column of responses (default: response, if present).")
    ] = None,
    subject_column: Annotated[str, typer.Option(help="Column naming subjects.")] = "subject",
    time_column: Annotated[str, typer.Option(help="Column of time steps.")] = "time_step",
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
    param: Annotated[
        list[str] | None, typer.Option(help="Fixed or starting value NAME=VALUE (repeatable).")
    ] = None,
    prior: Annotated[
        list[str] | None,
        typer.Option(help="Normal prior NAME=LOC,SCALE on the fitting scale (repeatable)."),
    ] = None,
    max_steps: Annotated[int, typer.Option(help="Adam steps before Newton polishing.")] = 300,
    seed: Annotated[
        int, typer.Option(help="Recorded with the run (the fit is deterministic).")
    ] = 0,
    run_dir: Annotated[
        Path | None, typer.Option(help="Run folder (default: runs/hgf-DATA).")
    ] = None,
) -> None:
    """Fit an HGF to each subject's inputs (or responses); write a run folder."""
    from latentinfer.plots.hgf import plot_surprise, plot_trajectories

    inputs = list(input_column or ["input"])
    if not data.is_file():
        raise ValidationError(f"--data {str(data)!r} is not a file; pass a CSV of trials.")
    with data.open(newline="") as fh:
        fields = next(csv.reader(fh), [])
    resp_col = response_column or ("response" if "response" in fields else None)
    if response_model is not None and resp_col is None:
        raise ConfigError(
            "--response-model needs responses: add a 'response' column or pass --response-column."
        )
    trials = read_trials(
        data,
        input_columns=inputs,
        response_column=resp_col if response_model is not None else None,
        subject_column=subject_column,
        time_column=time_column,
    )
    hgf = _model(model, update_type, _parse_values(param, flag="--param"))
    priors = _parse_values(prior, flag="--prior")
    folder = run_dir or Path("runs") / f"hgf-{data.stem}"
    start = time.perf_counter()
    hgf.fit(
        trials["inputs"],
        trials["responses"],
        free=free,
        priors=priors or None,
        response_model=response_model,
        observed=trials["observed"],
        time_steps=trials["time_steps"],
        max_steps=max_steps,
    )
    seconds = time.perf_counter() - start
    result = hgf.filter(
        trials["inputs"],
        observed=trials["observed"],
        time_steps=trials["time_steps"],
        surprise=("nlpd", "pyhgf"),
    )
    folder.mkdir(parents=True, exist_ok=True)
    fit_ = hgf.fit_
    config = {
        "command": "hgf fit",
        "data": str(data),
        "model": model,
        "update_type": update_type,
        "input_columns": inputs,
        "response_column": resp_col if response_model else None,
        "response_model": response_model,
        "free": list(fit_.names),
        "params": _parse_values(param, flag="--param"),
        "priors": {k: list(v) if isinstance(v, tuple) else v for k, v in priors.items()},
        "max_steps": max_steps,
        "seed": seed,
    }
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    _write_params(folder / "params.csv", trials["subjects"], fit_)
    _write_beliefs(folder / "beliefs.csv", trials, result)
    subjects = trials["subjects"]
    loglik = np.atleast_1d(np.asarray(result.log_likelihood))
    summary = {
        "subjects": len(subjects),
        "steps": int(np.asarray(trials["inputs"]).shape[1]),
        "objective": fit_.objective_kind,
        "converged": int(np.sum(fit_.converged)),
        "input_log_likelihood": [float(v) for v in loglik],
        "fit_log_likelihood": [float(v) for v in np.atleast_1d(fit_.log_likelihood)],
        "seconds": seconds,
    }
    (folder / "summary.json").write_text(json.dumps(summary, indent=1))
    figures = folder / "figures"
    paths = [plot_trajectories(result, figures / "beliefs.png", series=0,
                               title=f"HGF beliefs ({subjects[0] or 'subject 0'})")]  # fmt: skip
    if len(subjects) > 1:
        paths.append(plot_surprise(result, figures / "surprise.png"))
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

    _print_table(
        f"HGF {model} fitted to {len(subjects)} subject(s) in {seconds:.1f} s",
        rows,
        ("parameter", "estimate"),
    )
    console.print(f"converged: {summary['converged']}/{len(subjects)}; run folder: {folder}")
    for p in paths:
        console.print(f"figure: {p}")


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


def _write_beliefs(path: Path, trials: dict[str, Any], result: Any) -> None:
    traj = result.node_trajectories
    nodes = [i for i in result.structure.state_nodes]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        header = ["subject", "step"]
        for i in nodes:
            header += [f"x{i}_{q}" for q in _BELIEF_COLUMNS]
        header.append("surprise")
        w.writerow(header)
        surprise = np.atleast_2d(np.asarray(result.surprise_per_step("nlpd")))
        cols = {
            (i, q): np.atleast_2d(np.asarray(traj[i][q])) for i in nodes for q in _BELIEF_COLUMNS
        }
        for s, subject in enumerate(trials["subjects"]):
            for t in range(trials["lengths"][s]):
                row: list[Any] = [subject, t]
                for i in nodes:
                    row += [f"{cols[(i, q)][s, t]:.10g}" for q in _BELIEF_COLUMNS]
                row.append(f"{surprise[s, t]:.10g}")
                w.writerow(row)


@app.command("simulate")
def simulate(
    out: Annotated[Path, typer.Option("--out", help="The CSV file to write.")],
    model: Annotated[str, typer.Option(help=f"The HGF layout: {LAYOUT_HELP}")] = "binary3",
    steps: Annotated[int, typer.Option(help="Trials per subject.")] = 300,
    subjects: Annotated[int, typer.Option(help="Number of subjects.")] = 1,
    param: Annotated[
        list[str] | None, typer.Option(help="Parameter value NAME=VALUE (repeatable).")
    ] = None,
    inverse_temperature: Annotated[
        float | None,
        typer.Option(help="Also simulate binary choices (unit-square sigmoid) with this ζ."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the draws.")] = 0,
) -> None:
    """Simulate trials from an HGF's own predictive (and optionally choices) into a CSV."""
    import torch

    hgf = _model(model, "eHGF", _parse_values(param, flag="--param"))
    u = hgf.simulate(steps, batch=subjects, seed=seed).reshape(subjects, steps)
    responses = None
    if inverse_temperature is not None:
        if hgf.model_type != "binary":
            raise ConfigError("--inverse-temperature simulates binary choices: use a binary model.")
        if not inverse_temperature > 0:
            raise ConfigError(f"--inverse-temperature must be positive; got {inverse_temperature}.")
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
