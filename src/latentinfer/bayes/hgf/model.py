"""The ready-made hierarchical Gaussian filters, with pyhgf's constructor and names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from latentinfer.bayes.hgf.network import Network, ParamKey
from latentinfer.core.errors import ConfigError
from latentinfer.core.validation import check_choice

__all__ = ["HGF"]

_LAYOUT = re.compile(r"^(continuous|binary)([1-9][0-9]*)$")


class HGF(Network):
    """The 2- and 3-level (or deeper) continuous and binary HGFs (Mathys et al. 2011, 2014).

    The constructor takes pyhgf 0.2.12's ``HGF`` arguments, under the same names and with
    the same defaults, so a pyhgf model moves over unchanged. Levels are numbered as in
    pyhgf: in the continuous HGF, node 0 is the input and level ``k`` is node ``k`` (x_k);
    in the binary HGF, level 1 is the binary input (node 0) and level ``k ≥ 2`` is node
    ``k − 1``. Each level above the first is the volatility parent of the level below.

    Parameters are named ``{parameter}_{level}`` for :meth:`fit` and
    :meth:`set_parameter`, as in pyhgf's ``HGFDistribution``: ``mean_2``,
    ``precision_2``, ``tonic_volatility_2``, ``tonic_drift_1``,
    ``autoconnection_strength_2``, ``volatility_coupling_1`` (between levels 1 and 2) and
    ``input_precision`` (continuous only).

    Args:
        n_levels: levels above the input's first (2 or 3 in pyhgf; any depth ≥ 2 here).
        model_type: ``"continuous"`` or ``"binary"``.
        update_type: ``"eHGF"`` (pyhgf's default) or ``"standard"``.
        initial_mean, initial_precision, tonic_volatility, tonic_drift: per level (keys
            ``"1"``, ``"2"``, ... or ints); values are numbers or ``(batch,)`` tensors.
            Missing levels take pyhgf's defaults (0, 1, −3 and 0).
        volatility_coupling: per lower level (``"1"``: between levels 1 and 2); default 1.
        continuous_precision: the input precision of the continuous HGF (default 1e4).
        eta0, eta1: the binary input's two values; only pyhgf's 0 and 1 are supported.
        binary_precision: only ``inf`` (a noiseless binary input) is supported.
        verbose: accepted for pyhgf's signature; nothing is printed.

    Example:
        >>> import numpy as np
        >>> from latentinfer.bayes import HGF
        >>> u = np.cumsum(np.random.default_rng(0).normal(0, 0.1, 200))
        >>> hgf = HGF(n_levels=2, tonic_volatility={"1": -4.0, "2": -4.0})
        >>> res = hgf.filter(u)
        >>> res.node_trajectories[1]["mean"].shape, bool(res.log_likelihood > 0)
        ((200,), True)
    """

    def __init__(
        self,
        n_levels: int = 2,
        model_type: str = "continuous",
        update_type: str = "eHGF",
        initial_mean: Mapping[Any, Any] | None = None,
        initial_precision: Mapping[Any, Any] | None = None,
        continuous_precision: Any = 1e4,
        tonic_volatility: Mapping[Any, Any] | None = None,
        volatility_coupling: Mapping[Any, Any] | None = None,
        eta0: float = 0.0,
        eta1: float = 1.0,
        binary_precision: float = float("inf"),
        tonic_drift: Mapping[Any, Any] | None = None,
        verbose: bool = True,
        *,
        max_posterior_precision: float = 1e10,
    ) -> None:
        super().__init__(update_type, max_posterior_precision=max_posterior_precision)
        del verbose  # pyhgf prints the network it builds; nothing is printed here
        if (eta0, eta1) != (0.0, 1.0):
            raise ConfigError(
                "eta0, eta1: only pyhgf's defaults 0 and 1 (a binary input coded 0/1) are "
                f"supported; got eta0={eta0!r}, eta1={eta1!r}. Recode the inputs as 0 and 1."
            )
        check_choice(model_type, name="model_type", choices=("continuous", "binary"))
        if isinstance(n_levels, bool) or not isinstance(n_levels, int | np.integer) or n_levels < 2:
            raise ConfigError(f"n_levels must be an integer ≥ 2; got {n_levels!r}.")
        n_levels = int(n_levels)
        if binary_precision != float("inf"):
            raise ConfigError(
                "binary_precision: only inf (a noiseless binary input) is supported; got "
                f"{binary_precision!r}."
            )
        self.n_levels = n_levels
        self.model_type = model_type
        binary = model_type == "binary"
        first = 2 if binary else 1  # the first continuous level
        levels = list(range(first, n_levels + 1))
        coupled = levels[:-1]
        given = {
            "initial_mean": _levels(initial_mean, "initial_mean", range(1, n_levels + 1)),
            "initial_precision": _levels(
                initial_precision, "initial_precision", range(1, n_levels + 1)
            ),
            "tonic_volatility": _levels(
                tonic_volatility, "tonic_volatility", range(1, n_levels + 1)
            ),
            "tonic_drift": _levels(tonic_drift, "tonic_drift", range(1, n_levels + 1)),
            "volatility_coupling": _levels(
                volatility_coupling, "volatility_coupling", range(1, n_levels)
            ),
        }
        if binary:
            self.add_nodes(kind="binary-state")
        else:
            self.add_nodes(precision=continuous_precision)
        for level in levels:
            node = self.n_nodes
            params = {
                "mean": given["initial_mean"].get(level, 0.0),
                "precision": given["initial_precision"].get(level, 1.0),
                "tonic_volatility": given["tonic_volatility"].get(level, -3.0),
                "tonic_drift": given["tonic_drift"].get(level, 0.0),
            }
            if level == first:
                self.add_nodes(value_children=node - 1, **params)
            else:
                strength = given["volatility_coupling"].get(level - 1, 1.0)
                self.add_nodes(volatility_children=([node - 1], [strength]), **params)
        self._levels = levels
        self._coupled = coupled

    @classmethod
    def from_name(cls, name: str, **kwargs: Any) -> HGF:
        """``"continuous2"``, ``"continuous3"``, ``"binary3"``, ...: the layout by name."""
        m = _LAYOUT.match(name)
        if not m:
            raise ConfigError(
                f"unknown HGF layout {name!r}; accepted: continuous2, continuous3, binary2, "
                "binary3 (any depth: continuousN, binaryN)."
            )
        if int(m.group(2)) < 2:
            raise ConfigError(f"HGF layout {name!r}: an HGF has at least 2 levels ({m.group(1)}2).")
        return cls(n_levels=int(m.group(2)), model_type=m.group(1), **kwargs)

    def _node(self, level: int) -> int:
        return level - 1 if self.model_type == "binary" else level

    def parameter_names(self) -> dict[str, ParamKey]:
        """pyhgf's flat names: ``tonic_volatility_2``, ``volatility_coupling_1``, ..."""
        names: dict[str, ParamKey] = {}
        if self.model_type == "continuous":
            names["input_precision"] = ("precision", 0)
        for level in self._levels:
            node = self._node(level)
            for attr in ("mean", "precision", "tonic_volatility", "tonic_drift"):
                names[f"{attr}_{level}"] = (attr, node)
            names[f"autoconnection_strength_{level}"] = ("autoconnection_strength", node)
        for level in self._coupled:
            names[f"volatility_coupling_{level}"] = (
                "volatility_coupling",
                self._node(level),
                self._node(level + 1),
            )
        return names

    def node_labels(self) -> dict[int, str]:
        """pyhgf's level names: ``x1`` (the binary input, or node 1 above a continuous
        input, which is ``u``), ``x2``, ... for tables and figures."""
        labels = {} if self.model_type == "binary" else {0: "u"}
        for node in range(self.n_nodes):
            if node not in labels:
                labels[node] = f"x{node + 1 if self.model_type == 'binary' else node}"
        return labels

    def __repr__(self) -> str:
        return (
            f"HGF(n_levels={self.n_levels}, model_type={self.model_type!r}, "
            f"update_type={self.update_type!r})"
        )


def _levels(values: Mapping[Any, Any] | None, name: str, accepted: range) -> dict[int, Any]:
    out: dict[int, Any] = {}
    if values is not None and not isinstance(values, Mapping):
        raise ConfigError(
            f"{name} takes a dict from level to value, e.g. {{'2': {values!r}}}; got "
            f"{type(values).__name__} {values!r}. Accepted levels: "
            f"{', '.join(repr(str(k)) for k in accepted)}."
        )
    for key, value in (values or {}).items():
        try:
            level = int(key)
        except (TypeError, ValueError):
            level = -1
        if level not in accepted:
            raise ConfigError(
                f"{name}: unknown level {key!r}; accepted: "
                f"{', '.join(repr(str(k)) for k in accepted)}."
            )
        out[level] = value
    return out
