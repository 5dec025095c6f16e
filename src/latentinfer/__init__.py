"""latentinfer: fit models with hidden variables, infer the hidden variables, diagnose them.

The families live in subpackages (``latentinfer.vae``, ``latentinfer.diagnostics``, ...);
``latentinfer.methods`` indexes every method with its paper.
"""

from latentinfer.core.errors import (
    CheckpointError,
    ConfigError,
    LatentInferError,
    NonFiniteError,
    NotFittedError,
    ShapeError,
    UnknownKeyError,
    ValidationError,
)

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "ConfigError",
    "LatentInferError",
    "NonFiniteError",
    "NotFittedError",
    "ShapeError",
    "UnknownKeyError",
    "ValidationError",
    "__version__",
]
