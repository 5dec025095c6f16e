"""Figures of a hierarchical Gaussian filter's run: beliefs with uncertainty, surprise."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

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
) -> Path:
    """One panel per node, top level first: the posterior mean with a ±1 sd band
    (sd = 1/√precision), the inputs on the input panel, and the per-step surprise below.

    Args:
        result: a :class:`~latentinfer.bayes.FilterResult` filtered with ``beliefs=True``.
        path: the PNG file to write.
        series: which series of a batch to draw.
        kind: the surprise drawn in the bottom panel (``"nlpd"`` or ``"pyhgf"``).
        title: figure title.

    Returns:
        The path written.
    """
    s = result.structure
    traj = result.node_trajectories
    sq = result.squeeze
    state = list(reversed(s.state_nodes))
    binary = [i for i in s.inputs if s.nodes[i].is_binary]
    rows = len(state) + len(binary) + 1
    fig = Figure(figsize=(8.0, 1.8 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    steps = np.arange(result.inputs.shape[1])
    for ax, i in zip(axes, state):
        mean = _series(traj[i]["mean"], series, sq)
        sd = 1.0 / np.sqrt(_series(traj[i]["precision"], series, sq))
        ax.fill_between(steps, mean - sd, mean + sd, alpha=0.3, color="tab:blue", label="±1 sd")
        ax.plot(steps, mean, color="tab:blue", lw=1.2, label="posterior mean")
        for child in s.nodes[i].value_children:
            if child in s.inputs and not s.nodes[child].is_binary:
                u = _series(result.inputs[..., s.inputs.index(child)], series, sq)
                ax.scatter(steps, u, s=4, color="k", alpha=0.5, label=f"input (node {child})")
        ax.set_ylabel(f"node {i}")
        ax.legend(fontsize=7, loc="upper right")
    for ax, i in zip(axes[len(state) :], binary):
        prob = _series(traj[i]["expected_mean"], series, sq)
        u = _series(result.inputs[..., s.inputs.index(i)], series, sq)
        ax.plot(steps, prob, color="tab:blue", lw=1.2, label="predicted p(u = 1)")
        ax.scatter(steps, u, s=4, color="k", alpha=0.5, label="input")
        ax.set_ylim(-0.05, 1.05)
        ax.set_ylabel(f"node {i}")
        ax.legend(fontsize=7, loc="upper right")
    ax = axes[-1]
    surprise = _series(result.surprise_per_step(kind), series, sq)
    ax.plot(steps, surprise, color="tab:red", lw=0.8)
    ax.set_ylabel(f"surprise ({kind})")
    ax.set_xlabel("step")
    fig.suptitle(title)
    return _save(fig, path)


def plot_surprise(
    result: Any,
    path: str | os.PathLike[str],
    *,
    kind: str = "nlpd",
    title: str = "surprise per step",
) -> Path:
    """Per-step surprise of every series in a batch (median and 10-90 % band for many).

    Args:
        result: a :class:`~latentinfer.bayes.FilterResult` filtered with ``beliefs=True``.
        path: the PNG file to write.
        kind: ``"nlpd"`` or ``"pyhgf"``.
        title: figure title.

    Returns:
        The path written.
    """
    per_step = np.asarray(
        result.surprise_per_step(kind).detach().cpu()
        if hasattr(result.surprise_per_step(kind), "detach")
        else result.surprise_per_step(kind),
        dtype=float,
    )
    per_step = np.atleast_2d(per_step)
    fig = Figure(figsize=(8.0, 3.0), layout="constrained")
    ax = fig.add_subplot()
    steps = np.arange(per_step.shape[1])
    if per_step.shape[0] <= 5:
        for b, row in enumerate(per_step):
            ax.plot(steps, row, lw=0.8, label=f"series {b}")
        ax.legend(fontsize=7)
    else:
        lo, mid, hi = np.nanpercentile(per_step, [10, 50, 90], axis=0)
        ax.fill_between(steps, lo, hi, alpha=0.3, color="tab:red", label="10-90 %")
        ax.plot(steps, mid, color="tab:red", lw=1.0, label="median")
        ax.legend(fontsize=7)
    ax.set_xlabel("step")
    ax.set_ylabel(f"surprise ({kind}, nats)")
    ax.set_title(title)
    return _save(fig, path)
