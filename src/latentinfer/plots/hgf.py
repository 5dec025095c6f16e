"""Figures of a hierarchical Gaussian filter's run: beliefs with uncertainty, surprise."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from latentinfer.core.errors import ConfigError
from latentinfer.plots.latents import _save

__all__ = ["plot_surprise", "plot_trajectories"]


def _series(a: Any, series: int, squeeze: bool) -> np.ndarray:
    arr = np.asarray(a.detach().cpu() if hasattr(a, "detach") else a, dtype=float)
    return arr if squeeze else arr[series]


def plot_trajectories(
    result: Any,
    path: str | os.PathLike[str],
    *,
    series: int = 0,
    kind: str = "nlpd",
    title: str = "HGF beliefs",
    first_step: int = 0,
    step_label: str = "step",
) -> Path:
    """One panel per node, top level first: the posterior mean with a ±1 sd band
    (sd = 1/√precision), the inputs on the input panel, and the per-step surprise below.

    Args:
        result: a :class:`~latentinfer.bayes.FilterResult` filtered with ``beliefs=True``.
        path: the PNG file to write.
        series: which series of a batch to draw.
        kind: the surprise drawn in the bottom panel (``"nlpd"`` or ``"pyhgf"``).
        title: figure title.
        first_step: the x-axis number of the first step (1 to count trials from 1).
        step_label: the x-axis label.

    Returns:
        The path written.
    """
    s = result.structure
    traj = result.node_trajectories
    sq = result.squeeze
    n_series = 1 if sq else result.inputs.shape[0]
    if isinstance(series, bool) or not isinstance(series, (int, np.integer)):
        raise ConfigError(f"series must be an integer index; got {series!r}.")
    if not -n_series <= series < n_series:
        raise ConfigError(
            f"series={series} is out of range: the result holds {n_series} series "
            f"(0 to {n_series - 1})."
        )
    state = list(reversed(s.state_nodes))
    binary = [i for i in s.inputs if s.nodes[i].is_binary]
    rows = len(state) + len(binary) + 1
    fig = Figure(figsize=(8.0, 1.8 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    steps = first_step + np.arange(result.inputs.shape[1])

    def observed_input(node: int) -> tuple[np.ndarray, np.ndarray]:
        """The steps where ``node``'s input was observed, and its values there."""
        k = s.inputs.index(node)
        u = _series(result.inputs[..., k], series, False)  # inputs keep their batch axis
        if result.observed is None:
            return steps, u
        seen = _series(result.observed[..., k], series, False) == 1
        return steps[seen], u[seen]

    def name(node: int) -> str:
        label = result.label(node)
        return label if label.startswith("node") else f"{label} (node {node})"

    for ax, i in zip(axes, state):
        mean = _series(traj[i]["mean"], series, sq)
        sd = 1.0 / np.sqrt(_series(traj[i]["precision"], series, sq))
        ax.fill_between(steps, mean - sd, mean + sd, alpha=0.3, color="tab:blue", label="±1 sd")
        ax.plot(steps, mean, color="tab:blue", lw=1.2, label="posterior mean")
        for child in s.nodes[i].value_children:
            if child in s.inputs and not s.nodes[child].is_binary:
                at, u = observed_input(child)
                ax.scatter(at, u, s=4, color="k", alpha=0.5, label=f"input {name(child)}")
        ax.set_ylabel(name(i))
        ax.legend(fontsize=7, loc="upper right")
    for ax, i in zip(axes[len(state) :], binary):
        prob = _series(traj[i]["expected_mean"], series, sq)
        at, u = observed_input(i)
        ax.plot(steps, prob, color="tab:blue", lw=1.2, label="predicted p(u = 1)")
        ax.scatter(at, u, s=4, color="k", alpha=0.5, label="input")
        ax.set_ylim(-0.05, 1.05)
        ax.set_ylabel(name(i))
        ax.legend(fontsize=7, loc="upper right")
    ax = axes[-1]
    surprise = _series(result.surprise_per_step(kind), series, sq)
    ax.plot(steps, surprise, color="tab:red", lw=0.8)
    ax.set_ylabel(f"surprise ({kind})")
    ax.set_xlabel(step_label)
    fig.suptitle(title)
    return _save(fig, path)


def plot_surprise(
    result: Any,
    path: str | os.PathLike[str],
    *,
    kind: str = "nlpd",
    title: str = "surprise per step",
    series_names: Any = None,
    first_step: int = 0,
    step_label: str = "step",
) -> Path:
    """Per-step surprise of every series in a batch (median and 10-90 % band for many).

    Args:
        result: a :class:`~latentinfer.bayes.FilterResult` filtered with ``beliefs=True``.
        path: the PNG file to write.
        kind: ``"nlpd"`` or ``"pyhgf"``.
        title: figure title.
        series_names: legend names of the series (default ``series 0``, ...).
        first_step: the x-axis number of the first step (1 to count trials from 1).
        step_label: the x-axis label.

    Returns:
        The path written.
    """
    per_step = np.atleast_2d(_series(result.surprise_per_step(kind), 0, True))
    fig = Figure(figsize=(8.0, 3.0), layout="constrained")
    ax = fig.add_subplot()
    steps = first_step + np.arange(per_step.shape[1])
    if per_step.shape[0] <= 5:
        for b, row in enumerate(per_step):
            name = f"series {b}" if series_names is None else str(series_names[b])
            ax.plot(steps, row, lw=0.8, label=name)
        ax.legend(fontsize=7)
    else:
        lo, mid, hi = np.nanpercentile(per_step, [10, 50, 90], axis=0)
        ax.fill_between(steps, lo, hi, alpha=0.3, color="tab:red", label="10-90 %")
        ax.plot(steps, mid, color="tab:red", lw=1.0, label="median")
        ax.legend(fontsize=7)
    ax.set_xlabel(step_label)
    ax.set_ylabel(f"surprise ({kind}, nats)")
    ax.set_title(title)
    return _save(fig, path)
