"""``latentinfer causal``: fit treatment-effect estimators on a data set or a CSV file.

``latentinfer fit vluci ...`` (and ``cevae``) is the same as ``latentinfer causal fit vluci ...``.

Data: a registered treatment-effect data set (``confounded``, ``confounded_proxies``,
``ihdp``; options through ``--data-option KEY=VALUE``) or a CSV file whose columns are the
outcome (``--outcome``), the binary treatment (``--treatment``) and covariates (every other
column, or those named by ``--covariate``). Where the true effects are known (the
registered data sets), the run reports √PEHE and the ATE error within sample (the fitting
rows) and out of sample (``--test-fraction`` of the rows, held out; default 0.2). A CSV
file has no true effects to score, so by default every row is fitted
(``--test-fraction`` 0).

Every option is checked before the run folder is created. A run folder holds
``config.json``, ``effects.csv`` (one row per input row: its split, ``fit`` or ``test``,
effect, interval where the method gives one, true effect when known), ``summary.json``
and, for the latent models, their training metrics, checkpoints and the fitted model
(``model/``; a VLUCI plug-in keeps its base fits there only for ``--base linear``).
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console

from latentinfer.core.errors import ConfigError, ValidationError
from latentinfer.core.validation import did_you_mean

app = typer.Typer(
    name="causal",
    help="Treatment-effect estimators with hidden confounders: VLUCI, CEVAE, meta-learners.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)

METHODS = ("vluci", "cevae", "ols", "tlearner", "slearner")
BASES = ("linear", "gbm", "none")
#: the latent models: trained through the core loop, saved to the run folder
LATENT = ("vluci", "cevae")
#: the methods that take a base regressor (--base)
USES_BASE = ("vluci", "tlearner", "slearner")


def _regressor(name: str, seed: int) -> Any:
    if name == "linear":
        from sklearn.linear_model import LinearRegression

        return LinearRegression()
    if name == "gbm":
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(random_state=seed)
    return None


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ConfigError(
            f"method {method!r} is not one of {', '.join(METHODS)}.{did_you_mean(method, METHODS)}"
        )


def make_estimator(
    method: str,
    *,
    base: str,
    proxies: tuple[int, ...] | None,
    options: dict[str, Any],
    seed: int,
) -> Any:
    """The estimator ``method`` with its command-line options."""
    from latentinfer import causal
    from latentinfer.cli import check_model_options

    _check_method(method)
    if base not in BASES:
        raise ConfigError(f"--base {base!r} is not one of {', '.join(BASES)}.")
    regressor = _regressor(base, seed)
    if method in ("tlearner", "slearner") and regressor is None:
        raise ConfigError(f"{method} needs a regressor: --base linear or --base gbm.")
    factories: dict[str, Callable[[], Any]] = {
        "vluci": lambda: causal.VLUCI(
            base_estimator=regressor, proxies=proxies, seed=seed, **options
        ),
        "cevae": lambda: causal.CEVAE(seed=seed, **options),
        "ols": lambda: causal.OLS(**options),
        "tlearner": lambda: causal.TLearner(regressor, **options),
        "slearner": lambda: causal.SLearner(regressor, **options),
    }
    classes: dict[str, type] = {"vluci": causal.VLUCI, "cevae": causal.CEVAE,
                                "ols": causal.OLS, "tlearner": causal.TLearner,
                                "slearner": causal.SLearner}  # fmt: skip
    check_model_options(
        classes[method],
        options,
        label=method,
        internal=("seed", "base_estimator", "proxies", "model", "model_treated"),
    )
    return factories[method]()


def gives_intervals(estimator: Any) -> bool:
    """Whether ``estimator`` overrides the contract's ``_effect_interval`` (gives intervals)."""
    from latentinfer.causal.base import CausalEstimator

    return type(estimator)._effect_interval is not CausalEstimator._effect_interval


