"""FGVC-Aircraft (CoOp's `FGVCAircraft`): `fgvc_aircraft/images/`, fixed splits from the dataset's own lists.

Class names are the lines of `variants.txt` (label = line index); splits come from
`images_variant_{train,val,test}.txt` (`<image id> <variant words>` per line). No split JSON.
"""
import os

from safe_clip.dassl import DATASET_REGISTRY
from safe_clip.data.base import CoOpDataset
from safe_clip.data.splits import make_datum, read_text_lines
from safe_clip.errors import UserError


@DATASET_REGISTRY.register()
class FGVCAircraft(CoOpDataset):
    dataset_dir = "fgvc_aircraft"
    image_subdir = "images"

    def build_split(self):
        variants_file = os.path.join(self.dataset_dir, "variants.txt")
        classnames = [line.strip() for line in read_text_lines(variants_file, "class list")]
        cname2lab = {c: i for i, c in enumerate(classnames)}
        return tuple(
            self.read_data(cname2lab, f"images_variant_{part}.txt") for part in ("train", "val", "test")
        )

    def read_data(self, cname2lab, split_file):
        filepath = os.path.join(self.dataset_dir, split_file)
        items = []
        for line in read_text_lines(filepath, "split file"):
            words = line.strip().split(" ")
            classname = " ".join(words[1:])
            if classname not in cname2lab:
                raise UserError(f"{filepath}: variant {classname!r} of image {words[0]} is not in variants.txt")
            impath = os.path.join(self.image_dir, words[0] + ".jpg")
            items.append(make_datum(impath, cname2lab[classname], classname, source=filepath))
        return items
