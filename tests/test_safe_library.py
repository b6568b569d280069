"""SAFE's library pieces on a tiny CLIP: the split encoder, the tuned copy, the blend, searches and adapters."""
from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

from safe_clip.adapters import ClipAdapter, TipAdapter, fit_on_views
from safe_clip.clip_loading import load_clip
from safe_clip.encoder import FrozenImageEncoder
from safe_clip.errors import UserError
from safe_clip.features import class_logits, l2_normalize
from safe_clip.pooling import (
    POOLING_GROUPS,
    SafePooling,
    blend_features,
    split_image_encoder,
    tuned_copy,
)
from safe_clip.search import search_blend, search_tip_alpha_beta, tip_search_grid


@pytest.fixture(scope="module")
def tiny_clip(tiny_clip_checkpoint):
    return load_clip(str(tiny_clip_checkpoint), "cpu")


@pytest.fixture(scope="module")
def images():
    torch.manual_seed(0)
    return torch.randn(6, 3, 64, 64)


def test_trunk_then_original_pooling_is_the_image_encoder_bit_for_bit(tiny_clip, images):
    trunk, pooling = split_image_encoder(tiny_clip)
    with torch.no_grad():
        assert torch.equal(pooling(trunk(images)), tiny_clip.visual(images))
        assert torch.equal(FrozenImageEncoder(tiny_clip).pooled(images), tiny_clip.encode_image(images))


def test_tuned_copy_equals_the_original_before_training(tiny_clip, images):
    encoder = FrozenImageEncoder(tiny_clip)
    safe = SafePooling(encoder.original_pooling)
    dense = encoder.dense(images)
    with torch.no_grad():
        assert torch.equal(safe(dense), encoder.pool(dense))
    for (name, tuned), (_, original) in zip(safe.pooling.named_parameters(), encoder.original_pooling.named_parameters()):
        assert torch.equal(tuned, original), name
        assert tuned.data_ptr() != original.data_ptr(), "the copy must not share storage with the original"


def test_only_the_named_groups_train(tiny_clip):
    copy = tuned_copy(tiny_clip.visual.attnpool, ("q_proj", "positional_embedding"))
    trainable = {name for name, parameter in copy.named_parameters() if parameter.requires_grad}
    assert trainable == {"positional_embedding", "q_proj.weight", "q_proj.bias"}
    everything = {name for name, _ in tuned_copy(tiny_clip.visual.attnpool, POOLING_GROUPS).named_parameters()}
    assert everything == {name for name, _ in tiny_clip.visual.attnpool.named_parameters()}
    with pytest.raises(UserError, match="TRAINER.SAFE.TUNE"):
        tuned_copy(tiny_clip.visual.attnpool, ("query",))


def test_blend_end_points_and_formula():
    torch.manual_seed(1)
    original, tuned = torch.randn(5, 8), torch.randn(5, 8)
    assert torch.equal(blend_features(original, tuned, 0.0), l2_normalize(original))
    assert torch.equal(blend_features(original, tuned, 1.0), l2_normalize(tuned))
    expected = l2_normalize(0.7 * l2_normalize(original) + 0.3 * l2_normalize(tuned))
    assert torch.allclose(blend_features(original, tuned, 0.3), expected)
    assert torch.allclose(blend_features(original, tuned, 0.3).norm(dim=-1), torch.ones(5))


def test_blend_zero_gives_zero_shot_logits_exactly(tiny_clip, images):
    encoder = FrozenImageEncoder(tiny_clip)
    safe = SafePooling(encoder.original_pooling, blend=0.0)
    with torch.no_grad():  # make the copy differ, so equality can only come from the blend
        safe.pooling.c_proj.weight.add_(0.5)
    text_classifier = l2_normalize(torch.randn(4, 32))
    dense = encoder.dense(images)
    with torch.no_grad():
        safe_logits = class_logits(safe.blended(dense, encoder.pool(dense)), text_classifier, 100.0)
        zero_shot = class_logits(l2_normalize(tiny_clip.encode_image(images)), text_classifier, 100.0)
    assert torch.equal(safe_logits, zero_shot)


def test_vit_backbone_is_refused_with_a_clear_error():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from clip.model import CLIP
    vit = CLIP(32, 32, 1, 64, 16, 77, 49408, 64, 1, 1)
    with pytest.raises(UserError, match="ViT.*RN50"):
        split_image_encoder(vit, "ViT-B/16")


def test_blend_search_prefers_the_smaller_ratio_on_ties():
    text_classifier = torch.eye(3)
    original = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    labels = torch.tensor([0, 1])
    # Tuned features agree with the original: every ratio is equally right, so the prior (0) wins.
    assert search_blend(original, original.clone(), labels, text_classifier, 100.0, [1.0, 0.5, 0.0]) == (0.0, 100.0)
    # Tuned features are right where the original is wrong: the search moves away from 0.
    # Mostly-wrong originals need gamma > 0.44 to be outweighed: 0.5 is the smallest grid value that does it.
    wrong = torch.tensor([[0.2, 0.0, 1.0], [0.0, 0.2, 1.0]])
    blend, accuracy = search_blend(wrong, original, labels, text_classifier, 100.0, [1.0, 0.75, 0.5, 0.25, 0.0])
    assert (blend, accuracy) == (0.5, 100.0)


