"""Checkpoints: tensors in safetensors, everything else in a JSON sidecar, written atomically.

A checkpoint is a folder ``<root>/step-<N>/`` holding ``state.safetensors`` (every tensor:
model weights, optimizer moments, RNG states) and ``state.json`` (config, step, optimizer
hyperparameters, scheduler state, trainer bookkeeping, and a skeleton that says where each
tensor goes). The folder is written under a temporary name, flushed to disk, and renamed
into place, so a run killed mid-write leaves the previous checkpoint intact and never a
half-written one that looks complete.

Any nested structure of dicts, lists, tuples, numbers, strings and tensors (a model's or an
optimizer's ``state_dict``) can be stored: :func:`flatten_state` splits it into tensors and a
JSON skeleton, :func:`unflatten_state` puts it back.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from latentinfer.core.errors import CheckpointError

__all__ = [
    "flatten_state",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "prune_checkpoints",
    "save_checkpoint",
    "unflatten_state",
]

FORMAT = "latentinfer-checkpoint"
FORMAT_VERSION = 1
TENSORS_FILE = "state.safetensors"
META_FILE = "state.json"
_TENSOR_KEY = "__tensor__"
_TUPLE_KEY = "__tuple__"


def flatten_state(state: Any, prefix: str = "") -> tuple[dict[str, torch.Tensor], Any]:
    """Split a nested structure into a flat ``{key: tensor}`` dict and a JSON skeleton.

    Tensors are moved to the CPU and made contiguous; tensors that share memory are stored
    once each under their own key (safetensors refuses shared storage, so duplicates are
    cloned). Dict keys become strings; tuples are marked so they come back as tuples.
    """
    tensors: dict[str, torch.Tensor] = {}
    seen: set[tuple[int, int, tuple[int, ...]]] = set()

    def walk(obj: Any, path: str) -> Any:
        if isinstance(obj, torch.Tensor):
            t = obj.detach().to("cpu").contiguous()
            ident = (t.untyped_storage().data_ptr(), int(t.storage_offset()), tuple(t.shape))
            if ident in seen or t.untyped_storage().nbytes() != t.numel() * t.element_size():
                t = t.clone()
            seen.add((t.untyped_storage().data_ptr(), int(t.storage_offset()), tuple(t.shape)))
            tensors[path] = t
            return {_TENSOR_KEY: path}
        if isinstance(obj, dict):
            return {str(k): walk(v, f"{path}/{k}" if path else str(k)) for k, v in obj.items()}
        if isinstance(obj, tuple):
            return {_TUPLE_KEY: [walk(v, f"{path}/{i}") for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [walk(v, f"{path}/{i}") for i, v in enumerate(obj)]
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        raise CheckpointError(
            f"cannot store {type(obj).__name__} at {path!r} in a checkpoint; "
            "only tensors, numbers, strings, None, and dicts/lists/tuples of them are accepted."
        )

    skeleton = walk(state, prefix)
    return tensors, skeleton


def unflatten_state(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten_state`.

    Integer-like dict keys stay strings; :func:`restore_int_keys` turns an optimizer's
    ``state`` keys back into ints.
    """
    if isinstance(skeleton, dict):
        if set(skeleton) == {_TENSOR_KEY}:
            key = skeleton[_TENSOR_KEY]
            if key not in tensors:
                raise CheckpointError(f"checkpoint is missing tensor {key!r}.")
            return tensors[key]
        if set(skeleton) == {_TUPLE_KEY}:
            return tuple(unflatten_state(v, tensors) for v in skeleton[_TUPLE_KEY])
        return {k: unflatten_state(v, tensors) for k, v in skeleton.items()}
    if isinstance(skeleton, list):
        return [unflatten_state(v, tensors) for v in skeleton]
    return skeleton


