"""ImageNet-R (CoOp's `ImageNetR`), test only: `imagenet-rendition/imagenet-r/<wnid>/` (200 classes),
`classnames.txt`; the archive's README.txt is skipped."""
from safe_clip.dassl import DATASET_REGISTRY
from safe_clip.data.base import TestOnlyDataset
from safe_clip.data.classnames import IMAGENET_VARIANT_IGNORED


@DATASET_REGISTRY.register()
class ImageNetR(TestOnlyDataset):
    dataset_dir = "imagenet-rendition"
    image_subdir = "imagenet-r"
    ignored = IMAGENET_VARIANT_IGNORED
