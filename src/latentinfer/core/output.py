"""What a model's loss returns: the total and its named parts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

__all__ = ["LossOutput"]


@dataclass(frozen=True)
class LossOutput:
    """A training objective evaluated on one batch.

    Attributes:
        total: scalar tensor, the quantity minimised (a mean over the batch's rows).
        parts: named scalar tensors that sum to ``total`` (weights already applied), e.g.
            ``{"reconstruction": ..., "kl": ...}``. The trainer logs each and names the
            first one that turns NaN/Inf.
        stats: extra tensors worth logging or inspecting that are not part of the sum
            (``"kl_per_dim"`` of shape ``(latent_dim,)``, an unweighted KL, ...).
    """

    total: torch.Tensor
    parts: Mapping[str, torch.Tensor]
    stats: Mapping[str, torch.Tensor] = field(default_factory=dict)

    def detached(self) -> LossOutput:
        """A copy with every tensor detached from the autograd graph."""
        return LossOutput(
            total=self.total.detach(),
            parts={k: v.detach() for k, v in self.parts.items()},
            stats={k: v.detach() for k, v in self.stats.items()},
        )
