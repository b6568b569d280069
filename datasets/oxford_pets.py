"""Oxford-IIIT Pets (CoOp's `OxfordPets`): `oxford_pets/images/`, `split_zhou_OxfordPets.json`.

Without the JSON the split is built from `annotations/trainval.txt` and `test.txt` (20 % of trainval to val);
class name = image name without its trailing `_N`, lowercased.
"""
import os

from safe_clip.dassl import DATASET_REGISTRY
from safe_clip.data.base import CoOpDataset
from safe_clip.data.classnames import pets_breed
from safe_clip.data.splits import make_datum, read_text_lines, split_trainval


@DATASET_REGISTRY.register()
class OxfordPets(CoOpDataset):
    dataset_dir = "oxford_pets"
    image_subdir = "images"
    split_file = "split_zhou_OxfordPets.json"

    def build_split(self):
        trainval = self.read_data("trainval.txt")
        test = self.read_data("test.txt")
        train, val = split_trainval(trainval)
        return train, val, test

    def read_data(self, split_file):
        filepath = os.path.join(self.dataset_dir, "annotations", split_file)
        items = []
        for line in read_text_lines(filepath, "annotation file"):
            imname, label, _species, _breed_id = line.strip().split(" ")
            impath = os.path.join(self.image_dir, imname + ".jpg")
            items.append(make_datum(impath, int(label) - 1, pets_breed(imname), source=filepath))
        return items
