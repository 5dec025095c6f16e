"""Treatment-effect data with known potential outcomes, for causal estimators.

Three registered data sets, each giving the true individual effects so that √PEHE and the
ATE error can be computed (:mod:`latentinfer.causal.metrics`):

================== =====================================================================
name               what
================== =====================================================================
``confounded``     X ∈ R⁵ and a hidden confounder U ∈ R¹ of adjustable strength
``confounded_proxies`` the same, with U seen through noisy proxies appended to X
``ihdp``           IHDP covariates (a local CSV, or EconML's copy) with Hill's surface B
================== =====================================================================

Every loader returns a :class:`~latentinfer.data.Dataset` whose ``X`` holds the observed
covariates and whose ``info`` holds, per row (listed in ``info["per_row"]``, so
:meth:`~latentinfer.data.Dataset.split` keeps them aligned): ``"T"`` (float32 0/1),
``"Y"`` (the factual outcome), ``"ite"`` (the true individual effect Y(1) − Y(0) without
the outcome noise), ``"mu0"`` and ``"mu1"`` (the noise-free potential outcomes).
:func:`causal_sample` turns such a data set into NumPy arrays.

The synthetic generator (the CPU reproduction of Zhao et al.'s set-up)::

    X ~ N(0, I_5),  U ~ N(0, 1)
    T ~ Bernoulli(σ(aᵀX + b·U)),        a = (0.5, −0.5, 0.25, 0, 0)
    Y = μ_T(X) + c·U·(1 + T) + noise·ε,  ε ~ N(0, 1)
    μ0(x) = 0.5 x₁ + sin(x₂) + 0.25 x₃²,  μ1(x) = μ0(x) + 1 + 0.5 x₄

so the true effect is τ = μ1(X) − μ0(X) + c·U: U confounds (it moves T and Y) and
modifies the effect. With proxies, ``n_proxies`` columns ``U + proxy_noise·e_j`` are
appended to X; ``info["proxy_columns"]`` lists them (U's measurements, which cause
neither T nor Y). Each seed fixes one instance; covariates, U and the noises come from
independent streams of ``numpy.random.SeedSequence(seed)``.

IHDP: the Infant Health and Development Program covariates (Hill 2011) after Hill's
selection step (treated children of non-white mothers dropped: 747 units, 139 treated), 25
covariates (6 continuous, standardised; 19 binary). Response surface B, drawn from
``seed``: β has entries in (0, 0.1, 0.2, 0.3, 0.4) with probabilities (0.6, 0.1, 0.1,
0.1, 0.1) over ``[1, X]``, ``Y(0) = exp((X̃ + W)β) + ε``, ``Y(1) = X̃β − ω + ε``
with ``X̃ = [1, X]``, ``W`` an offset of 0.5 on every covariate (0 on the intercept),
``ε ~ N(0, 1)``, and ω chosen so that the average effect on the treated is 4. The draws
follow EconML's ``ihdp_surface_B`` (NumPy ``RandomState(seed)``), so the same seed gives
the same realisation. No IHDP file ships with latentinfer.
"""

from __future__ import annotations

import csv
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentinfer.core.errors import ConfigError, ValidationError
from latentinfer.core.validation import check_choice, check_number
from latentinfer.data.registry import Dataset, check_seed, register

__all__ = [
    "IHDP_COVARIATES",
    "CausalSample",
    "ConfounderPosterior",
    "causal_sample",
    "confounder_posterior",
    "load_confounded",
    "load_confounded_proxies",
    "load_ihdp",
]

_PER_ROW = ("T", "Y", "ite", "mu0", "mu1")
_A = np.array([0.5, -0.5, 0.25, 0.0, 0.0])

#: IHDP covariates in the order CFR/CEVAE's files use: 6 continuous, then 19 binary.
IHDP_COVARIATES = (
    "bw", "b.head", "preterm", "birth.o", "nnhealth", "momage",
    "sex", "twin", "b.marr", "mom.lths", "mom.hs", "mom.scoll", "cig", "first", "booze",
    "drugs", "work.dur", "prenatal", "site1", "site2", "site3", "site4", "site5", "site6",
    "site7",
)  # fmt: skip
_IHDP_CONTINUOUS = 6


