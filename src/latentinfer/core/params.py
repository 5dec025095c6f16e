"""scikit-learn's parameter protocol for estimators that keep their constructor arguments.

:class:`EstimatorParams` gives ``get_params``, ``set_params`` and a repr that lists the
parameters that differ from their defaults. It asks one thing of a class: every
constructor argument is stored under its own name (``self.latent_dim = latent_dim``).
``sklearn.base.clone``, Pipeline steps and nested ``set_params`` work, and
``__sklearn_tags__`` gives the tags that scikit-learn's search and cross-validation tools
(``GridSearchCV``, ``cross_val_score``) read.
"""

from __future__ import annotations

import inspect
from typing import Any, Self

import numpy as np
import torch

from latentinfer.core.errors import ConfigError
from latentinfer.core.validation import did_you_mean

__all__ = ["EstimatorParams", "refuse_unknown_arguments", "same_value"]


def refuse_unknown_arguments(estimator: object, unexpected: dict[str, Any]) -> None:
    """Raise Python's ``TypeError`` for constructor arguments ``estimator`` does not take,
    naming its class (not the base class whose ``__init__`` it inherits), the accepted
    names and the closest one.

    For a constructor that ends in ``**unexpected`` only to give this message; its
    parameters stay the named ones (``get_params`` skips ``**``).
    """
    if not unexpected:
        return
    sig = inspect.signature(type(estimator).__init__)
    accepted = [
        n for n, p in sig.parameters.items()
        if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]  # fmt: skip
    first = next(iter(unexpected))
    raise TypeError(
        f"{type(estimator).__name__}() got unexpected keyword argument(s) "
        f"{sorted(unexpected)}; accepted: {accepted}.{did_you_mean(first, accepted)}"
    )


class EstimatorParams:
    """``get_params`` / ``set_params`` / ``__repr__`` from the constructor's signature.

    Nested parameters follow scikit-learn: ``get_params(deep=True)`` adds a parameter's
    own parameters as ``name__sub`` when it has ``get_params`` (a regressor given to a
    T-learner), and ``set_params(model__alpha=2.0)`` sets them.
    """

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments and their current values (scikit-learn convention);
        with ``deep``, those of nested estimators too, as ``name__sub``."""
        sig = inspect.signature(type(self).__init__)
        params = {
            name: getattr(self, name)
            for name, p in sig.parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        }
        if deep:
            for name, value in list(params.items()):
                if hasattr(value, "get_params") and not isinstance(value, type):
                    params |= {f"{name}__{k}": v for k, v in value.get_params(deep=True).items()}
        return params

    def set_params(self, **params: Any) -> Self:
        """Set constructor arguments by name (``name__sub`` for a nested estimator's);
        they take effect at the next ``fit``.

        The values get the constructor's checks (on a throwaway instance), so a bad value
        is refused here, with nothing set, instead of failing inside the next ``fit``.
        """
        valid = self.get_params(deep=False)
        own: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, sep, sub = key.partition("__")
            if name not in valid:
                raise ConfigError(
                    f"{type(self).__name__} has no parameter {name!r}; accepted: {sorted(valid)}."
                )
            if sep:
                if not hasattr(valid[name], "set_params"):
                    raise ConfigError(
                        f"{type(self).__name__}.{name} ({type(valid[name]).__name__}) has no "
                        f"parameters to set; got {key!r}."
                    )
                nested.setdefault(name, {})[sub] = value
            else:
                own[key] = value
        type(self)(**{**valid, **own})
        for key, value in own.items():
            setattr(self, key, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's estimator tags (scikit-learn ≥ 1.6 reads them in its search and
        cross-validation tools): no estimator type and no required target, as
        ``BaseEstimator`` declares; subclasses add theirs."""
        from sklearn.utils import Tags, TargetTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False))

    def __repr__(self) -> str:  # the parameters that differ from their defaults
        sig = inspect.signature(type(self).__init__)
        shown = []
        for k, v in self.get_params(deep=False).items():
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
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(
        v, bool | np.bool_
    )
