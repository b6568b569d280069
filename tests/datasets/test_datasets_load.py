"""Each of the 15 datasets loads from its synthetic layout with the right counts, class names, few-shot counts
and base/new subsets, with the split JSON present and (where CoOp can build it) missing."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from tests.datasets.helpers import DATASET_NAMES, FIXED_SPLIT, TEST_ONLY, build
from tests.layouts import EXPECTED_CLASSNAMES, LAYOUT_WRITERS, split_counts

REPO_ROOT = Path(__file__).resolve().parents[2]
N_PER_CLASS = 10  # 5 train, 2 val, 3 test per class


@pytest.fixture(scope="module")
def layout_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("layouts")
    for writer in LAYOUT_WRITERS.values():
        writer(root)
    return root


def n_classes(name: str) -> int:
    return len(EXPECTED_CLASSNAMES[name])


def test_registry_holds_the_15_coop_names():
    from safe_clip.dassl import DATASET_REGISTRY

    assert len(DATASET_NAMES) == 15
    assert set(DATASET_NAMES) <= set(DATASET_REGISTRY.registered_names())
    assert set(LAYOUT_WRITERS) == set(DATASET_NAMES)


def test_dataset_configs_name_the_registered_classes():
    expected = {
        "caltech101": "Caltech101", "dtd": "DescribableTextures", "eurosat": "EuroSAT",
        "fgvc_aircraft": "FGVCAircraft", "food101": "Food101", "imagenet": "ImageNet", "imagenet_a": "ImageNetA",
        "imagenet_r": "ImageNetR", "imagenet_sketch": "ImageNetSketch", "imagenetv2": "ImageNetV2",
        "oxford_flowers": "OxfordFlowers", "oxford_pets": "OxfordPets", "stanford_cars": "StanfordCars",
        "sun397": "SUN397", "ucf101": "UCF101",
    }
    found = {p.stem: yaml.safe_load(p.read_text()) for p in (REPO_ROOT / "configs" / "datasets").glob("*.yaml")}
    assert found == {stem: {"DATASET": {"NAME": name}} for stem, name in expected.items()}


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_full_dataset_counts_and_classnames(name, layout_root):
    dataset = build(layout_root, name)
    k = n_classes(name)
    assert dataset.classnames == EXPECTED_CLASSNAMES[name]
    assert dataset.num_classes == k
    if name in TEST_ONLY:
        assert len(dataset.test) == 3 * k and dataset.train_x == dataset.test and not dataset.val
        return
    n_train, n_val, n_test = split_counts(N_PER_CLASS)
    if name == "ImageNet":
        assert len(dataset.train_x) == N_PER_CLASS * k
        assert len(dataset.test) == 3 * k and dataset.val == dataset.test
        return
    assert (len(dataset.train_x), len(dataset.val), len(dataset.test)) == (n_train * k, n_val * k, n_test * k)
    assert sorted({item.label for item in dataset.test}) == list(range(k))


@pytest.mark.parametrize("name", [n for n in DATASET_NAMES if n not in FIXED_SPLIT])
def test_split_built_when_json_missing(name, tmp_path):
    writer = LAYOUT_WRITERS[name]
    dataset_dir = writer(tmp_path, with_split=False)
    dataset = build(tmp_path, name)
    assert dataset.classnames == EXPECTED_CLASSNAMES[name]
    split_path = Path(dataset.split_path)
    assert split_path.parent == dataset_dir and split_path.is_file()  # saved where CoOp reads it
    saved = json.loads(split_path.read_text())
    assert len(saved["train"]) == len(dataset.train_x) and len(saved["test"]) == len(dataset.test)
    total = len(dataset.train_x) + len(dataset.val) + len(dataset.test)
    assert total == N_PER_CLASS * n_classes(name)
    # A second run reads the saved split and gets the same lists.
    again = build(tmp_path, name)
    assert [i.impath for i in again.train_x] == [i.impath for i in dataset.train_x]


@pytest.mark.parametrize("shots", [1, 2, 4])
@pytest.mark.parametrize("name", [n for n in DATASET_NAMES if n not in TEST_ONLY])
def test_few_shot_counts(name, shots, layout_root):
    dataset = build(layout_root, name, shots=shots, seed=1)
    k = n_classes(name)
    n_train, n_val, _ = split_counts(N_PER_CLASS)
    assert len(dataset.train_x) == min(shots, n_train if name != "ImageNet" else N_PER_CLASS) * k
    for label in range(k):
        assert sum(item.label == label for item in dataset.train_x) == len(dataset.train_x) // k
    if name == "ImageNet":
        assert dataset.val == dataset.test  # no val sampling, val = test
    else:
        assert len(dataset.val) == min(shots, 4, n_val) * k
    assert len(dataset.test) == 3 * k


def test_few_shot_picks_depend_on_seed_and_repeat_for_same_seed(layout_root):
    first = [i.impath for i in build(layout_root, "DescribableTextures", shots=2, seed=1).train_x]
    same = [i.impath for i in build(layout_root, "DescribableTextures", shots=2, seed=1).train_x]
    other = [i.impath for i in build(layout_root, "DescribableTextures", shots=2, seed=2).train_x]
    assert first == same
    assert first != other


@pytest.mark.parametrize("name", [n for n in DATASET_NAMES if n not in TEST_ONLY])
def test_base_new_subsampling(name, layout_root):
    k = n_classes(name)
    base = build(layout_root, name, shots=2, subsample="base")
    new = build(layout_root, name, shots=2, subsample="new")
    full = build(layout_root, name, shots=2, subsample="all")
    m = math.ceil(k / 2)
    assert base.classnames == full.classnames[:m]
    assert new.classnames == full.classnames[m:]
    for subset, labels in ((base, range(m)), (new, range(k - m))):
        for items in (subset.train_x, subset.val, subset.test):
            assert sorted({item.label for item in items}) == list(labels)  # relabelled from 0
    assert len(base.test) + len(new.test) == len(full.test)
    # The subsets hold exactly the full run's items of their classes.
    full_base = [(i.impath, i.label) for i in full.train_x if i.label < m]
    assert [(i.impath, i.label) for i in base.train_x] == full_base
