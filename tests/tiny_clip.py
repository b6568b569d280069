"""A tiny random CLIP ResNet for tests, built with OpenAI's own `clip.model.CLIP` and saved as a plain state dict,
so it loads through the same `MODEL.BACKBONE.NAME <path>` route users take with real weights."""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torchvision import transforms

from tests.layouts import class_image

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from clip.model import CLIP

RESOLUTION = 64
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def build_tiny_clip(seed: int = 0, resolution: int = RESOLUTION, vision_width: int = 8) -> CLIP:
    """A CLIP ResNet (1, 1, 1, 1) of width 8 at 64 px, 32-d embeddings, a 1-layer 64-wide text transformer.

    A fresh CLIP zero-initialises each block's last BatchNorm and keeps identity BN statistics, which makes all
    images look alike; the BN weights are set to 1 and the statistics calibrated on synthetic images, so the
    features discriminate.
    """
    torch.manual_seed(seed)
    model = CLIP(
        embed_dim=32,
        image_resolution=resolution,
        vision_layers=(1, 1, 1, 1),
        vision_width=vision_width,
        vision_patch_size=None,
        context_length=77,
        vocab_size=49408,
        transformer_width=64,
        transformer_heads=1,
        transformer_layers=1,
    )
    for name, parameter in model.visual.named_parameters():
        if name.endswith("bn3.weight"):
            torch.nn.init.ones_(parameter)
    calibrate_batchnorm(model, resolution)
    return model.eval()


@torch.no_grad()
def calibrate_batchnorm(model: CLIP, resolution: int, batches: int = 4, batch_size: int = 32) -> None:
    to_tensor = transforms.Compose(
        [transforms.Resize(resolution), transforms.CenterCrop(resolution), transforms.ToTensor(),
         transforms.Normalize(CLIP_MEAN, CLIP_STD)]
    )
    for module in model.visual.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the calibration batches
    model.visual.train()
    for batch in range(batches):
        images = torch.stack(
            [to_tensor(class_image(i % 10, 10, batch * batch_size + i)) for i in range(batch_size)]
        )
        model.visual(images)
    model.visual.eval()
    for module in model.visual.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = 0.1


def save_tiny_clip(path: Path, seed: int = 0) -> Path:
    torch.save(build_tiny_clip(seed).state_dict(), path)
    return path
