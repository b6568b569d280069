"""ImageNet-Sketch (CoOp's `ImageNetSketch`), test only: `imagenet-sketch/images/<wnid>/`, `classnames.txt`."""
from safe_clip.dassl import DATASET_REGISTRY
from safe_clip.data.base import TestOnlyDataset


@DATASET_REGISTRY.register()
class ImageNetSketch(TestOnlyDataset):
    dataset_dir = "imagenet-sketch"
    image_subdir = "images"
