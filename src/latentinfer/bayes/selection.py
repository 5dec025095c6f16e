"""Thompson-sampled selection of arms from Beta beliefs (the selection step of MoPPS).

From a candidate pool of ``pool_ratio × batch_size`` arms drawn uniformly without replacement
(capped at the number of arms), one draw γ̃ ~ Beta(α, β) per candidate decides which
``batch_size`` are kept:

- ``rule="closest"``: the candidates whose γ̃ is closest to ``target`` (MoPPS), closest first;
- ``rule="interval"`` (MoPPS's variant keeping γ̃ ∈ [0.3, 0.7]), as we read it: candidates with
  γ̃ in ``interval`` first, in the pool's random order (a uniform choice among them when more
  than ``batch_size`` qualify); when fewer qualify, the batch is topped up with the other
  candidates whose γ̃ is closest to the interval's centre;
- ``rule="uniform"``: ``batch_size`` arms uniformly at random (the baseline).

Batched over replicas: beliefs of shape ``(..., n_arms)`` give selections of shape
``(..., batch_size)``, with no Python loop over replicas or arms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from latentinfer.core.errors import ConfigError
from latentinfer.core.seeding import make_generator
from latentinfer.core.validation import check_choice, check_number
from latentinfer.inference.conjugate import BetaBelief, sample_beta

__all__ = ["RULES", "Selection", "thompson_select"]

Tensor = torch.Tensor
RULES = ("closest", "interval", "uniform")


@dataclass(frozen=True)
class Selection:
    """The arms chosen for the next batch.

    Attributes:
        arms: ``(..., batch_size)`` int64 arm indices, the best first (see the rule).
        rates: ``(..., batch_size)`` the Thompson draws γ̃ of those arms.
        candidates: ``(..., pool_size)`` the candidate pool, in the random order drawn.
    """

    arms: Tensor
    rates: Tensor
    candidates: Tensor


def check_selection(pool_ratio: Any, rule: Any, target: Any, interval: Any) -> tuple[float, float]:
    """Check the selection options; returns the interval as floats."""
    check_number(pool_ratio, name="pool_ratio", low=1.0)
    check_choice(rule, name="rule", choices=RULES)
    check_number(target, name="target", low=0.0, high=1.0)
    try:
        low, high = (float(v) for v in interval)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"interval must be a pair (low, high); got {interval!r}.") from exc
    if not 0.0 <= low < high <= 1.0:
        raise ConfigError(f"interval must satisfy 0 ≤ low < high ≤ 1; got {interval!r}.")
    return low, high


def resolve_generator(
    generator: torch.Generator | None, seed: int | None, device: Any
) -> torch.Generator:
    """``generator`` itself, or a fresh one seeded with ``seed`` (OS entropy when None)."""
    if generator is not None and seed is not None:
        raise ConfigError("pass either generator or seed, not both.")
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise ConfigError(f"generator must be a torch.Generator; got {generator!r}.")
        return generator
    return make_generator(seed, device)


def thompson_select(
    belief: BetaBelief,
    batch_size: int,
    *,
    generator: torch.Generator | None,
    pool_ratio: float = 8,
    rule: str = "closest",
    target: float = 0.5,
    interval: tuple[float, float] = (0.3, 0.7),
) -> Selection:
    """Choose ``batch_size`` arms per replica by Thompson sampling (MoPPS).

    Args:
        belief: Beta beliefs with fields of shape ``(..., n_arms)``.
        batch_size: arms to keep per replica (1 ≤ batch_size ≤ n_arms).
        generator: the random stream for the pool and the draws.
        pool_ratio: candidate pool size as a multiple of ``batch_size`` (≥ 1; the pool is
            capped at ``n_arms``).
        rule: ``"closest"`` (γ̃ closest to ``target``), ``"interval"`` or ``"uniform"``.
        target: the success rate to aim at, in [0, 1].
        interval: ``(low, high)`` for ``rule="interval"``.

    Returns:
        :class:`Selection` with leading shape ``...``.
    """
    low, high = check_selection(pool_ratio, rule, target, interval)
    alpha, beta = torch.broadcast_tensors(belief.alpha, belief.beta)
    n_arms = alpha.shape[-1]
    batch_size = int(check_number(batch_size, name="batch_size", low=1, integer=True))
    if batch_size > n_arms:
        raise ConfigError(
            f"batch_size must be at most the number of arms ({n_arms}); got {batch_size}."
        )
    pool = batch_size if rule == "uniform" else min(math.ceil(pool_ratio * batch_size), n_arms)
    u = torch.rand(alpha.shape, generator=generator, dtype=alpha.dtype, device=alpha.device)
    candidates = u.argsort(dim=-1)[..., :pool]  # (..., pool): uniform, without replacement
    rates = sample_beta(
        alpha.gather(-1, candidates), beta.gather(-1, candidates), generator=generator
    )
    if rule == "uniform":
        return Selection(arms=candidates, rates=rates, candidates=candidates)
    if rule == "closest":
        key = (rates - target).abs()
    else:
        inside = (rates >= low) & (rates <= high)
        position = torch.arange(pool, dtype=rates.dtype, device=rates.device) / pool - 1.0
        key = torch.where(inside, position, (rates - 0.5 * (low + high)).abs())
    order = key.argsort(dim=-1, stable=True)[..., :batch_size]
    return Selection(
        arms=candidates.gather(-1, order), rates=rates.gather(-1, order), candidates=candidates
    )
