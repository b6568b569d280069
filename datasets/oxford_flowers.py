"""Oxford Flowers 102 (CoOp's `OxfordFlowers`): `oxford_flowers/jpg/`, `split_zhou_OxfordFlowers.json`.

Without the JSON the split is built from `imagelabels.mat` and `cat_to_name.json` (50/20/30 per label).
"""
import os

from safe_clip.dassl import DATASET_REGISTRY
from safe_clip.data.base import CoOpDataset
from safe_clip.data.splits import make_datum, split_by_label_shuffled
from safe_clip.errors import UserError


@DATASET_REGISTRY.register()
class OxfordFlowers(CoOpDataset):
    dataset_dir = "oxford_flowers"
    image_subdir = "jpg"
    split_file = "split_zhou_OxfordFlowers.json"

    def build_split(self):
        import json

        from scipy.io import loadmat

        label_file = os.path.join(self.dataset_dir, "imagelabels.mat")
        names_file = os.path.join(self.dataset_dir, "cat_to_name.json")
        for path in (label_file, names_file):
            if not os.path.isfile(path):
                raise UserError(f"{path} not found (needed to build {self.split_path}): download it or the split")
        with open(names_file) as handle:
            lab2cname = json.load(handle)
        groups = {}
        for index, label in enumerate(loadmat(label_file)["labels"][0]):
            impath = os.path.join(self.image_dir, f"image_{str(index + 1).zfill(5)}.jpg")
            groups.setdefault(int(label), []).append(impath)
        print("Splitting data into 50% train, 20% val, and 30% test")
        train, val, test = split_by_label_shuffled(groups, source=label_file)

        def collate(paths):
            out = []
            for path in paths:
                label = int(path_labels[path])
                out.append(make_datum(path, label - 1, lab2cname[str(label)], source=label_file))
            return out

        path_labels = {path: label for label, paths in groups.items() for path in paths}
        return collate(train), collate(val), collate(test)
