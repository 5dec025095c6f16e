"""The HGF filter: backends agree, batches broadcast, the likelihood is a density, bad
input and bad parameters get clear errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from latentinfer import ConfigError, NonFiniteError, ShapeError, UnknownKeyError, ValidationError
from latentinfer.bayes import HGF, Network
from latentinfer.bayes.hgf import native


def _walk(n: int = 200, seed: int = 0, batch: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (n,) if batch is None else (batch, n)
    return np.cumsum(rng.normal(0.0, 0.1, shape), axis=-1)


def _binary(n: int = 200, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = np.where((np.arange(n) // 50) % 2 == 0, 0.8, 0.3)
    return (rng.random(n) < p).astype(float)


def _rich_network() -> Network:
    """Two inputs, a shared volatility parent, a drifting, mean-reverting value parent and a
    volatility parent on an input: the couplings the HGF layouts do not exercise."""
    return (
        Network("standard")
        .add_nodes(precision=50.0, tonic_drift=0.01)  # 0: input
        .add_nodes(precision=80.0)  # 1: input
        .add_nodes(value_children=([0, 1], [1.0, 0.6]), autoconnection_strength=0.9, mean=0.2)
        .add_nodes(value_children=([2], [0.5]), tonic_volatility=-5.0)  # 3: value parent of 2
        .add_nodes(volatility_children=([2, 3], [0.7, 0.4]), tonic_volatility=-4.0)
        .add_nodes(volatility_children=([1], [0.3]), tonic_volatility=-3.0)  # on an input
    )


def _max_rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


needs_native = pytest.mark.skipif(not native.available(), reason="no C compiler")


# ------------------------------------------------------------------------- backends agree
@needs_native
@pytest.mark.parametrize("missing", [False, True])
def test_native_matches_eager_on_a_rich_network(missing: bool) -> None:
    net = _rich_network()
    rng = np.random.default_rng(3)
    u = np.stack([_walk(120, 4, batch=3), _walk(120, 5, batch=3)], axis=-1)
    dt = rng.uniform(0.5, 1.5, (3, 120))
    observed = (rng.random((3, 120, 2)) > 0.2).astype(float) if missing else None
    kw = dict(time_steps=dt, observed=observed, surprise=("nlpd",))
    a = net.filter(u, backend="native", **kw)
    b = net.filter(u, backend="eager", **kw)
    # float64 through a different evaluation order: agreement to ~1e-13 relative
    assert _max_rel(a.log_likelihood, b.log_likelihood) < 1e-11
    for node in a.node_trajectories:
        for q, v in a.node_trajectories[node].items():
            assert _max_rel(v, b.node_trajectories[node][q]) < 1e-10, (node, q)


@needs_native
def test_binary_layout_native_matches_eager_in_float32() -> None:
    hgf = HGF(n_levels=3, model_type="binary", tonic_volatility={"2": -3.0, "3": -5.0})
    u = torch.tensor(_binary(), dtype=torch.float32)
    a = hgf.filter(u, backend="native")
    b = hgf.filter(u, backend="eager")
    assert a.log_likelihood.dtype == torch.float32
    assert float(abs(a.log_likelihood - b.log_likelihood)) < 1e-4 * float(abs(b.log_likelihood))


@needs_native
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_steps", [40, 45])
def test_blocked_kernel_matches_eager_on_full_and_partial_blocks(
    dtype: torch.dtype, n_steps: int
) -> None:
    # 70 series: full blocks (of 32 or 64 float, 16 or 32 double lanes: native.width) and a
    # partial one; 40 steps
    # end on a half chunk (transposed in 8 x 8 or 4 x 4 tiles), 45 on a ragged one
    hgf = HGF(n_levels=2, tonic_volatility={"1": -3.0, "2": -4.0})
    u = torch.tensor(_walk(n_steps, 7, batch=70), dtype=dtype)
    a = hgf.filter(u, backend="native")
    b = hgf.filter(u, backend="eager")
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    assert _max_rel(a.log_likelihood.double().numpy(), b.log_likelihood.double().numpy()) < tol
    for node in a.node_trajectories:
        for q, v in a.node_trajectories[node].items():
            ref = b.node_trajectories[node][q]
            assert _max_rel(np.asarray(v, float), np.asarray(ref, float)) < tol, (node, q)


@needs_native
def test_two_input_network_in_blocks_matches_eager() -> None:
    net = _rich_network()
    u = np.stack([_walk(37, 4, batch=40), _walk(37, 5, batch=40)], axis=-1)  # (40, 37, 2)
    a = net.filter(u, backend="native", surprise=("nlpd",))
    b = net.filter(u, backend="eager", surprise=("nlpd",))
    assert _max_rel(a.log_likelihood, b.log_likelihood) < 1e-11


@needs_native
def test_returned_beliefs_are_never_overwritten_and_dropped_ones_are_reused() -> None:
    from latentinfer.bayes.hgf import buffers, release_buffers

    hgf = HGF(n_levels=2)
    u = torch.tensor(_walk(64, 2, batch=80))
    first = hgf.filter(u)
    kept = first.node_trajectories[1]["mean"].clone()
    ptr = first.node_trajectories[1]["mean"].data_ptr()
    second = hgf.filter(u + 1.0)  # the first result is still held: other memory
    assert second.node_trajectories[1]["mean"].data_ptr() != ptr
    assert torch.equal(first.node_trajectories[1]["mean"], kept)
    if buffers._use_count is not None:  # a private PyTorch probe; without it, no reuse
        del first
        third = hgf.filter(u)
        assert third.node_trajectories[1]["mean"].data_ptr() == ptr
        assert torch.equal(third.node_trajectories[1]["mean"], kept)
        assert buffers.POOL.nbytes > 0
    release_buffers()
    assert buffers.POOL.nbytes == 0


# -------------------------------------------------------------------------------- batches
def test_series_and_parameter_batches_equal_one_by_one() -> None:
    u = _walk(150, batch=4)
    omegas = torch.tensor([-6.0, -5.0, -4.0, -3.0], dtype=torch.float64)
    hgf = HGF(n_levels=2, tonic_volatility={"1": -4.0, "2": omegas})
    batched = hgf.filter(u)
    for b in range(4):
        one = HGF(n_levels=2, tonic_volatility={"1": -4.0, "2": float(omegas[b])}).filter(u[b])
        assert one.log_likelihood == pytest.approx(batched.log_likelihood[b], rel=1e-12)
        np.testing.assert_allclose(
            one.node_trajectories[2]["mean"], batched.node_trajectories[2]["mean"][b], rtol=1e-12
        )
    # one series broadcast over many parameter settings
    shared = hgf.filter(u[0])
    assert shared.log_likelihood.shape == (4,)
    assert shared.log_likelihood[3] == pytest.approx(
        HGF(n_levels=2, tonic_volatility={"1": -4.0, "2": -3.0}).filter(u[0]).log_likelihood
    )


def test_numpy_in_numpy_out_tensor_in_tensor_out() -> None:
    hgf = HGF()
    u = _walk(50)
    assert isinstance(hgf.filter(u).log_likelihood, np.floating | float | np.ndarray)
    t = hgf.filter(torch.tensor(u))
    assert isinstance(t.log_likelihood, torch.Tensor)
    assert t.node_trajectories[1]["mean"].shape == (50,)


def test_beliefs_can_be_skipped_and_totals_remain() -> None:
    hgf = HGF()
    u = _walk(80)
    lean = hgf.filter(u, beliefs=False, surprise=("nlpd", "pyhgf"))
    full = hgf.filter(u, surprise=("nlpd", "pyhgf"))
    assert lean.log_likelihood == pytest.approx(full.log_likelihood, rel=1e-12)
    assert lean.surprise("pyhgf") == pytest.approx(full.surprise("pyhgf"), rel=1e-12)
    with pytest.raises(KeyError, match="beliefs=True"):
        lean.node_trajectories  # noqa: B018
    # a key the result lacks is a KeyError that lists the keys it has
    with pytest.raises(UnknownKeyError, match=r"has no 5; it has 0, 1, 2\.$"):
        full.node_trajectories[5]
    with pytest.raises(KeyError, match=r"\[1\] has no 'means'; it has .*Did you mean 'mean'"):
        full.node_trajectories[1]["means"]
    # a network of one input node keeps its beliefs too (it stores no state node's)
    alone = Network().add_nodes().filter(u, beliefs=True)
    assert alone.has_beliefs and not alone.stored
    np.testing.assert_allclose(alone.node_trajectories[0]["value_prediction_error"], u)
    assert alone.surprise_per_step().shape == (80,)
    np.testing.assert_allclose(
        full.surprise_per_step("nlpd").sum(), full.surprise("nlpd"), rtol=1e-12
    )


# --------------------------------------------------------------- what the surprise means
def test_log_likelihood_is_the_one_step_predictive_density() -> None:
    """Step 0: u ~ N(μ̂₁, 1/π̂₁ + 1/π_u) exactly; pyhgf's surprise leaves out 1/π_u."""
    hgf = HGF(
        n_levels=2,
        initial_mean={"1": 0.3},
        initial_precision={"1": 2.0, "2": 1.0},
        tonic_volatility={"1": -2.0, "2": -4.0},
        continuous_precision=5.0,
    )
    u = np.array([1.1])
    res = hgf.filter(u, surprise=("nlpd", "pyhgf"))
    mu_hat = 0.3
    var_hat = 1 / 2.0 + math.exp(-2.0 + 1.0 * 0.0)  # 1/π + Ω with x2's predicted mean 0
    expect = stats.norm.logpdf(1.1, mu_hat, math.sqrt(var_hat + 1 / 5.0))
    assert res.log_likelihood == pytest.approx(expect, rel=1e-12)
    pyhgf = -stats.norm.logpdf(1.1, mu_hat, math.sqrt(var_hat))
    assert res.surprise("pyhgf") == pytest.approx(pyhgf, rel=1e-12)


