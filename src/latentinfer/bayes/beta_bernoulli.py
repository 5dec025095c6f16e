"""Streaming Beta-Bernoulli beliefs over many arms, with forgetting and Thompson selection.

The model-predictive prompt selection (MoPPS) of Qu et al. (2025): each prompt (arm) of an RL
fine-tuning run keeps a Beta belief over the policy's success rate on it, updated from the
rollouts' binary rewards at no extra model cost, and the next batch is chosen by Thompson
sampling to favour prompts of intermediate difficulty, whose groups of rollouts disagree
and so carry a GRPO learning signal.

Our reading of the method (the paper's equations and the authors' published scripts):

- Update: after k rollouts of arm τ with s successes,
  α_τ ← λα_τ + (1−λ)α₀ + s and β_τ ← λβ_τ + (1−λ)β₀ + (k − s); only arms rolled out at that
  step change (no forgetting for the others). λ = 0.5 in the published Countdown and Geometry
  scripts, λ = 1 (no forgetting) in the MATH ones.
- Selection: Thompson sampling from a random candidate pool, keeping the draws closest to a
  target (or inside an interval); see :mod:`latentinfer.bayes.selection` for the rules.

References:
    Y. Qu, Q. Wang, Y. Mao, V. T. Hu, B. Ommer, X. Ji. "Can Prompt Difficulty be Online
    Predicted for Accelerating RL Finetuning of Reasoning Models?" arXiv:2507.04632, 2025.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self, final

import torch

from latentinfer.bayes._streaming import (
    ConjugateFilter,
    FilterTrace,
    arm_indices,
    check_batch_shape,
    check_counts,
    check_dtype,
    check_forgetting,
    check_param,
    check_time,
    observations,
)
from latentinfer.bayes.selection import (
    Selection,
    check_selection,
    resolve_generator,
    thompson_select,
)
from latentinfer.core.errors import ShapeError, ValidationError
from latentinfer.core.validation import check_number
from latentinfer.inference.conjugate import BetaBelief, beta_bernoulli_update, sample_beta

#: ``arm_indices`` and ``check_counts`` are the filter's input checks, public for the code
#: that records counts beside it (the reasoning family's prompt selectors)
__all__ = ["BetaBernoulliFilter", "CredibleInterval", "arm_indices", "check_counts"]

Tensor = torch.Tensor


@dataclass(frozen=True)
class CredibleInterval:
    """Equal-tailed posterior intervals: ``low``/``high`` of the belief's shape."""

    low: Tensor
    high: Tensor
    level: float


