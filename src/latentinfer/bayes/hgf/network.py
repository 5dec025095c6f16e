"""Networks of belief nodes: the structure and parameters a hierarchical Gaussian filter runs on.

A :class:`Network` is built the way pyhgf builds one: ``add_nodes`` appends nodes (indexed
0, 1, 2, ... in the order they are added) and connects each new node to existing ones as a
*value* or *volatility* parent or child, with a coupling strength per edge. Two node kinds:

- ``"continuous-state"``: a Gaussian belief (mean μ, precision π). Its parameters carry
  pyhgf's names: ``mean`` and ``precision`` (the initial belief), ``tonic_volatility`` (ω),
  ``tonic_drift`` (ρ) and ``autoconnection_strength`` (λ). A continuous node without
  children is an *input*: it receives observations, its ``precision`` is the input
  precision, and (as in pyhgf) it has no autoconnection and no tonic volatility.
- ``"binary-state"``: a binary input whose probability is the sigmoid of its value parents'
  predicted means (the first level of the binary HGF).

Edges carry ``value_coupling`` (ψ: the parent's mean drives the child's mean) or
``volatility_coupling`` (κ: the parent's mean drives the child's log step variance).

Every parameter can be a number or a tensor of shape ``(batch,)``: a batch of parameter
settings filtered at once (see :meth:`latentinfer.bayes.HGF.filter`).

A network is frozen into a :class:`Structure` (hashable: the compiled kernels are cached
per structure) and a parameter dictionary keyed by :data:`ParamKey` tuples:
``("tonic_volatility", node)`` or ``("volatility_coupling", child, parent)``.
"""

from __future__ import annotations

import copy
import difflib
import functools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

import torch

from latentinfer.core.errors import ConfigError, ValidationError
from latentinfer.core.validation import check_choice

if TYPE_CHECKING:
    from latentinfer.bayes.hgf.results import FilterResult

__all__ = [
    "NODE_KINDS",
    "UPDATE_TYPES",
    "Network",
    "NodeSpec",
    "ParamKey",
    "Structure",
]

ParamKey = tuple[Any, ...]
NodeKind = Literal["continuous-state", "binary-state"]
NODE_KINDS = ("continuous-state", "binary-state")
UPDATE_TYPES = ("eHGF", "standard")
EDGE_KINDS = ("value_coupling", "volatility_coupling")

#: Parameters of a continuous state node and pyhgf's defaults for them.
CONTINUOUS_DEFAULTS: dict[str, float] = {
    "mean": 0.0,
    "precision": 1.0,
    "tonic_volatility": -4.0,
    "tonic_drift": 0.0,
    "autoconnection_strength": 1.0,
}
#: The parameters an input (a continuous node without children) keeps.
INPUT_PARAMETERS = ("precision", "tonic_drift")
#: Parameters that must be positive.
POSITIVE_PARAMETERS = ("precision",)

Value = float | torch.Tensor


@dataclass(frozen=True)
class NodeSpec:
    """One node of a frozen network.

    Attributes:
        index: its position in the network.
        kind: ``"continuous-state"`` or ``"binary-state"``.
        value_parents, volatility_parents, value_children, volatility_children: node
            indices, in the order the edges were made.
    """

    index: int
    kind: NodeKind
    value_parents: tuple[int, ...]
    volatility_parents: tuple[int, ...]
    value_children: tuple[int, ...]
    volatility_children: tuple[int, ...]

    @property
    def is_input(self) -> bool:
        """A node without children receives observations."""
        return not self.value_children and not self.volatility_children

    @property
    def is_binary(self) -> bool:
        return self.kind == "binary-state"

    @property
    def has_state(self) -> bool:
        """Whether the node carries a belief (μ, π) from one step to the next."""
        return not self.is_input


