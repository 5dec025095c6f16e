"""A multilayer perceptron over flattened features."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["MLP", "activation"]

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU, "elu": nn.ELU}


def activation(name: str) -> nn.Module:
    """An activation module by name (``relu``, ``gelu``, ``tanh``, ``silu``, ``elu``)."""
    return _ACTIVATIONS[name]()


class MLP(nn.Sequential):
    """Linear layers with an activation between them; the last layer is linear.

    Args:
        in_features: input size (inputs of shape ``(..., in_features)``).
        hidden: widths of the hidden layers (empty for a single linear map).
        out_features: output size.
        act: activation name.

    Shapes:
        ``(..., in_features)`` → ``(..., out_features)``.
    """

    def __init__(
        self, in_features: int, hidden: Sequence[int], out_features: int, act: str = "relu"
    ) -> None:
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), activation(act)]
            width = h
        layers.append(nn.Linear(width, out_features))
        super().__init__(*layers)
        self.in_features = in_features
        self.out_features = out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x)
