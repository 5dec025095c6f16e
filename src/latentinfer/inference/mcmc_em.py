"""TRICE's MCMC-EM gradient as per-sequence weights, and unbiased subsampling of the terms.

The model (Phan, Hoffman et al., 2023): question x, rationale z (ending in an answer),
p_θ(z, y | x) = p_θ(z | x) · 1[ans(z) = y]. The gradient of log p_θ(y | x) is the posterior
expectation E_{p_θ(z | x, y)}[∇ log p_θ(z | x)]. TRICE keeps one rationale z_i per training
example (a persistent Markov chain whose stationary law is that posterior) and, each step,
for a minibatch of M examples:

1. proposes z̃_i ~ p_θ(· | x_i) (temperature 1); c̃_i = 1[z̃_i gives the right answer];
2. independence Metropolis–Hastings with target ∝ p_θ(z | x) 1[correct] and proposal
   p_θ(z | x) accepts with probability c̃_i: if correct, z_i ← z̃_i. c_i = 1[memory valid];
3. estimates the gradient, either (basic)

       ĝ = (1/M) Σ_i c_i ∇ log p_θ(z_i | x_i)

   or with the control variate (the paper's eq. for ĝ_cv as we read it)

       ĝ_cv = (1/M) Σ_i c_i [∇ log p_θ(z_i | x_i) − β_i ∇ log p_θ(z̃_i | x_i)],

   β_i from :func:`~latentinfer.inference.control_variates.leave_one_out_beta`.

Both are linear in the per-sequence scores, so :func:`trice_weights` returns one weight per
memory sequence and one per proposal, and a trainer minimises −Σ w · log p / M. Per example:

============================  ======================  =================
case                          memory weight           proposal weight
============================  ======================  =================
accepted (memory was valid)   1 − β_i (z_i = z̃_i)     0
rejected, memory valid        1                       −β_i
no valid memory               0                       0
first valid rationale         1 (see below)           0
============================  ======================  =================

The basic estimator's weights are c_i on the memory and 0 on the proposal.

**The first valid rationale.** When example i had no valid memory and z̃_i is correct, c_i
= c̃_i depends on z̃_i, so the subtracted term c_i β_i ∇ log p(z̃_i) has mean β_i ∇ p_θ(y|x),
not zero. Our default (``first_valid="no_cv"``) applies no control variate to such an
example (weight 1 on the new memory), so E[ĝ_cv] = E[ĝ] exactly, in every state of the
memory. ``first_valid="paper"`` applies the formula literally (weight 1 − β_i), which
shrinks those examples' contribution by (1 − β_i) on average. Either way an example with no
valid memory before the step contributes c̃_i ∇ log p(z̃_i), whose mean is ∇ p_θ(y | x)
rather than ∇ log p_θ(y | x): the chain has not reached its stationary law yet. With a
memory drawn from the posterior, both estimators are unbiased for ∇ log p_θ(y | x).

**Subsampling.** Back-propagating through all 2M sequences can be replaced by M' of them:
:func:`systematic_resample` draws term k with probability ∝ |w_k| (systematic resampling)
and gives each draw the weight sign(w_k) · Σ|w| / M'. Term k is drawn M'|w_k|/Σ|w| times in
expectation, so the subsampled sum is unbiased for Σ_k w_k ∇ log p_k. (Resampling by
softmax(|w|), as one public implementation does, is not.)

References:
    D. Phan, M. D. Hoffman, D. Dohan, S. Douglas, T. A. Le, A. Parisi, P. Sountsov,
    C. Sutton, S. Vikram, R. A. Saurous. "Training Chain-of-Thought via Latent-Variable
    Inference." NeurIPS 2023, arXiv:2312.02179.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from latentinfer.core.errors import ConfigError, ShapeError, ValidationError
from latentinfer.core.validation import check_choice, check_number
from latentinfer.inference.control_variates import leave_one_out_beta

__all__ = ["FIRST_VALID", "Resampled", "TRICEWeights", "systematic_resample", "trice_weights"]

Tensor = torch.Tensor
FIRST_VALID = ("no_cv", "paper")


@dataclass(frozen=True)
class TRICEWeights:
    """Per-sequence weights of one TRICE step, all of shape ``(..., M)``.

    Attributes:
        memory: weights on the memory rationales *after* the update (an accepted proposal
            is the memory, so its weight sits here).
        proposal: weights on the proposals (nonzero only for rejected proposals of examples
            with a valid memory, under the control variate).
        beta: the leave-one-out β_i (zeros without the control variate).
        accepted: bool, c̃_i: the proposal was correct and replaced the memory.
        valid: bool, c_i: the memory is valid after the step.
        first_valid: bool, the accepted proposal is the example's first valid rationale.
    """

    memory: Tensor
    proposal: Tensor
    beta: Tensor
    accepted: Tensor
    valid: Tensor
    first_valid: Tensor


def _binary(x: Tensor, *, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        x = torch.as_tensor(x)
    if x.dtype != torch.bool:
        if x.numel() and bool(((x != 0) & (x != 1)).any()):
            raise ValidationError(f"{name} must hold 0/1 or booleans; got other values.")
        x = x != 0
    return x


def trice_weights(
    memory_valid: Tensor,
    proposal_correct: Tensor,
    *,
    control_variate: bool = True,
    first_valid: str = "no_cv",
    dtype: torch.dtype = torch.float32,
) -> TRICEWeights:
    """The weights of ĝ (``control_variate=False``) or ĝ_cv over a minibatch of M examples.

    Args:
        memory_valid: ``(..., M)`` 0/1, whether each memory was valid *before* the step.
        proposal_correct: ``(..., M)`` 0/1, c̃_i (the proposal is accepted iff correct).
        control_variate: use the leave-one-out control variate.
        first_valid: ``"no_cv"`` (default: no control variate for an example whose first
            valid rationale is this step's proposal; keeps E[ĝ_cv] = E[ĝ]) or ``"paper"``
            (the formula applied literally; see the module docstring).
        dtype: float dtype of the weights.

    Returns:
        :class:`TRICEWeights`; the gradient estimate is
        ``(1/M) Σ_i memory_i ∇log p(z_i|x_i) + proposal_i ∇log p(z̃_i|x_i)``.

    Example:
        >>> w = trice_weights(torch.tensor([1, 1, 0, 1]), torch.tensor([1, 0, 0, 1]))
        >>> w.memory, w.proposal
        (tensor([0.5000, 1.0000, 0.0000, 0.5000]), tensor([ 0., -1.,  0.,  0.]))
    """
    check_choice(first_valid, name="first_valid", choices=FIRST_VALID)
    if not isinstance(control_variate, bool):
        raise ConfigError(f"control_variate must be True or False; got {control_variate!r}.")
    old = _binary(memory_valid, name="memory_valid")
    acc = _binary(proposal_correct, name="proposal_correct")
    if old.shape != acc.shape or old.ndim == 0:
        raise ShapeError(
            f"memory_valid and proposal_correct must have the same shape (..., M); got "
            f"{tuple(old.shape)} and {tuple(acc.shape)}."
        )
    valid = old | acc
    first = acc & ~old
    ones = valid.to(dtype)
    if not control_variate:
        zeros = torch.zeros_like(ones)
        return TRICEWeights(ones, zeros, zeros.clone(), acc, valid, first)
    beta = leave_one_out_beta(acc, valid).to(dtype)
    memory = torch.where(acc, 1.0 - beta, ones)
    if first_valid == "no_cv":
        memory = torch.where(first, torch.ones_like(memory), memory)
    proposal = torch.where(valid & ~acc, -beta, torch.zeros_like(beta))
    return TRICEWeights(memory, proposal, beta, acc, valid, first)


@dataclass(frozen=True)
class Resampled:
    """M' terms drawn from N weighted ones, shapes ``(..., M')``.

    Attributes:
        indices: int64 indices into the N terms (sorted; repeats possible).
        weights: sign(w_k) · Σ|w| / M' for each draw.
    """

    indices: Tensor
    weights: Tensor

    def dense(self, n: int) -> Tensor:
        """``(..., n)`` total weight per original term (0 for terms never drawn)."""
        out = torch.zeros(
            (*self.indices.shape[:-1], n), dtype=self.weights.dtype, device=self.weights.device
        )
        return out.scatter_add_(-1, self.indices, self.weights)


def systematic_resample(
    weights: Tensor, size: int, *, generator: torch.Generator | None = None
) -> Resampled:
    """Draw ``size`` of the N weighted terms with probability ∝ |w|, systematically.

    One uniform u per row; the draws are the terms whose cumulative |w| / Σ|w| interval holds
    (u + j) / size, j = 0..size−1. Each term is drawn size·|w_k|/Σ|w| times in expectation, so
    Σ_draws weight · f(term) is unbiased for Σ_k w_k f(k).

    Args:
        weights: ``(..., N)`` finite real weights (any sign).
        size: M', the number of draws (≥ 1).
        generator: the random stream.

    Returns:
        :class:`Resampled` with shapes ``(..., size)``; rows whose weights are all 0 get
        zero weights.

    Example:
        >>> r = systematic_resample(torch.tensor([0.5, -1.0, 0.0, 0.5]), 2,
        ...                         generator=torch.Generator().manual_seed(0))
        >>> r.dense(4)
        tensor([ 1., -1.,  0.,  0.])
    """
    check_number(size, name="size", low=1, integer=True)
    if not isinstance(weights, Tensor) or not weights.is_floating_point() or weights.ndim == 0:
        raise ShapeError("weights must be a float tensor of shape (..., N).")
    if weights.shape[-1] == 0:
        raise ShapeError("weights must have at least one term (N ≥ 1); got N = 0.")
    if not bool(torch.isfinite(weights).all()):
        raise ValidationError("weights must be finite.")
    a = weights.abs()
    cum = a.cumsum(-1)
    total = cum[..., -1:]
    safe = torch.where(total > 0, total, torch.ones_like(total))
    # from the last nonzero term on, the CDF is 1; +inf there keeps round-off from ever
    # sending a draw past it onto a zero-weight term
    cdf = torch.where(cum >= total, torch.inf, cum / safe).contiguous()
    u = torch.rand(
        (*weights.shape[:-1], 1), generator=generator, dtype=weights.dtype, device=weights.device
    )
    points = (u + torch.arange(size, dtype=weights.dtype, device=weights.device)) / size
    idx = torch.searchsorted(cdf, points.contiguous(), right=True)
    idx = idx.clamp_max(weights.shape[-1] - 1)
    w = torch.sign(weights.gather(-1, idx)) * total / size
    return Resampled(indices=idx, weights=torch.where(total > 0, w, torch.zeros_like(w)))
