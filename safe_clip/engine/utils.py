"""Small helpers of Dassl's `dassl.utils`: files, JSON, seeding, images, environment summary."""
from __future__ import annotations

import json
import os
import platform
import random
import sys
import warnings
from typing import Any, Iterable, Optional

import numpy as np
import PIL
import torch
from PIL import Image

from safe_clip.io import atomic_write, atomic_write_json

__all__ = [
    "atomic_write",
    "check_isfile",
    "collect_env_info",
    "count_num_param",
    "listdir_nohidden",
    "mkdir_if_missing",
    "read_image",
    "read_json",
    "set_random_seed",
    "tolist_if_not",
    "write_json",
]


def mkdir_if_missing(dirname: str) -> None:
    """Creates `dirname` and its parents; an existing folder (or "", the current one) is fine."""
    if dirname:
        os.makedirs(dirname, exist_ok=True)


def check_isfile(fpath: str) -> bool:
    """True when `fpath` is a file; otherwise warns `No file found at "..."` and returns False."""
    isfile = os.path.isfile(fpath)
    if not isfile:
        warnings.warn(f'No file found at "{fpath}"')
    return isfile


def read_json(fpath: str) -> Any:
    with open(fpath, "r", encoding="utf-8") as f:
        return json.load(f)


def write_json(obj: Any, fpath: str) -> None:
    """Writes `obj` as Dassl does (indent 4), atomically, creating the parent folder."""
    atomic_write_json(obj, fpath)


def set_random_seed(seed: int) -> None:
    """Seeds Python's `random`, NumPy and torch (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def read_image(path: str) -> Image.Image:
    """The image at `path` as an RGB PIL image."""
    return Image.open(path).convert("RGB")


def listdir_nohidden(path: str, sort: bool = False) -> list[str]:
    """Entries of `path` not starting with "."; file-system order unless `sort`."""
    items = [name for name in os.listdir(path) if not name.startswith(".")]
    if sort:
        items.sort()
    return items


def tolist_if_not(x: Any) -> list[Any]:
    return x if isinstance(x, list) else [x]


def count_num_param(
    model: Optional[torch.nn.Module] = None, params: Optional[Iterable[Any]] = None
) -> int:
    """Number of parameter elements of `model`, or of `params` (tensors or {"params": tensor} dicts)."""
    if model is not None:
        return sum(p.numel() for p in model.parameters())
    if params is not None:
        return sum(p["params"].numel() if isinstance(p, dict) else p.numel() for p in params)
    raise ValueError("model and params must provide at least one.")


def _gpu_lines() -> list[str]:
    if not torch.cuda.is_available():
        return []
    names = [torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())]
    return [f"GPU {index}: {name}" for index, name in enumerate(names)]


def collect_env_info() -> str:
    """A short environment summary for log.txt.

    Unlike Dassl's (torch's `get_pretty_env_info`), it runs no subprocess (pip, conda, nvidia-smi), so it takes
    milliseconds and never consumes random numbers.
    """
    import torchvision

    lines = [
        f"PyTorch version: {torch.__version__}",
        f"CUDA used to build PyTorch: {torch.version.cuda}",
        f"torchvision version: {torchvision.__version__}",
        f"NumPy version: {np.__version__}",
        f"Python version: {sys.version.split()[0]} ({platform.python_implementation()})",
        f"Python platform: {platform.platform()}",
        f"Is CUDA available: {torch.cuda.is_available()}",
        *_gpu_lines(),
    ]
    return "\n".join(lines) + f"\n        Pillow ({PIL.__version__})"
