"""Posterior-predictive sampling of future inputs from a filtered network.

Starting from the filter's last beliefs (each state node's hidden value drawn from
N(μ, 1/π), independently, as the filter's mean-field posterior has it), the network's
generative model runs forward, parents first: a continuous node's next value is
λ x + dt(ρ + Σ ψ x_parent) plus Gaussian noise of variance dt·exp(ω + Σ κ x_volatility parent);
a continuous input adds noise of variance 1/π_u (plus dt·exp(Σ κ x_c) with volatility
parents); a binary input is Bernoulli(σ(Σ ψ x_parent)). The beliefs are not updated on
the sampled inputs: these are draws of what the inputs may do, given what was learned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from latentinfer.bayes.hgf.filtering import step_lengths
from latentinfer.bayes.hgf.results import FilterResult
from latentinfer.core.seeding import make_generator
from latentinfer.core.validation import check_number

__all__ = ["PredictiveSamples", "sample_predictive"]


@dataclass(frozen=True)
class PredictiveSamples:
    """Draws of future inputs and hidden states.

    Attributes:
        inputs: ``(n_samples, batch, n_steps, n_inputs)`` (the batch axis and the inputs axis
            are dropped for one series and one input).
        states: per state node, ``(n_samples, batch, n_steps)`` (batch dropped likewise).
    """

    inputs: Any
    states: dict[int, Any]


def sample_predictive(
    result: FilterResult,
    n_steps: int,
    *,
    n_samples: int = 100,
    time_steps: Any = None,
    seed: int | None = None,
) -> PredictiveSamples:
    """Sample ``n_steps`` future inputs after the end of ``result``'s series.

    Args:
        result: a filter result (its final beliefs and parameters are used).
        n_steps: how many future steps.
        n_samples: draws per series.
        time_steps: future time steps, a number or ``(n_steps,)`` (default 1).
        seed: seed of the draws.
    """
    check_number(n_steps, name="n_steps", low=1, integer=True)
    check_number(n_samples, name="n_samples", low=1, integer=True)
    s = result.structure
    dtype, device = result.inputs.dtype, result.inputs.device
    g = make_generator(seed, device=device)
    batch = result.inputs.shape[0]
    shape = (n_samples, batch)
    p = {k: v.to(dtype) for k, v in result.params.items()}
    dts = step_lengths(time_steps, n_steps, dtype=dtype, device=device)

    def normal(mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
        return mean + var.sqrt() * torch.randn(shape, generator=g, dtype=dtype, device=device)

    x: dict[int, torch.Tensor] = {}
    for i, (mean, prec) in result.final.items():
        x[i] = normal(mean.to(dtype).expand(shape), (1.0 / prec.to(dtype)).expand(shape))
    states: dict[int, list[torch.Tensor]] = {i: [] for i in s.state_nodes}
    inputs: list[torch.Tensor] = []
    for t in range(n_steps):
        dt = dts[t]
        new: dict[int, torch.Tensor] = {}
        u_t = []
        for i in s.prediction_order:
            n = s.nodes[i]
            drive = sum(
                (p[("value_coupling", i, b)] * new[b] for b in n.value_parents),
                start=torch.zeros(shape, dtype=dtype, device=device),
            )
            if n.is_binary:
                prob = torch.sigmoid(drive)
                new[i] = torch.bernoulli(prob, generator=g)
                continue
            log_vol = sum(
                (p[("volatility_coupling", i, c)] * new[c] for c in n.volatility_parents),
                start=torch.zeros(shape, dtype=dtype, device=device),
            )
            mean = dt * (p[("tonic_drift", i)] + drive)
            if n.has_state:
                mean = p[("autoconnection_strength", i)] * x[i] + mean
                var = dt * torch.exp(p[("tonic_volatility", i)] + log_vol)
            else:
                var = (1.0 / p[("precision", i)]).expand(shape)
                if n.volatility_parents:
                    var = var + dt * torch.exp(log_vol)
            new[i] = normal(mean, var)
        for i in s.state_nodes:
            x[i] = new[i]
            states[i].append(new[i])
        for i in s.inputs:
            u_t.append(new[i])
        inputs.append(torch.stack(u_t, dim=-1))
    u = torch.stack(inputs, dim=2)  # (n_samples, batch, n_steps, n_inputs)
    st = {i: torch.stack(v, dim=2) for i, v in states.items()}
    if u.shape[-1] == 1:
        u = u[..., 0]
    if result.squeeze:
        u = u[:, 0]
        st = {i: v[:, 0] for i, v in st.items()}
    if result.as_numpy:
        return PredictiveSamples(
            inputs=u.cpu().numpy(), states={i: v.cpu().numpy() for i, v in st.items()}
        )
    return PredictiveSamples(inputs=u, states=st)