@dataclass(frozen=True)
class Structure:
    """The frozen shape of a network: nodes, edges, update scheme (hashable).

    Attributes:
        nodes: one :class:`NodeSpec` per node.
        update_type: ``"eHGF"`` (default) or ``"standard"``; only nodes with volatility
            children update their mean first under eHGF.
        max_posterior_precision: the cap on every posterior precision (pyhgf: 1e10).
        prediction_order: node indices, parents before children.
        update_sequence: ``("pe", i)`` (prediction errors of node i) and ``("posterior", i)``
            steps, children before parents, in pyhgf's order.
        inputs: the input node indices, in index order (the last axis of the inputs).
    """

    nodes: tuple[NodeSpec, ...]
    update_type: str
    max_posterior_precision: float
    prediction_order: tuple[int, ...]
    update_sequence: tuple[tuple[str, int], ...]
    inputs: tuple[int, ...]

    def __hash__(self) -> int:  # computed once: a filter call hashes it to find its kernel
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash(tuple(getattr(self, f.name) for f in fields(self)))
            self.__dict__["_hash"] = h
        return h

    def __getstate__(self) -> dict[str, Any]:  # pickles without the caches (hashes of
        # strings differ between processes)
        return {k: v for k, v in self.__dict__.items() if k not in ("_hash", "state_nodes")}

    @functools.cached_property
    def state_nodes(self) -> tuple[int, ...]:
        return tuple(n.index for n in self.nodes if n.has_state)

    @property
    def binary(self) -> bool:
        """All inputs are binary."""
        return all(self.nodes[i].is_binary for i in self.inputs)

    def uses_ehgf(self, i: int) -> bool:
        """Whether node ``i`` updates its mean before its precision."""
        return self.update_type == "eHGF" and bool(self.nodes[i].volatility_children)


def _edges_arg(arg: Any, *, name: str) -> list[tuple[int, float | torch.Tensor]]:
    """pyhgf's edge argument: an index, a list of indices, or ``(indices, strengths)``."""
    if arg is None:
        return []
    if isinstance(arg, bool):
        raise ConfigError(f"{name} must be a node index, a list of them, or (indices, couplings).")
    if isinstance(arg, int):
        return [(arg, 1.0)]
    if (
        isinstance(arg, tuple)
        and len(arg) == 2
        and isinstance(arg[0], (list, tuple))
        and isinstance(arg[1], (list, tuple))
    ):
        idx, strength = arg
        if len(idx) != len(strength):
            raise ConfigError(
                f"{name}: got {len(idx)} node indices but {len(strength)} coupling strengths; "
                "pass (indices, couplings) of the same length."
            )
        out = list(zip(idx, strength))
    elif isinstance(arg, (list, tuple)):
        out = [(i, 1.0) for i in arg]
    else:
        raise ConfigError(
            f"{name} must be a node index, a list of them, or (indices, couplings); got {arg!r}."
        )
    for i, _ in out:
        if isinstance(i, bool) or not isinstance(i, int):
            raise ConfigError(f"{name}: node indices must be integers; got {i!r}.")
    return out


def check_value(value: Any, *, name: str, positive: bool = False) -> Value:
    """A parameter value: a finite number, or a finite tensor of shape ``()`` or ``(batch,)``."""
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a number or a tensor of numbers; got {value!r}.")
    if isinstance(value, (int, float)):
        v = float(value)
        if not math.isfinite(v) or (positive and v <= 0):
            want = "a positive finite number" if positive else "a finite number"
            raise ConfigError(f"{name} must be {want}; got {value!r}.")
        return v
    try:
        t = torch.as_tensor(value)
    except Exception:
        raise ConfigError(
            f"{name} must be a number or a tensor of shape (batch,); got {type(value).__name__}."
        ) from None
    if t.ndim > 1:
        raise ConfigError(
            f"{name} must be a number or a 1-d tensor (one value per series); got shape "
            f"{tuple(t.shape)}."
        )
    if not t.is_floating_point():
        t = t.to(torch.get_default_dtype())
    if not bool(torch.isfinite(t).all()):
        raise ConfigError(f"{name} holds NaN or Inf; only finite values are accepted.")
    if positive and not bool((t > 0).all()):
        raise ConfigError(f"{name} must be positive; got a minimum of {float(t.min())!r}.")
    return t.detach() if t.ndim == 1 else float(t)


#: The HGF papers' symbols for pyhgf's parameter names (``omega_2`` → ``tonic_volatility_2``).
_SYMBOLS = {
    "omega": "tonic_volatility",
    "rho": "tonic_drift",
    "kappa": "volatility_coupling",
    "mu": "mean",
    "pi": "precision",
    "lambda": "autoconnection_strength",
}


