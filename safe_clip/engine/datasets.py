"""Dataset items (`Datum`), the dataset base class with Dassl's few-shot sampling, and the dataset registry."""
from __future__ import annotations

import os
import tarfile
import zipfile
from collections import defaultdict
from typing import Any, Optional, Sequence, Union

from safe_clip.engine.errors import UnsupportedFeatureError, UserFileNotFoundError, UserValueError
from safe_clip.engine.registry import Registry, check_availability

__all__ = ["DATASET_REGISTRY", "DatasetBase", "Datum", "build_dataset"]

DATASET_REGISTRY = Registry("DATASET")


def build_dataset(cfg: Any) -> "DatasetBase":
    """Instantiates the dataset registered as `cfg.DATASET.NAME` with `cfg`."""
    name = cfg.DATASET.NAME
    check_availability(name, DATASET_REGISTRY.registered_names())
    if cfg.VERBOSE:
        print(f"Loading dataset: {name}")
    return DATASET_REGISTRY.get(name)(cfg)


class Datum:
    """One image: path, class label, domain label and class name (read-only).

    The attributes are stored as `_impath, _label, _domain, _classname`, as in Dassl, so a pickled Dassl Datum
    unpickles into this class when its class path is remapped (unpickling does not re-check the file).
    """

    def __init__(self, impath: str = "", label: int = 0, domain: int = 0, classname: str = "") -> None:
        if not isinstance(impath, str):
            raise TypeError(f"Datum impath must be a str, got {type(impath).__name__}: {impath!r}")
        # One stat per item, about as cheap as a check can be without trusting stale directory listings (Dassl
        # also ran the warnings machinery). A missing file stops the run here, with its path, rather than in a
        # data-loader worker later. Unpickling (few-shot caches) skips this check.
        if not os.path.isfile(impath):
            raise UserFileNotFoundError(
                f'No file found at "{impath}": check DATASET.ROOT and that the dataset is complete'
            )
        self._impath = impath
        self._label = label
        self._domain = domain
        self._classname = classname

    @property
    def impath(self) -> str:
        return self._impath

    @property
    def label(self) -> int:
        return self._label

    @property
    def domain(self) -> int:
        return self._domain

    @property
    def classname(self) -> str:
        return self._classname

    def __repr__(self) -> str:
        return (
            f"Datum(impath={self._impath!r}, label={self._label}, domain={self._domain}, "
            f"classname={self._classname!r})"
        )


