"""Shared machinery: training loop, checkpoints, seeding, errors and input validation."""

from latentinfer.core.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from latentinfer.core.config import TrainConfig
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
from latentinfer.core.output import LossOutput
from latentinfer.core.processes import finish_processes
from latentinfer.core.seeding import derive_seed, make_generator, resolve_seed, rng_scope
from latentinfer.core.trainer import TrainResult, TrainState, train

__all__ = [
    "CheckpointError",
    "ConfigError",
    "LatentInferError",
    "LossOutput",
    "NonFiniteError",
    "NotFittedError",
    "ShapeError",
    "TrainConfig",
    "TrainResult",
    "TrainState",
    "UnknownKeyError",
    "ValidationError",
    "derive_seed",
    "finish_processes",
    "latest_checkpoint",
    "load_checkpoint",
    "make_generator",
    "resolve_seed",
    "rng_scope",
    "save_checkpoint",
    "train",
]
