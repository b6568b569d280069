"""CoOp-layout dataset classes. Importing this package registers all 15 in Dassl's DATASET_REGISTRY
(the real one when Dassl is installed, else the built-in one), under CoOp's names."""
from . import (  # noqa: F401  (imported for their registration)
    caltech101,
    dtd,
    eurosat,
    fgvc_aircraft,
    food101,
    imagenet,
    imagenet_a,
    imagenet_r,
    imagenet_sketch,
    imagenetv2,
    oxford_flowers,
    oxford_pets,
    stanford_cars,
    sun397,
    ucf101,
)

DATASET_NAMES = (
    "OxfordPets",
    "OxfordFlowers",
    "FGVCAircraft",
    "DescribableTextures",
    "EuroSAT",
    "StanfordCars",
    "Food101",
    "SUN397",
    "Caltech101",
    "UCF101",
    "ImageNet",
    "ImageNetV2",
    "ImageNetSketch",
    "ImageNetA",
    "ImageNetR",
)
