"""Which training prompts a trainer rolls out next: uniformly, or by MoPPS.

A trainer makes two calls per step::

    idx = selector.select(batch_size)          # before the rollouts: (batch_size,) indices
    selector.update(idx, successes, trials)    # after the rewards

and reads ``selector.rollouts_``, the rollouts reported so far (the budget MoPPS saves).

- :class:`UniformSelector`: ``batch_size`` distinct prompts uniformly at random.
- :class:`MoPPSSelector`: model-predictive prompt selection (Qu et al., 2025). A Beta
  belief over each prompt's success rate, updated from the rollouts' rewards at no model
  cost, and Thompson sampling from a candidate pool to keep the prompts whose sampled rate
  is nearest a target (0.5: the ones the policy sometimes solves). The belief and the
  selection are the Bayesian family's :class:`~latentinfer.bayes.BetaBernoulliFilter` (one
  implementation); this class only holds its random stream and the rollout count.

Both are checkpointable (:meth:`~PromptSelector.state_dict`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Self, final

import torch

from latentinfer.bayes.beta_bernoulli import BetaBernoulliFilter, arm_indices, check_counts
from latentinfer.core.errors import ConfigError, ShapeError, ValidationError
from latentinfer.core.seeding import make_generator
from latentinfer.core.validation import check_choice, check_number

__all__ = [
    "MOPPS_OPTIONS",
    "SELECTORS",
    "MoPPSSelector",
    "PromptSelector",
    "UniformSelector",
    "check_selector_options",
    "make_selector",
]

Tensor = torch.Tensor
SELECTORS = ("uniform", "mopps")
MOPPS_OPTIONS = (
    "forgetting",
    "pool_ratio",
    "target",
    "rule",
    "interval",
    "prior_alpha",
    "prior_beta",
)


class PromptSelector(ABC):
    """Base of the prompt selectors (subclass it; the subclasses are final).

    Args:
        n_prompts: the number of training prompts (indices 0..n_prompts−1).
        seed: seeds the selector's own random stream.

    Attributes:
        rollouts_: trials reported through :meth:`update` so far.
        steps_: calls to :meth:`update` so far.
    """

    name: str

    def __init__(self, n_prompts: int, *, seed: int | None = 0) -> None:
        self.n_prompts = int(check_number(n_prompts, name="n_prompts", low=1, integer=True))
        self.seed = seed
        self._generator = make_generator(seed)
        self.rollouts_ = 0
        self.steps_ = 0

    def _check_batch(self, batch_size: int) -> int:
        check_number(batch_size, name="batch_size", low=1, integer=True)
        if batch_size > self.n_prompts:
            raise ConfigError(
                f"batch_size must be at most the number of prompts ({self.n_prompts}); "
                f"got {batch_size}."
            )
        return batch_size

    @abstractmethod
    def select(self, batch_size: int) -> Tensor:
        """``(batch_size,)`` int64 indices of distinct prompts to roll out next."""

    def predicted_success(self, indices: Any) -> Tensor | None:
        """``(B,)`` predicted success rates of prompts ``indices``; ``None``: no prediction.

        For a selector that predicts (MoPPS: the posterior mean), comparing this, taken
        right after :meth:`select`, with the rewards the rollouts then get shows how well the
        prediction tracks the policy (a gap means the beliefs are stale).
        """
        return None

    def forecast(self, indices: Any) -> dict[str, float]:
        """``{"predicted_success": mean forecast over indices}`` for a metrics record, or ``{}``.

        What the trainers log beside the batch's observed success rate.
        """
        p = self.predicted_success(indices)
        return {} if p is None else {"predicted_success": float(p.double().mean())}

    def update(self, indices: Any, successes: Any, trials: Any) -> Self:
        """Record ``successes`` out of ``trials`` rollouts for each of ``indices``.

        Args:
            indices: ``(B,)`` prompt indices (as returned by :meth:`select`).
            successes: ``(B,)`` counts (or a number broadcast to them), 0 ≤ s ≤ trials.
            trials: ``(B,)`` counts or an int (rollouts per prompt).
        """
        idx = self._check_indices(indices)
        s, k = check_counts(
            successes,
            trials,
            tuple(idx.shape),
            what="the indices' shape",
            dtype=torch.float64,
            device=None,
        )
        self._absorb(idx, s, k)
        self.rollouts_ += int(k.sum())
        self.steps_ += 1
        return self

    def _check_indices(self, indices: Any) -> Tensor:
        """``(B,)`` int64 prompt indices in range (whole numbers of any dtype, not a mask)."""
        idx = arm_indices(indices, name="indices")
        if idx.ndim != 1:
            raise ShapeError(
                f"indices must have shape (B,), one prompt index each; got {tuple(idx.shape)}."
            )
        if bool(((idx < 0) | (idx >= self.n_prompts)).any()):
            raise ValidationError(
                f"indices must lie in [0, {self.n_prompts - 1}]; got values in "
                f"[{int(idx.min())}, {int(idx.max())}]."
            )
        return idx

    @abstractmethod
    def _absorb(self, indices: Tensor, successes: Tensor, trials: Tensor) -> None:
        """Learn from checked ``(B,)`` indices, successes and trials."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the selection exactly (JSON-able plus tensors)."""
        return {
            "name": self.name,
            "rollouts": self.rollouts_,
            "steps": self.steps_,
            "generator": self._generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> Self:
        """Restore what :meth:`state_dict` saved."""
        if state.get("name") != self.name:
            raise ConfigError(
                f"selector state is for {state.get('name')!r}; this selector is {self.name!r}."
            )
        self.rollouts_ = int(state["rollouts"])
        self.steps_ = int(state["steps"])
        self._generator.set_state(torch.as_tensor(state["generator"], dtype=torch.uint8))
        return self


@final
class UniformSelector(PromptSelector):
    """``batch_size`` distinct prompts uniformly at random each step (the baseline)."""

    name = "uniform"

    def select(self, batch_size: int) -> Tensor:
        b = self._check_batch(batch_size)
        return torch.randperm(self.n_prompts, generator=self._generator)[:b]

    def _absorb(self, indices: Tensor, successes: Tensor, trials: Tensor) -> None:
        """Nothing to learn: uniform selection ignores the rewards."""


@final
class MoPPSSelector(PromptSelector):
    """MoPPS: Thompson-sampled prompts whose predicted success rate is nearest ``target``.

    Args:
        n_prompts: the number of training prompts.
        seed: seeds the selection stream.
        forgetting: λ of the Beta-Bernoulli filter (0.5 in the published MoPPS scripts;
            1: no forgetting).
        pool_ratio: candidate pool as a multiple of the batch (8 in MoPPS).
        target: the success rate aimed at.
        rule: ``"closest"`` (MoPPS) or ``"interval"`` (see :mod:`latentinfer.bayes.selection`).
        interval: ``(low, high)`` of the ``"interval"`` rule.
        prior_alpha, prior_beta: the Beta prior (and what forgetting relaxes toward).

    Attributes:
        filter_: the :class:`~latentinfer.bayes.BetaBernoulliFilter` holding the beliefs.

    Example:
        >>> sel = MoPPSSelector(50, seed=0)
        >>> idx = sel.select(4)
        >>> sel = sel.update(idx, torch.tensor([1, 0, 1, 1]), 1)
        >>> sel.rollouts_, float(sel.filter_.alpha_[idx].sum())
        (4, 7.0)

    References:
        Y. Qu et al. "Can Prompt Difficulty be Online Predicted for Accelerating RL
        Finetuning of Reasoning Models?" arXiv:2507.04632, 2025.
    """

    name = "mopps"

    def __init__(
        self,
        n_prompts: int,
        *,
        seed: int | None = 0,
        forgetting: float = 0.5,
        pool_ratio: float = 8,
        target: float = 0.5,
        rule: str = "closest",
        interval: tuple[float, float] = (0.3, 0.7),
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
    ) -> None:
        super().__init__(n_prompts, seed=seed)
        check_choice(rule, name="rule", choices=("closest", "interval"))
        self.filter_ = BetaBernoulliFilter(
            self.n_prompts,
            prior_alpha=prior_alpha,
            prior_beta=prior_beta,
            forgetting=forgetting,
            pool_ratio=pool_ratio,
            rule=rule,
            target=target,
            interval=interval,
        )

    def select(self, batch_size: int) -> Tensor:
        b = self._check_batch(batch_size)
        return self.filter_.select(b, generator=self._generator).arms

    def predicted_success(self, indices: Any) -> Tensor:
        return self.filter_.mean[self._check_indices(indices)]

    def _absorb(self, indices: Tensor, successes: Tensor, trials: Tensor) -> None:
        self.filter_.update(indices, successes, trials)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "filter": self.filter_.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> Self:
        super().load_state_dict(state)
        self.filter_.load_state_dict(state["filter"])
        return self


def make_selector(
    name: str, n_prompts: int, *, seed: int | None = 0, **options: Any
) -> PromptSelector:
    """A selector by name: ``"uniform"`` or ``"mopps"`` (``options`` go to its constructor).

    Raises:
        ConfigError: an unknown name, or options the selector does not take.
    """
    check_choice(name, name="selector", choices=SELECTORS)
    if name == "uniform":
        if options:
            raise ConfigError(
                f"selector 'uniform' takes no options; got {sorted(options)}. MoPPS options "
                f"({', '.join(MOPPS_OPTIONS)}) need selector='mopps'."
            )
        return UniformSelector(n_prompts, seed=seed)
    accepted = MOPPS_OPTIONS
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(f"unknown MoPPS option(s) {unknown}; accepted: {list(accepted)}.")
    return MoPPSSelector(n_prompts, seed=seed, **options)


def check_selector_options(name: str, options: dict[str, Any]) -> None:
    """Raise the error :func:`make_selector` would give for ``name`` and ``options``
    (what a trainer's config checks when it is built, before any data is seen)."""
    check_choice(name, name="selector", choices=SELECTORS)
    if not isinstance(options, dict):
        raise ConfigError(f"selector_options must be a dict; got {type(options).__name__}.")
    if name == "uniform":
        if options:
            raise ConfigError(
                f"selector_options: selector 'uniform' takes no options; got {sorted(options)}. "
                f"MoPPS options ({', '.join(MOPPS_OPTIONS)}) need selector='mopps'."
            )
        return
    unknown = sorted(set(options) - set(MOPPS_OPTIONS))
    if unknown:  # seed and n_prompts included: the trainer sets those itself
        raise ConfigError(
            f"selector_options: unknown MoPPS option(s) {unknown}; accepted: {list(MOPPS_OPTIONS)}."
        )
    # values are checked on a one-prompt selector; per-prompt tensors (priors, forgetting)
    # can only be checked against the data's prompts, when fit builds the real one
    scalars = {k: v for k, v in options.items() if not isinstance(v, torch.Tensor)}
    try:
        MoPPSSelector(1, seed=0, **scalars)
    except ConfigError as exc:
        raise ConfigError(f"selector_options: {exc}") from None
