"""Fixtures for the built-in engine's tests: synthetic images and a config that trains the tiny trainer of
engine_helpers in a fraction of a second on CPU."""
from __future__ import annotations

import os
import sys
from typing import Any, Callable

import pytest

from safe_clip.engine import DATASET_REGISTRY, TRAINER_REGISTRY, get_cfg_default
from tests.engine.engine_helpers import (
    IMAGE_SIZE,
    EngineTinyDataset,
    EngineTinyTrainer,
    make_image_tree,
    registered,
)


@pytest.fixture(autouse=True)
def tiny_classes_registered() -> Any:
    """EngineTinyDataset and EngineTinyTrainer are in the engine's registries during each engine test only."""
    with registered(DATASET_REGISTRY, EngineTinyDataset), registered(TRAINER_REGISTRY, EngineTinyTrainer):
        yield


@pytest.fixture
def image_root(tmp_path: Any) -> str:
    """6 train and 3 test images per class."""
    root = str(tmp_path / "data")
    make_image_tree(os.path.join(root, "train"), images_per_class=6)
    make_image_tree(os.path.join(root, "test"), images_per_class=3)
    return root


@pytest.fixture
def make_cfg(image_root: str, tmp_path: Any) -> Callable[..., Any]:
    """make_cfg(KEY=value, ...) -> a frozen config for EngineTinyTrainer; keys use "__" for "."."""

    def build(**overrides: Any) -> Any:
        cfg = get_cfg_default()
        cfg.DATASET.NAME = "EngineTinyDataset"
        cfg.DATASET.ROOT = image_root
        cfg.TRAINER.NAME = "EngineTinyTrainer"
        cfg.OUTPUT_DIR = str(tmp_path / "output")
        cfg.USE_CUDA = False
        cfg.SEED = 1
        cfg.INPUT.SIZE = (IMAGE_SIZE, IMAGE_SIZE)
        cfg.INPUT.INTERPOLATION = "bicubic"
        cfg.INPUT.TRANSFORMS = ("random_resized_crop", "random_flip", "normalize")
        cfg.DATALOADER.NUM_WORKERS = 0
        cfg.DATALOADER.TRAIN_X.BATCH_SIZE = 4
        cfg.DATALOADER.TEST.BATCH_SIZE = 5
        cfg.OPTIM.NAME = "sgd"
        cfg.OPTIM.LR = 0.002
        cfg.OPTIM.MAX_EPOCH = 3
        cfg.OPTIM.LR_SCHEDULER = "cosine"
        cfg.OPTIM.WARMUP_EPOCH = 1
        cfg.OPTIM.WARMUP_TYPE = "constant"
        cfg.OPTIM.WARMUP_CONS_LR = 1e-5
        cfg.TRAIN.PRINT_FREQ = 2
        for key, value in overrides.items():
            node = cfg
            *parents, leaf = key.split("__")
            for parent in parents:
                node = node[parent]
            node[leaf] = value
        cfg.freeze()
        return cfg

    return build


@pytest.fixture
def restore_stdout() -> Any:
    """Puts back sys.stdout after a test that installs the engine's Logger."""
    saved = sys.stdout
    yield
    current = sys.stdout
    sys.stdout = saved
    if current is not saved and hasattr(current, "close"):
        current.close()
