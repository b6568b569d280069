"""Where each of CoOp's 15 datasets comes from and how it is laid out under `DATASET.ROOT` (CoOp's DATASETS.md).

One `Entry` per dataset: the folder CoOp reads, the paths whose presence means "installed", and either the
`Resource`s to fetch (archives over HTTP, CoOp's split files and helper files from Google Drive) or, for data that
needs a login or licence, the manual steps. MD5 sums are given where the archive is known (torchvision lists the
same files); other files are verified by their structure (the archive opens, the JSON parses, the expected
folders appear).
"""
from __future__ import annotations

from dataclasses import dataclass


def gdrive_url(file_id: str) -> str:
    return f"https://drive.google.com/file/d/{file_id}/view"


@dataclass(frozen=True)
class Resource:
    """One downloadable file.

    `filename`: name of the downloaded file. Exactly one of `urls` (HTTP mirrors, tried in order) or `gdrive_id`.
    A plain file (`members` empty) is moved to `dest` (relative to ROOT). An archive (tar, tar.gz, tgz, zip) is
    extracted, optionally first descending into the archive `inner` found inside it, and each `(path in the
    archive, destination relative to ROOT)` of `members` is moved into place.
    """

    filename: str
    urls: tuple[str, ...] = ()
    gdrive_id: str = ""
    md5: str = ""
    dest: str = ""
    members: tuple[tuple[str, str], ...] = ()
    inner: str = ""

    @property
    def is_archive(self) -> bool:
        return bool(self.members)

    @property
    def destinations(self) -> tuple[str, ...]:
        return tuple(dest for _, dest in self.members) if self.members else (self.dest,)

    @property
    def source(self) -> str:
        return gdrive_url(self.gdrive_id) if self.gdrive_id else self.urls[0]


@dataclass(frozen=True)
class Entry:
    """One dataset: CoOp's registry name, config name, folder under ROOT, and how to get it."""

    name: str  # registry name (DATASET.NAME)
    config: str  # configs/datasets/<config>.yaml
    folder: str  # folder under DATASET.ROOT
    present: tuple[str, ...]  # paths under ROOT that must exist for the dataset to count as installed
    resources: tuple[Resource, ...] = ()
    manual: tuple[str, ...] = ()  # manual steps; non-empty = cannot be downloaded automatically
    size: str = ""  # approximate download size, for messages

    @property
    def downloadable(self) -> bool:
        return not self.manual

    def manual_steps(self, root: str = "DATA") -> list[str]:
        """Steps that install the dataset by hand (for manual datasets, and when a download fails)."""
        if self.manual:
            return [step.replace("$DATA", root) for step in self.manual]
        steps = []
        for resource in self.resources:
            if resource.is_archive:
                targets = ", ".join(f"{path} -> {root}/{dest}" for path, dest in resource.members)
                inner = f" (then extract {resource.inner} from it)" if resource.inner else ""
                steps.append(f"download {resource.source}{inner} and extract it so that {targets}")
            else:
                steps.append(f"download {resource.source} to {root}/{resource.dest}")
        return steps

    def steps_text(self, root: str) -> str:
        """The manual steps as one line: "1) ...; 2) ..."."""
        return "; ".join(f"{i + 1}) {step}" for i, step in enumerate(self.manual_steps(root)))

    def how_to_get(self, root: str) -> str:
        """One line: the download command for downloadable datasets, else the manual steps."""
        if self.downloadable:
            size = f" ({self.size})" if self.size else ""
            return (
                f"download it with `python -m safe_clip.data download {self.config} --root {root}`{size}, "
                f"or by hand: {self.steps_text(root)}"
            )
        return f"{self.name} must be installed by hand: {self.steps_text(root)}"


def _split(gdrive_id: str, folder: str, name: str) -> Resource:
    return Resource(filename=name, gdrive_id=gdrive_id, dest=f"{folder}/{name}")


CLASSNAMES_GDRIVE_ID = "1-61f_ol79pViBFDG_IDlUQSwoLcn2XXF"  # CoOp's ImageNet classnames.txt


