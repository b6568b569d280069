"""Datasets in CoOp's layouts: splits, few-shot picks identical to Dassl + CoOp, caches, and downloads.

Plain helpers (no Dassl import at load time):

- splits: `read_split`, `save_split`, `read_and_split_data`, `split_trainval`, `subsample_classes`,
  `load_or_build_split`, `make_datum`, `listdir_nohidden`
- few-shot: `sample_few_shot` (Dassl's algorithm), `few_shot_splits` (with CoOp's pickle and this project's
  cache), `read_coop_pickle`, `cache_root`
- class-name rules: `EUROSAT_NEW_CNAMES`, `CALTECH101_IGNORED`, `CALTECH101_NEW_CNAMES`, `pets_breed`,
  `cars_classname`, `sun397_classname`, `ucf101_classname`, `read_classnames`
- images: `read_image` (names the file when it cannot be read), `check_images`
- downloads: `CATALOGUE`, `find_entry`, `download_datasets`, `download_dataset`, `ensure_dataset` (the train.py hook)

Dataset base classes (import the Dassl seam, so loaded on first use): `CoOpDataset`, `TestOnlyDataset`.
"""
from safe_clip.data.catalogue import CATALOGUE, Entry, Resource, find_entry
from safe_clip.data.classnames import (
    CALTECH101_IGNORED,
    CALTECH101_NEW_CNAMES,
    EUROSAT_NEW_CNAMES,
    cars_classname,
    pets_breed,
    read_classnames,
    sun397_classname,
    ucf101_classname,
)
from safe_clip.data.download import download_dataset, download_datasets, ensure_dataset, is_installed
from safe_clip.data.fewshot import cache_root, few_shot_splits, read_coop_pickle, sample_few_shot
from safe_clip.data.images import check_images, read_image
from safe_clip.data.splits import (
    listdir_nohidden,
    load_or_build_split,
    make_datum,
    read_and_split_data,
    read_split,
    save_split,
    split_trainval,
    subsample_classes,
)

_LAZY = {"CoOpDataset", "TestOnlyDataset"}


def __getattr__(name: str):
    if name in _LAZY:
        from safe_clip.data import base

        return getattr(base, name)
    raise AttributeError(f"module 'safe_clip.data' has no attribute {name!r}")


__all__ = [
    "CATALOGUE",
    "Entry",
    "Resource",
    "find_entry",
    "download_datasets",
    "download_dataset",
    "ensure_dataset",
    "is_installed",
    "read_split",
    "save_split",
    "read_and_split_data",
    "split_trainval",
    "subsample_classes",
    "load_or_build_split",
    "make_datum",
    "listdir_nohidden",
    "sample_few_shot",
    "few_shot_splits",
    "read_coop_pickle",
    "cache_root",
    "read_image",
    "check_images",
    "EUROSAT_NEW_CNAMES",
    "CALTECH101_IGNORED",
    "CALTECH101_NEW_CNAMES",
    "pets_breed",
    "cars_classname",
    "sun397_classname",
    "ucf101_classname",
    "read_classnames",
    "CoOpDataset",
    "TestOnlyDataset",
]
