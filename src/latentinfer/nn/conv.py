"""Small convolutional encoders and decoders for images of any size.

The encoder halves the spatial size with stride-2 convolutions until it is at most 4
pixels (or the channel list runs out), then maps the feature map to a vector; the decoder
mirrors it with transposed convolutions whose output padding restores the exact size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from latentinfer.nn.mlp import activation

__all__ = ["ConvDecoder", "ConvEncoder", "conv_sizes"]


def conv_sizes(height: int, width: int, n_layers: int) -> list[tuple[int, int]]:
    """Spatial sizes after each stride-2, kernel-4, padding-1 convolution (input first)."""
    sizes = [(height, width)]
    for _ in range(n_layers):
        h, w = sizes[-1]
        sizes.append(((h + 2 - 4) // 2 + 1, (w + 2 - 4) // 2 + 1))
    return sizes


def _n_layers(height: int, width: int, max_layers: int) -> int:
    n = 0
    h, w = height, width
    while n < max_layers and min(h, w) > 4:
        h, w = (h - 2) // 2 + 1, (w - 2) // 2 + 1
        n += 1
    return max(n, 1) if min(height, width) >= 4 else 0


class ConvEncoder(nn.Module):
    """Images ``(B, C, H, W)`` → vectors ``(B, out_features)``.

    Args:
        image_shape: ``(C, H, W)``.
        out_features: output size.
        channels: channels of the successive stride-2 convolutions (only as many as needed
            to bring the spatial size to 4 or less are used).
        hidden: width of the dense layer after the convolutions.
        act: activation name.
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        out_features: int,
        channels: Sequence[int] = (32, 32, 64, 64),
        hidden: int = 256,
        act: str = "relu",
    ) -> None:
        super().__init__()
        c, h, w = (int(s) for s in image_shape)
        n = _n_layers(h, w, len(channels))
        layers: list[nn.Module] = []
        width = c
        for ch in channels[:n]:
            layers += [nn.Conv2d(width, ch, 4, stride=2, padding=1), activation(act)]
            width = ch
        self.convs = nn.Sequential(*layers)
        fh, fw = conv_sizes(h, w, n)[-1]
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(width * fh * fw, hidden),
            activation(act),
            nn.Linear(hidden, out_features),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(x))


class ConvDecoder(nn.Module):
    """Vectors ``(..., in_features)`` → images ``(..., C, H, W)`` (mirror of :class:`ConvEncoder`).

    Args:
        in_features: input size (the latent dimension).
        image_shape: ``(C, H, W)`` of the output; ``C`` is multiplied by ``out_multiplier``
            (e.g. the number of categories of a categorical likelihood).
        channels: as for the encoder (used in reverse).
        hidden: width of the first dense layer.
        act: activation name.
        out_multiplier: output channels per image channel.
    """

    def __init__(
        self,
        in_features: int,
        image_shape: Sequence[int],
        channels: Sequence[int] = (32, 32, 64, 64),
        hidden: int = 256,
        act: str = "relu",
        out_multiplier: int = 1,
    ) -> None:
        super().__init__()
        c, h, w = (int(s) for s in image_shape)
        n = _n_layers(h, w, len(channels))
        sizes = conv_sizes(h, w, n)
        chans = list(channels[:n])
        top = chans[-1] if chans else c
        self.top_shape = (top, *sizes[-1])
        self.head = nn.Sequential(
            nn.Linear(in_features, hidden),
            activation(act),
            nn.Linear(hidden, top * sizes[-1][0] * sizes[-1][1]),
            activation(act),
        )
        layers: list[nn.Module] = []
        outs = [*chans[:-1][::-1], c * out_multiplier]
        width = top
        for i, ch in enumerate(outs):
            src, dst = sizes[n - i], sizes[n - i - 1]
            pad = (dst[0] - ((src[0] - 1) * 2 - 2 + 4), dst[1] - ((src[1] - 1) * 2 - 2 + 4))
            layers.append(nn.ConvTranspose2d(width, ch, 4, stride=2, padding=1, output_padding=pad))
            if i < len(outs) - 1:
                layers.append(activation(act))
            width = ch
        if n == 0:
            layers.append(nn.Conv2d(top, c * out_multiplier, 1))
        self.deconvs = nn.Sequential(*layers)
        self.out_shape = (c * out_multiplier, h, w)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        lead = z.shape[:-1]
        y = self.head(z.reshape(-1, z.shape[-1])).reshape(-1, *self.top_shape)
        return self.deconvs(y).reshape(*lead, *self.out_shape)
