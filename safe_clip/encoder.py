"""The frozen image side of CLIP, exposed as the two stages the trainers consume.

- "dense": the ResNet trunk's dense map X (what SAFE's pooling layers read).
- "pooled": the original image feature f0 = P0(X), fp32 (what zero-shot CLIP and the baselines read). For ViTs,
  which have no separate pooling layer, "pooled" is the encoder output and "dense" does not exist.

P0 runs in fp32 even when the trunk runs in fp16 on GPU, so every trainer here, zero-shot CLIP included, sees the
same f0 and SAFE with blend 0 equals zero-shot CLIP exactly.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from safe_clip.pooling import ResNetTrunk, frozen_copy
from safe_clip.store import module_fingerprint

STAGES = ("dense", "pooled")


class FrozenImageEncoder:
    def __init__(self, clip_model: nn.Module):
        self.visual = clip_model.visual
        self.is_resnet = hasattr(self.visual, "attnpool")
        device = next(self.visual.parameters()).device
        if self.is_resnet:
            self.trunk = ResNetTrunk(self.visual)
            self.original_pooling = frozen_copy(self.visual.attnpool).to(device)
        self._fingerprints: dict[str, str] = {}

    @torch.no_grad()
    def dense(self, images: torch.Tensor) -> torch.Tensor:
        if not self.is_resnet:
            raise ValueError("a ViT image encoder has no dense-map stage")
        return self.trunk(images)

    def pool(self, dense_maps: torch.Tensor) -> torch.Tensor:
        """f0 = P0(X) in fp32; differentiable inputs stay differentiable (P0's weights are frozen)."""
        return self.original_pooling(dense_maps.float())

    @torch.no_grad()
    def pooled(self, images: torch.Tensor) -> torch.Tensor:
        if self.is_resnet:
            return self.pool(self.dense(images))
        return self.visual(images.type(self.visual.conv1.weight.dtype)).float()

    def stage(self, name: str) -> Callable[[torch.Tensor], torch.Tensor]:
        return {"dense": self.dense, "pooled": self.pooled}[name]

    def fingerprint(self, stage: str) -> str:
        """Identity of the weights that produce `stage` (keys the feature store)."""
        if stage not in self._fingerprints:
            modules = {"dense": lambda: self.trunk, "pooled": lambda: self._pooled_modules()}[stage]()
            self._fingerprints[stage] = f"{stage}-{module_fingerprint(modules)}"
        return self._fingerprints[stage]

    def _pooled_modules(self) -> nn.Module:
        if self.is_resnet:
            return nn.ModuleList([self.trunk, self.original_pooling])
        return self.visual