@dataclass(frozen=True)
class CausalSample:
    """A treatment-effect data set as NumPy arrays (float64).

    Attributes:
        Y: ``(n,)`` factual outcomes.
        T: ``(n,)`` treatments, 0/1.
        X: ``(n, d)`` observed covariates.
        ite: ``(n,)`` true individual effects (``None`` when unknown).
        mu0, mu1: ``(n,)`` noise-free potential outcomes (``None`` when unknown).
        proxy_columns: columns of ``X`` that are noisy measurements of a hidden confounder.
        U: ``(n, k)`` the hidden confounder, where the data are synthetic (else ``None``).
    """

    Y: np.ndarray
    T: np.ndarray
    X: np.ndarray
    ite: np.ndarray | None
    mu0: np.ndarray | None
    mu1: np.ndarray | None
    proxy_columns: tuple[int, ...]
    U: np.ndarray | None

    @property
    def true_ate(self) -> float | None:
        """The sample average of the true effects (``None`` when unknown)."""
        return None if self.ite is None else float(self.ite.mean())


def causal_sample(ds: Dataset) -> CausalSample:
    """The arrays of a treatment-effect :class:`~latentinfer.data.Dataset`.

    Raises:
        ValidationError: ``ds`` is not a loaded data set, or has no treatment and outcome
            in ``info``.
    """
    if not isinstance(ds, Dataset):
        hint = (
            f"causal_sample(load({ds!r}))" if isinstance(ds, str) else "causal_sample(load(name))"
        )
        raise ValidationError(
            f"causal_sample takes a loaded data set, as in {hint}; got {type(ds).__name__}."
        )
    if "T" not in ds.info or "Y" not in ds.info:
        raise ValidationError(
            f"data set {ds.name!r} has no treatment and outcome (info['T'], info['Y']); use "
            "a treatment-effect data set: confounded, confounded_proxies or ihdp."
        )

    def arr(key: str) -> np.ndarray | None:
        v = ds.info.get(key)
        return None if v is None else v.double().numpy()

    y, t = arr("Y"), arr("T")
    assert y is not None and t is not None
    return CausalSample(
        Y=y,
        T=t,
        X=ds.X.double().numpy(),
        ite=arr("ite"),
        mu0=arr("mu0"),
        mu1=arr("mu1"),
        proxy_columns=tuple(int(c) for c in ds.info.get("proxy_columns", ())),
        U=arr("U"),
    )


def _dataset(
    name: str, x: np.ndarray, rows: dict[str, np.ndarray], info: dict[str, Any]
) -> Dataset:
    per_row = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in rows.items()}
    return Dataset(
        X=torch.from_numpy(x.astype(np.float32)),
        name=name,
        info={**per_row, "per_row": tuple(rows), "likelihood": "gaussian", **info},
    )