class DatasetBase:
    """Splits of a dataset (`train_x`, `train_u`, `val`, `test`: lists of Datum) and its class names.

    `num_classes`, `lab2cname` and `classnames` come from `train_x` only, as in Dassl.
    """

    dataset_dir = ""  # folder of the dataset under DATASET.ROOT
    domains: list[str] = []  # names of the domains (domain-generalisation datasets)

    def __init__(
        self,
        train_x: Optional[list[Datum]] = None,
        train_u: Optional[list[Datum]] = None,
        val: Optional[list[Datum]] = None,
        test: Optional[list[Datum]] = None,
    ) -> None:
        self._train_x = train_x
        self._train_u = train_u
        self._val = val
        self._test = test
        self._num_classes = self.get_num_classes(train_x)
        self._lab2cname, self._classnames = self.get_lab2cname(train_x)

    @property
    def train_x(self) -> Optional[list[Datum]]:
        return self._train_x

    @property
    def train_u(self) -> Optional[list[Datum]]:
        return self._train_u

    @property
    def val(self) -> Optional[list[Datum]]:
        return self._val

    @property
    def test(self) -> Optional[list[Datum]]:
        return self._test

    @property
    def lab2cname(self) -> dict[int, str]:
        return self._lab2cname

    @property
    def classnames(self) -> list[str]:
        return self._classnames

    @property
    def num_classes(self) -> int:
        return self._num_classes

    @staticmethod
    def _require_items(data_source: Optional[Sequence[Datum]]) -> Sequence[Datum]:
        if not data_source:
            raise UserValueError(
                "the dataset has no training items (train_x is empty): check DATASET.ROOT and the split files"
            )
        return data_source

    @staticmethod
    def get_num_classes(data_source: Optional[Sequence[Datum]]) -> int:
        """Largest label + 1."""
        return max(item.label for item in DatasetBase._require_items(data_source)) + 1

    @staticmethod
    def get_lab2cname(data_source: Optional[Sequence[Datum]]) -> tuple[dict[int, str], list[str]]:
        """{label: classname} and the class names ordered by label."""
        mapping = {item.label: item.classname for item in DatasetBase._require_items(data_source)}
        classnames = [mapping[label] for label in sorted(mapping)]
        return mapping, classnames

    def check_input_domains(self, source_domains: Sequence[str], target_domains: Sequence[str]) -> None:
        if not source_domains:
            raise UserValueError("DATASET.SOURCE_DOMAINS is empty: name at least one source domain")
        if not target_domains:
            raise UserValueError("DATASET.TARGET_DOMAINS is empty: name at least one target domain")
        self.is_input_domain_valid(source_domains)
        self.is_input_domain_valid(target_domains)

    def is_input_domain_valid(self, input_domains: Sequence[str]) -> None:
        for domain in input_domains:
            if domain not in self.domains:
                raise UserValueError(f"Input domain must belong to {self.domains}, but got [{domain}]")

    def download_data(self, url: str, dst: str, from_gdrive: bool = True) -> None:
        """Downloads an archive from Google Drive to `dst` and extracts it next to it."""
        if not from_gdrive:
            raise UnsupportedFeatureError("download_data only downloads from Google Drive (from_gdrive=True)")
        import gdown  # optional: only the datasets that download themselves need it

        os.makedirs(os.path.dirname(dst), exist_ok=True)
        gdown.download(url, dst, quiet=False)
        print("Extracting file ...")
        _extract_archive(dst, os.path.dirname(dst))
        print(f"File extracted to {os.path.dirname(dst)}")

    def generate_fewshot_dataset(
        self, *data_sources: list[Datum], num_shots: int = -1, repeat: bool = False
    ) -> Union[list[Datum], list[list[Datum]], tuple[list[Datum], ...]]:
        """Keeps `num_shots` random items per label of each source, drawing exactly what Dassl draws.

        Labels are visited in order of first appearance; a label with at least `num_shots` items gets
        `random.sample(items, num_shots)`; a smaller one gets `random.choices(items, k=num_shots)` with
        `repeat`, else all its items (no draw). Uses the module-level `random` state. `num_shots < 1` returns
        the input unchanged. One source in, one list out; several in, a list of lists out.
        """
        if num_shots < 1:
            return data_sources[0] if len(data_sources) == 1 else data_sources

        print(f"Creating a {num_shots}-shot dataset")
        # The one implementation of Dassl's per-label sampling, shared with the dataset helpers.
        from safe_clip.data.fewshot import sample_few_shot

        output = [sample_few_shot(data_source, num_shots, repeat) for data_source in data_sources]
        return output[0] if len(output) == 1 else output

    def split_dataset_by_label(self, data_source: Sequence[Datum]) -> defaultdict[int, list[Datum]]:
        """{label: items}, labels in order of first appearance, items in their original order."""
        groups: defaultdict[int, list[Datum]] = defaultdict(list)
        for item in data_source:
            groups[item.label].append(item)
        return groups

    def split_dataset_by_domain(self, data_source: Sequence[Datum]) -> defaultdict[int, list[Datum]]:
        """{domain: items}, domains in order of first appearance."""
        groups: defaultdict[int, list[Datum]] = defaultdict(list)
        for item in data_source:
            groups[item.domain].append(item)
        return groups


def _extract_archive(archive: str, destination: str) -> None:
    if archive.endswith(".zip"):
        with zipfile.ZipFile(archive, "r") as zip_file:
            zip_file.extractall(destination)
    elif archive.endswith((".tar", ".tar.gz", ".tgz")):
        with tarfile.open(archive, "r:*") as tar_file:
            # "data" refuses absolute paths and links leaving the destination.
            tar_file.extractall(destination, filter="data")
    else:
        raise UnsupportedFeatureError(f"cannot extract {archive}: only .zip, .tar and .tar.gz archives are handled")
