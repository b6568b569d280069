"""Checkpoint files in Dassl's layout, written atomically and loaded without unpickling code when possible.

Layout (one folder per registered model): `<dir>/<model name>/model.pth.tar-<epoch>` (or a given name such as
`model-best.pth.tar`) holding a dict with keys `state_dict, epoch, optimizer, scheduler, val_result`, and a
pointer file `<dir>/<model name>/checkpoint` whose first line names the latest file.
"""
from __future__ import annotations

import os
import pickle
import shutil
import warnings
from collections import OrderedDict
from typing import Any, Optional

import torch
import torch.nn as nn

from safe_clip.engine.errors import UserFileNotFoundError
from safe_clip.engine.utils import mkdir_if_missing
from safe_clip.io import atomic_write, atomic_write_text

__all__ = [
    "POINTER_FILE",
    "load_checkpoint",
    "load_pretrained_weights",
    "resume_from_checkpoint",
    "save_checkpoint",
]

POINTER_FILE = "checkpoint"
BEST_FILE = "model-best.pth.tar"
_DATA_PARALLEL_PREFIX = "module."
# What torch.load(weights_only=True) says when a file pickles a class it does not allow (a corrupt file gets
# "Weights only load failed" too, but not this).
_WEIGHTS_ONLY_REFUSAL = "Unsupported global"


def _without_module_prefix(state_dict: dict[str, Any]) -> OrderedDict[str, Any]:
    """Keys without nn.DataParallel's leading "module."."""
    return OrderedDict(
        (key[len(_DATA_PARALLEL_PREFIX):] if key.startswith(_DATA_PARALLEL_PREFIX) else key, value)
        for key, value in state_dict.items()
    )


def save_checkpoint(
    state: dict[str, Any],
    save_dir: str,
    is_best: bool = False,
    remove_module_from_keys: bool = True,
    model_name: str = "",
) -> str:
    """Saves `state` to `save_dir/model_name` (default `model.pth.tar-<state["epoch"]>`); returns the path.

    Every file (the checkpoint, the `checkpoint` pointer, the best-model copy) is written to a temporary file
    and renamed into place, so an interrupted save leaves the previous files intact.
    """
    mkdir_if_missing(save_dir)
    state = dict(state)  # the caller's dict is left as it was
    if remove_module_from_keys:
        state["state_dict"] = _without_module_prefix(state["state_dict"])
    fpath = os.path.join(save_dir, model_name or f"model.pth.tar-{state['epoch']}")
    atomic_write(fpath, lambda path: torch.save(state, path))
    print(f"Checkpoint saved to {fpath}")

    atomic_write_text(f"{os.path.basename(fpath)}\n", os.path.join(save_dir, POINTER_FILE))

    if is_best:
        best_fpath = os.path.join(os.path.dirname(fpath), BEST_FILE)
        atomic_write(best_fpath, lambda path: shutil.copyfile(fpath, path))
        print(f'Best checkpoint saved to "{best_fpath}"')
    return fpath


def _torch_load(fpath: str, weights_only: bool, **pickle_args: Any) -> Any:
    map_location = None if torch.cuda.is_available() else "cpu"
    return torch.load(fpath, map_location=map_location, weights_only=weights_only, **pickle_args)


def load_checkpoint(fpath: Optional[str]) -> Any:
    """Loads a checkpoint with `torch.load(weights_only=True)`.

    Only when that is refused because the file pickles objects (CoOp checkpoints written by Dassl's warm-up
    scheduler hold the successor scheduler object) it is loaded again with weights_only=False, with a warning:
    do this only for checkpoints you trust. Python 2 pickles are read with latin1 as in Dassl.
    """
    if fpath is None:
        raise ValueError("File path is None")
    if not os.path.exists(fpath):
        raise UserFileNotFoundError(f'File is not found at "{fpath}"')
    try:
        try:
            return _torch_load(fpath, weights_only=True)
        except pickle.UnpicklingError as error:
            # Only torch's refusal of pickled objects is retried; a corrupt file raises its own error.
            if _WEIGHTS_ONLY_REFUSAL not in str(error):
                raise
            warnings.warn(
                f'"{fpath}" holds pickled Python objects (e.g. a scheduler saved by Dassl); loading it with '
                "weights_only=False, which runs code from the file: load only checkpoints you trust"
            )
            return _torch_load(fpath, weights_only=False)
    except UnicodeDecodeError:
        return _torch_load(fpath, weights_only=False, encoding="latin1")
    except Exception:
        print(f'Unable to load checkpoint from "{fpath}"')
        raise


def _latest_checkpoint_path(fdir: str) -> str:
    pointer = os.path.join(fdir, POINTER_FILE)
    if not os.path.isfile(pointer):
        raise UserFileNotFoundError(
            f'No checkpoint pointer at "{pointer}": the folder holds no finished checkpoint; '
            "remove it or choose another OUTPUT_DIR / RESUME folder"
        )
    with open(pointer, "r", encoding="utf-8") as f:
        lines = f.read().splitlines()
    if not lines or not lines[0].strip():
        raise UserFileNotFoundError(f'The checkpoint pointer "{pointer}" is empty: remove the folder to restart')
    return os.path.join(fdir, lines[0].strip())


def resume_from_checkpoint(
    fdir: str,
    model: nn.Module,
    optimizer: Optional[torch.optim.Optimizer] = None,
    scheduler: Optional[Any] = None,
) -> int:
    """Loads the checkpoint named by `fdir/checkpoint` into model, optimizer and scheduler; returns its epoch."""
    fpath = _latest_checkpoint_path(fdir)
    print(f'Loading checkpoint from "{fpath}"')
    checkpoint = load_checkpoint(fpath)
    model.load_state_dict(checkpoint["state_dict"])
    print("Loaded model weights")

    if optimizer is not None and "optimizer" in checkpoint:
        optimizer.load_state_dict(checkpoint["optimizer"])
        print("Loaded optimizer")

    if scheduler is not None and "scheduler" in checkpoint:
        scheduler.load_state_dict(checkpoint["scheduler"])
        print("Loaded scheduler")

    start_epoch = checkpoint["epoch"]
    print(f"Previous epoch: {start_epoch}")
    return start_epoch


def load_pretrained_weights(model: nn.Module, weight_path: str) -> None:
    """Loads every tensor of `weight_path` whose name and shape match `model`; reports what was discarded."""
    checkpoint = load_checkpoint(weight_path)
    state_dict = checkpoint["state_dict"] if "state_dict" in checkpoint else checkpoint
    model_dict = model.state_dict()
    matched: OrderedDict[str, Any] = OrderedDict()
    discarded: list[str] = []
    for key, value in _without_module_prefix(state_dict).items():
        if key in model_dict and model_dict[key].size() == value.size():
            matched[key] = value
        else:
            discarded.append(key)

    model_dict.update(matched)
    model.load_state_dict(model_dict)

    if not matched:
        warnings.warn(f"Cannot load {weight_path} (check the key names manually)")
        return
    print(f"Successfully loaded pretrained weights from {weight_path}")
    if discarded:
        print(f"Layers discarded due to unmatched keys or size: {discarded}")
