"""A multilayer perceptron over flattened features."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.modules import module as _module

__all__ = ["MLP", "activation"]


def _hooks_free(modules: Sequence[nn.Module]) -> bool:
    """Whether calling these modules' ``forward`` directly skips nothing ``__call__`` would do.

    ``Module.__call__`` only runs hooks (per-module and global) besides ``forward``, and
    records scopes while ``torch.jit.trace`` runs; with none of those, ``m.forward(x)`` is
    ``m(x)`` minus two Python frames per layer.
    """
    if (
        _module._global_forward_pre_hooks
        or _module._global_forward_hooks
        or _module._global_backward_pre_hooks
        or _module._global_backward_hooks
        or torch._C._get_tracing_state() is not None
    ):
        return False
    for m in modules:
        if m._forward_pre_hooks or m._forward_hooks or m._backward_pre_hooks or m._backward_hooks:
            return False
    return True


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
        layers = list(self._modules.values())
        if not _hooks_free(layers):  # type: ignore[arg-type]
            return super().forward(x)
        # Without hooks nothing can see a linear layer's output before its activation, so
        # ReLU may overwrite it (autograd allows it: the product's backward does not use its
        # output, and ReLU's uses the result): the same numbers, one buffer fewer per layer.
        for m in layers:
            x = torch.relu_(x) if type(m) is nn.ReLU else m.forward(x)  # type: ignore[union-attr]
        return x
