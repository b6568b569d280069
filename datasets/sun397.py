"""SUN397 (CoOp's `SUN397`): `sun397/SUN397/<letter>/<class>[/<sub>]/`, `split_zhou_SUN397.json`.

Without the JSON the split is built from `ClassName.txt`, `Training_01.txt` and `Testing_01.txt` (20 % of
training to val); class name = the class path without its letter folder, reversed: `outdoor apartment_building`.
"""
import os

from safe_clip.dassl import DATASET_REGISTRY
from safe_clip.data.base import CoOpDataset
from safe_clip.data.classnames import sun397_classname
from safe_clip.data.splits import make_datum, read_text_lines, split_trainval
from safe_clip.errors import UserError


@DATASET_REGISTRY.register()
class SUN397(CoOpDataset):
    dataset_dir = "sun397"
    image_subdir = "SUN397"
    split_file = "split_zhou_SUN397.json"

    def build_split(self):
        class_file = os.path.join(self.dataset_dir, "ClassName.txt")
        classnames = [line.strip()[1:] for line in read_text_lines(class_file, "class list")]
        cname2lab = {c: i for i, c in enumerate(classnames)}
        trainval = self.read_data(cname2lab, "Training_01.txt")
        test = self.read_data(cname2lab, "Testing_01.txt")
        train, val = split_trainval(trainval)
        return train, val, test

    def read_data(self, cname2lab, text_file):
        filepath = os.path.join(self.dataset_dir, text_file)
        items = []
        for line in read_text_lines(filepath, "partition file"):
            imname = line.strip()[1:]
            class_path = os.path.dirname(imname)
            if class_path not in cname2lab:
                raise UserError(f"{filepath}: class {class_path!r} of {imname} is not in ClassName.txt")
            impath = os.path.join(self.image_dir, imname)
            items.append(make_datum(impath, cname2lab[class_path], sun397_classname(class_path), source=filepath))
        return items
