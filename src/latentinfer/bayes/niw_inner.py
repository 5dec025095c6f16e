"""The inner loop of NIW-Meta for a softmax head: a few SGD/SGLD steps, then a quadratic fit.

The head of an N-way episode maps a feature ``e ∈ R^D`` to logits ``W ẽ`` with
``ẽ = (e, 1)`` and ``W ∈ R^{N×(D+1)}`` (weights and bias). Its support loss is the summed
cross-entropy ``l(W) = −Σᵢ log softmax(W ẽᵢ)_{yᵢ}``, whose gradient ``(P − Y)ᵀ Ẽ`` and exact
Hessian diagonal ``(P ⊙ (1 − P))ᵀ (Ẽ ⊙ Ẽ)`` are closed forms, so the inner loop needs no
autograd graph at all (the contrast with MAML). Everything is batched over episodes:
features ``(B, S, D)``, weights ``(B, N, D+1)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = [
    "QuadraticApproximation",
    "head_hessian_diagonal",
    "head_logits",
    "head_loss_gradient",
    "quadratic_approximation",
]


@dataclass(frozen=True)
class QuadraticApproximation:
    """``l(W) ≈ ½ Σⱼ Aⱼ (Wⱼ − m̄ⱼ)² + const`` of an episode's support loss.

    Attributes:
        center: m̄, shape ``(B, N, D+1)``.
        curvature: A ≥ 0 (capped), shape ``(B, N, D+1)``.
    """

    center: torch.Tensor
    curvature: torch.Tensor


def _with_bias(f: torch.Tensor) -> torch.Tensor:
    return torch.cat([f, torch.ones_like(f[..., :1])], -1)


def head_logits(weights: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """Logits ``(..., B, R, N)`` of features ``(B, R, D)`` under weights ``(..., B, N, D+1)``."""
    return _with_bias(features) @ weights.transpose(-1, -2)


def head_loss_gradient(
    weights: torch.Tensor, features: torch.Tensor, onehot: torch.Tensor
) -> torch.Tensor:
    """Gradient of the summed cross-entropy, ``(P − Y)ᵀ Ẽ``, shape ``(B, N, D+1)``.

    Example:
        >>> w = torch.zeros(1, 2, 2, requires_grad=True)
        >>> f, y = torch.tensor([[[1.0], [2.0]]]), torch.eye(2)[None]
        >>> loss = -torch.log_softmax(head_logits(w, f), -1).mul(y).sum()
        >>> torch.allclose(torch.autograd.grad(loss, w)[0], head_loss_gradient(w, f, y))
        True
    """
    p = torch.softmax(head_logits(weights, features), -1)
    return (p - onehot).transpose(-1, -2) @ _with_bias(features)


def head_hessian_diagonal(weights: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """Diagonal of the summed cross-entropy's Hessian, ``(P(1 − P))ᵀ (Ẽ ⊙ Ẽ)``, ``(B, N, D+1)``."""
    p = torch.softmax(head_logits(weights, features), -1)
    e = _with_bias(features)
    return (p * (1 - p)).transpose(-1, -2) @ (e * e)


def quadratic_approximation(
    features: torch.Tensor,
    labels: torch.Tensor,
    n_way: int,
    start: torch.Tensor,
    *,
    method: str = "sgd",
    curvature: str = "hessian",
    steps: int = 5,
    lr: float = 0.5,
    burn_in: int = 0,
    cap: float = 1e3,
    generator: torch.Generator | None = None,
) -> QuadraticApproximation:
    """Run a few SGD or SGLD steps on the support loss from ``start``; fit a quadratic.

    SGD takes ``W ← W − (lr/S) ∇l`` (the gradient of the *mean* loss, so ``lr`` does not
    depend on the support size S). SGLD samples ``∝ exp(−l)``:
    ``W ← W − (η/2) ∇l + √η ε`` with ``η = lr/S``. The center m̄ is the last iterate (SGD)
    or the mean of the iterates after ``burn_in`` (SGLD). The curvature A is the diagonal of
    the loss's Hessian at m̄ (``curvature="hessian"``), or, for SGLD, the inverse variance of
    the kept iterates (``"iterates"``, a Gaussian fit to the samples; needs at least two).
    A is capped at ``cap``. Nothing here builds an autograd graph; inputs are detached.

    Args:
        features: support features ``(B, S, D)``.
        labels: support labels ``(B, S)`` in ``0 .. n_way - 1``.
        n_way: N.
        start: the initial weights, broadcastable to ``(B, N, D+1)`` (the global mean m₀).
        method: ``"sgd"`` or ``"sgld"``.
        curvature: ``"hessian"`` or ``"iterates"``.
        steps: inner steps, at least 1.
        lr: the step size (see above).
        burn_in: SGLD iterates dropped before averaging.
        cap: the largest curvature kept.
        generator: the SGLD noise's generator (``None``: PyTorch's global one).

    Returns:
        A :class:`QuadraticApproximation`.

    Example:
        >>> f = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
        >>> q = quadratic_approximation(f, torch.tensor([[0, 1]]), 2, torch.zeros(3), steps=3)
        >>> tuple(q.center.shape), bool((q.center[0, 0, 0] > 0) & (q.center[0, 1, 0] < 0))
        ((1, 2, 3), True)
    """
    features = features.detach()
    b, s, d = features.shape
    onehot = torch.nn.functional.one_hot(labels, n_way).to(features.dtype)
    w = start.detach().to(features.dtype).expand(b, n_way, d + 1).clone()
    eta = lr / s
    kept: list[torch.Tensor] = []
    for t in range(steps):
        g = head_loss_gradient(w, features, onehot)
        if method == "sgd":
            w = w - eta * g
        else:
            noise = torch.randn(w.shape, generator=generator, dtype=w.dtype, device=w.device)
            w = w - 0.5 * eta * g + eta**0.5 * noise
            if t >= burn_in:
                kept.append(w)
    if method == "sgld":
        stack = torch.stack(kept)
        center = stack.mean(0)
        if curvature == "iterates":
            a = 1.0 / stack.var(0).clamp_min(1.0 / cap)
            return QuadraticApproximation(center=center, curvature=a.clamp(max=cap))
        w = center
    a = head_hessian_diagonal(w, features).clamp(max=cap)
    return QuadraticApproximation(center=w, curvature=a)
