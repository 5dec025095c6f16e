"""The exceptions latentinfer raises at its public boundary.

Every user-facing error is a :class:`LatentInferError`. Subclasses also derive from the
built-in exception a Python user would expect (``ValueError`` for bad values, ``TypeError``
for bad types, ...), so ``except ValueError`` keeps working.

Messages name the argument, say what was wrong (with the offending value or shape) and
what is accepted.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "ConfigError",
    "LatentInferError",
    "MissingDependencyError",
    "NonFiniteError",
    "NotFittedError",
    "ShapeError",
    "UnknownKeyError",
    "ValidationError",
]


class LatentInferError(Exception):
    """Base class of every error latentinfer raises on purpose."""


class ValidationError(LatentInferError, ValueError):
    """An argument has a value that is not accepted (NaN, empty, out of range, unknown name)."""


class ShapeError(ValidationError):
    """An array argument has the wrong number of dimensions or features."""


class UnknownKeyError(ValidationError, KeyError):
    """A mapping of results was indexed with a key it lacks; the message lists its keys."""

    def __str__(self) -> str:  # KeyError's would quote the whole message
        return str(self.args[0]) if self.args else ""


class ConfigError(ValidationError):
    """A configuration option (hyperparameter, command-line flag) is not accepted."""


class MissingDependencyError(LatentInferError, ImportError):
    """An optional dependency is not installed; the message names the extra that installs it."""


class NotFittedError(LatentInferError, AttributeError):
    """A method that needs a fitted model was called before ``fit``."""


class NonFiniteError(LatentInferError, FloatingPointError):
    """Training or inference produced NaN or Inf.

    Attributes:
        step: the optimisation step at which the value first went bad (or ``None``).
        part: the name of the quantity that went bad (a loss part, a belief, ...).
        checkpoint: the path of the last good checkpoint that was kept, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        step: int | None = None,
        part: str | None = None,
        checkpoint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.step = step
        self.part = part
        self.checkpoint = checkpoint


class CheckpointError(LatentInferError, OSError):
    """A checkpoint is missing, incomplete, or does not match the model it is loaded into."""