@final
class BetaBernoulliFilter(ConjugateFilter[BetaBelief]):
    """Beta beliefs over the success rates of ``n_arms`` arms, MoPPS forgetting and selection.

    The two calls an RL trainer makes each step::

        sel = filt.select(batch_size, generator=g)      # before the rollouts
        filt.update(sel.arms, successes, trials)        # after the rewards

    Args:
        n_arms: number of arms (prompts).
        prior_alpha, prior_beta: the prior Beta(α₀, β₀) (positive numbers, or tensors
            broadcastable to ``(*batch_shape, n_arms)``); also what forgetting relaxes toward.
        forgetting: λ in [0, 1] (1: no forgetting; 0.5 in the published MoPPS scripts).
        pool_ratio: candidate pool as a multiple of the batch size (≥ 1).
        rule: selection rule, ``"closest"`` (default), ``"interval"`` or ``"uniform"``.
        target: success rate the ``"closest"`` rule aims at.
        interval: ``(low, high)`` of the ``"interval"`` rule.
        batch_shape: independent replicas (each with its own arms), broadcast with the
            prior's leading shape.
        dtype: ``torch.float64`` (default) or ``torch.float32``.
        device: where the belief lives.

    Attributes:
        belief_: the current :class:`~latentinfer.inference.conjugate.BetaBelief`, fields of
            shape ``(*batch_shape, n_arms)``.

    Example:
        >>> filt = BetaBernoulliFilter(100, forgetting=0.5)
        >>> g = torch.Generator().manual_seed(0)
        >>> sel = filt.select(4, generator=g)
        >>> sel.arms.shape, sel.candidates.shape
        (torch.Size([4]), torch.Size([32]))
        >>> filt = filt.update(sel.arms, torch.tensor([8, 0, 3, 5]), 8)
        >>> filt.alpha_[sel.arms]
        tensor([9., 1., 4., 6.], dtype=torch.float64)

    References:
        Qu et al. "Can Prompt Difficulty be Online Predicted for Accelerating RL Finetuning
        of Reasoning Models?" arXiv:2507.04632, 2025.
    """

    def __init__(
        self,
        n_arms: int,
        *,
        prior_alpha: float | Tensor = 1.0,
        prior_beta: float | Tensor = 1.0,
        forgetting: float | Tensor = 1.0,
        pool_ratio: float = 8,
        rule: str = "closest",
        target: float = 0.5,
        interval: tuple[float, float] = (0.3, 0.7),
        batch_shape: tuple[int, ...] | int = (),
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> None:
        self.n_arms = int(check_number(n_arms, name="n_arms", low=1, integer=True))
        check_selection(pool_ratio, rule, target, interval)
        self.pool_ratio, self.rule, self.target = pool_ratio, rule, target
        self.interval = (float(interval[0]), float(interval[1]))
        self.dtype, self._device = check_dtype(dtype), device
        kw: dict[str, Any] = {"dtype": self.dtype, "device": device}
        a0 = check_param(prior_alpha, name="prior_alpha", **kw)
        b0 = check_param(prior_beta, name="prior_beta", **kw)
        self.forgetting = check_forgetting(forgetting, **kw)
        lam = self.forgetting.shape if isinstance(self.forgetting, Tensor) else ()
        full = (*check_batch_shape(batch_shape), self.n_arms)
        try:
            shape = tuple(torch.broadcast_shapes(full, a0.shape, b0.shape, lam))
        except RuntimeError:
            shape = ()
        if shape[-1:] != (self.n_arms,):
            raise ShapeError(
                f"prior_alpha {tuple(a0.shape)}, prior_beta {tuple(b0.shape)} and forgetting "
                f"{tuple(lam)} must broadcast to (*batch_shape, n_arms) = {full}."
            )
        self.batch_shape = shape[:-1]
        self.prior = BetaBelief(a0, b0)
        self.reset()

    # -- state ------------------------------------------------------------------------------
    def _belief_shape(self) -> tuple[int, ...]:
        return (*self.batch_shape, self.n_arms)

    @property
    def alpha_(self) -> Tensor:
        """``(*batch_shape, n_arms)`` current α."""
        return self.belief_.alpha

    @property
    def beta_(self) -> Tensor:
        """``(*batch_shape, n_arms)`` current β."""
        return self.belief_.beta

    @property
    def mean(self) -> Tensor:
        """``(*batch_shape, n_arms)`` posterior mean success rates."""
        return self.belief_.mean

    @property
    def variance(self) -> Tensor:
        """``(*batch_shape, n_arms)`` posterior variances of the success rates."""
        return self.belief_.variance

    def state_dict(self) -> dict[str, Tensor]:
        """The belief as tensors (for a checkpoint)."""
        return {"alpha": self.alpha_.clone(), "beta": self.beta_.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> Self:
        """Restore a belief saved by :meth:`state_dict`."""
        shape = self._belief_shape()
        keys = ("alpha", "beta")
        parts = [observations(state.get(k), name=f"state[{k!r}]", **self._kw()) for k in keys]
        for key, t in zip(keys, parts):
            if tuple(t.shape) != shape:
                raise ShapeError(f"state[{key!r}] must have shape {shape}; got {tuple(t.shape)}.")
            if bool((t <= 0).any()):
                raise ValidationError(f"state[{key!r}] must be positive; got {float(t.min()):g}.")
        self.belief_ = BetaBelief(*parts)
        return self

    def _kw(self) -> dict[str, Any]:
        return {"dtype": self.dtype, "device": self._device or self.alpha_.device}

    # -- input checks -----------------------------------------------------------------------
    def _arms(self, arms: Any) -> Tensor:
        t = arm_indices(arms, name="arms", device=self._device)
        if t.ndim != len(self.batch_shape) + 1 or tuple(t.shape[:-1]) != self.batch_shape:
            raise ShapeError(
                f"arms must have shape (*batch_shape, B) = ({', '.join(map(str, self.batch_shape))}"
                f"{', ' if self.batch_shape else ''}B); got {tuple(t.shape)}."
            )
        if t.numel() and bool(((t < 0) | (t >= self.n_arms)).any()):
            raise ValidationError(
                f"arms must hold indices in [0, {self.n_arms - 1}]; got values in "
                f"[{int(t.min())}, {int(t.max())}]."
            )
        return t

    def _counts(self, successes: Any, trials: Any, shape: tuple[int, ...]) -> tuple[Tensor, Tensor]:
        return check_counts(successes, trials, shape, what="the arms' shape", **self._kw())

    def _dense(self, arms: Tensor, values: Tensor) -> Tensor:
        out = torch.zeros(self._belief_shape(), dtype=self.dtype, device=self.alpha_.device)
        return out.scatter_add_(-1, arms, values)

    # -- updates ----------------------------------------------------------------------------
    def _step(self, belief: BetaBelief, obs: tuple[Tensor, ...]) -> tuple[BetaBelief, Tensor]:
        s, k = obs
        relaxed = belief.forget(self.prior, self.forgetting)
        surprise = 0.0 - relaxed.log_predictive(s, k)  # 0 where k = 0 (+0.0, not -0.0)
        new = beta_bernoulli_update(belief, s, k, prior=self.prior, forgetting=self.forgetting)
        return new, surprise

    def _log_predictive(self, belief: BetaBelief, obs: tuple[Tensor, ...]) -> Tensor:
        return belief.log_predictive(*obs)

    def _absorb(self, belief: BetaBelief, obs: tuple[Tensor, ...]) -> BetaBelief:
        return belief.absorb(*obs)

    def update(self, arms: Any, successes: Any, trials: Any) -> Self:
        """Absorb ``successes`` out of ``trials`` for each of ``arms``; returns the filter.

        Args:
            arms: ``(*batch_shape, B)`` arm indices (repeats are summed into one step).
            successes: counts broadcastable to ``arms`` (0 ≤ successes ≤ trials); a
                fractional count is absorbed as it is (a soft count, e.g. the sum of
                rewards in [0, 1]).
            trials: counts broadcastable to ``arms`` (an int for a fixed group size;
                fractional counts are taken as they are too).
        """
        a = self._arms(arms)
        s, k = self._counts(successes, trials, tuple(a.shape))
        self.belief_, _ = self._step(self.belief_, (self._dense(a, s), self._dense(a, k)))
        return self

    def observe(self, arms: Any, rewards: Any) -> Self:
        """Absorb binary ``rewards`` of shape ``(*batch_shape, B, k)``: k rollouts per arm."""
        a = self._arms(arms)
        r = observations(rewards, name="rewards", **self._kw())
        if r.shape[:-1] != a.shape:
            raise ShapeError(
                f"rewards must have shape (*arms.shape, k) = ({', '.join(map(str, a.shape))}, k); "
                f"got {tuple(r.shape)}."
            )
        if bool(((r != 0) & (r != 1)).any()):
            raise ValidationError("rewards must be binary (0 or 1); threshold them first.")
        return self.update(a, r.sum(-1), r.shape[-1])

    def warm_start(self, successes: Any, trials: Any) -> Self:
        """Replace the belief by the prior updated with offline counts (no forgetting).

        Args:
            successes, trials: counts broadcastable to ``(*batch_shape, n_arms)``.
        """
        s, k = self._counts(successes, trials, self._belief_shape())
        self.reset()
        self.belief_ = self.belief_.absorb(s, k)
        return self

    # -- prediction and selection -----------------------------------------------------------
    def select(
        self, batch_size: int, *, generator: torch.Generator | None = None, seed: int | None = None
    ) -> Selection:
        """Choose the next ``batch_size`` arms per replica with the filter's rule (MoPPS).

        Randomness comes from ``generator`` (pass one and reuse it across steps) or a fresh
        one seeded with ``seed`` (``None`` for both: OS entropy).
        """
        return thompson_select(
            self.belief_,
            batch_size,
            generator=resolve_generator(generator, seed, self.alpha_.device),
            pool_ratio=self.pool_ratio,
            rule=self.rule,
            target=self.target,
            interval=self.interval,
        )

    def sample(
        self,
        sample_shape: tuple[int, ...] = (),
        *,
        generator: torch.Generator | None = None,
        seed: int | None = None,
    ) -> Tensor:
        """Thompson draws of every arm's rate, shape ``(*sample_shape, *batch_shape, n_arms)``."""
        g = resolve_generator(generator, seed, self.alpha_.device)
        return sample_beta(self.alpha_, self.beta_, generator=g, sample_shape=tuple(sample_shape))

    def credible_interval(self, level: float = 0.9) -> CredibleInterval:
        """Equal-tailed credible interval of each arm's rate (computed with SciPy on CPU)."""
        from scipy.special import betaincinv

        check_number(
            level, name="level", low=0.0, high=1.0, low_inclusive=False, high_inclusive=False
        )
        a, b = self.alpha_.cpu().numpy(), self.beta_.cpu().numpy()
        q = [betaincinv(a, b, p) for p in ((1 - level) / 2, (1 + level) / 2)]
        lo, hi = (torch.as_tensor(v, dtype=self.dtype).to(self.alpha_.device) for v in q)
        return CredibleInterval(low=lo, high=hi, level=float(level))

    def log_predictive(self, arms: Any, successes: Any, trials: Any) -> Tensor:
        """``(*batch_shape, B)`` log Beta-binomial probability of the next counts of ``arms``."""
        a = self._arms(arms)
        s, k = self._counts(successes, trials, tuple(a.shape))
        relaxed = self.belief_.forget(self.prior, self.forgetting)
        picked = BetaBelief(
            *(t.expand(self._belief_shape()).gather(-1, a) for t in (relaxed.alpha, relaxed.beta))
        )
        return picked.log_predictive(s, k)

    def filter(self, successes: Any, trials: Any) -> FilterTrace[BetaBelief]:
        """Run dense count sequences from the current belief (the filter is left unchanged).

        Args:
            successes, trials: ``(..., T, n_arms)`` counts per step and arm (trials = 0: the
                arm is not observed at that step); ``...`` broadcasts with ``batch_shape``.

        Returns:
            :class:`~latentinfer.bayes.FilterTrace`: ``beliefs.alpha``/``beliefs.beta`` and
            ``surprise`` (0 where trials = 0) of shape ``(S, T, n_arms)``,
            S = broadcast(..., batch_shape).
        """
        s = observations(successes, name="successes", **self._kw())
        k = observations(trials, name="trials", **self._kw())
        check_time(s, name="successes", min_ndim=2, layout="(..., T, n_arms)")
        try:
            full = tuple(torch.broadcast_shapes(s.shape, k.shape))
            lead = tuple(torch.broadcast_shapes(full[:-2], self.batch_shape))
        except RuntimeError:
            full, lead = (), ()
        if full[-1:] != (self.n_arms,):
            raise ShapeError(
                f"successes {tuple(s.shape)} and trials {tuple(k.shape)} must broadcast to "
                f"(..., T, n_arms) with n_arms = {self.n_arms} and ... broadcasting with "
                f"batch_shape {self.batch_shape}."
            )
        s, k = self._counts(s, k, (*lead, *full[-2:]))
        steps = [(s[..., i, :], k[..., i, :]) for i in range(full[-2])]
        return self._run(steps, (*lead, self.n_arms), belief_dim=-2, surprise_dim=-2)
