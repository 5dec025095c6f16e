"""One step of the hierarchical Gaussian filter, written once for every backend.

:func:`hgf_step` is plain arithmetic over an :class:`Ops` object. The eager backend
(:mod:`~latentinfer.bayes.hgf.eager`) runs it on ``(batch,)`` tensors, one call per time
step; the native backend (:mod:`~latentinfer.bayes.hgf.codegen`) runs it once on symbols to
generate a C kernel (with forward-mode derivatives). Both therefore compute the same
equations, those of pyhgf 0.2.12 (Weber et al. 2023, the generalised HGF; Mathys et al.
2011 and 2014):

Prediction, parents first. A continuous node a with value parents b and volatility parents c::

    μ̂_a = λ_a μ_a + dt (ρ_a + Σ_b ψ_ab μ̂_b)
    Ω_a = dt exp(ω_a + Σ_c κ_ac μ̂_c)         π̂_a = 1 / (1/π_a + Ω_a)      γ_a = Ω_a π̂_a

An input without volatility parents keeps π̂ = π (its input precision). A binary node:
μ̂ = clip(σ(Σ_b ψ_b μ̂_b), 1e-6, 1 − 1e-6), with "expected precision" μ̂(1 − μ̂).

Update, children first. Prediction errors of a continuous node j: δ_j = μ_j − μ̂_j,
Δ_j = (π̂_j/π_j + π̂_j δ_j² − 1) / (number of volatility parents); of a binary input:
δ = (u − μ̂) / (μ̂(1 − μ̂)). Posterior of a parent a::

    π_a = π̂_a + Σ_value children ψ² π̂_j + Σ_volatility children ½κ²γ_j(γ_j + (2γ_j − 1)Δ_j)
    μ_a = μ̂_a + Σ_value children ψ π̂_j δ_j / P + Σ_volatility children κ γ_j Δ_j / (2P)

with P = π_a (the standard scheme, precision first) or P = π̂_a (eHGF, for nodes with
volatility children: mean first). Posterior precisions are capped at
``max_posterior_precision``; a non-positive precision or volatility becomes NaN, which the
front end reports (it never returns silently).

Per-step surprise of each input u (both are sums of a constant, coefficient × log(argument)
terms and a remainder, so a kernel may accumulate the logarithms as products):

- ``"nlpd"``: the negative log predictive density, continuous: ½(log 2π + log s² + (u − μ̂)²/s²)
  with s² = 1/π̂_u + dt² Σ_b ψ_b²/π̂_b (input noise plus the parents' predictive variance);
  binary: −log μ̂ or −log(1 − μ̂).
- ``"pyhgf"``: what pyhgf's ``HGF.surprise()`` sums: ½(log 2π − log π̂_b + π̂_b(u − μ̂_b)²)
  under the value parent b's prediction, without the input noise; binary as above.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from latentinfer.bayes.hgf.network import ParamKey, Structure

__all__ = [
    "LOG_2PI",
    "TRAJECTORY",
    "NodeState",
    "Ops",
    "StepOutput",
    "SurpriseTerms",
    "hgf_step",
    "initial_state",
]

LOG_2PI = math.log(2.0 * math.pi)
#: The per-step beliefs a filter keeps for every node that carries a belief (in this order).
TRAJECTORY = ("expected_mean", "expected_precision", "mean", "precision")
#: pyhgf's clip of binary predictions.
BINARY_EPS = 1e-6
#: pyhgf's threshold below which a volatility or precision counts as non-positive.
TINY = 1e-128


class Ops(Protocol):
    """The non-arithmetic operations a backend supplies (values support + - * /)."""

    def exp(self, x: Any) -> Any: ...
    def log(self, x: Any) -> Any: ...
    def sigmoid(self, x: Any) -> Any: ...
    def clip(self, x: Any, low: float, high: float) -> Any: ...
    def cap(self, x: Any, high: float) -> Any: ...
    def nan_unless_above(self, x: Any, threshold: float) -> Any: ...
    def guard(self, x: Any, low: float, high: float) -> Any: ...
    def floor(self, x: Any, low: float) -> Any: ...
    def select_binary(self, u: Any, if_one: Any, if_zero: Any) -> Any: ...
    def select_greater(self, a: Any, b: Any, if_true: Any, if_false: Any) -> Any: ...
    def select_observed(self, y: Any, if_observed: Any, if_missing: Any) -> Any: ...


@dataclass
class NodeState:
    """The belief a node carries between steps: mean, precision and variance 1/precision."""

    mean: Any
    precision: Any
    variance: Any


@dataclass
class SurpriseTerms:
    """One input's surprise at one step: ``constant + Σ coef·log(arg) + rest``."""

    constant: float
    logs: list[tuple[float, Any]]
    rest: Any

    def value(self, ops: Ops) -> Any:
        total: Any = self.rest
        for coef, arg in self.logs:
            total = total + coef * ops.log(arg)
        return total + self.constant


