"""ImageNet-A (CoOp's `ImageNetA`), test only: `imagenet-adversarial/imagenet-a/<wnid>/` (200 classes),
`classnames.txt`; the archive's README.txt is skipped."""
from safe_clip.dassl import DATASET_REGISTRY
from safe_clip.data.base import TestOnlyDataset
from safe_clip.data.classnames import IMAGENET_VARIANT_IGNORED


@DATASET_REGISTRY.register()
class ImageNetA(TestOnlyDataset):
    dataset_dir = "imagenet-adversarial"
    image_subdir = "imagenet-a"
    ignored = IMAGENET_VARIANT_IGNORED
