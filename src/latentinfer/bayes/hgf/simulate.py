"""Simulate inputs from a network's own one-step predictive (pyhgf's generative mode).

At each step the network predicts, an input is drawn from its predictive distribution
(a continuous input from N(μ̂_u, s²) with s² of
:func:`~latentinfer.bayes.hgf.step.predictive_variance`; a binary input from
Bernoulli(μ̂)), and the beliefs are updated on that draw. The filter's log-likelihood is
then the exact log-likelihood of the simulated data, which makes these simulations the
right ground truth for parameter-recovery checks of :meth:`Network.fit`.
"""

from __future__ import annotations

from typing import Any

import torch

from latentinfer.bayes.hgf.eager import TorchOps
from latentinfer.bayes.hgf.filtering import param_tensors, step_lengths
from latentinfer.bayes.hgf.network import Network, parameter_batch
from latentinfer.bayes.hgf.step import hgf_predict, hgf_step, initial_state, predictive_variance
from latentinfer.core.errors import NonFiniteError
from latentinfer.core.seeding import make_generator
from latentinfer.core.validation import check_choice, check_number

__all__ = ["simulate"]


def simulate(
    net: Network,
    n_steps: int,
    *,
    batch: int | None = None,
    time_steps: Any = None,
    seed: int | None = None,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Draw ``n_steps`` inputs from ``net`` updating on its own draws.

    Args:
        net: the network (its parameters may be ``(batch,)`` tensors).
        n_steps: the number of steps.
        batch: the number of series (default: the parameters' batch size, else 1).
        time_steps: a number or ``(n_steps,)`` of positive time steps (default 1).
        seed: seed of the draws.
        dtype: float32 or float64.

    Returns:
        ``(batch, n_steps)`` inputs (``(batch, n_steps, n_inputs)`` for several input
        nodes); ``(n_steps,)`` when ``batch`` is 1 and there is one input.
    """
    check_number(n_steps, name="n_steps", low=1, integer=True)
    check_choice(dtype, name="dtype", choices=(torch.float32, torch.float64))
    s = net.structure()
    values = net.parameters()
    size = batch if batch is not None else parameter_batch(values.values())
    check_number(size, name="batch", low=1, integer=True)
    p = param_tensors(values, size, dtype, torch.device("cpu"))
    g = make_generator(seed)
    ops = TorchOps()
    dts = step_lengths(time_steps, n_steps, dtype=dtype)
    state = initial_state(s, p)
    draws = []
    for t in range(n_steps):
        dt = dts[t]
        pred = hgf_predict(s, ops, state, p, dt)
        obs = {}
        for i in s.inputs:
            if s.nodes[i].is_binary:
                obs[i] = torch.bernoulli(pred[i]["expected_mean"], generator=g)
            else:
                sd = predictive_variance(s, p, pred, i, dt).sqrt()
                noise = torch.randn(size, generator=g, dtype=dtype)
                obs[i] = pred[i]["expected_mean"] + sd * noise
        state = hgf_step(s, ops, state, p, obs, dt, surprise=(), predictions=pred).state
        draws.append(torch.stack([obs[i] for i in s.inputs], dim=-1))
    out = torch.stack(draws, dim=1)
    bad = ~torch.isfinite(out.reshape(size, n_steps, -1)).all(dim=2)
    if bool(bad.any()):
        series = int(torch.nonzero(bad.any(dim=1))[0])
        step = int(bad[series].int().argmax())
        raise NonFiniteError(
            f"the simulation diverged: series {series} drew a non-finite input at step {step} "
            f"(of {n_steps}); these parameters let the volatility grow without bound (try "
            "lower tonic volatilities or volatility couplings, or fewer steps).",
            step=step,
            part="inputs",
        )
    if out.shape[-1] == 1:
        out = out[..., 0]
    return out[0] if size == 1 and out.ndim == 2 else out