@dataclass
class StepOutput:
    """What one step produces.

    Attributes:
        state: the new belief of every state node.
        beliefs: per node, the step's ``expected_mean``, ``expected_precision``, ``mean``,
            ``precision`` and, where defined, ``value_prediction_error``,
            ``volatility_prediction_error`` and ``effective_precision``.
        surprise: per surprise kind (``"nlpd"``, ``"pyhgf"``), per input node, its terms.
    """

    state: dict[int, NodeState]
    beliefs: dict[int, dict[str, Any]]
    surprise: dict[str, dict[int, SurpriseTerms]] = field(default_factory=dict)


def initial_state(structure: Structure, params: Mapping[ParamKey, Any]) -> dict[int, NodeState]:
    """The beliefs before the first observation, from the ``mean``/``precision`` parameters."""
    out = {}
    for i in structure.state_nodes:
        pi = params[("precision", i)]
        out[i] = NodeState(mean=params[("mean", i)], precision=pi, variance=1.0 / pi)
    return out


def hgf_predict(
    structure: Structure,
    ops: Ops,
    state: Mapping[int, NodeState],
    params: Mapping[ParamKey, Any],
    dt: Any = 1.0,
) -> dict[int, dict[str, Any]]:
    """Every node's prediction for the next step (``expected_mean``, ``expected_precision``
    and, for nodes with a predicted volatility, ``expected_variance`` and
    ``effective_precision``), parents first."""
    nodes = structure.nodes
    p = params
    pred: dict[int, dict[str, Any]] = {}
    for i in structure.prediction_order:
        n = nodes[i]
        if n.is_binary:
            total: Any = 0.0
            for b in n.value_parents:
                total = total + p[("value_coupling", i, b)] * pred[b]["expected_mean"]
            muhat = ops.clip(ops.sigmoid(total), BINARY_EPS, 1.0 - BINARY_EPS)
            pred[i] = {"expected_mean": muhat, "expected_precision": muhat * (1.0 - muhat)}
            continue
        drift: Any = p[("tonic_drift", i)]
        for b in n.value_parents:
            drift = drift + p[("value_coupling", i, b)] * pred[b]["expected_mean"]
        if n.has_state:
            muhat = p[("autoconnection_strength", i)] * state[i].mean + dt * drift
        else:
            muhat = dt * drift
        entry: dict[str, Any] = {"expected_mean": muhat}
        if n.has_state or n.volatility_parents:
            log_vol: Any = p[("tonic_volatility", i)] if n.has_state else 0.0
            for c in n.volatility_parents:
                log_vol = log_vol + p[("volatility_coupling", i, c)] * pred[c]["expected_mean"]
            omega = ops.nan_unless_above(dt * ops.exp(log_vol), TINY)
            prev_var = state[i].variance if n.has_state else 1.0 / p[("precision", i)]
            varhat = prev_var + omega
            pihat = 1.0 / varhat
            entry.update(
                expected_precision=pihat,
                expected_variance=varhat,
                effective_precision=omega * pihat,
            )
        else:
            entry["expected_precision"] = p[("precision", i)]
        pred[i] = entry

    return pred