def _mu(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The synthetic generator's μ0(x), μ1(x) on its five covariates ``x`` ``(n, 5)``."""
    mu0 = 0.5 * x[:, 0] + np.sin(x[:, 1]) + 0.25 * x[:, 2] ** 2
    return mu0, mu0 + 1.0 + 0.5 * x[:, 3]


def _synthetic(
    name: str,
    *,
    n: Any,
    confounding: Any,
    treatment_strength: Any,
    outcome_strength: Any,
    noise: Any,
    n_proxies: Any,
    proxy_noise: Any,
    seed: Any,
) -> Dataset:
    n = int(check_number(n, name="n", low=2, integer=True))
    s = float(check_number(confounding, name="confounding"))
    b = (
        s
        if treatment_strength is None
        else float(check_number(treatment_strength, name="treatment_strength"))
    )
    c = (
        s
        if outcome_strength is None
        else float(check_number(outcome_strength, name="outcome_strength"))
    )
    noise = float(check_number(noise, name="noise", low=0))
    k = int(check_number(n_proxies, name="n_proxies", low=0, integer=True))
    pn = float(check_number(proxy_noise, name="proxy_noise", low=0))
    seed = check_seed(seed)
    x_ss, u_ss, t_ss, y_ss, p_ss = np.random.SeedSequence(seed).spawn(5)
    x = np.random.default_rng(x_ss).standard_normal((n, 5))
    u = np.random.default_rng(u_ss).standard_normal(n)
    logit = x @ _A + b * u
    t = (np.random.default_rng(t_ss).random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(float)
    mu0, mu1 = _mu(x)
    y0, y1 = mu0 + c * u, mu1 + 2.0 * c * u  # noise-free potential outcomes given U
    y = np.where(t == 1, y1, y0) + noise * np.random.default_rng(y_ss).standard_normal(n)
    cols = x
    if k:
        proxies = u[:, None] + pn * np.random.default_rng(p_ss).standard_normal((n, k))
        cols = np.concatenate([x, proxies], axis=1)
    return _dataset(
        name,
        cols,
        {"T": t, "Y": y, "ite": y1 - y0, "mu0": y0, "mu1": y1, "U": u[:, None]},
        {
            "proxy_columns": tuple(range(5, 5 + k)),
            "treatment_strength": b,
            "outcome_strength": c,
            "noise": noise,
            "proxy_noise": pn,
            "true_ate": float((y1 - y0).mean()),
        },
    )


@register("confounded")
def load_confounded(
    *,
    n: int = 2000,
    confounding: float = 1.0,
    treatment_strength: float | None = None,
    outcome_strength: float | None = None,
    noise: float = 1.0,
    n_proxies: int = 0,
    proxy_noise: float = 1.0,
    seed: int = 0,
) -> Dataset:
    """Confounded treatment data: X ∈ R⁵ seen, a confounder U of adjustable strength hidden.

    See the module docstring for the generator: ``T ~ Bern(σ(aᵀX + b·U))``,
    ``Y = μ_T(X) + c·U·(1 + T) + noise·ε``, true effect ``μ1(X) − μ0(X) + c·U``.

    Args:
        n: rows.
        confounding: ``b`` and ``c`` at once (0: no hidden confounding).
        treatment_strength: ``b``, U's weight in the treatment's logit (overrides
            ``confounding``).
        outcome_strength: ``c``, U's weight in the outcome (overrides ``confounding``).
        noise: standard deviation of the outcome noise.
        n_proxies: noisy measurements ``U + proxy_noise·e`` appended to X (0: none).
        proxy_noise: their noise's standard deviation.
        seed: fixes the instance.

    Returns:
        A :class:`Dataset`: ``X`` ``(n, 5 + n_proxies)`` and per-row ``info`` ``"T"``,
        ``"Y"``, ``"ite"``, ``"mu0"``, ``"mu1"``, ``"U"`` ``(n, 1)``; also
        ``"proxy_columns"``, ``"true_ate"`` and the strengths.

    Example:
        >>> from latentinfer.data import load
        >>> ds = load("confounded", n=500, confounding=2.0, seed=0)
        >>> tuple(ds.X.shape), sorted(ds.info["per_row"])
        ((500, 5), ['T', 'U', 'Y', 'ite', 'mu0', 'mu1'])
    """
    return _synthetic(
        "confounded",
        n=n,
        confounding=confounding,
        treatment_strength=treatment_strength,
        outcome_strength=outcome_strength,
        noise=noise,
        n_proxies=n_proxies,
        proxy_noise=proxy_noise,
        seed=seed,
    )


@register("confounded_proxies")
def load_confounded_proxies(
    *,
    n: int = 2000,
    confounding: float = 1.0,
    treatment_strength: float | None = None,
    outcome_strength: float | None = None,
    noise: float = 1.0,
    n_proxies: int = 5,
    proxy_noise: float = 1.0,
    seed: int = 0,
) -> Dataset:
    """Confounded treatment data whose hidden confounder U is seen through noisy proxies.

    :func:`load_confounded` with ``n_proxies = 5`` by default: X holds the 5 covariates
    and then the proxies ``U + proxy_noise·e_j`` (``info["proxy_columns"]``).

    Example:
        >>> from latentinfer.data import load
        >>> ds = load("confounded_proxies", n=300)
        >>> tuple(ds.X.shape), ds.info["proxy_columns"]
        ((300, 10), (5, 6, 7, 8, 9))
    """
    ds = _synthetic(
        "confounded_proxies",
        n=n,
        confounding=confounding,
        treatment_strength=treatment_strength,
        outcome_strength=outcome_strength,
        noise=noise,
        n_proxies=n_proxies,
        proxy_noise=proxy_noise,
        seed=seed,
    )
    if not ds.info["proxy_columns"]:
        raise ConfigError("n_proxies must be at least 1 for confounded_proxies; got 0.")
    return ds


# ------------------------------------------------------- the exact confounder posterior
@dataclass(frozen=True)
class ConfounderPosterior:
    """p(U | data) per row of a synthetic data set, on a grid (exact up to quadrature).

    Attributes:
        grid: ``(G,)`` the values of U, evenly spaced.
        weights: ``(n, G)`` each row's posterior probabilities on ``grid`` (rows sum to 1).
    """

    grid: np.ndarray
    weights: np.ndarray

    def mean(self) -> np.ndarray:
        """``(n,)`` the posterior means E[U | data]."""
        return self.weights @ self.grid

    def sd(self) -> np.ndarray:
        """``(n,)`` the posterior standard deviations."""
        m = self.mean()
        return np.sqrt(np.maximum(self.weights @ self.grid**2 - m**2, 0.0))

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """``(n,)`` one draw of U per row (inverse CDF on the grid)."""
        cdf = np.cumsum(self.weights, axis=1)
        u = rng.random((cdf.shape[0], 1))
        return self.grid[np.minimum((cdf < u).sum(axis=1), self.grid.size - 1)]


def confounder_posterior(
    ds: Dataset,
    rows: slice | np.ndarray | None = None,
    *,
    given: str = "all",
    grid_size: int = 1201,
) -> ConfounderPosterior:
    """The exact posterior of the hidden confounder under the synthetic generator.

    For ``confounded`` and ``confounded_proxies`` data, U ~ N(0, 1) combines with the
    proxies ``U + proxy_noise·e_j`` and, with ``given="all"``, the treatment
    ``T ~ Bern(σ(aᵀX + b·U))`` and the outcome ``Y ~ N(μ_T(X) + c·U·(1 + T), noise²)``, by
    quadrature on ``grid_size`` points of [−6, 6]. It knows the generating model, so it is
    a reference (the best any confounder model could infer from the same rows), not an
    estimator. Within-sample rows condition on everything (``given="all"``, the abduction
    step); held-out rows, whose treatment and outcome ``effect(X)`` does not see, on the
    covariates only (``given="covariates"``).

    Args:
        ds: a data set from ``load("confounded")`` or ``load("confounded_proxies")``.
        rows: the rows to infer (a slice or integer indices; all rows when ``None``).
        given: ``"all"`` (proxies, T and Y) or ``"covariates"`` (the proxies only).
        grid_size: quadrature points (at least 101).

    Raises:
        ValidationError: ``ds`` is not from the synthetic generator.
    """
    if ds.name not in ("confounded", "confounded_proxies"):
        raise ValidationError(
            f"ds must come from the synthetic generator (confounded or confounded_proxies); "
            f"got data set {ds.name!r}, whose confounder model is unknown."
        )
    check_choice(given, name="given", choices=("all", "covariates"))
    g = int(check_number(grid_size, name="grid_size", low=101, integer=True))
    s = causal_sample(ds)
    sel = slice(None) if rows is None else rows
    x, t, y = s.X[sel], s.T[sel], s.Y[sel]
    info = ds.info
    b, c = info["treatment_strength"], info["outcome_strength"]
    grid = np.linspace(-6.0, 6.0, g)
    logp = np.broadcast_to(-0.5 * grid**2, (x.shape[0], g)).copy()
    if s.proxy_columns:
        prox = x[:, list(s.proxy_columns)]
        logp -= 0.5 * ((prox[:, :, None] - grid) ** 2).sum(axis=1) / info["proxy_noise"] ** 2
    if given == "all":
        logit = (x[:, :5] @ _A)[:, None] + b * grid
        logp -= np.logaddexp(0.0, np.where(t[:, None] == 1, -logit, logit))  # log σ(±logit)
        mu0, mu1 = _mu(x[:, :5])
        resid = (y - np.where(t == 1, mu1, mu0))[:, None] - (c * (1.0 + t))[:, None] * grid
        logp -= 0.5 * resid**2 / max(info["noise"], 1e-12) ** 2
    w = np.exp(logp - logp.max(axis=1, keepdims=True))
    return ConfounderPosterior(grid=grid, weights=w / w.sum(axis=1, keepdims=True))


# ----------------------------------------------------------------------------------- IHDP
def _econml_sim_csv() -> Path | None:
    """EconML's copy of the IHDP covariates (``econml/data/ihdp/sim.csv``), if installed."""
    spec = importlib.util.find_spec("econml")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root) / "data" / "ihdp" / "sim.csv"
        if path.is_file():
            return path
    return None


def _numbers(path: Path, rows: list[list[str]], first_line: int) -> np.ndarray:
    try:
        return np.array([[float(v) for v in r] for r in rows], dtype=np.float64)
    except ValueError:
        for i, r in enumerate(rows):
            for v in r:
                try:
                    float(v)
                except ValueError:
                    raise ValidationError(
                        f"IHDP file {str(path)!r}, line {first_line + i}: {v!r} is not a number."
                    ) from None
        raise  # pragma: no cover


def _read_ihdp(path: Path) -> dict[str, np.ndarray]:
    """Covariates, treatment and (when the file has them) outcomes of an IHDP CSV.

    Two layouts: NPCI's simulation table with a header naming ``treat``, ``momwhite`` and
    the 25 covariates (Hill's selection is applied here), or CFR/CEVAE's files without a
    header: ``treatment, y_factual, y_cfactual, mu0, mu1, x1 .. x25`` (already selected).
    """
    if not path.is_file():
        raise ValidationError(f"path {str(path)!r} is not a file; pass an IHDP CSV.")
    with path.open(newline="") as fh:
        lines = [r for r in csv.reader(fh) if r and any(v.strip() for v in r)]
    if len(lines) < 2:
        raise ValidationError(f"IHDP file {str(path)!r} has fewer than two rows.")
    head = [h.strip().strip('"') for h in lines[0]]
    if "treat" in head:
        missing = [c for c in ("treat", "momwhite", *IHDP_COVARIATES) if c not in head]
        if missing:
            raise ValidationError(
                f"IHDP file {str(path)!r} has a header but no column(s) {missing}; expected "
                "NPCI's layout (treat, momwhite and the 25 covariates) or CFR/CEVAE's "
                "header-less layout (treatment, y_factual, y_cfactual, mu0, mu1, x1..x25)."
            )
        data = _numbers(path, lines[1:], 2)
        col = {h: i for i, h in enumerate(head)}
        t = data[:, col["treat"]]
        keep = ~((t == 1) & (data[:, col["momwhite"]] == 0))  # Hill's selection
        x = data[keep][:, [col[c] for c in IHDP_COVARIATES]]
        mean = x[:, :_IHDP_CONTINUOUS].mean(0)
        std = x[:, :_IHDP_CONTINUOUS].std(0)
        x[:, :_IHDP_CONTINUOUS] = (x[:, :_IHDP_CONTINUOUS] - mean) / np.where(std > 0, std, 1)
        x[:, IHDP_COVARIATES.index("first")] += 1  # coded 1/2, as in CFR/CEVAE's files
        return {"T": t[keep], "X": x}
    data = _numbers(path, lines, 1)
    if data.shape[1] < 30:
        raise ValidationError(
            f"IHDP file {str(path)!r} has {data.shape[1]} columns; CFR/CEVAE's layout has 30 "
            "(treatment, y_factual, y_cfactual, mu0, mu1, x1..x25)."
        )
    return {
        "T": data[:, 0],
        "X": data[:, 5:30],
        "Y": data[:, 1],
        "mu0": data[:, 3],
        "mu1": data[:, 4],
    }


@register("ihdp")
def load_ihdp(*, path: str | None = None, seed: int = 0, surface: str = "B") -> Dataset:
    """IHDP (Hill 2011): real covariates and treatment, simulated outcomes with known effects.

    Reads a local CSV (``path``) in NPCI's simulation layout or CFR/CEVAE's header-less
    layout, or else the covariate table EconML's wheel ships (``pip install econml``; no
    IHDP file ships with latentinfer and nothing is downloaded).

    Args:
        path: a local IHDP CSV (``None``: EconML's copy, if installed).
        seed: the realisation of surface B (EconML's ``ihdp_surface_B(random_state=seed)``).
        surface: ``"B"`` (Hill's exponential surface, drawn from ``seed``) or ``"file"``
            (the outcomes a CFR/CEVAE-layout file holds: ``y_factual``, ``mu0``, ``mu1``).

    Returns:
        A :class:`Dataset`: ``X`` float32 ``(747, 25)`` (6 standardised continuous
        covariates, 19 binary), per-row ``info`` ``"T"``, ``"Y"``, ``"ite"``, ``"mu0"``,
        ``"mu1"``, and ``info["source"]``.

    Raises:
        ValidationError: no file and no EconML, or a file in neither layout.
        ConfigError: ``surface="file"`` for a file without outcomes, or a bad option.
    """
    check_choice(surface, name="surface", choices=("B", "file"))
    seed = check_seed(seed)
    if path is None:
        found = _econml_sim_csv()
        if found is None:
            raise ValidationError(
                "IHDP needs its covariates: pass path=... (data option path=FILE.csv) to a "
                "local IHDP CSV, or install EconML (pip install econml==0.17.0), whose wheel "
                "ships them. Nothing is downloaded."
            )
        source = found
    else:
        if not isinstance(path, (str, Path)):
            raise ConfigError(f"path must be a file path or None; got {path!r}.")
        source = Path(path).expanduser()
    raw = _read_ihdp(source)
    x, t = raw["X"], raw["T"]
    if not np.isin(t, (0.0, 1.0)).all():
        raise ValidationError(f"IHDP file {str(source)!r}: the treatment column is not 0/1.")
    if surface == "file":
        if "Y" not in raw:
            raise ConfigError(
                f"surface='file' needs outcomes in the file; {str(source)!r} is in NPCI's "
                "layout without them. Use surface='B'."
            )
        y, mu0, mu1 = raw["Y"], raw["mu0"], raw["mu1"]
    else:
        rs = np.random.RandomState(seed)
        xt = np.concatenate([np.ones((len(x), 1)), x], axis=1)
        beta = rs.choice([0, 0.1, 0.2, 0.3, 0.4], size=xt.shape[1], replace=True,
                         p=[0.6, 0.1, 0.1, 0.1, 0.1])  # fmt: skip
        offset = np.full(xt.shape, 0.5)
        offset[:, 0] = 0.0
        mu0 = np.exp((xt + offset) @ beta)
        lin = xt @ beta
        omega = float(np.mean((lin - mu0)[t == 1])) - 4.0  # effect on the treated: 4
        mu1 = lin - omega
        y = np.where(t == 1, mu1, mu0) + rs.normal(0, 1, size=len(x))
    return _dataset(
        "ihdp",
        x,
        {"T": t, "Y": y, "ite": mu1 - mu0, "mu0": mu0, "mu1": mu1},
        {
            "source": str(source),
            "surface": surface,
            "seed": seed,
            "true_ate": float((mu1 - mu0).mean()),
        },
    )
