"""Describable Textures (CoOp's `DescribableTextures`): `dtd/images/<class>/`, `split_zhou_DescribableTextures.json`.

Without the JSON the split is built from the class folders (50/20/30); class name = folder name.
"""
from safe_clip.dassl import DATASET_REGISTRY
from safe_clip.data.base import CoOpDataset
from safe_clip.data.splits import read_and_split_data


@DATASET_REGISTRY.register()
class DescribableTextures(CoOpDataset):
    dataset_dir = "dtd"
    image_subdir = "images"
    split_file = "split_zhou_DescribableTextures.json"

    def build_split(self):
        return read_and_split_data(self.image_dir)