def hgf_step(
    structure: Structure,
    ops: Ops,
    state: Mapping[int, NodeState],
    params: Mapping[ParamKey, Any],
    inputs: Mapping[int, Any],
    dt: Any = 1.0,
    *,
    surprise: tuple[str, ...] = ("nlpd",),
    observed: Mapping[int, Any] | None = None,
    predictions: Mapping[int, Mapping[str, Any]] | None = None,
) -> StepOutput:
    """Advance the filter by one observation.

    Args:
        structure: the network's frozen shape.
        ops: the backend's operations.
        state: the beliefs after the previous step (see :func:`initial_state`).
        params: every parameter (:meth:`Network.parameters` keys).
        inputs: the observation of each input node.
        dt: the time elapsed since the previous observation (1 by default).
        surprise: which per-step surprises to compute (``"nlpd"``, ``"pyhgf"``).
        observed: per input node, 1 where the input was observed and 0 where it is missing
            (its value is then a placeholder); ``None``: all observed. As in pyhgf, a
            missing input sends no prediction error, and a parent none of whose children
            was observed only loses precision: π = 1/(1/π_prev + dt exp(ω + Σ κ μ_c)), with
            its volatility parents' previous posterior means μ_c.
        predictions: this step's :func:`hgf_predict` output, when already computed.

    Returns:
        The new state, this step's beliefs and the surprise terms.
    """
    nodes = structure.nodes
    p = params
    seen: dict[int, Any] = {i: 1.0 for i in range(len(nodes))}
    if observed is not None:
        seen.update(observed)
    pred = predictions if predictions is not None else hgf_predict(structure, ops, state, p, dt)

    # 2. observations and the inputs' prediction errors -----------------------------------
    beliefs: dict[int, dict[str, Any]] = {i: dict(pred[i]) for i in pred}
    for i in structure.inputs:
        n, u, bel = nodes[i], inputs[i], beliefs[i]
        bel["mean"] = u
        if n.is_binary:
            bel["precision"] = bel["expected_precision"]
            bel["value_prediction_error"] = (
                (u - bel["expected_mean"]) * seen[i] / bel["expected_precision"]
            )
            continue
        delta = u - bel["expected_mean"]
        bel["precision"] = p[("precision", i)]
        bel["value_prediction_error"] = delta
        if n.volatility_parents:
            pihat = bel["expected_precision"]
            bel["volatility_prediction_error"] = (
                pihat / bel["precision"] + pihat * (delta * delta) - 1.0
            ) / float(len(n.volatility_parents))

    # 3. posterior updates and prediction errors, children first ---------------------------
    new_state: dict[int, NodeState] = {}
    for op, i in structure.update_sequence:
        n, bel = nodes[i], beliefs[i]
        if op == "pe":
            if n.is_input:
                continue  # done in step 2
            delta = bel["mean"] - bel["expected_mean"]
            bel["value_prediction_error"] = delta
            if n.volatility_parents:
                pihat = bel["expected_precision"]
                bel["volatility_prediction_error"] = (
                    pihat * new_state[i].variance + pihat * (delta * delta) - 1.0
                ) / float(len(n.volatility_parents))
            continue
        # posterior precision (the same under both schemes)
        gain: Any = 0.0
        for j in n.value_children:
            psi = p[("value_coupling", j, i)]
            gain = gain + beliefs[j]["expected_precision"] * (psi * psi) * seen[j]
        for j in n.volatility_children:
            # ½(κγ)² + (κγ)²Δ − ½κ²γΔ = ½κ²γ (γ + (2γ − 1)Δ)
            kappa = p[("volatility_coupling", j, i)]
            gamma = beliefs[j]["effective_precision"]
            vope = beliefs[j]["volatility_prediction_error"]
            term = (0.5 * (kappa * kappa)) * gamma * (gamma + (2.0 * gamma - 1.0) * vope)
            gain = gain + term * seen[j]
        raw = bel["expected_precision"] + gain
        children = n.value_children + n.volatility_children
        cap = structure.max_posterior_precision
        if all(isinstance(seen[j], float) for j in children):
            precision = ops.guard(raw, TINY, cap)
            # 1/(π̂ + gain) = σ̂²/(1 + gain σ̂²): one division after Ω instead of two, which
            # shortens the step's dependency chain. 1 + gain σ̂² = (π̂ + gain) σ̂² has the
            # precision's sign, so it is the guard (NaN for a precision ≤ 0, not ≤ 1e-128:
            # only a precision in (0, 1e-128] is treated differently from pyhgf); the floor
            # mirrors the precision's cap.
            varhat = bel["expected_variance"]
            den = 1.0 + gain * varhat
            variance = ops.select_greater(den, 0.0, ops.floor(varhat / den, 1.0 / cap), math.nan)
        else:
            precision = ops.nan_unless_above(raw, TINY)
            unseen: Any = 1.0  # 1 when no child was observed
            for j in children:
                unseen = unseen * (1.0 - seen[j])
            log_vol: Any = p[("tonic_volatility", i)]
            for c in n.volatility_parents:
                log_vol = log_vol + p[("volatility_coupling", i, c)] * state[c].mean
            drifted = 1.0 / (state[i].variance + dt * ops.exp(log_vol))
            precision = ops.cap(ops.select_binary(unseen, drifted, precision), cap)
            variance = 1.0 / precision
        # posterior mean: P = π̂ (eHGF) or the new π (standard)
        inv_p = bel["expected_variance"] if structure.uses_ehgf(i) else variance
        value_part: Any = 0.0
        for j in n.value_children:
            psi = p[("value_coupling", j, i)]
            value_part = value_part + ((psi * beliefs[j]["expected_precision"]) * inv_p) * (
                beliefs[j]["value_prediction_error"] * seen[j]
            )
        volatility_part: Any = 0.0
        for j in n.volatility_children:
            kappa = p[("volatility_coupling", j, i)]
            volatility_part = (
                volatility_part
                + (
                    kappa
                    * beliefs[j]["effective_precision"]
                    * beliefs[j]["volatility_prediction_error"]
                )
                * (0.5 * inv_p)
                * seen[j]
            )
        mean = bel["expected_mean"] + value_part + volatility_part
        bel["mean"], bel["precision"] = mean, precision
        new_state[i] = NodeState(mean=mean, precision=precision, variance=variance)

    out = StepOutput(state=new_state, beliefs=beliefs)
    for kind in surprise:
        out.surprise[kind] = {
            i: _surprise(structure, p, beliefs, i, dt, kind, ops, seen[i]) for i in structure.inputs
        }
    return out


