"""ImageNet-V2 matched frequency (CoOp's `ImageNetV2`), test only:
`imagenetv2/imagenetv2-matched-frequency-format-val/<0..999>/`, `classnames.txt`.

Folder `i` holds label `i`, named after the i-th line of ImageNet's classnames.txt.
"""

from safe_clip.dassl import DATASET_REGISTRY
from safe_clip.data.base import TestOnlyDataset


@DATASET_REGISTRY.register()
class ImageNetV2(TestOnlyDataset):
    dataset_dir = "imagenetv2"
    image_subdir = "imagenetv2-matched-frequency-format-val"

    def class_folders(self, classnames):
        # CoOp walks labels 0..999; a smaller copy (tests) has folders 0..n-1 and a matching classnames.txt.
        names = list(classnames.values())
        return [(str(label), names[label]) for label in range(len(names))]
