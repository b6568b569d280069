"""Image transforms built from `cfg.INPUT`, in Dassl's order and with Dassl's printed lines.

Train: [resize unless a crop is chosen] -> random_translation -> random_crop -> random_resized_crop ->
random_flip -> colorjitter -> randomgrayscale -> gaussian_blur -> to tensor -> cutout -> normalize ->
gaussian_noise -> instance_norm. Test: resize the smaller edge -> center crop -> to tensor -> normalize ->
instance_norm. Dassl's AutoAugment / RandAugment policies are not implemented here.
"""
from __future__ import annotations

import random
from typing import Any, Optional, Sequence

import numpy as np
import torch
import torchvision.transforms.functional as TF
from torchvision.transforms import (
    CenterCrop,
    ColorJitter,
    Compose,
    GaussianBlur,
    InterpolationMode,
    Normalize,
    RandomApply,
    RandomCrop,
    RandomGrayscale,
    RandomHorizontalFlip,
    RandomResizedCrop,
    Resize,
    ToTensor,
)

from safe_clip.engine.errors import UnsupportedFeatureError, UserValueError

__all__ = [
    "AVAI_CHOICES",
    "INTERPOLATION_MODES",
    "Cutout",
    "GaussianNoise",
    "InstanceNormalization",
    "Random2DTranslation",
    "build_transform",
    "interpolation_mode",
]

SUPPORTED_CHOICES = (
    "random_flip",
    "random_resized_crop",
    "normalize",
    "instance_norm",
    "random_crop",
    "random_translation",
    "center_crop",  # always applied at test time; ignored as a choice, as in Dassl
    "cutout",
    "gaussian_noise",
    "colorjitter",
    "randomgrayscale",
    "gaussian_blur",
)
# Accepted by Dassl but not implemented here (augmentation policies; Dassl's own versions fail on NumPy >= 1.24).
UNSUPPORTED_CHOICES = (
    "imagenet_policy",
    "cifar10_policy",
    "svhn_policy",
    "randaugment",
    "randaugment_fixmatch",
    "randaugment2",
)
AVAI_CHOICES = list(SUPPORTED_CHOICES + UNSUPPORTED_CHOICES)

INTERPOLATION_MODES = {
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "nearest": InterpolationMode.NEAREST,
}


def interpolation_mode(name: str) -> InterpolationMode:
    """torchvision's mode for INPUT.INTERPOLATION."""
    if name not in INTERPOLATION_MODES:
        raise UserValueError(
            f"INPUT.INTERPOLATION must be one of {list(INTERPOLATION_MODES)}, got {name!r}"
        )
    return INTERPOLATION_MODES[name]


class Random2DTranslation:
    """With probability `p`, enlarge to 1.125x the target size and crop a random (height, width) window;
    otherwise just resize to (height, width)."""

    def __init__(
        self,
        height: int,
        width: int,
        p: float = 0.5,
        interpolation: InterpolationMode = InterpolationMode.BILINEAR,
    ) -> None:
        self.height = height
        self.width = width
        self.p = p
        self.interpolation = interpolation

    def __call__(self, img: Any) -> Any:
        if random.uniform(0, 1) > self.p:
            return TF.resize(img, [self.height, self.width], interpolation=self.interpolation)
        enlarged_width = int(round(self.width * 1.125))
        enlarged_height = int(round(self.height * 1.125))
        enlarged = TF.resize(img, [enlarged_height, enlarged_width], interpolation=self.interpolation)
        left = int(round(random.uniform(0, enlarged_width - self.width)))
        top = int(round(random.uniform(0, enlarged_height - self.height)))
        return TF.crop(enlarged, top, left, self.height, self.width)


class InstanceNormalization:
    """Standardises each channel of a [C, H, W] tensor by its own mean and std."""

    def __init__(self, eps: float = 1e-8) -> None:
        self.eps = eps

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        channels = img.shape[0]
        flat = img.reshape(channels, -1)
        mean = flat.mean(1).view(channels, 1, 1)
        std = flat.std(1).view(channels, 1, 1)
        return (img - mean) / (std + self.eps)


class Cutout:
    """Zeroes `n_holes` square patches of side `length` (clipped at the borders) of a [C, H, W] tensor."""

    def __init__(self, n_holes: int = 1, length: int = 16) -> None:
        self.n_holes = n_holes
        self.length = length

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        height, width = img.size(1), img.size(2)
        mask = torch.ones(height, width, dtype=img.dtype)
        half = self.length // 2
        for _ in range(self.n_holes):
            # NumPy's RNG, as Dassl, so a seeded run draws the same holes.
            center_y = np.random.randint(height)
            center_x = np.random.randint(width)
            rows = slice(max(center_y - half, 0), min(center_y + half, height))
            cols = slice(max(center_x - half, 0), min(center_x + half, width))
            mask[rows, cols] = 0
        return img * mask.expand_as(img)


class GaussianNoise:
    """With probability `p`, adds N(mean, std^2) noise to a tensor image."""

    def __init__(self, mean: float = 0.0, std: float = 0.15, p: float = 0.5) -> None:
        self.mean = mean
        self.std = std
        self.p = p

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        if random.uniform(0, 1) > self.p:
            return img
        return img + torch.randn(img.size()) * self.std + self.mean


