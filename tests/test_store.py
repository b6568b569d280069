"""The feature store: stored maps equal the reference path for the same view, keys cover what shapes an entry,
entries are written atomically, and a warm store encodes nothing."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torchvision import transforms

from safe_clip.clip_loading import load_clip
from safe_clip.encoder import FrozenImageEncoder
from safe_clip.errors import UserError
from safe_clip.store import StoredViews, TensorStore, draw_view, fill_store, read_rgb_image, view_requests
from tests.layouts import save_image

TRAIN_TRANSFORM = transforms.Compose(
    [transforms.RandomResizedCrop(64, scale=(0.08, 1.0)), transforms.RandomHorizontalFlip(), transforms.ToTensor()]
)


@pytest.fixture(scope="module")
def encoder(tiny_clip_checkpoint):
    return FrozenImageEncoder(load_clip(str(tiny_clip_checkpoint), "cpu"))


@pytest.fixture
def images(tmp_path) -> list[str]:
    return [str(save_image(tmp_path / "img" / f"{i}.jpg", i % 3, 3, i)) for i in range(5)]


def test_stored_view_equals_the_reference_path_for_the_same_view(tmp_path, encoder, images):
    store = TensorStore(tmp_path / "store", encoder.fingerprint("dense"), torch.float32)
    requests = view_requests(store, images, TRAIN_TRANSFORM, views=3)
    flat = [request for per_image in requests for request in per_image]
    # Encoded one at a time, as the reference below, the stored maps are the reference's bit for bit (batched
    # convolutions may round differently, so a batched fill is compared with a tolerance).
    assert fill_store(store, flat, TRAIN_TRANSFORM, encoder.dense, torch.device("cpu"), batch_size=1) == 15
    batched = TensorStore(tmp_path / "batched", encoder.fingerprint("dense"), torch.float32)
    fill_store(batched, flat, TRAIN_TRANSFORM, encoder.dense, torch.device("cpu"), batch_size=4)
    for request in (flat[0], flat[7], flat[14]):
        view = draw_view(TRAIN_TRANSFORM, read_rgb_image(request.impath), request.seed)
        reference = encoder.dense(view[None])[0]
        assert torch.equal(store.get(request.key), reference)
        assert torch.allclose(batched.get(request.key), reference, rtol=1e-5, atol=1e-5)
    # Views of one image differ (they are augmentations), and are the same in every run that asks for them.
    assert not torch.equal(store.get(flat[0].key), store.get(flat[1].key))
    again = view_requests(store, images, TRAIN_TRANSFORM, views=3)
    assert [r.key for per in again for r in per] == [r.key for r in flat]


def test_fp16_store_is_close_to_the_reference(tmp_path, encoder, images):
    store = TensorStore(tmp_path / "store", encoder.fingerprint("dense"), torch.float16)
    request = view_requests(store, images[:1], TRAIN_TRANSFORM, views=1)[0][0]
    fill_store(store, [request], TRAIN_TRANSFORM, encoder.dense, torch.device("cpu"), batch_size=1)
    reference = encoder.dense(draw_view(TRAIN_TRANSFORM, read_rgb_image(request.impath), request.seed)[None])[0]
    stored = store.get(request.key)
    assert stored.dtype == torch.float16
    assert torch.allclose(stored.float(), reference, rtol=1e-2, atol=1e-2)


def test_warm_store_encodes_nothing_and_drawing_views_leaves_the_global_rng_alone(tmp_path, encoder, images):
    store = TensorStore(tmp_path / "store", encoder.fingerprint("pooled"), torch.float32)
    flat = [r for per in view_requests(store, images, TRAIN_TRANSFORM, views=2) for r in per]
    torch.manual_seed(0)
    fill_store(store, flat, TRAIN_TRANSFORM, encoder.pooled, torch.device("cpu"), batch_size=3)
    after_cold = torch.rand(1)
    torch.manual_seed(0)
    assert fill_store(store, flat, TRAIN_TRANSFORM, encoder.pooled, torch.device("cpu"), batch_size=3) == 0
    assert torch.equal(torch.rand(1), after_cold), "a cold and a warm store must leave the same RNG state"


def test_keys_change_with_weights_transform_view_and_image(tmp_path, encoder, images):
    store = TensorStore(tmp_path, encoder.fingerprint("dense"))
    base = view_requests(store, images[:1], TRAIN_TRANSFORM, views=2)[0]
    assert base[0].key != base[1].key
    other_transform = transforms.Compose([transforms.Resize(64), transforms.CenterCrop(64), transforms.ToTensor()])
    assert view_requests(store, images[:1], other_transform, 1)[0][0].key != base[0].key
    other_weights = TensorStore(tmp_path, "dense-0000")
    assert view_requests(other_weights, images[:1], TRAIN_TRANSFORM, 1)[0][0].key != base[0].key
    os.utime(images[0], ns=(1, 1))  # the image file changed
    assert view_requests(store, images[:1], TRAIN_TRANSFORM, 1)[0][0].key != base[0].key


def test_an_interrupted_write_leaves_no_entry(tmp_path, monkeypatch):
    store = TensorStore(tmp_path, "dense-abc")
    key = "ab" * 32

    def failing_save(obj, path):
        with open(path, "wb") as handle:
            handle.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(KeyboardInterrupt):
        store.put(key, torch.ones(3))
    assert not store.contains(key)
    assert [path for path in Path(tmp_path).rglob("*") if path.is_file()] == []


def test_memory_store_and_stored_views(encoder, images):
    store = TensorStore(None, encoder.fingerprint("pooled"), torch.float32)
    requests = view_requests(store, images, TRAIN_TRANSFORM, views=2)
    fill_store(store, [r for per in requests for r in per], TRAIN_TRANSFORM, encoder.pooled, torch.device("cpu"), 8)
    stored = StoredViews(store, requests, [0, 1, 2, 0, 1], images, preload=False)
    item = stored[3]
    assert item["label"] == 0 and item["impath"] == images[3] and item["img"].shape == (32,)
    assert stored.all_views(3).shape == (2, 32)
    assert any(torch.equal(item["img"], view) for view in stored.all_views(3))


def test_unreadable_image_names_the_file(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(UserError, match="broken.jpg"):
        read_rgb_image(str(broken))
