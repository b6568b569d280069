"""Atomic writes: a file is either absent or complete, never half-written, whatever interrupts the writer.

Each writer fills a temporary file in the target's folder and renames it over the target (`os.replace` is atomic
on POSIX and Windows within one file system), so a later run never trusts a truncated checkpoint, store entry or
results.json.
"""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator, Union

import torch

PathLike = Union[str, os.PathLike]


@contextmanager
def atomic_open(path: PathLike, mode: str = "wb") -> Iterator[IO]:
    """Opens a temporary file beside `path`; on a clean exit it is flushed, synced and renamed to `path`."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        # KeyboardInterrupt included: the target keeps its previous content.
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_torch_save(obj: Any, path: PathLike) -> None:
    with atomic_open(path, "wb") as handle:
        torch.save(obj, handle)


def atomic_write_text(text: str, path: PathLike) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_json(obj: Any, path: PathLike) -> None:
    atomic_write_text(json.dumps(obj, indent=4, separators=(",", ": ")) + "\n", path)
