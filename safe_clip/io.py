"""Atomic writes: a file is either absent or complete, never half-written, whatever interrupts the writer.

Each writer fills a temporary file in the target's folder and renames it over the target (`os.replace` is atomic
within one file system), so a later run never trusts a truncated checkpoint, store entry, cache or results.json.
Every writer of the project (the built-in engine's checkpoints included) goes through `atomic_write`.
"""
from __future__ import annotations

import json
import os
import uuid
from typing import Any, Callable, Union

import torch

PathLike = Union[str, os.PathLike]


def atomic_write(path: PathLike, write: Callable[[str], None]) -> None:
    """Calls `write(temporary_path)` on a file beside `path`, then renames it onto `path`. If `write` raises
    (KeyboardInterrupt included), `path` keeps its previous content and the temporary file is removed."""
    path = os.fspath(path)
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    # Not tempfile.mkstemp: its files are private (mode 0600); `write` creates this one with the usual umask.
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def atomic_torch_save(obj: Any, path: PathLike) -> None:
    atomic_write(path, lambda temporary: torch.save(obj, temporary))


def atomic_write_text(text: str, path: PathLike) -> None:
    def write(temporary: str) -> None:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)

    atomic_write(path, write)


def atomic_write_json(obj: Any, path: PathLike) -> None:
    """JSON with Dassl's formatting (indent 4, `": "`), which is also the format of CoOp's split files."""
    atomic_write_text(json.dumps(obj, indent=4, separators=(",", ": ")), path)
