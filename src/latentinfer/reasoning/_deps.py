"""The optional dependencies of the reasoning family, imported with a clear error.

``latentinfer.reasoning`` needs Hugging Face ``transformers`` and ``tokenizers`` (the
``reasoning`` extra); ``import latentinfer`` never does. Every module of the family that
uses them calls :func:`require` first, so a user without them gets one line naming the
install command instead of a ``ModuleNotFoundError`` from deep inside.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from latentinfer.core.errors import MissingDependencyError

__all__ = ["INSTALL_HINT", "require"]

INSTALL_HINT = 'pip install "latentinfer[reasoning]"; from a clone: pip install -e ".[reasoning]"'


def require(module: str = "transformers") -> ModuleType:
    """Import ``module`` (``"transformers"`` or ``"tokenizers"``) or raise a clear error.

    Raises:
        MissingDependencyError: the module is not installed; the message names the extra.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"latentinfer.reasoning needs the {module!r} package, which is not installed "
            f"({exc}); install the reasoning extra: {INSTALL_HINT}."
        ) from exc
