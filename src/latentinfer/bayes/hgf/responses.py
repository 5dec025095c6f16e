"""Response models: how a subject's responses depend on the filter's beliefs.

A response model scores one response per step given one belief of one node (by default
the prediction the subject holds before seeing the input). Its per-step surprise (the
negative log-likelihood of the response) is written once, for every backend, as
:func:`response_surprise`; NaN responses are missing and score 0.

- ``"unit_square_sigmoid"`` (binary choices y ∈ {0, 1}; TAPAS' ``tapas_unitsq_sgm``):
  p(y = 1) = μ̂^ζ / (μ̂^ζ + (1 − μ̂)^ζ), with μ̂ the binary input's predicted probability
  and ζ > 0 the inverse temperature (parameter ``inverse_temperature``).
- ``"gaussian"`` (continuous responses): y ~ N(b, 1/π_r), with b the chosen belief and
  π_r > 0 the response precision (parameter ``response_precision``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from latentinfer.bayes.hgf.network import ParamKey, Structure
from latentinfer.core.errors import ConfigError, ShapeError, ValidationError
from latentinfer.core.validation import as_tensor, check_choice

__all__ = ["RESPONSE_MODELS", "RESPONSE_PARAMETERS", "ResponseModel", "response_surprise"]

RESPONSE_MODELS = ("unit_square_sigmoid", "gaussian")
_PARAMETER = {"unit_square_sigmoid": "inverse_temperature", "gaussian": "response_precision"}
#: Each response model's parameter name → the model.
RESPONSE_PARAMETERS = {v: k for k, v in _PARAMETER.items()}
_DEFAULT = {"unit_square_sigmoid": 1.0, "gaussian": 1.0}
LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class ResponseModel:
    """A response model bound to one belief of one node.

    Attributes:
        kind: ``"unit_square_sigmoid"`` or ``"gaussian"``.
        node: the node whose belief is read (default: the binary input, or the continuous
            input's value parent).
        quantity: ``"expected_mean"`` (the prediction before the input; default) or
            ``"mean"`` (the belief after it).
        value: the response parameter's starting (or fixed) value.
    """

    kind: str
    node: int
    quantity: str = "expected_mean"
    value: float = 1.0

    @property
    def parameter(self) -> str:
        """The name of the model's parameter (``inverse_temperature`` or ...)."""
        return _PARAMETER[self.kind]

    @property
    def key(self) -> ParamKey:
        return ("response", self.parameter)

    @classmethod
    def make(
        cls,
        kind: str,
        structure: Structure,
        *,
        node: int | None = None,
        quantity: str = "expected_mean",
        value: float | None = None,
    ) -> ResponseModel:
        """Build and check a response model for ``structure``."""
        check_choice(kind, name="response_model", choices=RESPONSE_MODELS)
        check_choice(quantity, name="response quantity", choices=("expected_mean", "mean"))
        if node is None:
            first = structure.nodes[structure.inputs[0]]
            node = first.index if first.is_binary else first.value_parents[0]
        if not 0 <= node < len(structure.nodes):
            raise ConfigError(f"response node {node} does not exist.")
        if kind == "unit_square_sigmoid" and not structure.nodes[node].is_binary:
            raise ConfigError(
                "response_model='unit_square_sigmoid' reads a binary node's predicted "
                f"probability; node {node} is continuous. For binary choices use a "
                "binary HGF (HGF.binary3); for continuous responses, response_model='gaussian'."
            )
        v = _DEFAULT[kind] if value is None else float(value)
        if not v > 0:
            raise ConfigError(f"{_PARAMETER[kind]} must be positive; got {value!r}.")
        return cls(kind=kind, node=node, quantity=quantity, value=v)

    def check_responses(
        self, responses: Any, shape: tuple[int, int], dtype: torch.dtype
    ) -> torch.Tensor:
        """Responses as a ``(batch, time)`` tensor (NaN: missing)."""
        arr = (
            responses if isinstance(responses, torch.Tensor) else np.asarray(responses, dtype=float)
        )
        y = as_tensor(arr, name="responses", ndim=(1, 2), dtype=dtype, allow_nonfinite=True)
        if y.ndim == 1:
            y = y[None]
        if y.shape[1] != shape[1] or y.shape[0] not in (1, shape[0]):
            raise ShapeError(
                f"responses has shape {tuple(y.shape)}; pass (time,) or (batch, time) matching "
                f"the inputs' {shape[1]} steps and {shape[0]} series."
            )
        if bool(torch.isinf(y).any()):
            raise ValidationError("responses holds Inf; only finite values or NaN (missing).")
        if self.kind == "unit_square_sigmoid":
            bad = ~torch.isnan(y) & (y != 0) & (y != 1)
            if bool(bad.any()):
                where = tuple(int(i) for i in torch.nonzero(bad)[0])
                raise ValidationError(
                    "responses: the unit-square sigmoid model takes binary choices 0 or 1 "
                    f"(NaN for a missing response); got {float(y[where]):g} at (series, step) "
                    f"{where}."
                )
        return y.expand(shape[0], -1)


def response_surprise(
    kind: str, ops: Any, belief: Any, y: Any, params: Mapping[ParamKey, Any]
) -> Any:
    """One step's negative log-likelihood of the response ``y`` given ``belief``."""
    if kind == "unit_square_sigmoid":
        zeta = params[("response", "inverse_temperature")]
        a = zeta * ops.log(belief)
        c = zeta * ops.log(1.0 - belief)
        high = ops.select_greater(a, c, a, c)
        gap = ops.select_greater(a, c, c - a, a - c)
        lse = high + ops.log(1.0 + ops.exp(gap))
        nll = lse - ops.select_binary(y, a, c)
    else:
        prec = params[("response", "response_precision")]
        err = y - belief
        nll = 0.5 * LOG_2PI - 0.5 * ops.log(prec) + 0.5 * (prec * (err * err))
    return ops.select_observed(y, nll, 0.0)