def _classnames(folder: str) -> Resource:
    return Resource(filename="classnames.txt", gdrive_id=CLASSNAMES_GDRIVE_ID, dest=f"{folder}/classnames.txt")


CATALOGUE: tuple[Entry, ...] = (
    Entry(
        name="OxfordPets",
        config="oxford_pets",
        folder="oxford_pets",
        present=("oxford_pets/images", "oxford_pets/split_zhou_OxfordPets.json"),
        size="800 MB",
        resources=(
            Resource(
                filename="images.tar.gz",
                urls=("https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz",),
                md5="5c4f3ee8e5d25df40f4fd59a7f44e54c",
                members=(("images", "oxford_pets/images"),),
            ),
            Resource(
                filename="annotations.tar.gz",
                urls=("https://www.robots.ox.ac.uk/~vgg/data/pets/data/annotations.tar.gz",),
                md5="95a8c909bbe2e81eed6a22bccdf3f68f",
                members=(("annotations", "oxford_pets/annotations"),),
            ),
            _split("1501r8Ber4nNKvmlFVQZ8SeUHTcdTTEqs", "oxford_pets", "split_zhou_OxfordPets.json"),
        ),
    ),
    Entry(
        name="OxfordFlowers",
        config="oxford_flowers",
        folder="oxford_flowers",
        present=("oxford_flowers/jpg", "oxford_flowers/split_zhou_OxfordFlowers.json"),
        size="330 MB",
        resources=(
            Resource(
                filename="102flowers.tgz",
                urls=("https://www.robots.ox.ac.uk/~vgg/data/flowers/102/102flowers.tgz",),
                md5="52808999861908f626f3c1f4e79d11fa",
                members=(("jpg", "oxford_flowers/jpg"),),
            ),
            Resource(
                filename="imagelabels.mat",
                urls=("https://www.robots.ox.ac.uk/~vgg/data/flowers/102/imagelabels.mat",),
                md5="e0620be6f572b9609742df49c70aed4d",
                dest="oxford_flowers/imagelabels.mat",
            ),
            _split("1AkcxCXeK_RCGCEC_GvmWxjcjaNhu-at0", "oxford_flowers", "cat_to_name.json"),
            _split("1Pp0sRXzZFZq15zVOzKjKBu4A9i01nozT", "oxford_flowers", "split_zhou_OxfordFlowers.json"),
        ),
    ),
    Entry(
        name="FGVCAircraft",
        config="fgvc_aircraft",
        folder="fgvc_aircraft",
        present=("fgvc_aircraft/images", "fgvc_aircraft/variants.txt", "fgvc_aircraft/images_variant_test.txt"),
        size="2.6 GB",
        resources=(
            Resource(
                filename="fgvc-aircraft-2013b.tar.gz",
                urls=("https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/archives/fgvc-aircraft-2013b.tar.gz",),
                members=(("fgvc-aircraft-2013b/data", "fgvc_aircraft"),),
            ),
        ),
    ),
    Entry(
        name="DescribableTextures",
        config="dtd",
        folder="dtd",
        present=("dtd/images", "dtd/split_zhou_DescribableTextures.json"),
        size="600 MB",
        resources=(
            Resource(
                filename="dtd-r1.0.1.tar.gz",
                urls=("https://www.robots.ox.ac.uk/~vgg/data/dtd/download/dtd-r1.0.1.tar.gz",),
                md5="fff73e5086ae6bdbea199a49dfb8a4c1",
                members=(("dtd", "dtd"),),
            ),
            _split("1u3_QfB467jqHgNXC00UIzbLZRQCg2S7x", "dtd", "split_zhou_DescribableTextures.json"),
        ),
    ),
    Entry(
        name="EuroSAT",
        config="eurosat",
        folder="eurosat",
        present=("eurosat/2750", "eurosat/split_zhou_EuroSAT.json"),
        size="90 MB",
        resources=(
            Resource(
                filename="EuroSAT.zip",
                urls=(
                    # torchvision's mirror of the RGB archive (the madm.dfki.de link in CoOp's DATASETS.md is
                    # often offline); same content: 2750/<class>/<class>_<n>.jpg.
                    "https://huggingface.co/datasets/torchgeo/eurosat/resolve/"
                    "c877bcd43f099cd0196738f714544e355477f3fd/EuroSAT.zip",
                    "http://madm.dfki.de/files/sentinel/EuroSAT.zip",
                ),
                md5="c8fa014336c82ac7804f0398fcb19387",
                members=(("2750", "eurosat/2750"),),
            ),
            _split("1Ip7yaCWFi0eaOFUGga0lUdVi_DDQth1o", "eurosat", "split_zhou_EuroSAT.json"),
        ),
    ),
    Entry(
        name="StanfordCars",
        config="stanford_cars",
        folder="stanford_cars",
        present=("stanford_cars/cars_train", "stanford_cars/cars_test", "stanford_cars/split_zhou_StanfordCars.json"),
        manual=(
            "the original Stanford links are offline; get cars_train.tgz, cars_test.tgz, car_devkit.tgz and "
            "cars_test_annos_withlabels.mat from a mirror (e.g. Kaggle 'stanford-cars-dataset', which needs an "
            "account)",
            "extract them into $DATA/stanford_cars/ so that it holds cars_train/, cars_test/, devkit/ and "
            "cars_test_annos_withlabels.mat",
            f"download split_zhou_StanfordCars.json from {gdrive_url('1ObCFbaAgVu0I-k_Au-gIUcefirdAuizT')} into "
            "$DATA/stanford_cars/",
        ),
    ),
    Entry(
        name="Food101",
        config="food101",
        folder="food-101",
        present=("food-101/images", "food-101/split_zhou_Food101.json"),
        size="5 GB",
        resources=(
            Resource(
                filename="food-101.tar.gz",
                urls=("http://data.vision.ee.ethz.ch/cvl/food-101.tar.gz",),
                md5="85eeb15f3717b99a5da872d97d918f87",
                members=(("food-101", "food-101"),),
            ),
            _split("1QK0tGi096I0Ba6kggatX1ee6dJFIcEJl", "food-101", "split_zhou_Food101.json"),
        ),
    ),
    Entry(
        name="SUN397",
        config="sun397",
        folder="sun397",
        present=("sun397/SUN397", "sun397/split_zhou_SUN397.json"),
        size="37 GB",
        resources=(
            Resource(
                filename="SUN397.tar.gz",
                urls=("http://vision.princeton.edu/projects/2010/SUN/SUN397.tar.gz",),
                md5="8ca2778205c41d23104230ba66911c7a",
                members=(("SUN397", "sun397/SUN397"),),
            ),
            _split("1y2RD81BYuiyvebdN-JymPfyWYcd8_MUq", "sun397", "split_zhou_SUN397.json"),
        ),
    ),
    Entry(
        name="Caltech101",
        config="caltech101",
        folder="caltech-101",
        present=("caltech-101/101_ObjectCategories", "caltech-101/split_zhou_Caltech101.json"),
        size="140 MB",
        resources=(
            Resource(
                filename="caltech-101.zip",
                # Caltech's data repository (the vision.caltech.edu link in CoOp's DATASETS.md moved here); the
                # zip holds CoOp's 101_ObjectCategories.tar.gz.
                urls=("https://data.caltech.edu/records/mzrjq-6wc02/files/caltech-101.zip",),
                md5="3138e1922a9193bfa496528edbbc45d0",
                inner="caltech-101/101_ObjectCategories.tar.gz",
                members=(("101_ObjectCategories", "caltech-101/101_ObjectCategories"),),
            ),
            _split("1hyarUivQE36mY6jSomru6Fjd-JzwcCzN", "caltech-101", "split_zhou_Caltech101.json"),
        ),
    ),
    Entry(
        name="UCF101",
        config="ucf101",
        folder="ucf101",
        present=("ucf101/UCF-101-midframes", "ucf101/split_zhou_UCF101.json"),
        size="1.8 GB",
        resources=(
            Resource(
                filename="UCF-101-midframes.zip",
                gdrive_id="10Jqome3vtUA2keJkNanAiFpgbyC9Hc2O",
                members=(("UCF-101-midframes", "ucf101/UCF-101-midframes"),),
            ),
            _split("1I0S0q91hJfsV9Gf4xDIjgDq4AqBNJb1y", "ucf101", "split_zhou_UCF101.json"),
        ),
    ),
    Entry(
        name="ImageNet",
        config="imagenet",
        folder="imagenet",
        present=("imagenet/images/train", "imagenet/images/val", "imagenet/classnames.txt"),
        manual=(
            "ImageNet needs an account: download ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar from "
            "https://image-net.org/download.php after accepting its terms",
            "extract them into $DATA/imagenet/images/train/ and $DATA/imagenet/images/val/, one folder per wnid "
            "(n01440764, ...) in both (the val images must be sorted into class folders)",
            f"download classnames.txt from {gdrive_url(CLASSNAMES_GDRIVE_ID)} into $DATA/imagenet/",
        ),
    ),
    Entry(
        name="ImageNetV2",
        config="imagenetv2",
        folder="imagenetv2",
        present=("imagenetv2/imagenetv2-matched-frequency-format-val", "imagenetv2/classnames.txt"),
        size="1.2 GB",
        resources=(
            Resource(
                filename="imagenetv2-matched-frequency.tar.gz",
                urls=(
                    "https://huggingface.co/datasets/vaishaal/ImageNetV2/resolve/main/"
                    "imagenetv2-matched-frequency.tar.gz",
                    "https://s3-us-west-2.amazonaws.com/imagenetv2public/imagenetv2-matched-frequency.tar.gz",
                ),
                members=(
                    ("imagenetv2-matched-frequency-format-val", "imagenetv2/imagenetv2-matched-frequency-format-val"),
                ),
            ),
            _classnames("imagenetv2"),
        ),
    ),
    Entry(
        name="ImageNetSketch",
        config="imagenet_sketch",
        folder="imagenet-sketch",
        present=("imagenet-sketch/images", "imagenet-sketch/classnames.txt"),
        size="8 GB",
        resources=(
            Resource(
                filename="ImageNet-Sketch.zip",
                gdrive_id="1Mj0i5HBthqH1p_yeXzsg22gZduvgoNeA",
                members=(("sketch", "imagenet-sketch/images"),),
            ),
            _classnames("imagenet-sketch"),
        ),
    ),
    Entry(
        name="ImageNetA",
        config="imagenet_a",
        folder="imagenet-adversarial",
        present=("imagenet-adversarial/imagenet-a", "imagenet-adversarial/classnames.txt"),
        size="700 MB",
        resources=(
            Resource(
                filename="imagenet-a.tar",
                urls=("https://people.eecs.berkeley.edu/~hendrycks/imagenet-a.tar",),
                members=(("imagenet-a", "imagenet-adversarial/imagenet-a"),),
            ),
            _classnames("imagenet-adversarial"),
        ),
    ),
    Entry(
        name="ImageNetR",
        config="imagenet_r",
        folder="imagenet-rendition",
        present=("imagenet-rendition/imagenet-r", "imagenet-rendition/classnames.txt"),
        size="2.2 GB",
        resources=(
            Resource(
                filename="imagenet-r.tar",
                urls=("https://people.eecs.berkeley.edu/~hendrycks/imagenet-r.tar",),
                members=(("imagenet-r", "imagenet-rendition/imagenet-r"),),
            ),
            _classnames("imagenet-rendition"),
        ),
    ),
)

_ALIASES = {
    "flowers102": "oxford_flowers",
    "pets": "oxford_pets",
    "describabletextures": "dtd",
    "aircraft": "fgvc_aircraft",
}


def find_entry(name: str) -> Entry | None:
    """The entry for a registry name (`EuroSAT`), config name (`eurosat`) or folder name, case-insensitively."""
    key = name.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    for entry in CATALOGUE:
        if key in (entry.name.lower(), entry.config, entry.folder.replace("-", "_")):
            return entry
    return None


def entry_names() -> list[str]:
    return [entry.config for entry in CATALOGUE]
