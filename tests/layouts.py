"""Small synthetic copies of the 15 CoOp dataset layouts, for tests.

Each `write_<name>(root, ...)` writes the folder CoOp expects under `root` (the `DATASET.ROOT`) and returns the
dataset folder. Images are small JPEGs whose colour and stripe pattern depend on the class (plus per-image noise),
so a model can tell the classes apart. Where CoOp ships a split JSON (`split_zhou_*.json`) it is written in CoOp's
format unless `with_split=False`; the raw annotation files that CoOp falls back on when the JSON is missing are
written too, so both paths can be tested.

`n_per_class` images are made per class and divided 50 % train / 20 % val / 30 % test (rounded as CoOp's
`read_and_split_data` does); for datasets whose official split is "trainval + test" the train and val parts
together form trainval.

`LAYOUT_WRITERS` maps each registry name to its writer.
"""
from __future__ import annotations

import colorsys
import json
import re
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

IMAGE_SIZE = 72

# --------------------------------------------------------------------------------------------------------------
# Shared helpers


def class_image(class_index: int, n_classes: int, item_index: int, size: int = IMAGE_SIZE) -> Image.Image:
    """An RGB image whose hue and stripe pattern encode `class_index`; `item_index` varies the noise and phase."""
    hue = (class_index / max(n_classes, 1)) % 1.0
    base = np.array(colorsys.hsv_to_rgb(hue, 0.85, 0.9)) * 255.0
    second = np.array(colorsys.hsv_to_rgb((hue + 0.5) % 1.0, 0.6, 0.35)) * 255.0
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    angle = np.pi * (class_index % 4) / 4.0
    period = 6.0 + 3.0 * ((class_index // 4) % 4)
    phase = (item_index * 1.7) % period
    coordinate = xx * np.cos(angle) + yy * np.sin(angle) + phase
    stripes = ((coordinate // (period / 2)) % 2)[..., None]
    pixels = base * (1 - stripes) + second * stripes
    rng = np.random.default_rng(zlib.crc32(f"{class_index}/{item_index}".encode()))
    pixels = pixels + rng.normal(0.0, 12.0, size=pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="RGB")


def save_image(path: Path, class_index: int, n_classes: int, item_index: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    class_image(class_index, n_classes, item_index).save(path, format="JPEG", quality=90)
    return path


def split_counts(n: int) -> tuple[int, int, int]:
    """(train, val, test) counts for `n` images of one class: 50 % / 20 % / rest, each at least 1."""
    if n < 3:
        raise ValueError(f"need at least 3 images per class, got {n}")
    n_train = max(1, round(n * 0.5))
    n_val = max(1, round(n * 0.2))
    n_test = n - n_train - n_val
    if n_test < 1:
        n_train -= 1
        n_test = 1
    return n_train, n_val, n_test


def write_split(path: Path, train: list, val: list, test: list) -> Path:
    """Writes a CoOp split JSON: {"train"|"val"|"test": [[relative path, label, classname], ...]}."""
    path.parent.mkdir(parents=True, exist_ok=True)
    split = {
        "train": [[p, int(y), c] for p, y, c in train],
        "val": [[p, int(y), c] for p, y, c in val],
        "test": [[p, int(y), c] for p, y, c in test],
    }
    with open(path, "w") as handle:
        json.dump(split, handle, indent=4, separators=(",", ": "))
    return path


def _folder_dataset(
    image_dir: Path,
    folders: list[str],
    classnames: list[str],
    n_per_class: int,
    file_name: Callable[[str, int], str],
) -> tuple[list, list, list]:
    """Writes `image_dir/<folder>/<file>` images; returns (train, val, test) entries relative to image_dir."""
    train, val, test = [], [], []
    for label, (folder, classname) in enumerate(zip(folders, classnames)):
        n_train, n_val, _ = split_counts(n_per_class)
        for i in range(n_per_class):
            rel = f"{folder}/{file_name(folder, i + 1)}"
            save_image(image_dir / rel, label, len(folders), i)
            entry = (rel, label, classname)
            if i < n_train:
                train.append(entry)
            elif i < n_train + n_val:
                val.append(entry)
            else:
                test.append(entry)
    return train, val, test


# --------------------------------------------------------------------------------------------------------------
# EuroSAT: eurosat/2750/<Folder>/<Folder>_<i>.jpg, split_zhou_EuroSAT.json

EUROSAT_CNAMES = {
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


def write_eurosat(root: Path, n_per_class: int = 10, n_classes: int = 10, with_split: bool = True) -> Path:
    """EuroSAT with the first `n_classes` of the 10 (sorted) classes; returns `root/eurosat`."""
    dataset_dir = Path(root) / "eurosat"
    folders = sorted(EUROSAT_CNAMES)[:n_classes]
    train, val, test = _folder_dataset(
        dataset_dir / "2750",
        folders,
        [EUROSAT_CNAMES[f] for f in folders],
        n_per_class,
        lambda folder, i: f"{folder}_{i}.jpg",
    )
    if with_split:
        write_split(dataset_dir / "split_zhou_EuroSAT.json", train, val, test)
    return dataset_dir



# --------------------------------------------------------------------------------------------------------------
# OxfordPets: oxford_pets/images/<Breed>_<i>.jpg, annotations/{trainval,test}.txt, split_zhou_OxfordPets.json

PETS_BREEDS = (
    "Abyssinian", "american_bulldog", "american_pit_bull_terrier", "basset_hound", "beagle", "Bengal",
    "Birman", "Bombay", "boxer", "British_Shorthair",
)
PETS_CATS = {"Abyssinian", "Bengal", "Birman", "Bombay", "British_Shorthair"}


def write_oxfordpets(root: Path, n_per_class: int = 10, n_classes: int = 5, with_split: bool = True) -> Path:
    dataset_dir = Path(root) / "oxford_pets"
    breeds = PETS_BREEDS[:n_classes]
    train, val, test = _folder_dataset(
        dataset_dir / "images", breeds, [b.lower() for b in breeds], n_per_class, lambda b, i: f"{i}.jpg"
    )
    # Pets keeps every image in one folder: <Breed>_<i>.jpg.
    for entries in (train, val, test):
        for index, (rel, label, cname) in enumerate(entries):
            folder, name = rel.split("/")
            flat = f"{folder}_{name}"
            (dataset_dir / "images" / rel).rename(dataset_dir / "images" / flat)
            entries[index] = (flat, label, cname)
    for folder in breeds:
        (dataset_dir / "images" / folder).rmdir()
    annotations = dataset_dir / "annotations"
    annotations.mkdir(parents=True, exist_ok=True)

    def line(rel: str, label: int) -> str:
        species = 1 if breeds[label] in PETS_CATS else 2
        return f"{rel[:-4]} {label + 1} {species} {label + 1}\n"

    (annotations / "trainval.txt").write_text("".join(line(r, y) for r, y, _ in train + val))
    (annotations / "test.txt").write_text("".join(line(r, y) for r, y, _ in test))
    if with_split:
        write_split(dataset_dir / "split_zhou_OxfordPets.json", train, val, test)
    return dataset_dir


# --------------------------------------------------------------------------------------------------------------
# OxfordFlowers: oxford_flowers/jpg/image_00001.jpg, imagelabels.mat, cat_to_name.json, split_zhou_OxfordFlowers.json

FLOWER_NAMES = (
    "pink primrose", "hard-leaved pocket orchid", "canterbury bells", "sweet pea", "english marigold",
    "tiger lily", "moon orchid", "bird of paradise", "monkshood", "globe thistle",
)


def write_oxfordflowers(root: Path, n_per_class: int = 10, n_classes: int = 5, with_split: bool = True) -> Path:
    from scipy.io import savemat

    dataset_dir = Path(root) / "oxford_flowers"
    image_dir = dataset_dir / "jpg"
    n_train, n_val, _ = split_counts(n_per_class)
    labels, train, val, test = [], [], [], []
    # Images are numbered across classes, interleaved as in the real dataset.
    for i in range(n_per_class):
        for label in range(n_classes):
            number = len(labels) + 1
            rel = f"image_{number:05d}.jpg"
            save_image(image_dir / rel, label, n_classes, i)
            labels.append(label + 1)
            entry = (rel, label, FLOWER_NAMES[label])
            (train if i < n_train else val if i < n_train + n_val else test).append(entry)
    savemat(str(dataset_dir / "imagelabels.mat"), {"labels": np.array([labels], dtype=np.uint8)})
    (dataset_dir / "cat_to_name.json").write_text(
        json.dumps({str(label + 1): FLOWER_NAMES[label] for label in range(n_classes)}, indent=4)
    )
    if with_split:
        train.sort(key=lambda e: e[1])
        val.sort(key=lambda e: e[1])
        test.sort(key=lambda e: e[1])
        write_split(dataset_dir / "split_zhou_OxfordFlowers.json", train, val, test)
    return dataset_dir


# --------------------------------------------------------------------------------------------------------------
# FGVCAircraft: fgvc_aircraft/images/<id>.jpg, variants.txt, images_variant_{train,val,test}.txt (no JSON)

AIRCRAFT_VARIANTS = ("707-320", "727-200", "A300B4", "BAE 146-200", "Cessna 172", "DHC-8-100", "F-16A/B", "Tu-154")


def write_fgvcaircraft(root: Path, n_per_class: int = 10, n_classes: int = 5, with_split: bool = True) -> Path:
    """`with_split` is accepted for symmetry; FGVC-Aircraft always has its fixed split lists."""
    dataset_dir = Path(root) / "fgvc_aircraft"
    variants = AIRCRAFT_VARIANTS[:n_classes]
    (dataset_dir / "images").mkdir(parents=True, exist_ok=True)
    (dataset_dir / "variants.txt").write_text("".join(v + "\n" for v in variants))
    n_train, n_val, _ = split_counts(n_per_class)
    lines = {"train": [], "val": [], "test": []}
    number = 1000000
    for i in range(n_per_class):
        for label, variant in enumerate(variants):
            number += 7
            save_image(dataset_dir / "images" / f"{number:07d}.jpg", label, n_classes, i)
            part = "train" if i < n_train else "val" if i < n_train + n_val else "test"
            lines[part].append(f"{number:07d} {variant}\n")
    for part, rows in lines.items():
        (dataset_dir / f"images_variant_{part}.txt").write_text("".join(rows))
    return dataset_dir


# --------------------------------------------------------------------------------------------------------------
# DescribableTextures: dtd/images/<class>/<class>_<i>.jpg, split_zhou_DescribableTextures.json

DTD_CLASSES = ("banded", "blotchy", "braided", "bubbly", "bumpy", "chequered", "cobwebbed", "cracked")


def write_describabletextures(
    root: Path, n_per_class: int = 10, n_classes: int = 5, with_split: bool = True
) -> Path:
    dataset_dir = Path(root) / "dtd"
    folders = list(DTD_CLASSES[:n_classes])
    train, val, test = _folder_dataset(
        dataset_dir / "images", folders, folders, n_per_class, lambda f, i: f"{f}_{i:04d}.jpg"
    )
    if with_split:
        write_split(dataset_dir / "split_zhou_DescribableTextures.json", train, val, test)
    return dataset_dir


# --------------------------------------------------------------------------------------------------------------
# StanfordCars: stanford_cars/cars_{train,test}/<n>.jpg, devkit/*.mat, cars_test_annos_withlabels.mat, JSON

CAR_NAMES = (
    "AM General Hummer SUV 2000", "Acura RL Sedan 2012", "Acura TL Sedan 2012",
    "Aston Martin V8 Vantage Convertible 2012",
    "Audi R8 Coupe 2012", "BMW M3 Coupe 2012", "Tesla Model S Sedan 2012", "smart fortwo Convertible 2012",
)


def _cars_annotations(rows: list[tuple[str, int]]) -> np.ndarray:
    records = np.zeros((1, len(rows)), dtype=[("bbox_x1", "O"), ("class", "O"), ("fname", "O")])
    for index, (fname, label) in enumerate(rows):
        records[0, index] = (
            np.array([[1]], dtype=np.uint8), np.array([[label + 1]], dtype=np.uint8), np.array([fname])
        )
    return records


def write_stanfordcars(root: Path, n_per_class: int = 10, n_classes: int = 5, with_split: bool = True) -> Path:
    from scipy.io import savemat

    dataset_dir = Path(root) / "stanford_cars"
    names = CAR_NAMES[:n_classes]
    cnames = [" ".join([n.split(" ")[-1]] + n.split(" ")[:-1]) for n in names]
    n_train, n_val, _ = split_counts(n_per_class)
    train, val, test = [], [], []
    train_rows, test_rows = [], []
    for i in range(n_per_class):
        for label in range(n_classes):
            if i < n_train + n_val:
                fname = f"{len(train_rows) + 1:05d}.jpg"
                train_rows.append((fname, label))
                rel = f"cars_train/{fname}"
                (train if i < n_train else val).append((rel, label, cnames[label]))
            else:
                fname = f"{len(test_rows) + 1:05d}.jpg"
                test_rows.append((fname, label))
                rel = f"cars_test/{fname}"
                test.append((rel, label, cnames[label]))
            save_image(dataset_dir / rel, label, n_classes, i)
    (dataset_dir / "devkit").mkdir(parents=True, exist_ok=True)
    class_names = np.empty((1, n_classes), dtype=object)
    for label, name in enumerate(names):
        class_names[0, label] = np.array([name])
    savemat(str(dataset_dir / "devkit" / "cars_meta.mat"), {"class_names": class_names})
    savemat(str(dataset_dir / "devkit" / "cars_train_annos.mat"), {"annotations": _cars_annotations(train_rows)})
    savemat(str(dataset_dir / "cars_test_annos_withlabels.mat"), {"annotations": _cars_annotations(test_rows)})
    if with_split:
        write_split(dataset_dir / "split_zhou_StanfordCars.json", train, val, test)
    return dataset_dir


# --------------------------------------------------------------------------------------------------------------
# Food101: food-101/images/<class>/<id>.jpg, split_zhou_Food101.json

FOOD_CLASSES = ("apple_pie", "baby_back_ribs", "baklava", "beef_carpaccio", "beef_tartare", "beet_salad")


def write_food101(root: Path, n_per_class: int = 10, n_classes: int = 5, with_split: bool = True) -> Path:
    dataset_dir = Path(root) / "food-101"
    folders = list(FOOD_CLASSES[:n_classes])
    train, val, test = _folder_dataset(
        dataset_dir / "images", folders, folders, n_per_class, lambda f, i: f"{100000 + 37 * i + len(f)}.jpg"
    )
    (dataset_dir / "meta").mkdir(parents=True, exist_ok=True)
    (dataset_dir / "meta" / "classes.txt").write_text("".join(f + "\n" for f in folders))
    if with_split:
        write_split(dataset_dir / "split_zhou_Food101.json", train, val, test)
    return dataset_dir


# --------------------------------------------------------------------------------------------------------------
# SUN397: sun397/SUN397/<l>/<class>[/<sub>]/sun_<id>.jpg, ClassName.txt, Training_01.txt, Testing_01.txt, JSON

SUN_CLASSES = ("a/abbey", "a/airplane_cabin", "a/apartment_building/outdoor", "b/badlands", "b/bakery/shop", "c/canyon")


def write_sun397(root: Path, n_per_class: int = 10, n_classes: int = 5, with_split: bool = True) -> Path:
    dataset_dir = Path(root) / "sun397"
    classes = list(SUN_CLASSES[:n_classes])
    cnames = [" ".join(c.split("/")[1:][::-1]) for c in classes]
    train, val, test = _folder_dataset(
        dataset_dir / "SUN397", classes, cnames, n_per_class,
        lambda c, i: f"sun_{zlib.crc32(c.encode()) % 1000:03d}{i:04d}.jpg",
    )
    (dataset_dir / "ClassName.txt").write_text("".join(f"/{c}\n" for c in classes))
    (dataset_dir / "Training_01.txt").write_text("".join(f"/{r}\n" for r, _, _ in train + val))
    (dataset_dir / "Testing_01.txt").write_text("".join(f"/{r}\n" for r, _, _ in test))
    if with_split:
        write_split(dataset_dir / "split_zhou_SUN397.json", train, val, test)
    return dataset_dir


# --------------------------------------------------------------------------------------------------------------
# Caltech101: caltech-101/101_ObjectCategories/<class>/image_<i>.jpg (+ BACKGROUND_Google, Faces_easy), JSON

CALTECH_FOLDERS = ("Faces", "Leopards", "Motorbikes", "accordion", "airplanes", "anchor", "ant", "barrel")
CALTECH_RENAMED = {"airplanes": "airplane", "Faces": "face", "Leopards": "leopard", "Motorbikes": "motorbike"}


def write_caltech101(root: Path, n_per_class: int = 10, n_classes: int = 5, with_split: bool = True) -> Path:
    dataset_dir = Path(root) / "caltech-101"
    image_dir = dataset_dir / "101_ObjectCategories"
    folders = sorted(CALTECH_FOLDERS[:n_classes])
    train, val, test = _folder_dataset(
        image_dir, folders, [CALTECH_RENAMED.get(f, f) for f in folders], n_per_class, lambda f, i: f"image_{i:04d}.jpg"
    )
    for ignored in ("BACKGROUND_Google", "Faces_easy"):
        for i in range(3):
            save_image(image_dir / ignored / f"image_{i + 1:04d}.jpg", n_classes, n_classes + 1, i)
    if with_split:
        write_split(dataset_dir / "split_zhou_Caltech101.json", train, val, test)
    return dataset_dir


# --------------------------------------------------------------------------------------------------------------
# UCF101: ucf101/UCF-101-midframes/<Action_Words>/v_<Action>_gXX_cYY.jpg, ucfTrainTestlist/, JSON

UCF_ACTIONS = ("ApplyEyeMakeup", "ApplyLipstick", "Archery", "BabyCrawling", "BalanceBeam", "BandMarching")


def write_ucf101(root: Path, n_per_class: int = 10, n_classes: int = 5, with_split: bool = True) -> Path:
    dataset_dir = Path(root) / "ucf101"
    actions = UCF_ACTIONS[:n_classes]
    cnames = ["_".join(re.findall("[A-Z][^A-Z]*", a)) for a in actions]
    train, val, test = _folder_dataset(
        dataset_dir / "UCF-101-midframes", cnames, cnames, n_per_class,
        lambda c, i: f"v_{c.replace('_', '')}_g{i // 4 + 1:02d}_c{i % 4 + 1:02d}.jpg",
    )
    lists = dataset_dir / "ucfTrainTestlist"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "classInd.txt").write_text("".join(f"{i + 1} {a}\n" for i, a in enumerate(actions)))

    def video(rel: str, label: int) -> str:
        return f"{actions[label]}/{rel.split('/')[1][:-4]}.avi"

    (lists / "trainlist01.txt").write_text("".join(f"{video(r, y)} {y + 1}\n" for r, y, _ in train + val))
    (lists / "testlist01.txt").write_text("".join(f"{video(r, y)}\n" for r, y, _ in test))
    if with_split:
        write_split(dataset_dir / "split_zhou_UCF101.json", train, val, test)
    return dataset_dir


# --------------------------------------------------------------------------------------------------------------
# ImageNet and its variants: classnames.txt lines are "<wnid> <class name>"

IMAGENET_CLASSES = (
    ("n01440764", "tench"), ("n01443537", "goldfish"), ("n01484850", "great white shark"),
    ("n01491361", "tiger shark"), ("n01494475", "hammerhead shark"), ("n01496331", "electric ray"),
    ("n01498041", "stingray"), ("n01514668", "rooster"),
)


def imagenet_classes(n_classes: int) -> list[tuple[str, str]]:
    """The first `n_classes` (wnid, name) pairs; past the 8 real ones, made-up wnids in sorted order."""
    classes = list(IMAGENET_CLASSES[:n_classes])
    for index in range(len(classes), n_classes):
        classes.append((f"n9{index:07d}", f"class {index}"))
    return classes


def _write_classnames(path: Path, classes: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{wnid} {name}\n" for wnid, name in classes))


def write_imagenet(root: Path, n_per_class: int = 10, n_classes: int = 5, with_split: bool = True) -> Path:
    """`n_per_class` train images per class and round(30 %) (at least 1) val images; `with_split` is ignored."""
    dataset_dir = Path(root) / "imagenet"
    classes = imagenet_classes(n_classes)
    n_val = max(1, round(n_per_class * 0.3))
    for label, (wnid, _) in enumerate(classes):
        for i in range(n_per_class):
            save_image(dataset_dir / "images" / "train" / wnid / f"{wnid}_{i + 1}.JPEG", label, n_classes, i)
        for i in range(n_val):
            number = label * 1000 + i + 1
            save_image(
                dataset_dir / "images" / "val" / wnid / f"ILSVRC2012_val_{number:08d}.JPEG", label, n_classes, i + 500
            )
    _write_classnames(dataset_dir / "classnames.txt", classes)
    return dataset_dir


def write_imagenetv2(root: Path, n_per_class: int = 3, n_classes: int = 5, with_split: bool = True) -> Path:
    """Folders 0..n_classes-1 (CoOp's own class walks all 1000: use n_classes=1000 to run it)."""
    dataset_dir = Path(root) / "imagenetv2"
    classes = imagenet_classes(n_classes)
    for label in range(n_classes):
        for i in range(n_per_class):
            save_image(
                dataset_dir / "imagenetv2-matched-frequency-format-val" / str(label) / f"{label:04d}{i:03d}ab.jpeg",
                label, n_classes, i,
            )
    _write_classnames(dataset_dir / "classnames.txt", classes)
    return dataset_dir


def write_imagenetsketch(root: Path, n_per_class: int = 3, n_classes: int = 5, with_split: bool = True) -> Path:
    dataset_dir = Path(root) / "imagenet-sketch"
    classes = imagenet_classes(n_classes)
    for label, (wnid, _) in enumerate(classes):
        for i in range(n_per_class):
            save_image(dataset_dir / "images" / wnid / f"sketch_{i + 1}.JPEG", label, n_classes, i)
    _write_classnames(dataset_dir / "classnames.txt", classes)
    return dataset_dir


def _write_imagenet_subset(dataset_dir: Path, image_subdir: str, n_per_class: int, n_classes: int) -> Path:
    # The 200-class variants use a subset of ImageNet's folders with ImageNet's full classnames.txt.
    all_classes = imagenet_classes(n_classes + 2)
    used = [c for index, c in enumerate(all_classes) if index != 1][:n_classes]
    for label, (wnid, _) in enumerate(used):
        for i in range(n_per_class):
            save_image(dataset_dir / image_subdir / wnid / f"{i:04d}_{wnid[-3:]}.jpg", label, n_classes, i)
    (dataset_dir / image_subdir / "README.txt").write_text("synthetic test copy\n")
    _write_classnames(dataset_dir / "classnames.txt", all_classes)
    return dataset_dir


def write_imageneta(root: Path, n_per_class: int = 3, n_classes: int = 5, with_split: bool = True) -> Path:
    return _write_imagenet_subset(Path(root) / "imagenet-adversarial", "imagenet-a", n_per_class, n_classes)


def write_imagenetr(root: Path, n_per_class: int = 3, n_classes: int = 5, with_split: bool = True) -> Path:
    return _write_imagenet_subset(Path(root) / "imagenet-rendition", "imagenet-r", n_per_class, n_classes)


LAYOUT_WRITERS: dict[str, Callable[..., Path]] = {
    "OxfordPets": write_oxfordpets,
    "OxfordFlowers": write_oxfordflowers,
    "FGVCAircraft": write_fgvcaircraft,
    "DescribableTextures": write_describabletextures,
    "EuroSAT": write_eurosat,
    "StanfordCars": write_stanfordcars,
    "Food101": write_food101,
    "SUN397": write_sun397,
    "Caltech101": write_caltech101,
    "UCF101": write_ucf101,
    "ImageNet": write_imagenet,
    "ImageNetV2": write_imagenetv2,
    "ImageNetSketch": write_imagenetsketch,
    "ImageNetA": write_imageneta,
    "ImageNetR": write_imagenetr,
}

# Class names each writer produces with its defaults (n_classes=5; EuroSAT: all 10), in label order.
EXPECTED_CLASSNAMES: dict[str, list[str]] = {
    "OxfordPets": [b.lower() for b in PETS_BREEDS[:5]],
    "OxfordFlowers": list(FLOWER_NAMES[:5]),
    "FGVCAircraft": list(AIRCRAFT_VARIANTS[:5]),
    "DescribableTextures": list(DTD_CLASSES[:5]),
    "EuroSAT": [EUROSAT_CNAMES[f] for f in sorted(EUROSAT_CNAMES)],
    "StanfordCars": [" ".join([n.split(" ")[-1]] + n.split(" ")[:-1]) for n in CAR_NAMES[:5]],
    "Food101": list(FOOD_CLASSES[:5]),
    "SUN397": [" ".join(c.split("/")[1:][::-1]) for c in SUN_CLASSES[:5]],
    "Caltech101": [CALTECH_RENAMED.get(f, f) for f in sorted(CALTECH_FOLDERS[:5])],
    "UCF101": ["_".join(re.findall("[A-Z][^A-Z]*", a)) for a in UCF_ACTIONS[:5]],
    "ImageNet": [name for _, name in imagenet_classes(5)],
    "ImageNetV2": [name for _, name in imagenet_classes(5)],
    "ImageNetSketch": [name for _, name in imagenet_classes(5)],
    "ImageNetA": [name for index, (_, name) in enumerate(imagenet_classes(7)) if index != 1][:5],
    "ImageNetR": [name for index, (_, name) in enumerate(imagenet_classes(7)) if index != 1][:5],
}