def test_tip_grid_matches_tip_adapter():
    betas, alphas = tip_search_grid((12, 10), (200, 20))
    assert len(betas) == 200 and len(alphas) == 20
    assert betas[0] == pytest.approx(0.1) and betas[1] == pytest.approx(0.1 + 11.9 / 200)
    assert alphas[-1] == pytest.approx(19 * 9.9 / 20 + 0.1)


def test_tip_adapter_with_alpha_zero_is_zero_shot_and_search_finds_the_cache():
    torch.manual_seed(2)
    keys = l2_normalize(torch.randn(6, 16))
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    adapter = TipAdapter(6, 16, 3, learnable_keys=True, alpha=0.0)
    adapter.set_cache(keys, labels)
    features = keys[[0, 2, 4]] + 0.01
    features = l2_normalize(features)
    zero_shot = torch.randn(3, 3)
    assert torch.equal(adapter(features, zero_shot), zero_shot)
    alpha, beta, accuracy = search_tip_alpha_beta(
        zero_shot, adapter.affinity(features), adapter.values, torch.tensor([0, 1, 2]), [1.0, 5.0], [0.1, 50.0]
    )
    assert accuracy == 100.0 and alpha == 50.0


def test_clip_adapter_ratio_zero_is_identity_and_sizes_follow_the_features():
    adapter = ClipAdapter(48, reduction=4, ratio=0.0)
    features = torch.randn(3, 48)
    assert torch.equal(adapter(features), features)
    assert adapter.mlp[0].weight.shape == (12, 48)


def test_fit_on_views_lowers_the_loss():
    torch.manual_seed(3)
    centres = l2_normalize(torch.randn(4, 8))
    labels = torch.arange(4).repeat(5)
    views = l2_normalize(centres[labels][:, None, :] + 0.3 * torch.randn(20, 3, 8))
    head = torch.nn.Linear(8, 4)

    def batch_loss(features, batch_labels):
        return F.cross_entropy(head(features), batch_labels)

    before = batch_loss(views[:, 0], labels).item()
    fit_on_views(list(head.parameters()), batch_loss, views, labels, epochs=30, batch_size=8, lr=0.05, eps=1e-4,
                 log=lambda message: None)
    assert batch_loss(views[:, 0], labels).item() < 0.5 * before


def test_safe_learns_a_task_whose_labels_come_from_another_pooling(tiny_clip):
    """Labels come from a perturbed pooling layer over the same trunk (spherical k-means clusters of its features
    name the classes); zero-shot CLIP, which pools with the original layer, gets them partly right, and training
    the copy on 30 images per class recovers them clearly better on the held-out images."""
    torch.manual_seed(4)
    encoder = FrozenImageEncoder(tiny_clip)
    teacher = tuned_copy(encoder.original_pooling)
    with torch.no_grad():
        for parameter in teacher.parameters():
            parameter.add_(0.8 * parameter.std() * torch.randn_like(parameter))
    num_classes, count = 5, 400
    dense = encoder.dense(torch.randn(count, 3, 64, 64))
    with torch.no_grad():
        teacher_features = l2_normalize(teacher(dense))
        text_classifier = teacher_features[:num_classes].clone()
        for _ in range(20):
            assignment = (teacher_features @ text_classifier.t()).argmax(-1)
            text_classifier = l2_normalize(torch.stack(
                [teacher_features[assignment == c].mean(0) for c in range(num_classes)]
            ))
        labels = class_logits(teacher_features, text_classifier, 100.0).argmax(-1)
    assert torch.bincount(labels, minlength=num_classes).min() >= 60, "every class needs held-out images"
    train_index = torch.cat([torch.nonzero(labels == c).flatten()[:30] for c in range(num_classes)])
    held_out = torch.ones(count, dtype=torch.bool)
    held_out[train_index] = False

    def held_out_accuracy(features: torch.Tensor) -> float:
        predictions = class_logits(l2_normalize(features), text_classifier, 100.0).argmax(-1)
        return (predictions[held_out] == labels[held_out]).float().mean().item()

    with torch.no_grad():
        zero_shot_accuracy = held_out_accuracy(encoder.pool(dense))
    safe = SafePooling(encoder.original_pooling)
    optimizer = torch.optim.AdamW([p for p in safe.parameters() if p.requires_grad], lr=3e-4, eps=1e-4)
    for _ in range(200):
        logits = class_logits(l2_normalize(safe(dense[train_index])), text_classifier, 100.0)
        loss = F.cross_entropy(logits, labels[train_index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        safe_accuracy = held_out_accuracy(safe(dense))
    assert safe_accuracy > zero_shot_accuracy + 0.2, (zero_shot_accuracy, safe_accuracy)
