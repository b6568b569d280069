"""ImageNet (CoOp's `ImageNet`): `imagenet/images/{train,val}/<wnid>/`, `classnames.txt`.

The val folder is the test set and also the val set (no val sampling); labels follow the sorted wnid folders.
CoOp caches the folder scan in `preprocessed.pkl`; it is read when present (and its paths lie under this
DATASET.ROOT) but never written, so that CoOp's file format stays CoOp's.
"""
import os

from safe_clip.dassl import DATASET_REGISTRY
from safe_clip.data.base import CoOpDataset
from safe_clip.data.classnames import read_classnames
from safe_clip.data.fewshot import datums_from_values, read_coop_pickle
from safe_clip.data.splits import listdir_nohidden, make_datum
from safe_clip.errors import UserError


@DATASET_REGISTRY.register()
class ImageNet(CoOpDataset):
    dataset_dir = "imagenet"
    image_subdir = "images"
    sample_val = False

    def read_splits(self):
        self.preprocessed = os.path.join(self.dataset_dir, "preprocessed.pkl")
        if os.path.exists(self.preprocessed):
            values = read_coop_pickle(self.preprocessed, ("train", "test"), self.dataset_dir, check_all=False)
            if values is not None:
                train, test = datums_from_values(values["train"]), datums_from_values(values["test"])
                return train, test, test
        classnames = read_classnames(os.path.join(self.dataset_dir, "classnames.txt"))
        train = self.read_data(classnames, "train")
        test = self.read_data(classnames, "val")
        return train, test, test

    def read_data(self, classnames, split_dir):
        split_dir = os.path.join(self.image_dir, split_dir)
        if not os.path.isdir(split_dir):
            raise UserError(
                f"ImageNet folder {split_dir} not found: extract the ILSVRC2012 train and val images into "
                f"{self.image_dir}/train and {self.image_dir}/val, one folder per wnid"
            )
        folders = sorted(entry.name for entry in os.scandir(split_dir) if entry.is_dir())
        items = []
        for label, folder in enumerate(folders):
            if folder not in classnames:
                raise UserError(
                    f"{split_dir} has class folder {folder!r}, which is not in "
                    f"{os.path.join(self.dataset_dir, 'classnames.txt')}: use CoOp's classnames.txt"
                )
            class_dir = os.path.join(split_dir, folder)
            for name in listdir_nohidden(class_dir):
                items.append(make_datum(os.path.join(class_dir, name), label, classnames[folder]))
        return items
