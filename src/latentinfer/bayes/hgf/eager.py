"""The eager PyTorch backend: :func:`~latentinfer.bayes.hgf.step.hgf_step` on tensors.

One Python call per time step over ``(batch,)`` tensors: slow per step (a few hundred
microseconds), but it runs on any device and dtype, and autograd flows through it, so it is
the reference the native kernel is tested against, the path used on GPUs, and the way to
differentiate with respect to anything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from latentinfer.bayes.hgf.network import ParamKey, Structure
from latentinfer.bayes.hgf.responses import ResponseModel, response_surprise
from latentinfer.bayes.hgf.step import TRAJECTORY, NodeState, hgf_step, initial_state

__all__ = ["RawOutput", "TorchOps", "run_eager"]


class TorchOps:
    """:class:`~latentinfer.bayes.hgf.step.Ops` on tensors (NaN propagates everywhere)."""

    exp = staticmethod(torch.exp)
    log = staticmethod(torch.log)
    sigmoid = staticmethod(torch.sigmoid)

    @staticmethod
    def clip(x: Any, low: float, high: float) -> Any:
        return torch.clamp(x, low, high)

    @staticmethod
    def cap(x: Any, high: float) -> Any:
        return torch.clamp(x, max=high)

    @staticmethod
    def nan_unless_above(x: Any, threshold: float) -> Any:
        return torch.where(x > threshold, x, torch.full_like(x, math.nan))

    @staticmethod
    def guard(x: Any, low: float, high: float) -> Any:
        """NaN unless ``x > low``; capped at ``high`` (NaN propagates)."""
        return torch.where(x > low, torch.clamp(x, max=high), torch.full_like(x, math.nan))

    @staticmethod
    def floor(x: Any, low: float) -> Any:
        """``max(x, low)`` (NaN propagates)."""
        return torch.clamp(x, min=low)

    @staticmethod
    def select_binary(u: Any, if_one: Any, if_zero: Any) -> Any:
        return torch.where(u > 0.5, if_one, if_zero)

    @staticmethod
    def select_greater(a: Any, b: Any, if_true: Any, if_false: Any) -> Any:
        if not isinstance(if_false, torch.Tensor):
            if_false = torch.full_like(if_true, if_false)
        return torch.where(a > b, if_true, if_false)

    @staticmethod
    def select_observed(y: Any, if_observed: Any, if_missing: Any) -> Any:
        return torch.where(torch.isnan(y), if_missing, if_observed)


@dataclass
class RawOutput:
    """What a backend returns (all tensors on the inputs' device and dtype).

    Attributes:
        totals: per surprise kind, the surprise summed over time and inputs, ``(batch,)``
            (float64 on the native backend).
        per_step: per surprise kind, ``(batch, time)`` (summed over inputs), when stored.
        trajectories: per ``(node, quantity)``, ``(batch, time)``, when stored: every
            state node's :data:`~latentinfer.bayes.hgf.step.TRAJECTORY` quantities.
        final_state: per state node, ``(mean, precision)`` after the last step, ``(batch,)``.
    """

    totals: dict[str, torch.Tensor]
    per_step: dict[str, torch.Tensor]
    trajectories: dict[tuple[int, str], torch.Tensor]
    final_state: dict[int, tuple[torch.Tensor, torch.Tensor]]


def run_eager(
    structure: Structure,
    params: Mapping[ParamKey, torch.Tensor],
    inputs: torch.Tensor,
    time_steps: torch.Tensor | None,
    *,
    store: bool,
    surprise: tuple[str, ...],
    state: Mapping[int, NodeState] | None = None,
    response: ResponseModel | None = None,
    responses: torch.Tensor | None = None,
    observed: torch.Tensor | None = None,
) -> RawOutput:
    """Filter ``inputs`` of shape ``(batch, time, n_inputs)`` step by step.

    Args:
        structure: the network's frozen shape.
        params: every parameter as a ``(batch,)`` tensor.
        inputs: observations, ``(batch, time, n_inputs)`` (inputs in ``structure.inputs``
            order).
        time_steps: ``(batch, time)`` or ``None`` (unit steps).
        store: keep the per-step trajectories and surprises.
        surprise: the surprise kinds to compute.
        state: the beliefs to start from (default: the ``mean``/``precision`` parameters).
        response: a response model; its summed surprise goes to ``totals["response"]``.
        responses: ``(batch, time)`` responses (NaN: missing), with ``response``.
        observed: ``(batch, time, n_inputs)``, 1 where an input was observed, 0 where it is
            missing; ``None``: all observed.

    Returns:
        A :class:`RawOutput`.
    """
    ops = TorchOps()
    current = dict(state) if state is not None else initial_state(structure, params)
    n_steps = inputs.shape[1]
    totals = {k: torch.zeros_like(inputs[:, 0, 0]) for k in surprise}
    if response is not None:
        totals["response"] = torch.zeros_like(inputs[:, 0, 0])
    per_step: dict[str, list[torch.Tensor]] = {k: [] for k in surprise}
    traj: dict[tuple[int, str], list[torch.Tensor]] = {
        (i, q): [] for i in structure.state_nodes for q in TRAJECTORY
    }
    for t in range(n_steps):
        obs = {i: inputs[:, t, k] for k, i in enumerate(structure.inputs)}
        dt: Any = 1.0 if time_steps is None else time_steps[:, t]
        seen = None
        if observed is not None:
            seen = {i: observed[:, t, k] for k, i in enumerate(structure.inputs)}
        out = hgf_step(structure, ops, current, params, obs, dt, surprise=surprise, observed=seen)
        current = out.state
        for kind in surprise:
            s = sum(term.value(ops) for term in out.surprise[kind].values())
            totals[kind] = totals[kind] + s
            if store:
                per_step[kind].append(s)
        if response is not None and responses is not None:
            belief = out.beliefs[response.node][response.quantity]
            totals["response"] = totals["response"] + response_surprise(
                response.kind, ops, belief, responses[:, t], params
            )
        if store:
            for i, q in traj:
                traj[(i, q)].append(out.beliefs[i][q])
    return RawOutput(
        totals=totals,
        per_step={k: torch.stack(v, dim=1) for k, v in per_step.items()} if store else {},
        trajectories={k: torch.stack(v, dim=1) for k, v in traj.items()} if store else {},
        final_state={i: (s.mean, s.precision) for i, s in current.items()},
    )
