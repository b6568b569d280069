"""UCF101 middle frames (CoOp's `UCF101`): `ucf101/UCF-101-midframes/<Action_Words>/`, `split_zhou_UCF101.json`.

Without the JSON the split is built from `ucfTrainTestlist/classInd.txt`, `trainlist01.txt` and `testlist01.txt`
(20 % of train to val); class name = the CamelCase action split with `_` (`Apply_Eye_Makeup`).
"""
import os

from safe_clip.dassl import DATASET_REGISTRY
from safe_clip.data.base import CoOpDataset
from safe_clip.data.classnames import ucf101_classname
from safe_clip.data.splits import make_datum, read_text_lines, split_trainval
from safe_clip.errors import UserError


@DATASET_REGISTRY.register()
class UCF101(CoOpDataset):
    dataset_dir = "ucf101"
    image_subdir = "UCF-101-midframes"
    split_file = "split_zhou_UCF101.json"

    def build_split(self):
        class_file = os.path.join(self.dataset_dir, "ucfTrainTestlist", "classInd.txt")
        cname2lab = {}
        for line in read_text_lines(class_file, "class list"):
            label, classname = line.strip().split(" ")
            cname2lab[classname] = int(label) - 1
        trainval = self.read_data(cname2lab, os.path.join("ucfTrainTestlist", "trainlist01.txt"))
        test = self.read_data(cname2lab, os.path.join("ucfTrainTestlist", "testlist01.txt"))
        train, val = split_trainval(trainval)
        return train, val, test

    def read_data(self, cname2lab, text_file):
        filepath = os.path.join(self.dataset_dir, text_file)
        items = []
        for line in read_text_lines(filepath, "split list"):
            action, filename = line.strip().split(" ")[0].split("/")
            if action not in cname2lab:
                raise UserError(f"{filepath}: action {action!r} is not in classInd.txt")
            classname = ucf101_classname(action)
            impath = os.path.join(self.image_dir, classname, filename.replace(".avi", ".jpg"))
            items.append(make_datum(impath, cname2lab[action], classname, source=filepath))
        return items
