"""What a filter returns: beliefs per node and step, surprise, log-likelihood, validity."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from latentinfer.bayes.hgf.network import ParamKey, Structure
from latentinfer.bayes.hgf.step import NodeState, hgf_step
from latentinfer.core.errors import ConfigError, UnknownKeyError
from latentinfer.core.validation import check_choice, did_you_mean

__all__ = ["FilterResult"]

#: Every per-step quantity a node's trajectory can hold (pyhgf's names).
QUANTITIES = (
    "mean",
    "precision",
    "expected_mean",
    "expected_precision",
    "value_prediction_error",
    "volatility_prediction_error",
    "effective_precision",
)


class _Keyed(dict):  # type: ignore[type-arg]
    """A dict whose missing key raises an :class:`UnknownKeyError` that lists its keys."""

    def __init__(self, items: Mapping[Any, Any], *, what: str) -> None:
        super().__init__(items)
        self.what = what

    def __missing__(self, key: Any) -> Any:
        keys = ", ".join(repr(k) for k in sorted(self, key=lambda k: (isinstance(k, str), k)))
        raise UnknownKeyError(
            f"{self.what} has no {key!r}; it has {keys}.{did_you_mean(key, self)}"
        )


@dataclass(frozen=True, eq=False)
class FilterResult:
    """The output of :meth:`Network.filter`.

    Shapes: ``(batch,)`` per series and ``(batch, time)`` per step, or ``()`` and ``(time,)``
    when a single series was filtered with unbatched parameters. Arrays are NumPy when the
    inputs were NumPy, tensors otherwise.

    Attributes:
        total_surprise: per surprise kind (``"nlpd"``: the negative log predictive density
            of the inputs; ``"pyhgf"``: what pyhgf's ``HGF.surprise()`` sums), the sum
            over steps and inputs, per series.
        valid: per series, False where a belief went non-finite or a precision
            non-positive (only with ``on_invalid="mark"``; otherwise the filter raises).
        first_invalid_step: per series, the first step whose surprise is not finite
            (−1 where the series is valid).
        structure: the network that was filtered.
        params: the parameters used, each ``(batch,)``.
        inputs: the inputs, ``(batch, time, n_inputs)``.
        time_steps: ``(batch, time)``, or None for unit steps.
        observed: ``(batch, time, n_inputs)`` 0/1 mask of observed inputs, or None.
        backend: ``"native"`` or ``"eager"``.
        node_labels: per node, the model's name for it (an :class:`HGF`'s ``x1``, ``x2``,
            ... by pyhgf's levels); see :meth:`label`.
        kept_beliefs: whether the filter was asked for per-step beliefs (``beliefs=True``;
            a network of input nodes alone keeps them with nothing in ``stored``).
    """

    total_surprise: dict[str, Any]
    valid: Any
    first_invalid_step: Any
    structure: Structure
    params: Mapping[ParamKey, torch.Tensor]
    inputs: torch.Tensor
    time_steps: torch.Tensor | None
    observed: torch.Tensor | None
    backend: str
    squeeze: bool = False
    as_numpy: bool = False
    stored: Mapping[tuple[int, str], torch.Tensor] = field(default_factory=dict)
    stored_surprise: Mapping[str, torch.Tensor] = field(default_factory=dict)
    final: Mapping[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    node_labels: Mapping[int, str] = field(default_factory=dict)
    kept_beliefs: bool = False

    # ------------------------------------------------------------------ conversions
    def _out(self, t: torch.Tensor) -> Any:
        if self.squeeze:
            t = t[0]
        return t.detach().cpu().numpy() if self.as_numpy else t

    @property
    def log_likelihood(self) -> Any:
        """log p(inputs) under the filter's one-step predictive densities, per series."""
        if "nlpd" not in self.total_surprise:
            raise KeyError(
                "the log-likelihood was not computed: filter with surprise including 'nlpd'."
            )
        return self._out(-self.total_surprise["nlpd"])

    def label(self, node: int) -> str:
        """The model's name for ``node`` (``x2`` for an HGF's level 2), else ``node {i}``."""
        return self.node_labels.get(node, f"node {node}")

    def _check_kind(self, kind: str) -> None:
        from latentinfer.bayes.hgf.filtering import SURPRISE_KINDS

        check_choice(kind, name="kind", choices=SURPRISE_KINDS)
        if kind not in self.total_surprise:
            computed = ", ".join(repr(k) for k in self.total_surprise)
            raise ConfigError(
                f"surprise {kind!r} was not computed (computed: {computed}); filter with "
                f"surprise=('nlpd', 'pyhgf') to have both."
            )

    def surprise(self, kind: str = "nlpd") -> Any:
        """The summed surprise of one kind (``"nlpd"`` or ``"pyhgf"``), per series."""
        self._check_kind(kind)
        return self._out(self.total_surprise[kind])

    @property
    def is_valid(self) -> Any:
        """Per series, whether every belief stayed finite (see ``valid``)."""
        return self._out(self.valid)

    @property
    def has_beliefs(self) -> bool:
        return self.kept_beliefs or bool(self.stored)

    def surprise_per_step(self, kind: str = "nlpd") -> Any:
        """Per-step surprise (summed over inputs); needs ``beliefs=True``."""
        self._check_kind(kind)
        self._need_beliefs()
        if kind in self.stored_surprise:
            return self._out(self.stored_surprise[kind])
        return self._out(self._derived["surprise"][kind])

    def _need_beliefs(self) -> None:
        if not self.has_beliefs:
            raise KeyError("per-step beliefs were not kept: filter with beliefs=True.")

    @functools.cached_property
    def _derived(self) -> dict[str, Any]:
        """Every quantity of every step at once: the step re-run on ``(batch, time)``
        tensors from the stored beliefs of the previous step (same equations, exact)."""
        from latentinfer.bayes.hgf.eager import TorchOps

        s = self.structure
        prev: dict[int, NodeState] = {}
        for i in s.state_nodes:
            mean, prec = self.stored[(i, "mean")], self.stored[(i, "precision")]
            p0 = self.params[("precision", i)].to(prec.dtype)[:, None]
            m0 = self.params[("mean", i)].to(mean.dtype)[:, None]
            prev_mean = torch.cat([m0, mean[:, :-1]], dim=1)
            prev_prec = torch.cat([p0, prec[:, :-1]], dim=1)
            prev[i] = NodeState(prev_mean, prev_prec, 1.0 / prev_prec)
        params = {k: v[:, None].to(self.inputs.dtype) for k, v in self.params.items()}
        obs = {i: self.inputs[:, :, n] for n, i in enumerate(s.inputs)}
        dt: Any = 1.0 if self.time_steps is None else self.time_steps
        seen = None
        if self.observed is not None:
            seen = {i: self.observed[:, :, n] for n, i in enumerate(s.inputs)}
        out = hgf_step(
            s,
            TorchOps(),
            prev,
            params,
            obs,
            dt,
            surprise=tuple(self.total_surprise),
            observed=seen,
        )
        beliefs = out.beliefs
        for (i, q), v in self.stored.items():
            beliefs[i][q] = v  # the filter's own values for what it stored
        surprise = {
            k: sum(term.value(TorchOps()) for term in terms.values())
            for k, terms in out.surprise.items()
        }
        return {"beliefs": beliefs, "surprise": surprise}

    @functools.cached_property
    def node_trajectories(self) -> dict[int, dict[str, Any]]:
        """Per node, per quantity (pyhgf's names, see :data:`QUANTITIES`), the trajectory."""
        self._need_beliefs()
        out: dict[int, dict[str, Any]] = {}
        for i, quantities in self._derived["beliefs"].items():
            trajectories = {
                q: self._out(torch.as_tensor(v).expand(self.inputs.shape[:2]))
                for q, v in quantities.items()
                if q in QUANTITIES
            }
            out[i] = _Keyed(trajectories, what=f"node_trajectories[{i}]")
        return _Keyed(out, what="node_trajectories (one entry per node)")

    def sample_predictive(
        self,
        n_steps: int,
        *,
        n_samples: int = 100,
        time_steps: Any = None,
        seed: int | None = None,
    ) -> Any:
        """Draw future inputs after the series' end; see
        :func:`~latentinfer.bayes.hgf.predictive.sample_predictive`."""
        from latentinfer.bayes.hgf.predictive import sample_predictive

        return sample_predictive(
            self, n_steps, n_samples=n_samples, time_steps=time_steps, seed=seed
        )

    def plot_trajectories(self, path: Any, **options: Any) -> Any:
        """Write the beliefs-and-surprise figure (PNG); ``options`` (``series``, ``kind``,
        ``title``, ``first_step``, ``step_label``) as in
        :func:`latentinfer.plots.plot_trajectories`."""
        from latentinfer.plots.hgf import plot_trajectories

        return plot_trajectories(self, path, **options)

    def final_beliefs(self) -> dict[int, tuple[Any, Any]]:
        """Per state node, ``(mean, precision)`` after the last step."""
        return {i: (self._out(m), self._out(p)) for i, (m, p) in self.final.items()}

    def __repr__(self) -> str:
        shape = tuple(self.inputs.shape[:2])
        kinds = ", ".join(self.total_surprise)
        return (
            f"FilterResult(series×steps={shape}, surprise=[{kinds}], "
            f"beliefs={self.has_beliefs}, backend={self.backend!r})"
        )
