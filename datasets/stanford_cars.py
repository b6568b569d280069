"""Stanford Cars (CoOp's `StanfordCars`): `stanford_cars/cars_train/`, `cars_test/`, `split_zhou_StanfordCars.json`.

Split paths are relative to the dataset folder itself. Without the JSON the split is built from
`devkit/cars_train_annos.mat`, `cars_test_annos_withlabels.mat` and `devkit/cars_meta.mat` (20 % of train to
val); class name = the meta name with the year moved to the front.
"""
import os

from safe_clip.dassl import DATASET_REGISTRY
from safe_clip.data.base import CoOpDataset
from safe_clip.data.classnames import cars_classname
from safe_clip.data.splits import make_datum, split_trainval
from safe_clip.errors import UserError


@DATASET_REGISTRY.register()
class StanfordCars(CoOpDataset):
    dataset_dir = "stanford_cars"
    split_file = "split_zhou_StanfordCars.json"

    def build_split(self):
        trainval_file = os.path.join(self.dataset_dir, "devkit", "cars_train_annos.mat")
        test_file = os.path.join(self.dataset_dir, "cars_test_annos_withlabels.mat")
        meta_file = os.path.join(self.dataset_dir, "devkit", "cars_meta.mat")
        for path in (trainval_file, test_file, meta_file):
            if not os.path.isfile(path):
                raise UserError(f"{path} not found (needed to build {self.split_path}): download it or the split")
        trainval = self.read_data("cars_train", trainval_file, meta_file)
        test = self.read_data("cars_test", test_file, meta_file)
        train, val = split_trainval(trainval)
        return train, val, test

    def read_data(self, image_dir, anno_file, meta_file):
        from scipy.io import loadmat

        annotations = loadmat(anno_file)["annotations"][0]
        class_names = loadmat(meta_file)["class_names"][0]
        items = []
        for annotation in annotations:
            impath = os.path.join(self.dataset_dir, image_dir, annotation["fname"][0])
            label = int(annotation["class"][0, 0]) - 1
            items.append(make_datum(impath, label, cars_classname(class_names[label][0]), source=anno_file))
        return items