def read_csv(path: Path, *, outcome: str, treatment: str, covariates: list[str] | None) -> Any:
    """``(Y, T, X, names)`` from a CSV file with a header row (blank lines are skipped;
    errors give the file's own line numbers)."""
    if not path.is_file():
        raise ValidationError(f"--data {str(path)!r} is not a file or a data set name.")
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        fields = [h.strip() for h in next(reader, [])]
        rows = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    if not rows:
        raise ValidationError(f"--data {str(path)!r} has no rows.")
    for flag, col in (("--outcome", outcome), ("--treatment", treatment)):
        if col not in fields:
            raise ValidationError(
                f"{flag} {col!r} is not a column of {str(path)!r}; its columns are {fields}."
            )
    names = covariates or [c for c in fields if c not in (outcome, treatment)]
    missing = [c for c in names if c not in fields]
    if missing:
        raise ValidationError(f"--covariate {missing} not in {str(path)!r} (columns: {fields}).")
    columns = [outcome, treatment, *names]
    index = [fields.index(c) for c in columns]
    table = np.empty((len(rows), len(columns)))
    for i, (line, row) in enumerate(rows):
        for j, (col, k) in enumerate(zip(columns, index)):
            raw = row[k].strip() if k < len(row) else ""
            try:
                table[i, j] = float(raw)
            except ValueError:
                raise ValidationError(
                    f"--data {str(path)!r}, line {line}: column {col!r} holds {raw!r}, not a "
                    "number."
                ) from None
            if not math.isfinite(table[i, j]):
                raise ValidationError(
                    f"--data {str(path)!r}, line {line}: column {col!r} holds {raw!r}; the "
                    "estimators need finite numbers (impute or drop the row)."
                )
    bad = ~np.isin(table[:, 1], (0.0, 1.0))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValidationError(
            f"--treatment {treatment!r} must be a binary column coded 0/1; line {rows[i][0]} "
            f"holds {table[i, 1]:g}. Pick the treatment column with --treatment."
        )
    return table[:, 0], table[:, 1], table[:, 2:], names


def _split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not 0.0 <= test_fraction < 1.0:
        raise ConfigError(f"--test-fraction must be in [0, 1); got {test_fraction}.")
    order = np.random.default_rng(seed).permutation(n)
    n_test = round(n * test_fraction)
    if n - n_test < 10:
        raise ConfigError(f"{n - n_test} fitting row(s) are too few; lower --test-fraction.")
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def _parse_proxies(
    raw: str | None, known: tuple[int, ...], n_columns: int
) -> tuple[int, ...] | None:
    """The proxy columns ``--proxies`` names, checked against the ``n_columns`` of X."""
    if raw is None or raw == "auto":
        return known or None
    if raw == "none":
        return None
    try:
        cols = tuple(int(v) for v in raw.split(","))
    except ValueError:
        raise ConfigError(
            f"--proxies takes auto, none or column indices like 5,6,7; got {raw!r}."
        ) from None
    bad = [c for c in cols if not 0 <= c < n_columns]
    if bad:
        raise ConfigError(
            f"--proxies {bad} are not columns of X, which has {n_columns} column(s) "
            f"(0 to {n_columns - 1})."
        )
    if len(set(cols)) != len(cols):
        raise ConfigError(f"--proxies lists a column twice: {raw!r}.")
    return cols


#: What a resumed run must share with the run it continues.
_RUN_KEYS = ("method", "data", "data_options", "base", "proxies", "model_options",
             "test_fraction", "seed", "covariates")  # fmt: skip


def _check_run_folder(
    folder: Path, config: dict[str, Any], *, resume: bool, estimator_cls: Any
) -> None:
    """Refuse a folder that holds a run unless resuming it with the options it was made with
    (an option typed at its default value counts as left out)."""
    from latentinfer.cli import _check_run_folder as check_resumed

    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--run-dir {str(folder)!r} is a file; pass a folder.")
    if not (folder / "config.json").is_file():
        return
    if not resume:
        raise ConfigError(
            f"run folder {str(folder)!r} already holds a run; choose a new --run-dir (or pass "
            f"--resume to continue a {' or '.join(LATENT)} run)."
        )
    keys = (
        _RUN_KEYS if config["method"] in USES_BASE else tuple(k for k in _RUN_KEYS if k != "base")
    )
    check_resumed(folder, config, resume=True, model_cls=estimator_cls, keys=keys,
                  model_key="method")  # fmt: skip


