"""Data loaders from a registered dataset: Dassl's `DataManager`, `DatasetWrapper` and `build_data_loader`.

A batch is a dict: `img` (tensor [B, 3, H, W]; `img2`, ... for a list of transforms), `label`, `domain`,
`index` (LongTensor [B]) and `impath` (list of str), plus `img0` (un-augmented) with DATALOADER.RETURN_IMG0.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import torch
from tabulate import tabulate
from torch.utils.data import DataLoader, Dataset, RandomSampler, Sampler, SequentialSampler
from torchvision.transforms import Compose, Normalize, Resize, ToTensor

from safe_clip.engine.datasets import Datum, build_dataset
from safe_clip.engine.errors import UnsupportedFeatureError, UserValueError
from safe_clip.engine.transforms import build_transform, interpolation_mode
from safe_clip.engine.utils import read_image

__all__ = ["DataManager", "DatasetWrapper", "build_data_loader", "build_sampler"]

# Dassl's samplers for domain generalisation and class-balanced batches, not implemented here.
_UNSUPPORTED_SAMPLERS = ("RandomDomainSampler", "SeqDomainSampler", "RandomClassSampler")


def build_sampler(
    sampler_type: str,
    cfg: Any = None,
    data_source: Optional[Sequence[Datum]] = None,
    batch_size: int = 32,
    n_domain: int = 0,
    n_ins: int = 16,
) -> Sampler:
    """torch's RandomSampler (drawn from torch's global RNG) or SequentialSampler."""
    if sampler_type == "RandomSampler":
        return RandomSampler(data_source)
    if sampler_type == "SequentialSampler":
        return SequentialSampler(data_source)
    if sampler_type in _UNSUPPORTED_SAMPLERS:
        raise UnsupportedFeatureError(
            f"the {sampler_type} sampler is not implemented by the built-in engine: use RandomSampler or "
            "SequentialSampler, or install Dassl.pytorch"
        )
    raise UserValueError(f"Unknown sampler type: {sampler_type}")


class DatasetWrapper(Dataset):
    """Reads and transforms the images of `data_source` into batch dicts."""

    def __init__(
        self,
        cfg: Any,
        data_source: Sequence[Datum],
        transform: Optional[Any] = None,
        is_train: bool = False,
    ) -> None:
        self.cfg = cfg
        self.data_source = data_source
        self.transform = transform  # one transform, or a list/tuple giving img, img2, img3, ...
        self.is_train = is_train
        # Several augmented views per image only while training.
        self.k_tfm = cfg.DATALOADER.K_TRANSFORMS if is_train else 1
        self.return_img0 = cfg.DATALOADER.RETURN_IMG0
        if self.k_tfm > 1 and transform is None:
            raise UserValueError(
                f"Cannot augment the image {self.k_tfm} times because transform is None: "
                "set DATALOADER.K_TRANSFORMS 1 or turn INPUT.NO_TRANSFORM off"
            )
        self.to_tensor = self._plain_tensor_transform(cfg)

    @staticmethod
    def _plain_tensor_transform(cfg: Any) -> Compose:
        """Resize + to tensor (+ normalize): the un-augmented `img0`."""
        steps: list[Callable[..., Any]] = [
            Resize(cfg.INPUT.SIZE, interpolation=interpolation_mode(cfg.INPUT.INTERPOLATION)),
            ToTensor(),
        ]
        if "normalize" in cfg.INPUT.TRANSFORMS:
            steps.append(Normalize(mean=cfg.INPUT.PIXEL_MEAN, std=cfg.INPUT.PIXEL_STD))
        return Compose(steps)

    def __len__(self) -> int:
        return len(self.data_source)

    def __getitem__(self, idx: int) -> dict[str, Any]:
        item = self.data_source[idx]
        output: dict[str, Any] = {"label": item.label, "domain": item.domain, "impath": item.impath, "index": idx}
        img0 = read_image(item.impath)

        if self.transform is None:
            output["img"] = img0
        elif isinstance(self.transform, (list, tuple)):
            for position, tfm in enumerate(self.transform):
                key = "img" if position == 0 else f"img{position + 1}"
                output[key] = self._transform_image(tfm, img0)
        else:
            output["img"] = self._transform_image(self.transform, img0)

        if self.return_img0:
            output["img0"] = self.to_tensor(img0)
        return output

    def _transform_image(self, tfm: Callable[[Any], Any], img0: Any) -> Any:
        """One view, or a list of K_TRANSFORMS views."""
        views = [tfm(img0) for _ in range(self.k_tfm)]
        return views[0] if len(views) == 1 else views


def build_data_loader(
    cfg: Any,
    sampler_type: str = "SequentialSampler",
    data_source: Optional[Sequence[Datum]] = None,
    batch_size: int = 64,
    n_domain: int = 0,
    n_ins: int = 2,
    tfm: Optional[Any] = None,
    is_train: bool = True,
    dataset_wrapper: Optional[type] = None,
) -> DataLoader:
    """A DataLoader over `data_source`.

    Training loaders drop the last incomplete batch only when there is at least one full batch, so a split
    smaller than the batch size still gives one batch per epoch.
    """
    if not data_source:
        raise UserValueError(
            f"cannot build a {'training' if is_train else 'test'} data loader from an empty split: "
            "check DATASET.ROOT, the split files and DATASET.NUM_SHOTS"
        )
    sampler = build_sampler(
        sampler_type, cfg=cfg, data_source=data_source, batch_size=batch_size, n_domain=n_domain, n_ins=n_ins
    )
    wrapper_class = dataset_wrapper if dataset_wrapper is not None else DatasetWrapper
    return DataLoader(
        wrapper_class(cfg, data_source, transform=tfm, is_train=is_train),
        batch_size=batch_size,
        sampler=sampler,
        num_workers=cfg.DATALOADER.NUM_WORKERS,
        drop_last=is_train and len(data_source) >= batch_size,
        pin_memory=torch.cuda.is_available() and cfg.USE_CUDA,
    )


class DataManager:
    """Builds the dataset named by `cfg.DATASET.NAME`, its transforms and its loaders, and prints a summary.

    Attributes: `dataset`, `train_loader_x`, `train_loader_u` (None without train_u), `val_loader` (None
    without val), `test_loader`; properties `num_classes`, `num_source_domains`, `lab2cname`.
    """

    def __init__(
        self,
        cfg: Any,
        custom_tfm_train: Optional[Any] = None,
        custom_tfm_test: Optional[Any] = None,
        dataset_wrapper: Optional[type] = None,
    ) -> None:
        dataset = build_dataset(cfg)

        if custom_tfm_train is None:
            tfm_train = build_transform(cfg, is_train=True)
        else:
            print("* Using custom transform for training")
            tfm_train = custom_tfm_train

        if custom_tfm_test is None:
            tfm_test = build_transform(cfg, is_train=False)
        else:
            print("* Using custom transform for testing")
            tfm_test = custom_tfm_test

        train_x = cfg.DATALOADER.TRAIN_X
        self.train_loader_x = build_data_loader(
            cfg,
            sampler_type=train_x.SAMPLER,
            data_source=dataset.train_x,
            batch_size=train_x.BATCH_SIZE,
            n_domain=train_x.N_DOMAIN,
            n_ins=train_x.N_INS,
            tfm=tfm_train,
            is_train=True,
            dataset_wrapper=dataset_wrapper,
        )

        self.train_loader_u: Optional[DataLoader] = None
        if dataset.train_u:
            train_u = cfg.DATALOADER.TRAIN_X if cfg.DATALOADER.TRAIN_U.SAME_AS_X else cfg.DATALOADER.TRAIN_U
            self.train_loader_u = build_data_loader(
                cfg,
                sampler_type=train_u.SAMPLER,
                data_source=dataset.train_u,
                batch_size=train_u.BATCH_SIZE,
                n_domain=train_u.N_DOMAIN,
                n_ins=train_u.N_INS,
                tfm=tfm_train,
                is_train=True,
                dataset_wrapper=dataset_wrapper,
            )

        test_settings = cfg.DATALOADER.TEST
        self.val_loader: Optional[DataLoader] = None
        if dataset.val:
            self.val_loader = build_data_loader(
                cfg,
                sampler_type=test_settings.SAMPLER,
                data_source=dataset.val,
                batch_size=test_settings.BATCH_SIZE,
                tfm=tfm_test,
                is_train=False,
                dataset_wrapper=dataset_wrapper,
            )

        self.test_loader = build_data_loader(
            cfg,
            sampler_type=test_settings.SAMPLER,
            data_source=dataset.test,
            batch_size=test_settings.BATCH_SIZE,
            tfm=tfm_test,
            is_train=False,
            dataset_wrapper=dataset_wrapper,
        )

        self._num_classes = dataset.num_classes
        self._num_source_domains = len(cfg.DATASET.SOURCE_DOMAINS)
        self._lab2cname = dataset.lab2cname
        self.dataset = dataset

        if cfg.VERBOSE:
            self.show_dataset_summary(cfg)

    @property
    def num_classes(self) -> int:
        return self._num_classes

    @property
    def num_source_domains(self) -> int:
        return self._num_source_domains

    @property
    def lab2cname(self) -> dict[int, str]:
        return self._lab2cname

    def show_dataset_summary(self, cfg: Any) -> None:
        """Prints Dassl's two-column table: dataset, domains, number of classes and of items per split."""
        table: list[list[Any]] = [["Dataset", cfg.DATASET.NAME]]
        if cfg.DATASET.SOURCE_DOMAINS:
            table.append(["Source", cfg.DATASET.SOURCE_DOMAINS])
        if cfg.DATASET.TARGET_DOMAINS:
            table.append(["Target", cfg.DATASET.TARGET_DOMAINS])
        table.append(["# classes", f"{self.num_classes:,}"])
        table.append(["# train_x", f"{len(self.dataset.train_x):,}"])
        if self.dataset.train_u:
            table.append(["# train_u", f"{len(self.dataset.train_u):,}"])
        if self.dataset.val:
            table.append(["# val", f"{len(self.dataset.val):,}"])
        table.append(["# test", f"{len(self.dataset.test):,}"])
        print(tabulate(table))
