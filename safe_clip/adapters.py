"""Adapter heads on top of (frozen or blended) CLIP image features: Tip-Adapter(-F) and CLIP-Adapter.

Sizes come from the features they receive (the backbone's embedding width), never hard-coded.
Per-dataset defaults follow Tip-Adapter's released configs (keyed by Dassl registry name).
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from safe_clip.features import class_logits, l2_normalize
from safe_clip.search import search_tip_alpha_beta, tip_search_grid

# Tip-Adapter's search_scale [beta_max, alpha_max] per dataset.
TIP_SEARCH_SCALE: dict[str, tuple[float, float]] = {
    "ImageNet": (7, 3),
    "OxfordPets": (7, 3),
    "UCF101": (7, 3),
    "Caltech101": (12, 5),
    "StanfordCars": (20, 10),
    "OxfordFlowers": (50, 50),
    "Food101": (10, 10),
    "FGVCAircraft": (30, 30),
    "SUN397": (12, 10),
    "DescribableTextures": (13, 13),
    "EuroSAT": (12, 10),
}
DEFAULT_TIP_SEARCH_SCALE = (7, 3)

# Tip-Adapter's init_alpha per dataset (init_beta is 1 everywhere).
TIP_INIT_ALPHA: dict[str, float] = {
    "ImageNet": 1.17,
    "Caltech101": 3.0,
    "DescribableTextures": 2.0,
    "EuroSAT": 2.0,
    "FGVCAircraft": 5.0,
    "Food101": 1.17,
    "OxfordFlowers": 10.0,
    "OxfordPets": 1.17,
    "StanfordCars": 3.0,
    "SUN397": 1.17,
    "UCF101": 3.0,
}
DEFAULT_TIP_INIT_ALPHA = 1.0

# Tip-Adapter-F's train_epoch: 20, EuroSAT 100.
TIP_F_EPOCHS: dict[str, int] = {"EuroSAT": 100}
DEFAULT_TIP_F_EPOCHS = 20


def tip_search_scale(dataset: str, configured: Sequence[float] = ()) -> tuple[float, float]:
    return tuple(configured) if len(configured) == 2 else TIP_SEARCH_SCALE.get(dataset, DEFAULT_TIP_SEARCH_SCALE)


def tip_init_alpha(dataset: str, configured: float = -1.0) -> float:
    return configured if configured >= 0 else TIP_INIT_ALPHA.get(dataset, DEFAULT_TIP_INIT_ALPHA)


def tip_f_epochs(dataset: str, configured: int = -1) -> int:
    return configured if configured > 0 else TIP_F_EPOCHS.get(dataset, DEFAULT_TIP_F_EPOCHS)


class TipAdapter(nn.Module):
    """Tip-Adapter's cache model: keys [N, D] (learnable for Tip-Adapter-F), one-hot values [N, C], and the
    alpha / beta chosen on val (buffers, so a checkpoint carries them).

    cache logits = alpha * exp(-beta * (1 - f K^T)) V for normalised features f.
    """

    def __init__(self, cache_size: int, feature_dim: int, num_classes: int, learnable_keys: bool,
                 alpha: float = 1.0, beta: float = 1.0):
        super().__init__()
        self.keys = nn.Parameter(torch.zeros(cache_size, feature_dim), requires_grad=learnable_keys)
        self.register_buffer("values", torch.zeros(cache_size, num_classes))
        self.register_buffer("alpha", torch.tensor(float(alpha)))
        self.register_buffer("beta", torch.tensor(float(beta)))

    @torch.no_grad()
    def set_cache(self, keys: torch.Tensor, labels: torch.Tensor) -> None:
        self.keys.copy_(keys)
        self.values.copy_(F.one_hot(labels, self.values.shape[1]).to(self.values.dtype))

    def affinity(self, normalized_features: torch.Tensor) -> torch.Tensor:
        return normalized_features @ self.keys.t()

    def cache_logits(self, normalized_features: torch.Tensor, alpha=None, beta=None) -> torch.Tensor:
        alpha = self.alpha if alpha is None else alpha
        beta = self.beta if beta is None else beta
        return alpha * torch.exp(-beta * (1.0 - self.affinity(normalized_features))) @ self.values

    def forward(self, normalized_features: torch.Tensor, zero_shot_logits: torch.Tensor) -> torch.Tensor:
        return zero_shot_logits + self.cache_logits(normalized_features)


class ClipAdapter(nn.Module):
    """CLIP-Adapter: a bottleneck MLP whose output is mixed into the feature with a residual ratio.
    f' = ratio * MLP(f) + (1 - ratio) * f; ratio 0 returns f unchanged."""

    def __init__(self, feature_dim: int, reduction: int = 4, ratio: float = 0.2):
        super().__init__()
        hidden = max(1, feature_dim // reduction)
        self.mlp = nn.Sequential(
            nn.Linear(feature_dim, hidden, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, feature_dim, bias=False),
            nn.ReLU(inplace=True),
        )
        self.register_buffer("ratio", torch.tensor(float(ratio)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        # One formula for every ratio, so the MLP stays in the graph (a trainer can step it at ratio 0); at ratio 0
        # it is f exactly: 1 * f + 0 * MLP(f), and MLP(f) >= 0 after its ReLU.
        return self.ratio * self.mlp(features) + (1.0 - self.ratio) * features

    def logits(self, features: torch.Tensor, text_classifier: torch.Tensor, logit_scale: float) -> torch.Tensor:
        return class_logits(l2_normalize(self(features)), text_classifier, logit_scale)


def fit_on_views(
    parameters: Sequence[nn.Parameter],
    batch_loss,
    view_features: torch.Tensor,
    labels: torch.Tensor,
    epochs: int,
    batch_size: int,
    lr: float,
    eps: float,
    log=print,
) -> None:
    """Tip-Adapter-F's recipe on stored features: AdamW, cosine annealing stepped per iteration, shuffled batches;
    each epoch every training image contributes one of its augmented views (`view_features` is [N, V, D]).

    `batch_loss(features, labels)` returns the loss of one batch. Randomness comes from torch's global RNG.
    """
    count, views = view_features.shape[:2]
    batch_size = min(batch_size, count)
    batches_per_epoch = -(-count // batch_size)
    optimizer = torch.optim.AdamW(parameters, lr=lr, eps=eps)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * batches_per_epoch)
    for epoch in range(epochs):
        view_of_item = torch.randint(views, (count,), device=view_features.device)
        order = torch.randperm(count, device=view_features.device)
        total_loss = 0.0
        for start in range(0, count, batch_size):
            batch = order[start : start + batch_size]
            loss = batch_loss(view_features[batch, view_of_item[batch]], labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += loss.item() * len(batch)
        if (epoch + 1) % 10 == 0 or epoch + 1 == epochs:
            log(f"adapter epoch [{epoch + 1}/{epochs}] loss {total_loss / count:.4f}")


# ---------------------------------------------------------------------------------------------------- Tip stages
# The stages every Tip-Adapter head goes through, whatever feature it sits on (TipAdapter and TipAdapterF on the
# original feature f0, SAFE-A on the blended feature): build the cache, optionally fine-tune, choose alpha/beta.


def build_tip_adapter(
    cache_size: int,
    feature_dim: int,
    num_classes: int,
    learnable_keys: bool,
    dataset: str,
    init_alpha: float = -1.0,
    init_beta: float = 1.0,
) -> TipAdapter:
    """A Tip-Adapter cache model with Tip-Adapter's initial alpha for `dataset` (unless `init_alpha` >= 0)."""
    return TipAdapter(
        cache_size=cache_size,
        feature_dim=feature_dim,
        num_classes=num_classes,
        learnable_keys=learnable_keys,
        alpha=tip_init_alpha(dataset, init_alpha),
        beta=init_beta,
    )


def tip_cache_keys(normalized_view_features: torch.Tensor) -> torch.Tensor:
    """Tip-Adapter's cache keys from normalised features of every augmented view, [N, V, D]: per image, the
    normalised mean over its views."""
    return l2_normalize(normalized_view_features.mean(dim=1))


def fine_tune_adapter(
    adapter: nn.Module,
    logits_of: Callable[[torch.Tensor], torch.Tensor],
    view_features: torch.Tensor,
    labels: torch.Tensor,
    **recipe,
) -> None:
    """Trains the trainable parameters of `adapter` with cross-entropy on `logits_of(features)` by `fit_on_views`
    (`recipe`: its epochs, batch_size, lr, eps and log), then leaves the adapter in eval mode."""
    adapter.train()

    def batch_loss(features: torch.Tensor, batch_labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits_of(features), batch_labels)

    trainable = [parameter for parameter in adapter.parameters() if parameter.requires_grad]
    with torch.enable_grad():
        fit_on_views(trainable, batch_loss, view_features, labels, **recipe)
    adapter.eval()


@torch.no_grad()
def choose_tip_alpha_beta(
    adapter: TipAdapter,
    validation: Optional[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    search_scale: Sequence[float],
    search_steps: Sequence[int],
    log=print,
) -> dict:
    """Sets the alpha and beta of Tip-Adapter's grid with the best accuracy on `validation`, a tuple of
    (normalised features, zero-shot logits, labels) of the validation split; with None (no validation split)
    the initial values stay. Returns how the values were chosen, for results.json."""
    if validation is None:
        log("No validation split distinct from test: keeping the initial alpha and beta")
        return {"source": "no validation split: initial alpha and beta"}
    normalized_features, zero_shot_logits, labels = validation
    betas, alphas = tip_search_grid(search_scale, search_steps)
    alpha, beta, accuracy = search_tip_alpha_beta(
        zero_shot_logits, adapter.affinity(normalized_features), adapter.values, labels, betas, alphas
    )
    adapter.alpha.fill_(alpha)
    adapter.beta.fill_(beta)
    log(f"Adapter alpha {alpha:.3f} and beta {beta:.3f} chosen on val (val accuracy {accuracy:.1f}%)")
    return {"source": "val search", "val_accuracy": accuracy}