def _check_choices(choices: Sequence[str]) -> None:
    for choice in choices:
        if choice in UNSUPPORTED_CHOICES:
            raise UnsupportedFeatureError(
                f"INPUT.TRANSFORMS {choice!r} is not implemented by the built-in engine: remove it, or install "
                "Dassl.pytorch to use Dassl's version"
            )
        if choice not in SUPPORTED_CHOICES:
            raise UserValueError(
                f"INPUT.TRANSFORMS has an unknown transform {choice!r}: choose from {list(SUPPORTED_CHOICES)}"
            )


def build_transform(cfg: Any, is_train: bool = True, choices: Optional[Sequence[str]] = None) -> Optional[Compose]:
    """The train or test transform for `cfg.INPUT` (or `choices` instead of INPUT.TRANSFORMS).

    Returns None with INPUT.NO_TRANSFORM (loaders then yield PIL images).
    """
    if cfg.INPUT.NO_TRANSFORM:
        print("Note: no transform is applied!")
        return None
    if choices is None:
        choices = cfg.INPUT.TRANSFORMS
    _check_choices(choices)
    target_size = f"{cfg.INPUT.SIZE[0]}x{cfg.INPUT.SIZE[1]}"
    normalize = Normalize(mean=cfg.INPUT.PIXEL_MEAN, std=cfg.INPUT.PIXEL_STD)
    if is_train:
        return _build_transform_train(cfg, choices, target_size, normalize)
    return _build_transform_test(cfg, choices, target_size, normalize)


def _build_transform_train(cfg: Any, choices: Sequence[str], target_size: str, normalize: Normalize) -> Compose:
    print("Building transform_train")
    steps: list[Any] = []
    interp = interpolation_mode(cfg.INPUT.INTERPOLATION)
    input_size = cfg.INPUT.SIZE

    # Without a crop, resize so that every image comes out at the target size.
    if "random_crop" not in choices and "random_resized_crop" not in choices:
        print(f"+ resize to {target_size}")
        steps.append(Resize(input_size, interpolation=interp))

    if "random_translation" in choices:
        print("+ random translation")
        steps.append(Random2DTranslation(input_size[0], input_size[1]))

    if "random_crop" in choices:
        padding = cfg.INPUT.CROP_PADDING
        print(f"+ random crop (padding = {padding})")
        steps.append(RandomCrop(input_size, padding=padding))

    if "random_resized_crop" in choices:
        scale = cfg.INPUT.RRCROP_SCALE
        print(f"+ random resized crop (size={input_size}, scale={scale})")
        steps.append(RandomResizedCrop(input_size, scale=scale, interpolation=interp))

    if "random_flip" in choices:
        print("+ random flip")
        steps.append(RandomHorizontalFlip())

    if "colorjitter" in choices:
        b, c, s, h = (
            cfg.INPUT.COLORJITTER_B,
            cfg.INPUT.COLORJITTER_C,
            cfg.INPUT.COLORJITTER_S,
            cfg.INPUT.COLORJITTER_H,
        )
        print(f"+ color jitter (brightness={b}, contrast={c}, saturation={s}, hue={h})")
        steps.append(ColorJitter(brightness=b, contrast=c, saturation=s, hue=h))

    if "randomgrayscale" in choices:
        print("+ random gray scale")
        steps.append(RandomGrayscale(p=cfg.INPUT.RGS_P))

    if "gaussian_blur" in choices:
        print(f"+ gaussian blur (kernel={cfg.INPUT.GB_K})")
        steps.append(RandomApply([GaussianBlur(cfg.INPUT.GB_K)], p=cfg.INPUT.GB_P))

    print("+ to torch tensor of range [0, 1]")
    steps.append(ToTensor())

    if "cutout" in choices:
        n_holes, length = cfg.INPUT.CUTOUT_N, cfg.INPUT.CUTOUT_LEN
        print(f"+ cutout (n_holes={n_holes}, length={length})")
        steps.append(Cutout(n_holes, length))

    if "normalize" in choices:
        print(f"+ normalization (mean={cfg.INPUT.PIXEL_MEAN}, std={cfg.INPUT.PIXEL_STD})")
        steps.append(normalize)

    if "gaussian_noise" in choices:
        print(f"+ gaussian noise (mean={cfg.INPUT.GN_MEAN}, std={cfg.INPUT.GN_STD})")
        steps.append(GaussianNoise(cfg.INPUT.GN_MEAN, cfg.INPUT.GN_STD))

    if "instance_norm" in choices:
        print("+ instance normalization")
        steps.append(InstanceNormalization())

    return Compose(steps)


def _build_transform_test(cfg: Any, choices: Sequence[str], target_size: str, normalize: Normalize) -> Compose:
    print("Building transform_test")
    interp = interpolation_mode(cfg.INPUT.INTERPOLATION)
    input_size = cfg.INPUT.SIZE

    print(f"+ resize the smaller edge to {max(input_size)}")
    steps: list[Any] = [Resize(max(input_size), interpolation=interp)]
    print(f"+ {target_size} center crop")
    steps.append(CenterCrop(input_size))
    print("+ to torch tensor of range [0, 1]")
    steps.append(ToTensor())

    if "normalize" in choices:
        print(f"+ normalization (mean={cfg.INPUT.PIXEL_MEAN}, std={cfg.INPUT.PIXEL_STD})")
        steps.append(normalize)

    if "instance_norm" in choices:
        print("+ instance normalization")
        steps.append(InstanceNormalization())

    return Compose(steps)
