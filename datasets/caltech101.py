"""Caltech101 (CoOp's `Caltech101`): `caltech-101/101_ObjectCategories/<class>/`, `split_zhou_Caltech101.json`.

Without the JSON the split is built from the class folders (50/20/30), leaving out `BACKGROUND_Google` and
`Faces_easy` and renaming airplanes/Faces/Leopards/Motorbikes as CoOp does.
"""
from safe_clip.dassl import DATASET_REGISTRY
from safe_clip.data.base import CoOpDataset
from safe_clip.data.classnames import CALTECH101_IGNORED, CALTECH101_NEW_CNAMES
from safe_clip.data.splits import read_and_split_data


@DATASET_REGISTRY.register()
class Caltech101(CoOpDataset):
    dataset_dir = "caltech-101"
    image_subdir = "101_ObjectCategories"
    split_file = "split_zhou_Caltech101.json"

    def build_split(self):
        return read_and_split_data(self.image_dir, ignored=CALTECH101_IGNORED, new_cnames=CALTECH101_NEW_CNAMES)
