"""Hyper-parameter searches on the validation split. They receive validation features only: the test split is
never used for any choice (Tip-Adapter-F's released code picks its epoch on test; we do not)."""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch

from safe_clip.features import accuracy_percent, class_logits
from safe_clip.pooling import blend_features


def distinct_validation(val_items: Optional[Sequence], test_items: Sequence) -> bool:
    """Whether the dataset has a validation split to choose on: not empty and not the test split itself (Dassl's
    ImageNet sets val = test, and choosing on it would be choosing on test)."""
    if not val_items:
        return False
    return [item.impath for item in val_items] != [item.impath for item in test_items]


def best_on_grid(candidates: Sequence, score: Callable[[object], float]) -> tuple[object, float]:
    """The first candidate with the highest score: candidates come ordered by preference, so ties keep the
    earlier (for the blend: the smaller ratio, closer to the zero-shot prior)."""
    best_candidate, best_score = None, -float("inf")
    for candidate in candidates:
        candidate_score = score(candidate)
        if candidate_score > best_score:
            best_candidate, best_score = candidate, candidate_score
    return best_candidate, best_score


@torch.no_grad()
def search_blend(
    original_features: torch.Tensor,
    tuned_features: torch.Tensor,
    labels: torch.Tensor,
    text_classifier: torch.Tensor,
    logit_scale: float,
    grid: Sequence[float],
) -> tuple[float, float]:
    """(gamma, validation accuracy) maximising accuracy of the blended features over `grid`, ties to smaller gamma."""
    ordered_grid = sorted(float(value) for value in grid)

    def score(blend: float) -> float:
        blended = blend_features(original_features, tuned_features, blend)
        return accuracy_percent(class_logits(blended, text_classifier, logit_scale), labels)

    return best_on_grid(ordered_grid, score)


def tip_search_grid(search_scale: Sequence[float], search_steps: Sequence[int]) -> tuple[list[float], list[float]]:
    """Tip-Adapter's (beta values, alpha values): steps values from 0.1 towards each scale."""
    beta_scale, alpha_scale = search_scale
    beta_steps, alpha_steps = search_steps
    betas = [index * (beta_scale - 0.1) / beta_steps + 0.1 for index in range(beta_steps)]
    alphas = [index * (alpha_scale - 0.1) / alpha_steps + 0.1 for index in range(alpha_steps)]
    return betas, alphas


@torch.no_grad()
def search_tip_alpha_beta(
    zero_shot_logits: torch.Tensor,
    affinity: torch.Tensor,
    cache_values: torch.Tensor,
    labels: torch.Tensor,
    betas: Sequence[float],
    alphas: Sequence[float],
) -> tuple[float, float, float]:
    """(alpha, beta, validation accuracy) of Tip-Adapter's logits zs + alpha exp(-beta (1 - affinity)) V."""
    best = (alphas[0], betas[0], -float("inf"))
    for beta in betas:
        cache_logits = torch.exp(-beta * (1.0 - affinity)) @ cache_values
        for alpha in alphas:
            accuracy = accuracy_percent(zero_shot_logits + alpha * cache_logits, labels)
            if accuracy > best[2]:
                best = (alpha, beta, accuracy)
    return best
