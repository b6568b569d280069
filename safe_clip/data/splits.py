"""Reading, building and saving CoOp's train/val/test splits, and the base-to-new class subsampling.

Everything here reproduces CoOp's procedures exactly (same file order, same `random` calls, same rounding), because
the few-shot picks that follow depend on the order of the items and on the state of Python's `random`:

- `read_split` / `save_split`: CoOp's split JSON, `{"train"|"val"|"test": [[path relative to the image folder,
  label, class name], ...]}` (CoOp's `OxfordPets.read_split` / `save_split`).
- `read_and_split_data`: per class folder, 50 % train / 20 % val / 30 % test after one `random.shuffle` of the
  folder's (unsorted) listing (CoOp's `DescribableTextures.read_and_split_data`).
- `split_trainval`: 20 % of each label's trainval items become val after one `random.shuffle` per label
  (CoOp's `OxfordPets.split_trainval`).
- `subsample_classes`: "all", "base" (first ceil(n/2) labels) or "new" (the rest), relabelled from 0.

Unlike CoOp, bad input (a missing image, a label that has two class names) raises a one-line `UserError`
naming the file instead of an `AssertionError` deep inside Dassl.
"""
from __future__ import annotations

import json
import math
import os
import random
from collections import defaultdict
from typing import Any, Callable, Iterable, Sequence

from safe_clip.errors import UserError
from safe_clip.io import atomic_write_json

SUBSAMPLE_CHOICES = ("all", "base", "new")


def datum_class() -> type:
    """The `Datum` of the Dassl implementation in use (imported on first use, so this module loads without Dassl)."""
    from safe_clip.dassl import Datum

    return Datum


def listdir_nohidden(path: str, sort: bool = False) -> list[str]:
    """`os.listdir` without names starting with "."; unsorted by default, exactly like Dassl's helper."""
    names = [name for name in os.listdir(path) if not name.startswith(".")]
    if sort:
        names.sort()
    return names


def make_datum(impath: str, label: int, classname: str, domain: int = 0, source: str = "") -> Any:
    """A `Datum`, after checking that the image exists (Dassl only asserts it); `source` names the list it came from."""
    if not os.path.isfile(impath):
        where = f" (listed in {source})" if source else ""
        raise UserError(
            f"image {impath} not found{where}: the dataset copy is incomplete or DATASET.ROOT points to the wrong "
            f"folder; re-extract the dataset or fix the path"
        )
    return datum_class()(impath=impath, label=label, domain=domain, classname=classname)


class _LabelNames:
    """Checks that every label has one class name and every class name one label, across a whole split file."""

    def __init__(self, source: str):
        self.source = source
        self.by_label: dict[int, tuple[str, str]] = {}
        self.by_name: dict[str, tuple[int, str]] = {}

    def check(self, label: int, classname: str, where: str) -> None:
        seen = self.by_label.get(label)
        if seen is None:
            self.by_label[label] = (classname, where)
        elif seen[0] != classname:
            raise UserError(
                f"{self.source}: label {label} is {seen[0]!r} at {seen[1]} but {classname!r} at {where}; "
                f"each label must have one class name: fix or re-download the split file"
            )
        seen_name = self.by_name.get(classname)
        if seen_name is None:
            self.by_name[classname] = (label, where)
        elif seen_name[0] != label:
            raise UserError(
                f"{self.source}: class {classname!r} has label {seen_name[0]} at {seen_name[1]} but {label} at "
                f"{where}; each class name must have one label: fix or re-download the split file"
            )