def test_binary_likelihood_is_bernoulli_of_the_prediction() -> None:
    hgf = HGF(n_levels=2, model_type="binary", initial_mean={"2": 0.7})
    res = hgf.filter(np.array([1.0, 0.0]))
    p0 = 1 / (1 + math.exp(-0.7))
    first = res.surprise_per_step()[0]
    assert first == pytest.approx(-math.log(p0), rel=1e-12)


# ------------------------------------------------------------------------- bad parameters
def test_invalid_parameters_raise_naming_series_step_node_and_quantity() -> None:
    u = _walk(300)
    hgf = HGF(n_levels=3)  # pyhgf's defaults break on this series at some step
    with pytest.raises(NonFiniteError, match=r"at step \d+, node 3's posterior precision") as e:
        hgf.filter(u)
    assert e.value.step is not None and e.value.part == "node 3 precision"


def test_invalid_series_can_be_marked_while_the_others_are_kept() -> None:
    u = _walk(300)
    omegas = torch.tensor([-5.0, -3.0, -6.0], dtype=torch.float64)  # ω₂ = −3 breaks here
    hgf = HGF(n_levels=3, tonic_volatility={"1": -4.0, "2": omegas, "3": -4.0})
    with pytest.raises(NonFiniteError, match="series 1"):
        hgf.filter(u)
    res = hgf.filter(u, on_invalid="mark")
    assert res.is_valid.tolist() == [True, False, True]
    assert math.isinf(res.surprise()[1])
    assert res.first_invalid_step[1] > 0
    alone = HGF(n_levels=3, tonic_volatility={"1": -4.0, "2": -6.0, "3": -4.0}).filter(u)
    assert res.log_likelihood[2] == pytest.approx(alone.log_likelihood, rel=1e-12)


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("inputs", "error", "pattern"),
    [
        (np.array([0.1, np.nan, 0.3]), ValidationError, "inputs holds 1 non-finite"),
        (np.array([0.1, np.inf]), ValidationError, "non-finite"),
        (np.zeros((2, 3, 2)), ShapeError, "2 input column"),
        (np.zeros((2, 0)), ValidationError, "no time steps"),
        (np.zeros((1, 2, 3, 4)), ShapeError, "dimension"),
        (["a", "b"], ValidationError, "numbers"),
        (np.array([0.1, 0.2], dtype=np.float16), ConfigError, "float16; the filter runs in"),
        (torch.tensor([0.1, 0.2], dtype=torch.bfloat16), ConfigError, "bfloat16; the filter"),
    ],
)
def test_bad_inputs_get_clear_errors(inputs: object, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        HGF().filter(inputs)


@pytest.mark.parametrize("backend", ["native", "eager"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_are_found_after_the_filter_without_a_scan(
    backend: str, bad: float
) -> None:
    # without a mask the scan for NaN/Inf waits until a total is non-finite: every model,
    # surprise kind, update scheme and position must still give the input error, also with
    # on_invalid="mark" and with a batch of parameter settings sharing one series
    if backend == "native" and not native.available():
        pytest.skip("no C compiler")
    models = [
        HGF(n_levels=2, update_type="standard"),
        HGF(n_levels=3, tonic_volatility={"1": -4.0, "2": [-5.0, -6.0, -7.0], "3": -4.0}),
        _rich_network(),
    ]
    for model in models:
        n_in = 2 if isinstance(model, Network) and not isinstance(model, HGF) else 1
        for step in (0, 17, 39):
            # float64 only on the eager path: each native variant is a compile
            for dtype in (
                (torch.float32,) if backend == "native" else (torch.float32, torch.float64)
            ):
                u = np.stack([_walk(40, seed=s) for s in range(3 * n_in)]).reshape(3, n_in, 40)
                u = np.ascontiguousarray(u.transpose(0, 2, 1))  # (3 series, 40 steps, n_in)
                u[1, step, n_in - 1] = bad
                x = u if n_in > 1 else u[..., 0]
                for kw in ({}, {"beliefs": False}, {"on_invalid": "mark"}):
                    with pytest.raises(ValidationError, match="inputs holds 1 non-finite"):
                        model.filter(
                            x, surprise=("nlpd", "pyhgf"), dtype=dtype, backend=backend, **kw
                        )
                if not isinstance(model, Network) or isinstance(model, HGF):
                    with pytest.raises(ValidationError, match="inputs holds 1 non-finite"):
                        model.filter(x[1], dtype=dtype, backend=backend)


@pytest.mark.parametrize("backend", [pytest.param("native", marks=needs_native), "eager"])
def test_missing_inputs_may_hold_nan_where_the_mask_is_zero(backend: str) -> None:
    # pyhgf's observed mask: a masked input is skipped, so its value (NaN included) is
    # ignored; the same series with any finite placeholder there scores the same
    u = _walk(60, batch=2)
    observed = np.ones((2, 60))
    observed[1, 10:20] = 0
    with_nan = u.copy()
    with_nan[1, 10:20] = np.nan
    placeholder = u.copy()
    placeholder[1, 10:20] = 123.0
    for model in (HGF(n_levels=2), HGF(n_levels=3, update_type="standard")):
        a = model.filter(with_nan, observed=observed, backend=backend)
        b = model.filter(placeholder, observed=observed, backend=backend)
        np.testing.assert_array_equal(a.log_likelihood, b.log_likelihood)
        for q in ("mean", "precision"):
            np.testing.assert_array_equal(a.node_trajectories[1][q], b.node_trajectories[1][q])
    binary = HGF(n_levels=3, model_type="binary")
    choices = (u > np.median(u)).astype(float)
    choices_nan = choices.copy()
    choices_nan[1, 10:15] = np.nan
    choices_nan[1, 15:20] = 0.5  # a missing binary input need not be 0 or 1 either
    np.testing.assert_array_equal(
        binary.filter(choices_nan, observed=observed, backend=backend).log_likelihood,
        binary.filter(choices, observed=observed, backend=backend).log_likelihood,
    )
    # an observed NaN is still an error, and it says how to mark it missing
    observed[1, 15] = 1
    with pytest.raises(ValidationError, match=r"NaN first at \(series, step\) \(1, 15\).*set "):
        HGF().filter(with_nan, observed=observed, backend=backend)
    with pytest.raises(ValidationError, match="pass observed= with 0 at the missing inputs"):
        HGF().filter(with_nan, backend=backend)


def test_binary_model_rejects_non_binary_inputs() -> None:
    with pytest.raises(ValidationError, match=r"binary and takes only 0 and 1; got 0.5"):
        HGF(n_levels=3, model_type="binary").filter(np.array([0.0, 1.0, 0.5]))


def test_other_arguments_are_checked() -> None:
    hgf = HGF()
    u = _walk(10)
    with pytest.raises(ValidationError, match="time_steps must be positive"):
        hgf.filter(u, time_steps=np.r_[np.ones(9), 0.0])
    with pytest.raises(ShapeError, match="time_steps has shape"):
        hgf.filter(u, time_steps=np.ones(3))
    # one number is one step length for every step
    np.testing.assert_array_equal(
        hgf.filter(u, time_steps=2.0).node_trajectories[2]["mean"],
        hgf.filter(u, time_steps=np.full(10, 2.0)).node_trajectories[2]["mean"],
    )
    with pytest.raises(ValidationError, match="observed must hold 0"):
        hgf.filter(u, observed=np.full(10, 0.5))
    with pytest.raises(ShapeError, match=r"observed has shape \(4,\), read as"):
        hgf.filter(u, observed=np.ones(4))
    with pytest.raises(ConfigError, match="surprise must be one of"):
        hgf.filter(u, surprise="bits")
    with pytest.raises(ConfigError, match="backend must be one of"):
        hgf.filter(u, backend="jax")
    with pytest.raises(ConfigError, match="on_invalid must be one of"):
        hgf.filter(u, on_invalid="ignore")
    with pytest.raises(ShapeError, match="3 series but the parameters hold 2"):
        HGF(tonic_volatility={"2": torch.tensor([-4.0, -3.0])}).filter(_walk(10, batch=3))


def test_unknown_names_and_out_of_domain_parameters_get_clear_errors() -> None:
    with pytest.raises(ConfigError, match=r"unknown parameter name 'tonic_volatilty_2'.*Did you"):
        HGF().set_parameter("tonic_volatilty_2", -3.0)
    with pytest.raises(ConfigError, match="'omega_2' is the HGF papers' symbol; pyhgf's name is "
                       "'tonic_volatility_2'"):  # fmt: skip
        HGF().set_parameter("omega_2", -3.0)
    with pytest.raises(ConfigError, match=r"'kappa' .* this model has volatility_coupling_1, "
                       r"volatility_coupling_2\."):  # fmt: skip
        HGF(n_levels=3).set_parameter("kappa_7", 1.0)
    with pytest.raises(ConfigError, match="initial_mean: unknown level '4'"):
        HGF(n_levels=3, initial_mean={"4": 0.0})
    with pytest.raises(ConfigError, match=r"tonic_volatility takes a dict .*\{'2': -4\}"):
        HGF(n_levels=2, tonic_volatility=-4)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="precision must be a positive"):
        HGF(initial_precision={"1": -1.0})
    with pytest.raises(ConfigError, match="input_precision must be positive"):
        HGF().set_parameter("input_precision", torch.tensor([1.0, 0.0]))
    with pytest.raises(ConfigError, match="model_type must be one of"):
        HGF(model_type="categorical")
    with pytest.raises(ConfigError, match="n_levels must be an integer"):
        HGF(n_levels=1)
    with pytest.raises(ConfigError, match=r"unknown parameter.*for a continuous-state node"):
        Network().add_nodes(tonic_volatility=-3.0, volatility=1.0)
    with pytest.raises(ConfigError, match="node 3 does not exist"):
        Network().add_nodes().add_nodes(value_children=3)
    with pytest.raises(ConfigError, match="binary-state node is an input"):
        Network().add_nodes().add_nodes(kind="binary-state", value_children=0)
    with pytest.raises(ConfigError, match="update_type must be one of"):
        Network("unbounded")
    with pytest.raises(ConfigError, match="unknown HGF layout"):
        HGF.from_name("gaussian3")
    assert HGF.from_name("continuous12").n_levels == 12  # any depth, two digits too
    with pytest.raises(ConfigError, match="eta0, eta1: only pyhgf's defaults"):
        HGF(model_type="binary", eta1=2.0)
    with pytest.raises(NonFiniteError, match=r"simulation diverged: series 0 .* at step"):
        HGF(n_levels=3, tonic_volatility={"2": 2.0}).simulate(300, seed=0)


def test_parameter_names_follow_pyhgf() -> None:
    cont = HGF(n_levels=3)
    assert {"input_precision", "tonic_volatility_3", "volatility_coupling_2"} <= set(
        cont.parameter_names()
    )
    binary = HGF.from_name("binary3")
    names = binary.parameter_names()
    assert names["tonic_volatility_2"] == ("tonic_volatility", 1)  # level 2 is node 1
    assert names["volatility_coupling_2"] == ("volatility_coupling", 1, 2)
    assert "input_precision" not in names
    # pyhgf's positional order, eta0/eta1 and verbose included
    assert HGF(3, "binary", "standard", None, None, 1e4, None, None, 0.0, 1.0).n_levels == 3
    assert HGF(verbose=False).node_labels() == {0: "u", 1: "x1", 2: "x2"}
    assert binary.node_labels() == {0: "x1", 1: "x2", 2: "x3"}
    assert binary.filter(_binary()).label(1) == "x2"
    assert Network().add_nodes().filter(_walk(5)).label(0) == "node 0"


# -------------------------------------------------------------- sampling, plots, fallback
def test_posterior_predictive_samples_have_the_predictive_mean() -> None:
    hgf = HGF(tonic_drift={"1": 0.05})
    res = hgf.filter(_walk(100))
    draws = res.sample_predictive(3, n_samples=20000, seed=0)
    assert draws.inputs.shape == (20000, 3)
    mean1 = res.final_beliefs()[1][0]
    # E[u_{T+1}] = μ₁ + ρ₁ exactly; 5 Monte Carlo standard errors
    se = draws.inputs[:, 0].std() / math.sqrt(20000)
    assert abs(draws.inputs[:, 0].mean() - (mean1 + 0.05)) < 5 * se
    again = res.sample_predictive(3, n_samples=20000, seed=0)
    np.testing.assert_array_equal(draws.inputs, again.inputs)
    binary = HGF(n_levels=3, model_type="binary").filter(_binary())
    coins = binary.sample_predictive(5, n_samples=10, seed=1).inputs
    assert set(np.unique(coins)) <= {0.0, 1.0}
    with pytest.raises(ShapeError, match="time_steps has 2 entries for 3 steps"):
        res.sample_predictive(3, time_steps=[1.0, 2.0])
    with pytest.raises(ValidationError, match="time_steps must be positive"):
        res.sample_predictive(3, time_steps=0.0)


def test_figures_are_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from latentinfer.plots import plot_surprise

    res = HGF(n_levels=3, model_type="binary").filter(_binary())
    assert res.plot_trajectories(tmp_path / "beliefs.png").stat().st_size > 10_000
    many = HGF().filter(_walk(50, batch=8))
    assert plot_surprise(many, tmp_path / "surprise.png").is_file()
    # masked inputs are not drawn as data; bad arguments are named
    u = _walk(50)
    seen = np.ones(50)
    seen[10:20] = 0
    u[10:20] = np.nan
    assert HGF().filter(u, observed=seen).plot_trajectories(tmp_path / "gap.png").is_file()
    # the x axis may count trials from 1 (as the command line's beliefs.csv does)
    from latentinfer.plots import hgf as hgf_plots

    monkeypatch.setattr(hgf_plots, "_save", lambda fig, path: fig)
    for plot in (many.plot_trajectories, lambda *a, **k: plot_surprise(many, *a, **k)):
        fig = plot(tmp_path / "x.png", first_step=1, step_label="trial")
        assert fig.axes[-1].get_xlabel() == "trial"
        assert fig.axes[-1].lines[0].get_xdata()[[0, -1]].tolist() == [1, 50]
    monkeypatch.undo()
    with pytest.raises(ConfigError, match=r"series=8 is out of range: the result holds 8"):
        many.plot_trajectories(tmp_path / "x.png", series=8)
    with pytest.raises(ConfigError, match=r"surprise=\('nlpd', 'pyhgf'\)"):
        many.surprise_per_step("pyhgf")


def test_eager_backend_is_used_without_a_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native, "available", lambda: False)
    res = HGF().filter(_walk(20))
    assert res.backend == "eager"
    with pytest.raises(ConfigError, match="needs a C compiler"):
        HGF().filter(_walk(20), backend="native")


@needs_native
def test_structure_caches_its_hash_but_pickles_without_it() -> None:
    import pickle

    s = HGF(n_levels=3).structure()
    h, nodes = hash(s), s.state_nodes
    assert hash(s) == h and s.__dict__["_hash"] == h
    t = pickle.loads(pickle.dumps(s))
    assert "_hash" not in t.__dict__ and "state_nodes" not in t.__dict__
    assert t == s and hash(t) == h and t.state_nodes == nodes


def test_chains_per_block_follow_the_cpu_and_the_override(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LATENTINFER_HGF_CHAINS", raising=False)
    assert native._chains() == (4 if " avx512f" in native._cpu_id() else 8)
    monkeypatch.setenv("LATENTINFER_HGF_CHAINS", "6")
    assert native._chains() == 6
    for bad in ("0", "17", "four"):
        monkeypatch.setenv("LATENTINFER_HGF_CHAINS", bad)
        with pytest.raises(ConfigError, match="LATENTINFER_HGF_CHAINS must be an integer"):
            native._chains()


def test_kernels_are_cached_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LATENTINFER_CACHE", str(tmp_path))
    native.compile_kernel.cache_clear()
    HGF(n_levels=4).filter(_walk(20), beliefs=False)
    libs = list((tmp_path / "kernels").glob("hgf_*.so"))
    assert len(libs) == 1
    native.compile_kernel.cache_clear()
    before = libs[0].stat().st_mtime_ns
    HGF(n_levels=4).filter(_walk(20), beliefs=False)
    assert libs[0].stat().st_mtime_ns == before  # loaded, not rebuilt
    assert not list((tmp_path / "kernels").glob("tmp*"))  # no half-written files left


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_filter_matches_cpu() -> None:  # pragma: no cover - no GPU in CI
    u = torch.tensor(_walk(100, batch=4))
    cpu = HGF().filter(u)
    gpu = HGF().filter(u.cuda())
    assert gpu.backend == "eager"
    torch.testing.assert_close(gpu.log_likelihood.cpu(), cpu.log_likelihood, rtol=1e-10, atol=0)


def test_vector_bytes_follow_the_cpu_and_the_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LATENTINFER_HGF_VECTOR_BYTES", raising=False)
    cpu = native._cpu_id()
    assert native._vector_bytes() == (64 if " avx512f" in cpu and "AuthenticAMD" in cpu else 32)
    monkeypatch.setenv("LATENTINFER_HGF_VECTOR_BYTES", "64")
    assert native._vector_bytes() == 64
    for bad in ("16", "128", "wide"):
        monkeypatch.setenv("LATENTINFER_HGF_VECTOR_BYTES", bad)
        with pytest.raises(ConfigError, match="LATENTINFER_HGF_VECTOR_BYTES must be 32 or 64"):
            native._vector_bytes()


@needs_native
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kernels_of_32_and_64_byte_vectors_agree_bit_for_bit(
    monkeypatch: pytest.MonkeyPatch, dtype: torch.dtype
) -> None:
    # each lane runs the same IEEE operations whatever the vector width (AVX-512 or two
    # halves of it elsewhere): beliefs, surprise and gradient must be identical. 150 series:
    # full blocks and a partial one at either width; 45 steps: a ragged last chunk
    hgf = HGF(n_levels=2, tonic_volatility={"1": -3.0, "2": -4.0})
    u = torch.tensor(_walk(45, 8, batch=150), dtype=dtype)
    free = ["tonic_volatility_1", "tonic_volatility_2"]
    runs = []
    try:
        for vector_bytes in (32, 64):
            monkeypatch.setattr(native, "VECTOR_BYTES", vector_bytes)
            native.compile_kernel.cache_clear()
            f = hgf.filter(u, backend="native")
            grad = hgf.value_and_grad(u, free=free, dtype=dtype, backend="native")
            runs.append((f, grad))
    finally:
        native.compile_kernel.cache_clear()  # leave no kernel of the patched width behind
    (a, ga), (b, gb) = runs
    assert torch.equal(a.log_likelihood, b.log_likelihood)
    for node, beliefs in a.node_trajectories.items():
        for q, v in beliefs.items():
            assert torch.equal(torch.as_tensor(v), torch.as_tensor(b.node_trajectories[node][q]))
    assert torch.equal(torch.as_tensor(ga.value), torch.as_tensor(gb.value))
    for name in free:
        assert torch.equal(torch.as_tensor(ga.grad[name]), torch.as_tensor(gb.grad[name]))