def _surprise(
    structure: Structure,
    p: Mapping[ParamKey, Any],
    beliefs: Mapping[int, Mapping[str, Any]],
    i: int,
    dt: Any,
    kind: str,
    ops: Ops,
    seen: Any,
) -> SurpriseTerms:
    """One input's surprise terms; a missing input (``seen`` 0) contributes nothing."""
    terms = _surprise_terms(structure, p, beliefs, i, dt, kind, ops)
    if isinstance(seen, float):
        return terms
    return SurpriseTerms(
        constant=0.0,
        logs=[(coef, ops.select_binary(seen, arg, 1.0)) for coef, arg in terms.logs],
        rest=(terms.rest + terms.constant) * seen,
    )


def _surprise_terms(
    structure: Structure,
    p: Mapping[ParamKey, Any],
    beliefs: Mapping[int, Mapping[str, Any]],
    i: int,
    dt: Any,
    kind: str,
    ops: Ops,
) -> SurpriseTerms:
    n, b = structure.nodes[i], beliefs[i]
    u = b["mean"]
    if n.is_binary:
        q = ops.select_binary(u, b["expected_mean"], 1.0 - b["expected_mean"])
        return SurpriseTerms(constant=0.0, logs=[(-1.0, q)], rest=0.0)
    if kind == "pyhgf":
        parent = beliefs[n.value_parents[0]]
        err = u - parent["expected_mean"]
        return SurpriseTerms(
            constant=0.5 * LOG_2PI,
            logs=[(0.5, parent["expected_variance"])],
            rest=0.5 * (parent["expected_precision"] * (err * err)),
        )
    s2 = predictive_variance(structure, p, beliefs, i, dt)
    err = u - b["expected_mean"]
    return SurpriseTerms(constant=0.5 * LOG_2PI, logs=[(0.5, s2)], rest=0.5 * ((err * err) / s2))


def predictive_variance(
    structure: Structure,
    p: Mapping[ParamKey, Any],
    pred: Mapping[int, Mapping[str, Any]],
    i: int,
    dt: Any,
) -> Any:
    """The variance of continuous input ``i``'s one-step predictive (its mean is the
    input's ``expected_mean``): the input noise 1/π̂_u plus dt² Σ ψ² / π̂ of its value
    parents."""
    n = structure.nodes[i]
    s2: Any = pred[i]["expected_variance"] if n.volatility_parents else 1.0 / p[("precision", i)]
    for j in n.value_parents:
        psi = p[("value_coupling", i, j)] * dt
        s2 = s2 + (psi * psi) * pred[j]["expected_variance"]
    return s2