def read_split_entries(filepath: str) -> dict[str, list[tuple[str, int, str]]]:
    """The raw `(relative path, label, class name)` entries of a CoOp split JSON, validated."""
    try:
        with open(filepath, "r") as handle:
            split = json.load(handle)
    except FileNotFoundError:
        raise UserError(f"split file {filepath} not found: download it (see DATASETS.md) or remove the reference")
    except (OSError, ValueError) as error:
        raise UserError(f"split file {filepath} cannot be read ({error}): re-download it") from None
    if not isinstance(split, dict) or not all(key in split for key in ("train", "val", "test")):
        raise UserError(f"split file {filepath} is not a CoOp split (needs 'train', 'val' and 'test' lists)")
    names = _LabelNames(filepath)
    entries: dict[str, list[tuple[str, int, str]]] = {}
    for part in ("train", "val", "test"):
        rows = []
        for index, row in enumerate(split[part]):
            where = f"{part}[{index}]"
            try:
                relpath, label, classname = row
                label = int(label)
            except (TypeError, ValueError):
                raise UserError(
                    f"{filepath}: entry {where} is {row!r}, expected [relative path, label, class name]"
                ) from None
            names.check(label, classname, f"{where} ({relpath})")
            rows.append((relpath, label, classname))
        entries[part] = rows
    return entries


def read_split(filepath: str, path_prefix: str) -> tuple[list, list, list]:
    """CoOp's split JSON -> (train, val, test) Datum lists; image paths are joined to `path_prefix`."""
    print(f"Reading split from {filepath}")
    entries = read_split_entries(filepath)
    return tuple(  # type: ignore[return-value]
        [make_datum(os.path.join(path_prefix, rel), label, cname, source=filepath) for rel, label, cname in rows]
        for rows in (entries["train"], entries["val"], entries["test"])
    )


def split_entries(items: Iterable[Any], path_prefix: str) -> list[list]:
    """Datums -> `[relative path, label, class name]` rows, relative to `path_prefix` (as CoOp's `save_split`)."""
    rows = []
    for item in items:
        impath = item.impath.replace(path_prefix, "")
        if impath.startswith("/"):
            impath = impath[1:]
        rows.append([impath, item.label, item.classname])
    return rows


def save_split(train: list, val: list, test: list, filepath: str, path_prefix: str) -> None:
    """Writes CoOp's split JSON (same content and formatting as CoOp's `save_split`), atomically."""
    split = {
        "train": split_entries(train, path_prefix),
        "val": split_entries(val, path_prefix),
        "test": split_entries(test, path_prefix),
    }
    atomic_write_json(split, filepath)
    print(f"Saved split to {filepath}")


def read_and_split_data(
    image_dir: str,
    p_trn: float = 0.5,
    p_val: float = 0.2,
    ignored: Sequence[str] = (),
    new_cnames: dict[str, str] | None = None,
) -> tuple[list, list, list]:
    """One folder per class -> 50/20/30 split, one `random.shuffle` per class (CoOp's DTD procedure)."""
    if not os.path.isdir(image_dir):
        raise UserError(f"image folder {image_dir} not found: extract the dataset there")
    categories = [c for c in listdir_nohidden(image_dir) if c not in ignored]
    categories.sort()
    p_tst = 1 - p_trn - p_val
    print(f"Splitting into {p_trn:.0%} train, {p_val:.0%} val, and {p_tst:.0%} test")

    train, val, test = [], [], []
    for label, category in enumerate(categories):
        category_dir = os.path.join(image_dir, category)
        images = [os.path.join(category_dir, name) for name in listdir_nohidden(category_dir)]
        random.shuffle(images)
        n_total = len(images)
        n_train = round(n_total * p_trn)
        n_val = round(n_total * p_val)
        n_test = n_total - n_train - n_val
        if not (n_train > 0 and n_val > 0 and n_test > 0):
            raise UserError(
                f"class folder {category_dir} has {n_total} images, too few to split into train/val/test "
                f"(needs at least 3 with each part non-empty)"
            )
        classname = new_cnames.get(category, category) if new_cnames else category

        def collate(paths: list[str]) -> list:
            return [make_datum(path, label, classname) for path in paths]

        train.extend(collate(images[:n_train]))
        val.extend(collate(images[n_train : n_train + n_val]))
        test.extend(collate(images[n_train + n_val :]))
    return train, val, test


