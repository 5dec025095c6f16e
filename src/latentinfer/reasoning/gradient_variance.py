"""The variance of minibatch gradient estimators that weight the same sequences differently.

TRICE's basic and control-variate estimators are both means over a minibatch of per-example
contributions a_i = w^mem_i ∇ log p(z_i | x_i) + w^prop_i ∇ log p(z̃_i | x_i). Scoring both
on one memory and one set of proposals compares the estimators, not two random draws.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from latentinfer.reasoning.generation import log_prob

__all__ = ["gradient_variance"]

Tensor = torch.Tensor


def _flat_grad(model: Any, tokenizer: Any, prompt: str, completion: str) -> Tensor:
    params = [p for p in model.parameters() if p.requires_grad]
    lp = log_prob(model, tokenizer, [prompt], [completion])
    grads = torch.autograd.grad(lp.sum(), params, allow_unused=True)
    return torch.cat(
        [(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params)]
    )


def gradient_variance(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    memory: Sequence[str | None],
    proposals: Sequence[str],
    weights: dict[str, tuple[Tensor, Tensor]],
    *,
    rows: tuple[int, int] | None = None,
    all_reduce: Callable[[Tensor], Tensor] | None = None,
) -> dict[str, float]:
    """Variance of minibatch gradient estimators that share one set of sequences.

    Each estimator is a mean over the M examples of per-example contributions
    a_i = w^mem_i ∇ log p(z_i | x_i) + w^prop_i ∇ log p(z̃_i | x_i) (full flattened
    gradient over every trainable parameter). Treating the examples of a minibatch as
    independent draws (of the example and of its Monte Carlo randomness), the estimator's
    variance is tr Cov(a) / M, estimated with the unbiased sample covariance over the
    minibatch. Using the same memory and proposals for every estimator removes the
    between-run noise from the comparison; what the control variate can remove is the
    Monte Carlo part (the between-example spread of the true gradients stays).

    Args:
        prompts, memory, proposals: ``M`` prompts, memory completions (after the step's
            update; ``None`` where there is none) and proposals.
        weights: estimator name → ``(memory weights (M,), proposal weights (M,))``.
        rows: with several processes, ``(start, stop)``: the examples this process scores
            (``None``: all M). Every process passes the same global inputs.
        all_reduce: sums a tensor over the processes (with ``rows``). The mean is the
            all-reduced sum of the contributions over M, then the all-reduced sum of the
            squared deviations gives the same unbiased estimate as one process (up to the
            order of float sums).

    Returns:
        ``{"grad_var_<name>": tr Cov / M, "grad_sq_<name>": ‖mean‖²}`` per estimator.
    """
    m = len(prompts)
    size = sum(p.numel() for p in model.parameters() if p.requires_grad)
    device = next(model.parameters()).device
    cache: dict[tuple[str, str], Tensor] = {}

    def grad(i: int, text: str) -> Tensor:
        key = (prompts[i], text)
        if key not in cache:
            cache[key] = _flat_grad(model, tokenizer, prompts[i], text)
        return cache[key]

    start, stop = (0, m) if rows is None else rows
    out: dict[str, float] = {}
    for name, (w_mem, w_prop) in weights.items():
        # per-example contributions of our rows, where the model's gradients are
        contrib = torch.zeros(stop - start, size, device=device)
        for r, i in enumerate(range(start, stop)):
            mem_text = memory[i]
            if float(w_mem[i]) != 0.0 and mem_text is not None:
                contrib[r] += float(w_mem[i]) * grad(i, mem_text)
            if float(w_prop[i]) != 0.0:
                contrib[r] += float(w_prop[i]) * grad(i, proposals[i])
        if all_reduce is None:
            mean = contrib.mean(0)
            spread = ((contrib - mean) ** 2).sum()
        else:
            mean = all_reduce(contrib.sum(0)).cpu() / m
            spread = all_reduce(((contrib - mean) ** 2).sum()).cpu()
        out[f"grad_var_{name}"] = float(spread / max(m - 1, 1) / m)
        out[f"grad_sq_{name}"] = float((mean**2).sum())
    return out
