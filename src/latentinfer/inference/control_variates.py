"""Leave-one-out control-variate coefficients for score-function gradient estimators.

TRICE (Phan, Hoffman et al., 2023) subtracts β_i ∇ log p_θ(z̃_i | x_i) from example i's
gradient, z̃_i ~ p_θ(· | x_i) a fresh proposal. The subtracted term has mean zero,
E_{z̃ ~ p_θ}[∇ log p_θ(z̃ | x)] = 0, so any β_i that does not depend on z̃_i keeps the
estimator's mean. The scale that minimises the variance is close to the probability that a
proposal is correct, which the other examples of the minibatch estimate without touching
example i (leave one out):

    β_i = Σ_{j≠i} c̃_j / Σ_{j≠i} c_j        (0 when no other example has a valid memory)

with c̃_j = 1[proposal j correct] and c_j = 1[memory j valid after the step]. Since an
accepted proposal becomes the memory, c̃_j ≤ c_j and β_i ∈ [0, 1].
"""

from __future__ import annotations

import torch

__all__ = ["leave_one_out_beta"]

Tensor = torch.Tensor


def leave_one_out_beta(proposal_correct: Tensor, memory_valid: Tensor) -> Tensor:
    """β_i = Σ_{j≠i} c̃_j / Σ_{j≠i} c_j over the last axis (0 where the denominator is 0).

    Args:
        proposal_correct: ``(..., M)`` c̃, 0/1 (bool or float).
        memory_valid: ``(..., M)`` c, 0/1, the memory's validity after the step.

    Returns:
        ``(..., M)`` float β (float64 for bool input, else the input's float dtype).
    """
    dtype = proposal_correct.dtype if proposal_correct.is_floating_point() else torch.float64
    ct = proposal_correct.to(dtype)
    c = memory_valid.to(dtype)
    num = ct.sum(-1, keepdim=True) - ct
    den = c.sum(-1, keepdim=True) - c
    return torch.where(den > 0, num / den.clamp_min(1), torch.zeros_like(num))
