"""The shared skeleton of CoOp's dataset classes, on whichever Dassl `DatasetBase` the seam provides.

`CoOpDataset` is CoOp's few-shot dataset flow (contract §7.2): read the split JSON (or build and save it when
missing), take the few-shot picks (§3.3), subsample classes, and hand train/val/test to `DatasetBase`.
A dataset file only says where its files are and, when CoOp can build the split from the raw annotations, how.

`TestOnlyDataset` is the ImageNet variants' flow (ImageNet-V2/-Sketch/-A/-R): every image is test data; train_x
holds the same items only so that Dassl derives the class names from it, as in CoOp.

Unlike CoOp, these classes create nothing in the data folder except a split JSON that CoOp would also have
written there (and only when the folder is writable): few-shot caches live under `cache_root()`.
"""
from __future__ import annotations

import os
from typing import Any

from safe_clip.dassl import DatasetBase
from safe_clip.data.fewshot import cache_root, few_shot_splits
from safe_clip.data.splits import check_subsample, listdir_nohidden, load_or_build_split, make_datum, subsample_classes
from safe_clip.errors import UserError


def dataset_root(cfg: Any) -> str:
    root = str(cfg.DATASET.ROOT or "")
    if not root:
        raise UserError("DATASET.ROOT is not set: pass --root DATA (the folder that holds the dataset folders)")
    return os.path.abspath(os.path.expanduser(root))


def missing_dataset_error(registry_name: str, path: str) -> UserError:
    """A one-line error for a missing dataset folder, with the download command or the manual steps."""
    from safe_clip.data.catalogue import find_entry

    entry = find_entry(registry_name)
    if entry is None:
        return UserError(f"dataset folder {path} not found: check DATASET.ROOT (--root)")
    root = os.path.dirname(path.rstrip("/")) if path else "DATA"
    return UserError(f"dataset folder {path} not found: {entry.how_to_get(root)}")


class CoOpDataset(DatasetBase):
    """CoOp's few-shot dataset skeleton. Subclasses set the class attributes and, optionally, `build_split`."""

    dataset_dir = ""  # folder under DATASET.ROOT (CoOp's name)
    image_subdir = ""  # image folder inside it; "" = the dataset folder itself (StanfordCars)
    split_file = ""  # CoOp's split JSON inside the dataset folder; "" = the dataset has fixed split lists
    sample_val = True  # False for ImageNet: no val sampling, val = test

    def __init__(self, cfg: Any):
        name = type(self).__name__
        subsample = check_subsample(str(cfg.DATASET.get("SUBSAMPLE_CLASSES", "all")))
        # The same attributes CoOp's classes set (absolute paths), for code that reads them.
        self.dataset_dir = os.path.join(dataset_root(cfg), type(self).dataset_dir)
        self.image_dir = os.path.join(self.dataset_dir, self.image_subdir) if self.image_subdir else self.dataset_dir
        self.split_path = os.path.join(self.dataset_dir, self.split_file) if self.split_file else ""
        self.split_fewshot_dir = os.path.join(self.dataset_dir, "split_fewshot")
        if not os.path.isdir(self.dataset_dir):
            raise missing_dataset_error(name, self.dataset_dir)

        train, val, test = self.read_splits()

        num_shots = int(cfg.DATASET.NUM_SHOTS)
        if num_shots >= 1:
            train, picked_val = few_shot_splits(
                name,
                self.dataset_dir,
                train,
                val if self.sample_val else None,
                num_shots,
                int(cfg.SEED),
                subsample,
            )
            if self.sample_val:
                val = picked_val

        if self.sample_val:
            train, val, test = subsample_classes(train, val, test, subsample=subsample)
        else:
            train, test = subsample_classes(train, test, subsample=subsample)
            val = test
        super().__init__(train_x=list(train), val=list(val), test=list(test))

    def read_splits(self) -> tuple[list, list, list]:
        """(train, val, test): from the split JSON when there is one, else built by `build_split` and saved."""
        if not self.split_file:
            return self.build_split()
        return load_or_build_split(self.split_path, self.image_dir, self.build_split, self.split_fallback_dir())

    def split_fallback_dir(self) -> str:
        """Where a split built for a read-only data folder is kept (one folder per dataset folder)."""
        import hashlib

        tag = hashlib.sha256(self.dataset_dir.encode()).hexdigest()[:16]
        return os.path.join(cache_root(), "splits", f"{type(self).__name__}-{tag}")

    def build_split(self) -> tuple[list, list, list]:
        raise UserError(
            f"split file {self.split_path} not found: download it (python -m safe_clip.data download "
            f"{type(self).__name__} --root {os.path.dirname(self.dataset_dir)}) or see DATASETS.md"
        )


class TestOnlyDataset(DatasetBase):
    """ImageNet-V2/-Sketch/-A/-R: all images are test data; class names from `classnames.txt` (ImageNet's)."""

    dataset_dir = ""
    image_subdir = ""
    ignored: tuple[str, ...] = ()

    def __init__(self, cfg: Any):
        from safe_clip.data.classnames import read_classnames

        self.dataset_dir = os.path.join(dataset_root(cfg), type(self).dataset_dir)
        self.image_dir = os.path.join(self.dataset_dir, self.image_subdir)
        if not os.path.isdir(self.image_dir):
            raise missing_dataset_error(type(self).__name__, self.dataset_dir)
        classnames = read_classnames(os.path.join(self.dataset_dir, "classnames.txt"))
        data = self.read_data(classnames)
        super().__init__(train_x=data, test=data)

    def class_folders(self, classnames: dict[str, str]) -> list[tuple[str, str]]:
        """(folder, class name) per label, in label order. Default: the sorted folders, named via classnames.txt."""
        folders = [f for f in listdir_nohidden(self.image_dir, sort=True) if f not in self.ignored]
        unknown = [f for f in folders if f not in classnames]
        if unknown:
            raise UserError(
                f"{self.image_dir} has class folder {unknown[0]!r}, which is not in "
                f"{os.path.join(self.dataset_dir, 'classnames.txt')}: use ImageNet's classnames.txt from CoOp"
            )
        return [(folder, classnames[folder]) for folder in folders]

    def read_data(self, classnames: dict[str, str]) -> list:
        items = []
        for label, (folder, classname) in enumerate(self.class_folders(classnames)):
            class_dir = os.path.join(self.image_dir, folder)
            if not os.path.isdir(class_dir):
                raise UserError(f"class folder {class_dir} not found: the dataset copy is incomplete")
            for name in listdir_nohidden(class_dir):
                items.append(make_datum(os.path.join(class_dir, name), label, classname))
        return items