def split_by_label_shuffled(
    items_by_label: "dict[int, list]", p_trn: float = 0.5, p_val: float = 0.2, source: str = ""
) -> tuple[list, list, list]:
    """Oxford Flowers' variant: groups already formed (first-appearance order); shuffle each, cut 50/20/30."""
    train, val, test = [], [], []
    for label, items in items_by_label.items():
        random.shuffle(items)
        n_total = len(items)
        n_train = round(n_total * p_trn)
        n_val = round(n_total * p_val)
        n_test = n_total - n_train - n_val
        if not (n_train > 0 and n_val > 0 and n_test > 0):
            raise UserError(f"{source}: label {label} has {n_total} images, too few to split into train/val/test")
        train.extend(items[:n_train])
        val.extend(items[n_train : n_train + n_val])
        test.extend(items[n_train + n_val :])
    return train, val, test


def split_trainval(trainval: list, p_val: float = 0.2) -> tuple[list, list]:
    """Moves round(20 %) of each label's items to val after one `random.shuffle` per label (CoOp's procedure)."""
    p_trn = 1 - p_val
    print(f"Splitting trainval into {p_trn:.0%} train and {p_val:.0%} val")
    tracker: dict[int, list[int]] = defaultdict(list)
    for index, item in enumerate(trainval):
        tracker[item.label].append(index)
    train, val = [], []
    for label, indices in tracker.items():
        n_val = round(len(indices) * p_val)
        if n_val <= 0:
            raise UserError(
                f"label {label} has {len(indices)} trainval images, too few to hold out a validation image"
            )
        random.shuffle(indices)
        for position, index in enumerate(indices):
            (val if position < n_val else train).append(trainval[index])
    return train, val


def check_subsample(subsample: str) -> str:
    if subsample not in SUBSAMPLE_CHOICES:
        raise UserError(
            f"DATASET.SUBSAMPLE_CLASSES is {subsample!r}; use 'all', 'base' (first half of the classes) or 'new'"
        )
    return subsample


def subsample_classes(*datasets: list, subsample: str = "all") -> tuple:
    """CoOp's base-to-new split: keep the first ceil(n/2) labels of `datasets[0]` ("base") or the rest ("new"),
    relabelled 0.. in label order, in every list of `datasets`. "all" returns them unchanged."""
    check_subsample(subsample)
    if subsample == "all":
        return datasets
    labels = sorted({item.label for item in datasets[0]})
    half = math.ceil(len(labels) / 2)
    print(f"SUBSAMPLE {subsample.upper()} CLASSES!")
    selected = labels[:half] if subsample == "base" else labels[half:]
    relabel = {label: new for new, label in enumerate(selected)}
    Datum = datum_class()
    output = []
    for dataset in datasets:
        output.append(
            [
                Datum(impath=item.impath, label=relabel[item.label], classname=item.classname)
                for item in dataset
                if item.label in relabel
            ]
        )
    return tuple(output)


def read_text_lines(filepath: str, what: str) -> list[str]:
    """The lines of an annotation text file, or a `UserError` saying which file is missing."""
    try:
        with open(filepath, "r") as handle:
            return handle.readlines()
    except FileNotFoundError:
        raise UserError(f"{what} {filepath} not found: extract the dataset's annotation files there") from None


def load_or_build_split(
    split_path: str,
    path_prefix: str,
    build: Callable[[], tuple[list, list, list]],
    fallback_dir: str | None = None,
) -> tuple[list, list, list]:
    """CoOp's "read the split JSON if present, else build it and save it" step.

    The JSON is saved next to the data, where CoOp reads it. When the data folder is read-only it is saved under
    `fallback_dir` instead (a cache folder), and read back from there by later runs, so every run after the first
    uses the same split, as with CoOp.
    """
    fallback = os.path.join(fallback_dir, os.path.basename(split_path)) if fallback_dir else None
    if os.path.exists(split_path):
        return read_split(split_path, path_prefix)
    if fallback and os.path.exists(fallback):
        return read_split(fallback, path_prefix)
    train, val, test = build()
    if _writable_dir(os.path.dirname(split_path)):
        save_split(train, val, test, split_path, path_prefix)
    elif fallback:
        try:
            save_split(train, val, test, fallback, path_prefix)
        except OSError as error:
            print(f"Note: could not save the split to {fallback} ({error}); it will be rebuilt next time")
    return train, val, test


def _writable_dir(directory: str) -> bool:
    return os.path.isdir(directory) and os.access(directory, os.W_OK)
