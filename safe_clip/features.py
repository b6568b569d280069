"""Small feature-space helpers shared by every trainer, so all of them compute logits the same way."""
from __future__ import annotations

import torch


def l2_normalize(features: torch.Tensor) -> torch.Tensor:
    """Unit L2 norm along the last dimension (the exact expression CLIP's and CoOp's code use)."""
    return features / features.norm(dim=-1, keepdim=True)


def class_logits(normalized_features: torch.Tensor, text_classifier: torch.Tensor, logit_scale: float) -> torch.Tensor:
    """CLIP's logits, s * n(f) W^T, for already-normalised image features and a [C, D] normalised classifier."""
    return logit_scale * normalized_features @ text_classifier.t()


def accuracy_percent(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy in percent (the evaluator's number), for searches over held-out features."""
    return float((logits.argmax(dim=-1) == labels).float().mean().item() * 100.0)
