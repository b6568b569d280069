"""Shared helpers of the dataset tests: configs, building a dataset as train.py does, comparable entries."""
from __future__ import annotations

import os
from pathlib import Path

import datasets  # noqa: F401  (registers the 15 datasets)
import safe_clip
from safe_clip.dassl import DATASET_REGISTRY, get_cfg_default, set_random_seed

DATASET_NAMES = datasets.DATASET_NAMES
TEST_ONLY = ("ImageNetV2", "ImageNetSketch", "ImageNetA", "ImageNetR")
FIXED_SPLIT = ("FGVCAircraft", "ImageNet") + TEST_ONLY  # no split JSON to build


def make_cfg(root: Path, name: str, shots: int = -1, seed: int = 1, subsample: str = "all"):
    cfg = get_cfg_default()
    safe_clip.extend_cfg(cfg)
    cfg.DATASET.ROOT = str(root)
    cfg.DATASET.NAME = name
    cfg.DATASET.NUM_SHOTS = shots
    cfg.DATASET.SUBSAMPLE_CLASSES = subsample
    cfg.SEED = seed
    return cfg


def build(root: Path, name: str, shots: int = -1, seed: int = 1, subsample: str = "all"):
    """The dataset as train.py builds it: `set_random_seed(seed)`, then the registered class."""
    cfg = make_cfg(root, name, shots, seed, subsample)
    if seed >= 0:
        set_random_seed(seed)
    return DATASET_REGISTRY.get(name)(cfg)


def rows(items, prefix: str) -> list[list]:
    return [[os.path.relpath(item.impath, prefix), int(item.label), item.classname] for item in items or []]


def summary(dataset) -> dict:
    """train_x / val / test as [relative path, label, class name] rows, plus the class names."""
    prefix = dataset.dataset_dir
    return {
        "train_x": rows(dataset.train_x, prefix),
        "val": rows(dataset.val, prefix),
        "test": rows(dataset.test, prefix),
        "classnames": list(dataset.classnames),
    }


def snapshot(folder: Path) -> set[str]:
    found = set()
    for current, dirs, files in os.walk(folder):
        for name in dirs + files:
            found.add(os.path.join(current, name))
    return found