@app.command("fit")
def fit(
    method: Annotated[str, typer.Argument(help=f"One of {', '.join(METHODS)}.")],
    data: Annotated[
        str, typer.Option("--data", help="confounded, confounded_proxies, ihdp or a CSV file.")
    ],
    data_option: Annotated[
        list[str] | None,
        typer.Option("--data-option", help="Data set option KEY=VALUE (repeatable)."),
    ] = None,
    outcome: Annotated[str, typer.Option(help="CSV: the outcome column.")] = "y",
    treatment: Annotated[str, typer.Option(help="CSV: the binary treatment column.")] = "t",
    covariate: Annotated[
        list[str] | None, typer.Option(help="CSV: covariate column (default: all others).")
    ] = None,
    base: Annotated[
        str | None,
        typer.Option(
            help="VLUCI's plug-in and the meta-learners: base regressor, linear (default), "
            "gbm or none (VLUCI alone). A saved VLUCI keeps only a linear base."
        ),
    ] = None,
    proxies: Annotated[
        str | None,
        typer.Option(help="VLUCI: proxy columns of X (auto: the data set's, none, or 5,6,7)."),
    ] = None,
    model_option: Annotated[
        list[str] | None,
        typer.Option("--model-option", help="Estimator option KEY=VALUE (repeatable)."),
    ] = None,
    latent_dim: Annotated[
        int | None, typer.Option(help="Latent models: dimensions of the latent confounder.")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Latent models: most epochs.")] = None,
    alpha: Annotated[float, typer.Option(help="Intervals at level 1 − alpha.")] = 0.1,
    test_fraction: Annotated[
        float | None,
        typer.Option(
            help="Share of rows held out of the fit and scored out of sample (data sets: "
            "default 0.2). CSV files: default 0, every row fitted (no true effects to score)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split and the estimator.")] = 0,
    run_dir: Annotated[
        Path | None, typer.Option(help="Run folder (default: runs/causal-METHOD-DATA-SEED).")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Latent models: continue from the last checkpoint.")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show the training progress bar.")] = True,
) -> None:
    """Fit a treatment-effect estimator; write effects, intervals and scores to a run folder."""
    from latentinfer import data as data_mod
    from latentinfer.causal.metrics import score_effects
    from latentinfer.cli import _parse_options, _print_table
    from latentinfer.core.validation import check_number

    check_number(alpha, name="--alpha", low=0, high=1, low_inclusive=False,
                 high_inclusive=False)  # fmt: skip
    check_number(seed, name="--seed", low=0, integer=True)
    method = method.lower()
    _check_method(method)
    given = [f for f, v in (("--epochs", epochs), ("--resume", resume or None),
                            ("--latent-dim", latent_dim)) if v is not None]  # fmt: skip
    if method not in LATENT and given:
        raise ConfigError(
            f"{', '.join(given)} applies to the latent models {', '.join(LATENT)}, not {method}."
        )
    if base is not None and method not in USES_BASE:
        raise ConfigError(f"--base applies to {', '.join(USES_BASE)}, not {method}.")
    if proxies is not None and method != "vluci":
        raise ConfigError(
            f"--proxies applies to vluci (the method that models proxy columns), not {method}."
        )
    data_options = _parse_options(data_option, flag="--data-option")
    model_options = _parse_options(model_option, flag="--model-option")
    ite = None
    known_proxies: tuple[int, ...] = ()
    if data in data_mod.available():
        s = data_mod.causal_sample(data_mod.load(data, **data_options))
        y, t, x, ite, known_proxies = s.Y, s.T, s.X, s.ite, s.proxy_columns
        names = [f"x{j}" for j in range(x.shape[1])]
    else:
        if data_options:
            raise ConfigError("--data-option applies to data set names, not CSV files.")
        y, t, x, names = read_csv(
            Path(data), outcome=outcome, treatment=treatment, covariates=covariate
        )
    if test_fraction is None:
        test_fraction = 0.2 if ite is not None else 0.0
    fit_rows, test_rows = _split(len(y), test_fraction, seed)
    if latent_dim is not None:
        model_options["latent_dim"] = latent_dim
    flags = {"seed": "--seed", "max_epochs": "--epochs", "progress": "--progress"}
    if latent_dim is not None:
        flags["latent_dim"] = "--latent-dim"
    base_name = (base or "linear") if method in USES_BASE else None
    try:
        estimator = make_estimator(
            method,
            base=base_name or "linear",
            proxies=(
                _parse_proxies(proxies, known_proxies, x.shape[1]) if method == "vluci" else None
            ),
            options=model_options,
            seed=seed,
        )
        train_options: dict[str, Any] = {}
        if method in LATENT:
            train_options = {"progress": progress}
            if epochs is not None:
                train_options["max_epochs"] = epochs
            estimator._train_config(train_options)  # bad training options fail here
    except ConfigError as exc:
        from latentinfer.cli import flag_terms

        raise ConfigError(flag_terms(str(exc), flags)) from None
    label = Path(data).stem if Path(data).suffix else data
    folder = run_dir or Path("runs") / f"causal-{method}-{label}-{seed}"
    config = {
        "command": "causal fit",
        "method": method,
        "data": data,
        "data_options": data_options,
        "base": base_name,
        "proxies": getattr(estimator, "proxies", None),
        "model_options": model_options,
        "test_fraction": test_fraction,
        "alpha": alpha,
        "seed": seed,
        "n_fit": len(fit_rows),
        "n_test": len(test_rows),
        "covariates": names,
    }
    _check_run_folder(folder, config, resume=resume, estimator_cls=type(estimator))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config, indent=1, default=str))
    fit_kwargs: dict[str, Any] = {}
    if method in LATENT:
        fit_kwargs = {"run_dir": folder, "resume": resume, **train_options}
    started = time.time()
    try:
        estimator.fit(y[fit_rows], t[fit_rows], X=x[fit_rows], **fit_kwargs)
    except ConfigError as exc:  # e.g. a resumed checkpoint past --epochs
        from latentinfer.cli import flag_terms

        raise ConfigError(flag_terms(str(exc))) from None
    seconds = time.time() - started
    n = len(y)
    effect, lower, upper = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    intervals = gives_intervals(estimator)
    effect[fit_rows] = np.asarray(estimator.effect(), dtype=float)
    if intervals:
        lo, hi = estimator.effect_interval(alpha=alpha)
        lower[fit_rows], upper[fit_rows] = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    if len(test_rows):
        effect[test_rows] = np.asarray(estimator.effect(x[test_rows]), dtype=float)
        if intervals:
            lo, hi = estimator.effect_interval(x[test_rows], alpha=alpha)
            lower[test_rows] = np.asarray(lo, dtype=float)
            upper[test_rows] = np.asarray(hi, dtype=float)
    within = effect[fit_rows]
    summary: dict[str, Any] = {"method": method, "ate": float(within.mean()), "seconds": seconds}
    if ite is not None:
        scores = score_effects(
            within,
            ite[fit_rows],
            lower=lower[fit_rows] if intervals else None,
            upper=upper[fit_rows] if intervals else None,
        ).to_dict()
        summary.update({f"{k}_within": v for k, v in scores.items() if v is not None})
        if len(test_rows):
            out = score_effects(effect[test_rows], ite[test_rows]).to_dict()
            summary.update(
                {f"{k}_out_of_sample": out[k] for k in ("sqrt_pehe", "ate_error", "true_ate")}
            )
    split = np.full(n, "fit", dtype=object)
    split[test_rows] = "test"
    with (folder / "effects.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["row", "split", "effect", "lower", "upper", "true_effect"])
        for r in range(n):
            w.writerow(
                [
                    r,
                    split[r],
                    f"{effect[r]:.6g}",
                    f"{lower[r]:.6g}" if intervals else "",
                    f"{upper[r]:.6g}" if intervals else "",
                    "" if ite is None else f"{ite[r]:.6g}",
                ]
            )
    if method in LATENT:
        estimator.save(folder / "model")
    (folder / "summary.json").write_text(json.dumps(summary, indent=1))
    held = f"{len(test_rows)} held out" if len(test_rows) else "none held out"
    _print_table(
        f"{method} on {label}: {len(fit_rows)} fitting rows, {held}",
        [(k, f"{v:.4g}" if isinstance(v, float) else str(v)) for k, v in summary.items()],
        ("quantity", "value"),
    )
    console.print(f"run folder: {folder} (effects of every row in effects.csv)")
    if method == "vluci" and not estimator._save_keeps_effects():
        console.print(
            f"note: {folder / 'model'} holds VLUCI's networks but not its --base {base_name} "
            "plug-in fits (a saved model keeps only a linear base; nothing is pickled), so "
            "VLUCI.load() gives no effects from it; effects.csv holds this run's effects, "
            "and --base linear saves a model that does."
        )
