"""SAFE's model pieces: CLIP's ResNet image encoder split into a frozen trunk and its attention pooling layer,
the tuned copy of that layer, and the residual blend of original and tuned features.

Notation (docs/method.md): X = trunk(image) dense map, f0 = P0(X) with the original pooling layer, f = P(X) with
the tuned copy, n = L2 normalisation, blend(f0, f; gamma) = n((1 - gamma) n(f0) + gamma n(f)).
"""
from __future__ import annotations

import copy
from typing import Iterable, Sequence

import torch
from torch import nn

from safe_clip.errors import UserError
from safe_clip.features import l2_normalize

# Parameter groups of CLIP's AttentionPool2d, by the attribute that holds them.
POOLING_GROUPS: tuple[str, ...] = ("positional_embedding", "q_proj", "k_proj", "v_proj", "c_proj")


class ResNetTrunk(nn.Module):
    """Stem and layer1..layer4 of a CLIP ModifiedResNet: images [B, 3, R, R] -> dense map [B, C, R/32, R/32].

    Holds the encoder's own modules (no copies) and repeats ModifiedResNet.forward without its last step, so
    `attnpool(trunk(x))` is bit for bit `visual(x)`.
    """

    def __init__(self, visual: nn.Module):
        super().__init__()
        stem = []
        for index in (1, 2, 3):
            # OpenAI's current code has relu1..relu3; older copies (e.g. CoOp's clip/) share one `relu`.
            relu = getattr(visual, f"relu{index}", None) or visual.relu
            stem += [getattr(visual, f"conv{index}"), getattr(visual, f"bn{index}"), relu]
        self.stem = nn.ModuleList(stem + [visual.avgpool])
        self.layers = nn.ModuleList([visual.layer1, visual.layer2, visual.layer3, visual.layer4])

    @property
    def dtype(self) -> torch.dtype:
        return self.stem[0].weight.dtype

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.type(self.dtype)
        for module in self.stem:
            x = module(x)
        for layer in self.layers:
            x = layer(x)
        return x


def require_resnet(clip_model: nn.Module, backbone: str, method: str = "SAFE") -> None:
    if not hasattr(clip_model.visual, "attnpool"):
        raise UserError(
            f"{method} tunes the attention pooling layer of CLIP's ResNet encoders, and backbone {backbone} (a ViT) "
            f"has none; use RN50, RN101, RN50x4, RN50x16 or RN50x64"
        )


def split_image_encoder(clip_model: nn.Module, backbone: str = "this backbone") -> tuple[ResNetTrunk, nn.Module]:
    """(frozen trunk, original attention pooling layer) of a CLIP ResNet; a ViT raises a UserError."""
    require_resnet(clip_model, backbone)
    return ResNetTrunk(clip_model.visual), clip_model.visual.attnpool


def pooling_group_parameters(pooling: nn.Module) -> dict[str, list[nn.Parameter]]:
    """The parameters of each named group of an attention pooling layer."""
    return {
        "positional_embedding": [pooling.positional_embedding],
        **{name: list(getattr(pooling, name).parameters()) for name in POOLING_GROUPS[1:]},
    }


def check_groups(groups: Iterable[str]) -> tuple[str, ...]:
    groups = tuple(groups)
    unknown = [group for group in groups if group not in POOLING_GROUPS]
    if unknown or not groups:
        raise UserError(
            f"TRAINER.SAFE.TUNE has {unknown or 'no groups'}; name one or more of {', '.join(POOLING_GROUPS)}"
        )
    return groups


def tuned_copy(pooling: nn.Module, tune: Sequence[str] = POOLING_GROUPS) -> nn.Module:
    """An fp32 copy of `pooling` whose groups in `tune` require grad and the others do not."""
    tune = check_groups(tune)
    pooling_copy = copy.deepcopy(pooling).float()
    for group, parameters in pooling_group_parameters(pooling_copy).items():
        for parameter in parameters:
            parameter.requires_grad_(group in tune)
    return pooling_copy


def frozen_copy(pooling: nn.Module) -> nn.Module:
    """An fp32, eval-mode, gradient-free copy of the original pooling layer (P0)."""
    original = copy.deepcopy(pooling).float().eval()
    original.requires_grad_(False)
    return original


def blend_features(original: torch.Tensor, tuned: torch.Tensor, blend: float) -> torch.Tensor:
    """n((1 - blend) n(original) + blend n(tuned)).

    The end points return n(original) / n(tuned) without renormalising again, so blend 0 is zero-shot CLIP's
    feature bit for bit (n(n(x)) can differ from n(x) in the last bit).
    """
    original = l2_normalize(original)
    if blend == 0:
        return original
    tuned = l2_normalize(tuned)
    if blend == 1:
        return tuned
    return l2_normalize((1.0 - blend) * original + blend * tuned)


class SafePooling(nn.Module):
    """What SAFE trains and saves: the tuned pooling copy P and the blend ratio gamma (a buffer, so the
    checkpoint carries it). The original layer P0 is passed in, not held, so checkpoints stay small."""

    def __init__(self, original: nn.Module, tune: Sequence[str] = POOLING_GROUPS, blend: float = 0.5):
        super().__init__()
        self.tune = check_groups(tune)
        self.pooling = tuned_copy(original, self.tune)
        # float64, so the value in results.json and the checkpoint's are the same number.
        self.register_buffer("blend", torch.tensor(float(blend), dtype=torch.float64))

    def forward(self, dense_maps: torch.Tensor) -> torch.Tensor:
        return self.pooling(dense_maps.float())

    def tuned_parameter_names(self) -> set[str]:
        """Names (within `pooling`) of the parameters of the tuned groups: what SAFE may train."""
        tuned = {id(p) for group in self.tune for p in pooling_group_parameters(self.pooling)[group]}
        return {name for name, parameter in self.pooling.named_parameters() if id(parameter) in tuned}

    def blended(self, dense_maps: torch.Tensor, original_features: torch.Tensor) -> torch.Tensor:
        return blend_features(original_features, self(dense_maps), float(self.blend))


def anchor_penalty(tuned: nn.Module, original: nn.Module) -> torch.Tensor:
    """Sum of squared differences between the tuned copy's parameters and the original's (ProLIP's pull)."""
    original_parameters = dict(original.named_parameters())
    terms = [
        (parameter - original_parameters[name].detach().to(parameter.dtype)).pow(2).sum()
        for name, parameter in tuned.named_parameters()
        if parameter.requires_grad
    ]
    return torch.stack(terms).sum()
