"""Small models for the training-loop tests (not collected as tests)."""

from __future__ import annotations

import torch
from torch import nn

from latentinfer.core.output import LossOutput


class Regression(nn.Module):
    """Deterministic least squares with an L2 penalty: two named loss parts."""

    def __init__(self, n_features: int = 3) -> None:
        super().__init__()
        self.lin = nn.Linear(n_features, 1)

    def forward(self, batch: tuple[torch.Tensor, torch.Tensor]) -> LossOutput:
        x, y = batch
        fit = (self.lin(x).squeeze(-1) - y).square().mean()
        penalty = 0.01 * self.lin.weight.square().sum()
        return LossOutput(fit + penalty, {"fit": fit, "penalty": penalty})


class BreaksAtStep(nn.Module):
    """Its ``kl`` part turns NaN from the ``bad_step``-th call on (1-based)."""

    def __init__(self, bad_step: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(2))
        self.bad_step = bad_step
        self.calls = 0

    def forward(self, batch: torch.Tensor) -> LossOutput:
        self.calls += 1
        rec = (batch - self.w).square().sum(-1).mean()
        kl = self.w.square().sum()
        if self.calls >= self.bad_step:
            kl = kl * float("nan")
        return LossOutput(rec + kl, {"reconstruction": rec, "kl": kl})


def regression_data(n: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(n, generator=g)
    return x, y
