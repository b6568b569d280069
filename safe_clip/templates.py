"""Prompt templates: CoOp's per-dataset template, and the 7-template ensemble for the ImageNet family."""
from __future__ import annotations

# CoOp's trainers/zsclip.py CUSTOM_TEMPLATES, keyed by Dassl registry name.
DATASET_TEMPLATES: dict[str, str] = {
    "OxfordPets": "a photo of a {}, a type of pet.",
    "OxfordFlowers": "a photo of a {}, a type of flower.",
    "FGVCAircraft": "a photo of a {}, a type of aircraft.",
    "DescribableTextures": "{} texture.",
    "EuroSAT": "a centered satellite photo of {}.",
    "StanfordCars": "a photo of a {}.",
    "Food101": "a photo of {}, a type of food.",
    "SUN397": "a photo of a {}.",
    "Caltech101": "a photo of a {}.",
    "UCF101": "a photo of a person doing {}.",
    "ImageNet": "a photo of a {}.",
    "ImageNetSketch": "a photo of a {}.",
    "ImageNetV2": "a photo of a {}.",
    "ImageNetA": "a photo of a {}.",
    "ImageNetR": "a photo of a {}.",
}

# The 7 templates selected by CLIP's authors for ImageNet (CoOp's IMAGENET_TEMPLATES_SELECT).
IMAGENET_TEMPLATES_SELECT: tuple[str, ...] = (
    "itap of a {}.",
    "a bad photo of the {}.",
    "a origami {}.",
    "a photo of the large {}.",
    "a {} in a video game.",
    "art of the {}.",
    "a photo of the small {}.",
)

IMAGENET_FAMILY = frozenset({"ImageNet", "ImageNetSketch", "ImageNetV2", "ImageNetA", "ImageNetR"})

DEFAULT_TEMPLATE = "a photo of a {}."


def templates_for_dataset(dataset_name: str) -> tuple[str, ...]:
    """The templates whose text embeddings make the classifier for `dataset_name` (a fresh tuple each call)."""
    if dataset_name in IMAGENET_FAMILY:
        return IMAGENET_TEMPLATES_SELECT
    return (DATASET_TEMPLATES.get(dataset_name, DEFAULT_TEMPLATE),)


def prompt_classname(classname: str) -> str:
    """Class names enter prompts with underscores as spaces, as in CoOp."""
    return classname.replace("_", " ")