def restore_int_keys(d: dict[str, Any]) -> dict[Any, Any]:
    """Turn string keys that spell integers back into ints (optimizer ``state`` dicts)."""
    return {int(k) if k.lstrip("-").isdigit() else k: v for k, v in d.items()}


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - some filesystems refuse directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def save_checkpoint(
    directory: str | os.PathLike[str], state: dict[str, Any], *, meta: dict[str, Any] | None = None
) -> Path:
    """Write ``state`` (nested tensors and JSON-able values) to ``directory`` atomically.

    Args:
        directory: the checkpoint folder to create (e.g. ``run/checkpoints/step-000100``);
            an existing folder of that name is replaced only once the new one is complete.
        state: what to store: ``{"model": model.state_dict(), "optimizer": ..., ...}``.
        meta: extra JSON-able information stored beside the skeleton (config, step, ...).

    Returns:
        The path of the written checkpoint folder.
    """
    final = Path(directory)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        tensors, skeleton = flatten_state(state)
        save_file(tensors, str(tmp / TENSORS_FILE), metadata={"format": FORMAT})
        document = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "meta": meta or {},
            "skeleton": skeleton,
        }
        with open(tmp / META_FILE, "w", encoding="utf-8") as fh:
            json.dump(document, fh, indent=1, sort_keys=True)
        _fsync_file(tmp / TENSORS_FILE)
        _fsync_file(tmp / META_FILE)
        _fsync_dir(tmp)
        if final.exists():
            trash = final.parent / f".old-{final.name}-{uuid.uuid4().hex[:8]}"
            os.replace(final, trash)
            os.replace(tmp, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, final)
        _fsync_dir(final.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def load_checkpoint(directory: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a checkpoint folder written by :func:`save_checkpoint`.

    Returns:
        ``(state, meta)``: the nested state with tensors on the CPU, and the meta dict.

    Raises:
        CheckpointError: the folder is missing, incomplete or not a latentinfer checkpoint.
    """
    path = Path(directory)
    if not (path / META_FILE).is_file() or not (path / TENSORS_FILE).is_file():
        raise CheckpointError(
            f"{str(path)!r} is not a complete checkpoint; expected a folder holding "
            f"{TENSORS_FILE} and {META_FILE}."
        )
    damaged = (
        "; it may have been truncated or edited. Restore it from a copy or, for a training "
        "checkpoint (step-<N>), delete that folder to resume from the one before it."
    )
    try:
        with open(path / META_FILE, encoding="utf-8") as fh:
            document = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"{str(path / META_FILE)!r} cannot be read ({exc}){damaged}"
        ) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is not a latentinfer checkpoint.")
    try:
        tensors = load_file(str(path / TENSORS_FILE))
    except (OSError, SafetensorError) as exc:
        raise CheckpointError(
            f"{str(path / TENSORS_FILE)!r} cannot be read ({exc}){damaged}"
        ) from None
    try:
        state = unflatten_state(document["skeleton"], tensors)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{str(path)!r}: {META_FILE} and {TENSORS_FILE} do not match ({exc!r}){damaged}"
        ) from None
    return state, document.get("meta", {})


def list_checkpoints(root: str | os.PathLike[str]) -> list[Path]:
    """Complete ``step-<N>`` checkpoint folders under ``root``, oldest first."""
    base = Path(root)
    if not base.is_dir():
        return []
    found = []
    for p in base.iterdir():
        named = p.is_dir() and p.name.startswith("step-") and p.name[5:].isdigit()
        if named and (p / META_FILE).is_file() and (p / TENSORS_FILE).is_file():
            found.append(p)
    return sorted(found, key=lambda p: int(p.name[5:]))


def latest_checkpoint(root: str | os.PathLike[str]) -> Path | None:
    """The newest complete checkpoint under ``root``, or ``None``."""
    found = list_checkpoints(root)
    return found[-1] if found else None


def prune_checkpoints(root: str | os.PathLike[str], keep: int) -> None:
    """Delete all but the newest ``keep`` step checkpoints (and stale temporary folders)."""
    base = Path(root)
    for p in list_checkpoints(base)[:-keep] if keep > 0 else []:
        shutil.rmtree(p, ignore_errors=True)
    if base.is_dir():
        for p in base.iterdir():
            if p.name.startswith((".tmp-", ".old-")):
                shutil.rmtree(p, ignore_errors=True)
