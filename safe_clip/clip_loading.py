"""Loading CLIP: one function for every trainer.

`MODEL.BACKBONE.NAME` is either a CLIP model name (RN50, RN101, RN50x4, RN50x16, RN50x64, ViT-B/32, ViT-B/16, ...),
fetched through clip's own download cache, or a path to a local checkpoint: an OpenAI TorchScript archive or a
plain state dict (optionally under a "state_dict" key). Only the common API of OpenAI's `clip` package is used
(`clip.clip._MODELS`, `clip.clip._download`, `clip.model.build_model`), so this also works inside a CoOp checkout
whose own copy of `clip/` shadows the installed `clip-anytorch`.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Union

import torch
from torch import nn

from safe_clip.errors import UserError

with warnings.catch_warnings():
    # clip-anytorch imports pkg_resources, which warns on recent setuptools.
    warnings.simplefilter("ignore")
    from clip import clip as _clip_module
    from clip.model import build_model

CLIP_CACHE_VARIABLE = "SAFE_CLIP_CLIP_CACHE"


def clip_cache_dir() -> Path:
    """Where named CLIP weights are looked for and downloaded to (clip's own default, ~/.cache/clip)."""
    return Path(os.environ.get(CLIP_CACHE_VARIABLE, "~/.cache/clip")).expanduser()


def available_model_names() -> list[str]:
    return list(_clip_module._MODELS)


def resolve_checkpoint(backbone: str) -> Path:
    """Returns the local file holding the weights for `backbone` (a model name or a path), downloading if needed."""
    candidate = Path(backbone).expanduser()
    if candidate.is_file():
        return candidate
    if backbone in _clip_module._MODELS:
        return _download_named(backbone)
    if os.sep in backbone or backbone.endswith((".pt", ".pth", ".tar", ".bin")):
        raise UserError(
            f"CLIP checkpoint not found: {backbone}; set MODEL.BACKBONE.NAME to an existing file or to one of "
            f"{', '.join(available_model_names())}"
        )
    raise UserError(
        f"unknown CLIP backbone {backbone!r}; use one of {', '.join(available_model_names())} "
        f"or a path to a local checkpoint"
    )


def _download_named(name: str) -> Path:
    url = _clip_module._MODELS[name]
    cache_dir = clip_cache_dir()
    target = cache_dir / os.path.basename(url)
    try:
        return Path(_clip_module._download(url, str(cache_dir)))
    except Exception as error:  # urllib, socket and SSL errors all mean the same thing here: no weights
        state = "is corrupt" if target.exists() else "is missing"
        raise UserError(
            f"CLIP {name} weights {state} at {target} and could not be downloaded ({type(error).__name__}); "
            f"offline, download {url} elsewhere and put it at {target}, or pass a local checkpoint path as "
            f"MODEL.BACKBONE.NAME"
        ) from error


def read_state_dict(checkpoint: Path) -> dict[str, torch.Tensor]:
    """Reads CLIP weights from an OpenAI TorchScript archive or a plain (possibly wrapped) state dict."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.jit.load(str(checkpoint), map_location="cpu").state_dict()
    except RuntimeError:
        pass  # not TorchScript: a plain state dict
    try:
        loaded = torch.load(str(checkpoint), map_location="cpu", weights_only=True)
    except Exception as error:
        raise UserError(f"cannot read CLIP checkpoint {checkpoint} ({type(error).__name__}: {error})") from error
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict) or "visual.conv1.weight" not in {k.removeprefix("module.") for k in loaded}:
        raise UserError(f"{checkpoint} does not hold CLIP weights (no 'visual.conv1.weight' entry)")
    return {key.removeprefix("module."): value for key, value in loaded.items()}


def load_clip(backbone: str, device: Union[str, torch.device] = "cpu", precision: str = "fp16") -> nn.Module:
    """Builds CLIP from `backbone` in eval mode on `device`.

    `precision` "fp16" keeps OpenAI's half-precision weights on GPU; on CPU, and for "fp32" or "amp", the model is
    converted to fp32 (fp16 matmuls are slow or unsupported on CPUs).
    """
    checkpoint = resolve_checkpoint(backbone)
    model = build_model(read_state_dict(checkpoint))
    device = torch.device(device)
    if device.type == "cpu" or precision in ("fp32", "amp"):
        model = model.float()
    return model.to(device).eval()


def is_resnet(clip_model: nn.Module) -> bool:
    """True for CLIP's ResNet image encoders (they end in an attention pooling layer), False for ViTs."""
    return hasattr(clip_model.visual, "attnpool")


def input_resolution(clip_model: nn.Module) -> int:
    return int(clip_model.visual.input_resolution)


def check_input_size(clip_model: nn.Module, input_size: tuple[int, int], backbone: str) -> None:
    """CLIP ResNets accept only their own resolution (fixed positional embedding); say so before a shape error."""
    expected = input_resolution(clip_model)
    if tuple(input_size) != (expected, expected):
        raise UserError(
            f"INPUT.SIZE is {tuple(input_size)} but backbone {backbone} takes {expected}x{expected} images; "
            f"set INPUT.SIZE \"({expected}, {expected})\""
        )
