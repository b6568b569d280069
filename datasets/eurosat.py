"""EuroSAT (CoOp's `EuroSAT`): `eurosat/2750/<Folder>/`, `split_zhou_EuroSAT.json`.

Without the JSON the split is built from the class folders (50/20/30); class names follow CoOp's NEW_CNAMES
("AnnualCrop" -> "Annual Crop Land", ...).
"""
from safe_clip.dassl import DATASET_REGISTRY
from safe_clip.data.base import CoOpDataset
from safe_clip.data.classnames import EUROSAT_NEW_CNAMES
from safe_clip.data.splits import read_and_split_data


@DATASET_REGISTRY.register()
class EuroSAT(CoOpDataset):
    dataset_dir = "eurosat"
    image_subdir = "2750"
    split_file = "split_zhou_EuroSAT.json"

    def build_split(self):
        return read_and_split_data(self.image_dir, new_cnames=EUROSAT_NEW_CNAMES)
