"""Helpers for the built-in engine's tests: a tiny image dataset and a tiny TrainerX, made from base classes
so that real Dassl can run the same ones.

The engine is imported as `safe_clip.engine` directly: under a Python where real Dassl imports,
`safe_clip.dassl` re-exports Dassl instead.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from safe_clip.engine import (
    DatasetBase,
    Datum,
    TrainerX,
    build_optimizer,
    compute_accuracy,
)
from safe_clip.optim import build_lr_scheduler

IMAGE_SIZE = 16
CLASSNAMES = ("cat", "dog", "owl")


def make_image_tree(root: str, images_per_class: int, classnames: tuple[str, ...] = CLASSNAMES) -> None:
    """root/<classname>/<i>.png: small images whose colour depends on the class (so a model can learn)."""
    for label, classname in enumerate(classnames):
        folder = os.path.join(root, classname)
        os.makedirs(folder, exist_ok=True)
        for index in range(images_per_class):
            colour = (80 * label + 3 * index, 255 - 70 * label, (40 * index) % 256)
            Image.new("RGB", (IMAGE_SIZE + 4, IMAGE_SIZE + 2), colour).save(os.path.join(folder, f"{index}.png"))


def items_of(root: str, datum_class: type = Datum, classnames: tuple[str, ...] = CLASSNAMES) -> list[Any]:
    items = []
    for label, classname in enumerate(classnames):
        folder = os.path.join(root, classname)
        for name in sorted(os.listdir(folder), key=lambda n: int(n.split(".")[0])):
            items.append(datum_class(impath=os.path.join(folder, name), label=label, classname=classname))
    return items


def make_tiny_dataset_class(dataset_base: type, datum_class: type) -> type:
    """A dataset over DATASET.ROOT/train and DATASET.ROOT/test image trees; val = the test items (few-shot:
    min(K, 4) per class, as CoOp's datasets). Made from a base class so that real Dassl can run it too."""

    class EngineTinyDataset(dataset_base):
        dataset_dir = "engine_tiny"

        def __init__(self, cfg: Any) -> None:
            train = items_of(os.path.join(cfg.DATASET.ROOT, "train"), datum_class)
            test = items_of(os.path.join(cfg.DATASET.ROOT, "test"), datum_class)
            val = list(test)
            num_shots = cfg.DATASET.NUM_SHOTS
            if num_shots >= 1:
                train = self.generate_fewshot_dataset(train, num_shots=num_shots)
                val = self.generate_fewshot_dataset(val, num_shots=min(num_shots, 4))
            super().__init__(train_x=train, val=val, test=test)

    return EngineTinyDataset


class TinyNet(nn.Module):
    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.head = nn.Linear(3 * IMAGE_SIZE * IMAGE_SIZE, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x.flatten(1))


def make_tiny_trainer_class(
    trainer_x: type, optimizer_builder: Callable[..., Any], accuracy: Callable[..., Any]
) -> type:
    """CoOp's pattern: one registered model, scheduler stepped at the last batch of each epoch; records the LR
    each epoch starts with in `epoch_lrs`."""

    class EngineTinyTrainer(trainer_x):
        def build_model(self) -> None:
            self.model = TinyNet(self.num_classes).to(self.device)
            self.optim = optimizer_builder(self.model, self.cfg.OPTIM)
            self.sched = build_lr_scheduler(self.optim, self.cfg.OPTIM)
            self.register_model("tiny_head", self.model, self.optim, self.sched)
            self.epoch_lrs: list[float] = []

        def before_epoch(self) -> None:
            self.epoch_lrs.append(self.get_current_lr())

        def forward_backward(self, batch: dict[str, Any]) -> dict[str, float]:
            image, label = batch["img"].to(self.device), batch["label"].to(self.device)
            output = self.model(image)
            loss = F.cross_entropy(output, label)
            self.model_backward_and_update(loss)
            if (self.batch_idx + 1) == self.num_batches:
                self.update_lr()
            return {"loss": loss.item(), "acc": accuracy(output, label)[0].item()}

    return EngineTinyTrainer


EngineTinyDataset = make_tiny_dataset_class(DatasetBase, Datum)
EngineTinyTrainer = make_tiny_trainer_class(TrainerX, build_optimizer, compute_accuracy)


@contextmanager
def registered(registry: Any, *classes: type) -> Iterator[None]:
    """Registers `classes` in `registry` for the duration of the block only, so that other test folders that
    list the registries see just the project's own entries."""
    for cls in classes:
        registry.register(cls, force=True)
    try:
        yield
    finally:
        for cls in classes:
            registry._obj_map.pop(cls.__name__, None)
