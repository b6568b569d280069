"""CoOp's class-name rules, one function or table per dataset (contract §7.2).

These are plain string functions, so they are shared by the dataset classes (which apply them when a split has
to be built from the raw annotation files) and by the tests.
"""
from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path

from safe_clip.errors import UserError

# EuroSAT: folder name -> CoOp's descriptive class name.
EUROSAT_NEW_CNAMES = {
    "AnnualCrop": "Annual Crop Land",
    "Forest": "Forest",
    "HerbaceousVegetation": "Herbaceous Vegetation Land",
    "Highway": "Highway or Road",
    "Industrial": "Industrial Buildings",
    "Pasture": "Pasture Land",
    "PermanentCrop": "Permanent Crop Land",
    "Residential": "Residential Buildings",
    "River": "River",
    "SeaLake": "Sea or Lake",
}

# Caltech101: folders CoOp leaves out, and folder names it renames.
CALTECH101_IGNORED = ("BACKGROUND_Google", "Faces_easy")
CALTECH101_NEW_CNAMES = {
    "airplanes": "airplane",
    "Faces": "face",
    "Leopards": "leopard",
    "Motorbikes": "motorbike",
}

# ImageNet-A and ImageNet-R ship a README next to the class folders.
IMAGENET_VARIANT_IGNORED = ("README.txt",)


def pets_breed(image_name: str) -> str:
    """OxfordPets: `Abyssinian_12` -> `abyssinian`, `american_bulldog_3` -> `american_bulldog`."""
    return "_".join(image_name.split("_")[:-1]).lower()


def cars_classname(meta_name: str) -> str:
    """StanfordCars: the model year moves to the front: `Tesla Model S Sedan 2012` -> `2012 Tesla Model S Sedan`."""
    words = meta_name.split(" ")
    year = words.pop(-1)
    return " ".join([year] + words)


def sun397_classname(class_path: str) -> str:
    """SUN397: `a/apartment_building/outdoor` -> `outdoor apartment_building` (letter folder dropped, reversed)."""
    return " ".join(class_path.split("/")[1:][::-1])


def ucf101_classname(action: str) -> str:
    """UCF101: CamelCase action split into words joined by `_`: `ApplyEyeMakeup` -> `Apply_Eye_Makeup`."""
    return "_".join(re.findall("[A-Z][^A-Z]*", action))


def read_classnames(text_file: str | Path) -> "OrderedDict[str, str]":
    """ImageNet's `classnames.txt`: `<folder> <class name words>` per line -> {folder: class name}, in file order."""
    text_file = Path(text_file)
    if not text_file.is_file():
        raise UserError(
            f"class-name file {text_file} not found: download CoOp's classnames.txt "
            f"(python -m safe_clip.data download imagenet --root ROOT prints the steps) and put it there"
        )
    classnames: "OrderedDict[str, str]" = OrderedDict()
    with open(text_file, "r") as handle:
        for line in handle:
            words = line.strip().split(" ")
            if not words[0]:
                continue
            classnames[words[0]] = " ".join(words[1:])
    return classnames
