"""Encoder and decoder building blocks."""

from latentinfer.nn.conv import ConvDecoder, ConvEncoder
from latentinfer.nn.mlp import MLP

__all__ = ["MLP", "ConvDecoder", "ConvEncoder"]