def _symbol_hint(name: str, names: Mapping[str, Any]) -> str:
    """`` 'omega_2' is the papers' symbol for 'tonic_volatility_2'; ...`` when ``name`` is
    one of :data:`_SYMBOLS` with a level that ``names`` has, else ``""``."""
    match = re.fullmatch(r"([a-z]+)_?(\d[\d_]*)", name.lower())
    if match is None or match.group(1) not in _SYMBOLS:
        return ""
    prefix = _SYMBOLS[match.group(1)]
    candidate = f"{prefix}_{match.group(2)}"
    if candidate in names:
        return f" {name!r} is the HGF papers' symbol; pyhgf's name is {candidate!r}."
    levels = [n for n in names if n.startswith(prefix + "_")]
    return f" {match.group(1)!r} is the HGF papers' symbol for pyhgf's {prefix}; this model " + (
        f"has {', '.join(levels)}." if levels else "has none."
    )


class Network:
    """A network of continuous and binary belief nodes, built like a pyhgf ``Network``.

    Args:
        update_type: ``"eHGF"`` (pyhgf's default: a node with volatility children updates
            its mean with its predicted precision, then its precision) or ``"standard"``
            (precision first, the mean with the new precision; Mathys et al. 2011).
        max_posterior_precision: the cap on every posterior precision.

    Example:
        >>> from latentinfer.bayes import Network
        >>> net = (
        ...     Network()
        ...     .add_nodes(precision=1e4)                                  # 0: the input
        ...     .add_nodes(value_children=0, tonic_volatility=-3.0)        # 1: its mean
        ...     .add_nodes(volatility_children=([1], [0.5]), mean=0.5)     # 2: its volatility
        ... )
        >>> net.n_nodes, net.structure().inputs
        (3, (0,))
    """

    def __init__(self, update_type: str = "eHGF", *, max_posterior_precision: float = 1e10):
        check_choice(update_type, name="update_type", choices=UPDATE_TYPES)
        if not max_posterior_precision > 0:
            raise ConfigError(
                f"max_posterior_precision must be positive; got {max_posterior_precision!r}."
            )
        self.update_type = update_type
        self.max_posterior_precision = float(max_posterior_precision)
        self._kinds: list[NodeKind] = []
        self._params: list[dict[str, Value]] = []
        # (edge kind, child, parent) -> coupling strength, in insertion order
        self._edges: dict[tuple[str, int, int], Value] = {}

    # ------------------------------------------------------------------ building
    @property
    def n_nodes(self) -> int:
        return len(self._kinds)

    def add_nodes(
        self,
        kind: str = "continuous-state",
        n_nodes: int = 1,
        node_parameters: Mapping[str, Any] | None = None,
        value_children: Any = None,
        value_parents: Any = None,
        volatility_children: Any = None,
        volatility_parents: Any = None,
        **parameters: Any,
    ) -> Network:
        """Append ``n_nodes`` nodes of one kind and connect them; returns the network.

        Args:
            kind: ``"continuous-state"`` or ``"binary-state"``.
            n_nodes: how many identical nodes to add.
            node_parameters: parameter values (pyhgf's names, see the module docstring);
                keyword arguments do the same and take precedence.
            value_children, value_parents, volatility_children, volatility_parents:
                existing nodes to connect to: an index, a list of indices, or a tuple
                ``(indices, coupling strengths)`` (strength 1 by default).

        Raises:
            ConfigError: an unknown kind or parameter name, an index that does not name an
                existing node, a binary node given children or volatility parents, or a
                parameter outside its domain.
        """
        check_choice(kind, name="kind", choices=NODE_KINDS)
        if isinstance(n_nodes, bool) or not isinstance(n_nodes, int) or n_nodes < 1:
            raise ConfigError(f"n_nodes must be a positive integer; got {n_nodes!r}.")
        values = {**dict(node_parameters or {}), **parameters}
        allowed = tuple(CONTINUOUS_DEFAULTS) if kind == "continuous-state" else ()
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            hint = ""
            close = difflib.get_close_matches(unknown[0], allowed, n=1)
            if close:
                hint = f" Did you mean {close[0]!r}?"
            accepted = ", ".join(allowed) if allowed else "none (a binary node has no parameters)"
            raise ConfigError(
                f"unknown parameter(s) {unknown} for a {kind} node; accepted: {accepted}.{hint}"
            )
        checked = {
            k: check_value(v, name=k, positive=k in POSITIVE_PARAMETERS) for k, v in values.items()
        }
        links = {
            "value_children": _edges_arg(value_children, name="value_children"),
            "value_parents": _edges_arg(value_parents, name="value_parents"),
            "volatility_children": _edges_arg(volatility_children, name="volatility_children"),
            "volatility_parents": _edges_arg(volatility_parents, name="volatility_parents"),
        }
        if kind == "binary-state" and (
            links["value_children"] or links["volatility_children"] or links["volatility_parents"]
        ):
            raise ConfigError(
                "a binary-state node is an input: it takes value parents only (no children and "
                "no volatility parents)."
            )
        for arg, edges in links.items():
            for i, strength in edges:
                if not 0 <= i < self.n_nodes:
                    raise ConfigError(
                        f"{arg}: node {i} does not exist; existing nodes are 0..{self.n_nodes - 1}."
                    )
                check_value(strength, name=f"{arg} coupling strength")
                if arg == "volatility_children" and self._kinds[i] == "binary-state":
                    raise ConfigError(
                        f"volatility_children: node {i} is binary; a binary node takes value "
                        "parents only."
                    )
        for _ in range(n_nodes):
            new = self.n_nodes
            self._kinds.append(kind)  # type: ignore[arg-type]
            self._params.append(dict(checked))
            for arg, edges in links.items():
                edge_kind = "value_coupling" if arg.startswith("value") else "volatility_coupling"
                for other, strength in edges:
                    child, parent = (other, new) if arg.endswith("children") else (new, other)
                    self._edges[(edge_kind, child, parent)] = check_value(
                        strength, name=f"{arg} coupling strength"
                    )
        self._check_binary_parents()
        return self

    def _check_binary_parents(self) -> None:
        for child, kind in enumerate(self._kinds):
            if kind == "binary-state":
                for edge_kind, c, p in self._edges:
                    if c == child and edge_kind == "volatility_coupling":
                        raise ConfigError(f"binary node {child} cannot have volatility parents.")
                    if p == child:
                        raise ConfigError(f"binary node {child} cannot have children.")

    def copy(self) -> Network:
        """A deep copy (parameters included)."""
        return copy.deepcopy(self)

    # --------------------------------------------------------------- inspection
    def structure(self) -> Structure:
        """Freeze the network's shape (raises if it cannot be filtered); cached until the
        next ``add_nodes``."""
        key = (len(self._kinds), len(self._edges), self.update_type, self.max_posterior_precision)
        cached = self.__dict__.get("_structure")
        if cached is not None and cached[0] == key:
            return cached[1]
        structure = self._freeze()
        self.__dict__["_structure"] = (key, structure)
        return structure

    def _freeze(self) -> Structure:
        if self.n_nodes == 0:
            raise ConfigError("the network has no nodes; add some with add_nodes().")
        nodes = []
        for i, kind in enumerate(self._kinds):

            def linked(edge_kind: str, *, as_child: bool, i: int = i) -> tuple[int, ...]:
                if as_child:
                    return tuple(p for (k, c, p) in self._edges if k == edge_kind and c == i)
                return tuple(c for (k, c, p) in self._edges if k == edge_kind and p == i)

            nodes.append(
                NodeSpec(
                    index=i,
                    kind=kind,
                    value_parents=linked("value_coupling", as_child=True),
                    volatility_parents=linked("volatility_coupling", as_child=True),
                    value_children=linked("value_coupling", as_child=False),
                    volatility_children=linked("volatility_coupling", as_child=False),
                )
            )
        for n in nodes:
            if n.is_binary and not n.value_parents:
                raise ConfigError(
                    f"binary node {n.index} has no value parent; add one with "
                    f"add_nodes(value_children={n.index})."
                )
            if not n.is_input and n.is_binary:
                raise ConfigError(f"binary node {n.index} cannot have children.")
        inputs = tuple(n.index for n in nodes if n.is_input)
        return Structure(
            nodes=tuple(nodes),
            update_type=self.update_type,
            max_posterior_precision=self.max_posterior_precision,
            prediction_order=_prediction_order(nodes),
            update_sequence=_update_sequence(nodes),
            inputs=inputs,
        )

    def parameters(self) -> dict[ParamKey, Value]:
        """Every parameter, defaults filled in, keyed by :data:`ParamKey`."""
        out: dict[ParamKey, Value] = {}
        structure = self.structure()
        for n in structure.nodes:
            if n.is_binary:
                continue
            given = self._params[n.index]
            names = INPUT_PARAMETERS if n.is_input else tuple(CONTINUOUS_DEFAULTS)
            for name in names:
                out[(name, n.index)] = given.get(name, CONTINUOUS_DEFAULTS[name])
        for (kind, child, parent), strength in self._edges.items():
            out[(kind, child, parent)] = strength
        return out

    def parameter_names(self) -> dict[str, ParamKey]:
        """User-facing names (``"tonic_volatility_2"``, ``"volatility_coupling_1_2"``, ...)."""
        names: dict[str, ParamKey] = {}
        for key in self.parameters():
            if len(key) == 2:
                names[f"{key[0]}_{key[1]}"] = key
            else:
                names[f"{key[0]}_{key[1]}_{key[2]}"] = key
        return names

    def resolve(self, name: str | ParamKey) -> ParamKey:
        """The :data:`ParamKey` of a parameter name (raises, listing the names, if unknown)."""
        names = self.parameter_names()
        if isinstance(name, tuple):
            if name in names.values():
                return name
            raise ConfigError(f"unknown parameter key {name!r}; accepted: {sorted(names)}.")
        if name in names:
            return names[name]
        hint = _symbol_hint(str(name), names)
        if not hint:
            close = difflib.get_close_matches(str(name), list(names), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown parameter name {name!r}; accepted: {', '.join(names)}.{hint}")

    def key_name(self, key: ParamKey) -> str:
        """The user-facing name of a :data:`ParamKey`."""
        for name, k in self.parameter_names().items():
            if k == key:
                return name
        raise ConfigError(f"unknown parameter key {key!r}.")

    def set_parameter(self, name: str | ParamKey, value: Any) -> Network:
        """Set one parameter (by name or key) to a number or a ``(batch,)`` tensor."""
        key = self.resolve(name)
        checked = check_value(
            value, name=self.key_name(key), positive=key[0] in POSITIVE_PARAMETERS
        )
        if len(key) == 2:
            self._params[key[1]][key[0]] = checked
        else:
            self._edges[(key[0], key[1], key[2])] = checked
        return self

    def set_parameters(self, values: Mapping[str | ParamKey, Any]) -> Network:
        """Set several parameters; see :meth:`set_parameter`."""
        for name, value in values.items():
            self.set_parameter(name, value)
        return self

    def get_parameter(self, name: str | ParamKey) -> Value:
        return self.parameters()[self.resolve(name)]

    # ------------------------------------------------------------------ filtering
    def filter(
        self,
        inputs: Any,
        *,
        time_steps: Any = None,
        observed: Any = None,
        beliefs: bool = True,
        surprise: str | tuple[str, ...] = "nlpd",
        dtype: torch.dtype | None = None,
        backend: str = "auto",
        on_invalid: str = "raise",
        threads: int | None = None,
    ) -> FilterResult:
        """Run the filter over a batch of input series.

        Args:
            inputs: observations, ``(time,)`` or ``(batch, time)`` for one input node,
                ``(batch, time, n_inputs)`` for several (in input-node order). A single
                series is broadcast over a batch of parameter settings.
            time_steps: the time elapsed before each observation: one number, ``(time,)``
                or ``(batch, time)``, positive (default: all 1).
            observed: pyhgf's mask, shaped like ``inputs``: 1 where an input was observed,
                0 where it is missing (its value is ignored, and may be NaN; it sends no
                prediction error and adds no surprise). Default: all observed.
            beliefs: keep every node's per-step beliefs and the per-step surprise (the
                totals are always computed).
            surprise: which summed surprise(s) to compute: ``"nlpd"`` (the negative log
                predictive density of the inputs, whose negative is
                :attr:`FilterResult.log_likelihood`), ``"pyhgf"`` (what pyhgf's
                ``HGF.surprise()`` sums), or both.
            dtype: ``torch.float32`` or ``torch.float64`` (default: the inputs' own,
                float64 for NumPy data).
            backend: ``"auto"`` (the native kernel on a CPU when a C compiler is found,
                else eager PyTorch), ``"native"`` or ``"eager"``.
            on_invalid: ``"raise"`` a :class:`~latentinfer.NonFiniteError` naming the
                series, step, node and quantity where a belief goes non-finite or a
                precision non-positive; or ``"mark"`` such series invalid (their surprise
                is +inf) and return the others.
            threads: threads for the native kernel (default ``torch.get_num_threads()``).

        Returns:
            A :class:`~latentinfer.bayes.FilterResult`.
        """
        from latentinfer.bayes.hgf.filtering import run_filter

        return run_filter(
            self.structure(),
            self.parameters(),
            inputs,
            time_steps=time_steps,
            observed=observed,
            beliefs=beliefs,
            surprise=surprise,
            dtype=dtype,
            backend=backend,
            on_invalid=on_invalid,
            threads=threads,
            node_labels=self.node_labels(),
        )

    def node_labels(self) -> dict[int, str]:
        """Names for the nodes in figures and tables (none here: ``node {i}`` is used)."""
        return {}

    def fit(
        self,
        inputs: Any,
        responses: Any = None,
        *,
        free: Sequence[str] | None = None,
        priors: Mapping[str, Any] | None = None,
        response_model: str | None = None,
        response_node: int | None = None,
        response_quantity: str = "expected_mean",
        objective: str | None = None,
        time_steps: Any = None,
        observed: Any = None,
        dtype: torch.dtype = torch.float64,
        max_steps: int = 300,
        lr: float = 0.05,
        optimizer: str = "adam",
        tol: float = 1e-5,
        newton_steps: int = 20,
        standard_errors: bool = True,
        backend: str = "auto",
        progress: bool | None = None,
        threads: int | None = None,
    ) -> Network:
        """Fit parameters by maximum likelihood or MAP; returns ``self``, fitted.

        The fitted values replace the network's parameters (one per subject: a batch of
        subjects is fitted at once, each independently), so :meth:`filter` then gives each
        subject's beliefs; the estimates, their Laplace standard errors and the optimum are
        in ``self.fit_`` (a :class:`~latentinfer.bayes.hgf.fit.HGFFit`).

        Args:
            inputs: the inputs, as for :meth:`filter`: one series per subject
                ``(batch, time)``, or one series shared by all.
            responses: the subject's responses, ``(time,)`` or ``(batch, time)``; NaN marks
                a missing response. Needs ``response_model``.
            free: the name, or names, of the parameters to fit (see
                :meth:`parameter_names`); default: every tonic volatility, plus the
                response model's parameter.
            priors: per fitted name, a prior on its fitting scale (log for positive
                parameters): a ``torch.distributions.Distribution`` or ``(loc, scale)``
                for a Normal. Without priors the fit is maximum likelihood.
            response_model: ``"unit_square_sigmoid"`` (binary choices) or ``"gaussian"``;
                its parameter (``inverse_temperature`` or ``response_precision``) is
                fitted unless ``free`` leaves it out.
            response_node: the node the response model reads (default: the binary input
                or the continuous input's value parent).
            response_quantity: ``"expected_mean"`` (default) or ``"mean"``.
            objective: ``"nlpd"`` (inputs' negative log predictive density; the default
                without responses), ``"pyhgf"`` (pyhgf's surprise) or ``"response"``.
            time_steps, observed: as for :meth:`filter`.
            dtype: float64 (default) or float32.
            max_steps: first-order steps (per subject, in parallel); each subject keeps
                the lowest objective it reached.
            lr: the step size on the fitting scale.
            optimizer: ``"adam"`` (default) or ``"gd"`` (plain gradient descent).
            tol: stop when every gradient entry is below this.
            newton_steps: damped Newton steps after the first-order ones (0 to skip).
            standard_errors: compute the Laplace standard errors (NaN when skipped; inf,
                with a warning, where the Hessian is not positive definite).
            backend: ``"auto"``, ``"native"`` or ``"eager"`` (autograd; any device).
            progress: show a progress bar (default: when stderr is a terminal).
            threads: threads for the native kernel.

        Raises:
            NonFiniteError: the starting parameters already break a subject's filter.
            ConfigError: an unknown parameter or prior name, or inconsistent options.
        """
        from latentinfer.bayes.hgf.fit import fit_network

        self.fit_ = fit_network(
            self,
            inputs,
            responses,
            free=free,
            priors=priors,
            response_model=response_model,
            response_node=response_node,
            response_quantity=response_quantity,
            objective=objective,
            time_steps=time_steps,
            observed=observed,
            dtype=dtype,
            max_steps=max_steps,
            lr=lr,
            optimizer=optimizer,
            tol=tol,
            newton_steps=newton_steps,
            standard_errors=standard_errors,
            backend=backend,
            progress=progress,
            threads=threads,
        )
        return self

    def value_and_grad(
        self,
        inputs: Any,
        responses: Any = None,
        *,
        free: Sequence[str] | None = None,
        priors: Mapping[str, Any] | None = None,
        response_model: str | None = None,
        response_node: int | None = None,
        response_quantity: str = "expected_mean",
        objective: str | None = None,
        time_steps: Any = None,
        observed: Any = None,
        dtype: torch.dtype = torch.float64,
        backend: str = "auto",
        threads: int | None = None,
    ) -> Any:
        """The objective :meth:`fit` minimises and its exact gradient at the current
        parameters, in one pass (for your own optimiser or sampler).

        Takes :meth:`fit`'s arguments; returns a
        :class:`~latentinfer.bayes.hgf.fit.Gradient` (``value`` per series, ``grad`` per
        parameter name on the natural scale). Where the parameters drive a series' filter
        outside its valid range (a precision non-positive), its value and gradient are NaN
        rather than an error, so that an optimiser or sampler can reject the proposal;
        :meth:`filter` on those parameters says which step and node broke.
        """
        from latentinfer.bayes.hgf.fit import value_and_grad

        return value_and_grad(
            self,
            inputs,
            responses,
            free=free,
            priors=priors,
            response_model=response_model,
            response_node=response_node,
            response_quantity=response_quantity,
            objective=objective,
            time_steps=time_steps,
            observed=observed,
            dtype=dtype,
            backend=backend,
            threads=threads,
        )

    def simulate(
        self,
        n_steps: int,
        *,
        batch: int | None = None,
        time_steps: Any = None,
        seed: int | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> torch.Tensor:
        """Draw inputs from the network's own predictive, updating on each draw; see
        :func:`~latentinfer.bayes.hgf.simulate.simulate`."""
        from latentinfer.bayes.hgf.simulate import simulate

        return simulate(self, n_steps, batch=batch, time_steps=time_steps, seed=seed, dtype=dtype)

    def __repr__(self) -> str:
        kinds = ", ".join(f"{i}:{k.split('-')[0]}" for i, k in enumerate(self._kinds))
        return f"{type(self).__name__}(update_type={self.update_type!r}, nodes=[{kinds}])"


def _prediction_order(nodes: Sequence[NodeSpec]) -> tuple[int, ...]:
    """Parents before children (pyhgf's prediction sequence)."""
    todo = [n.index for n in nodes]
    order: list[int] = []
    while todo:
        progressed = False
        for i in list(todo):
            parents = nodes[i].value_parents + nodes[i].volatility_parents
            if not any(p in todo for p in parents):
                order.append(i)
                todo.remove(i)
                progressed = True
        if not progressed:
            raise ConfigError(
                f"the network has a cycle through nodes {todo}; couplings must form a DAG."
            )
    return tuple(order)


def _update_sequence(nodes: Sequence[NodeSpec]) -> tuple[tuple[str, int], ...]:
    """pyhgf's order of prediction errors and posterior updates (children first)."""
    need_posterior = [n.index for n in nodes if not n.is_input]
    need_pe = [n.index for n in nodes]
    seq: list[tuple[str, int]] = []
    while need_pe or need_posterior:
        progressed = False
        for i in list(need_posterior):
            children = nodes[i].value_children + nodes[i].volatility_children
            if all(c not in need_pe for c in children):
                seq.append(("posterior", i))
                need_posterior.remove(i)
                progressed = True
        for i in list(need_pe):
            if not (nodes[i].value_parents or nodes[i].volatility_parents):
                need_pe.remove(i)  # a root sends no prediction error
                progressed = True
            elif i not in need_posterior:
                seq.append(("pe", i))
                need_pe.remove(i)
                progressed = True
        if not progressed:  # pragma: no cover - _prediction_order rejects cycles first
            raise ConfigError("the network's update sequence cannot be ordered.")
    return tuple(seq)


def parameter_batch(values: Iterable[Value]) -> int:
    """The batch size implied by parameter values (1 when all are scalars)."""
    sizes = {int(v.shape[0]) for v in values if isinstance(v, torch.Tensor) and v.ndim == 1}
    if len(sizes) > 1:
        raise ValidationError(
            f"parameters given as tensors must share one batch size; got sizes {sorted(sizes)}."
        )
    return sizes.pop() if sizes else 1
