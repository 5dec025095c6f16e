"""scikit-learn's parameter protocol for estimators that keep their constructor arguments.

:class:`EstimatorParams` gives ``get_params``, ``set_params`` and a repr that lists the
parameters that differ from their defaults, so ``sklearn.base.clone`` and grid searches
work. It asks one thing of a class: every constructor argument is stored under its own name
(``self.latent_dim = latent_dim``).
"""

from __future__ import annotations

import inspect
from typing import Any, Self

import torch

from latentinfer.core.errors import ConfigError

__all__ = ["EstimatorParams", "same_value"]


class EstimatorParams:
    """``get_params`` / ``set_params`` / ``__repr__`` from the constructor's signature."""

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments and their current values (scikit-learn convention)."""
        sig = inspect.signature(type(self).__init__)
        return {
            name: getattr(self, name)
            for name, p in sig.parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        }

    def set_params(self, **params: Any) -> Self:
        """Set constructor arguments by name; they take effect at the next ``fit``.

        The values get the constructor's checks (on a throwaway instance), so a bad value
        is refused here, with nothing set, instead of failing inside the next ``fit``.
        """
        valid = self.get_params()
        for k in params:
            if k not in valid:
                raise ConfigError(
                    f"{type(self).__name__} has no parameter {k!r}; accepted: {sorted(valid)}."
                )
        type(self)(**{**valid, **params})
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:  # the parameters that differ from their defaults
        sig = inspect.signature(type(self).__init__)
        shown = []
        for k, v in self.get_params().items():
            default = sig.parameters[k].default
            if default is inspect.Parameter.empty or not same_value(v, default):
                shown.append(f"{k}={v!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


def same_value(a: Any, b: Any) -> bool:
    """Whether two parameter values are the same: identical, or equal values of one type
    (tensors and arrays only when identical: their ``==`` is elementwise)."""
    if a is b:
        return True
    if _plain_number(a) and _plain_number(b):
        return bool(a == b)  # 1 and 1.0 are the same setting
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor) or type(a) is not type(b):
        return False
    try:
        return bool(a == b)
    except Exception:  # values without a plain truth value (arrays)
        return False


def _plain_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)
