"""Datum, transforms, loaders and DataManager: Dassl's batches, drop_last rule, printed lines and errors."""
from __future__ import annotations

import io
import pickle

import pytest
import torch

from safe_clip.engine import DataManager, Datum, build_data_loader, build_transform, get_cfg_default, set_random_seed
from safe_clip.engine.data import build_sampler
from safe_clip.errors import UserError
from tests.engine.engine_helpers import IMAGE_SIZE


def test_datum_is_read_only_and_checks_the_file(tmp_path) -> None:
    image = tmp_path / "a.jpg"
    image.write_bytes(b"")
    item = Datum(impath=str(image), label=2, domain=1, classname="cat")
    assert (item.impath, item.label, item.domain, item.classname) == (str(image), 2, 1, "cat")
    assert vars(item) == {"_impath": str(image), "_label": 2, "_domain": 1, "_classname": "cat"}
    with pytest.raises(AttributeError):
        item.label = 3
    with pytest.raises(UserError, match='No file found at ".*missing.jpg": check DATASET.ROOT'):
        Datum(impath=str(tmp_path / "missing.jpg"))
    with pytest.raises(TypeError, match="must be a str"):
        Datum(impath=image)


class _RemapDasslDatum(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) == ("dassl.data.datasets.base_dataset", "Datum"):
            return Datum
        return super().find_class(module, name)


def test_a_pickled_dassl_datum_unpickles_into_ours(tmp_path) -> None:
    pytest.importorskip("dassl")
    from dassl.data.datasets import Datum as DasslDatum

    image = tmp_path / "a.jpg"
    image.write_bytes(b"")
    payload = pickle.dumps({"train": [DasslDatum(impath=str(image), label=4, classname="owl")]})
    restored = _RemapDasslDatum(io.BytesIO(payload)).load()["train"][0]
    assert isinstance(restored, Datum)
    assert (restored.impath, restored.label, restored.domain, restored.classname) == (str(image), 4, 0, "owl")


def test_coop_transforms_print_dassl_lines(capsys) -> None:
    cfg = get_cfg_default()
    cfg.INPUT.INTERPOLATION = "bicubic"
    cfg.INPUT.TRANSFORMS = ("random_resized_crop", "random_flip", "normalize")
    cfg.INPUT.PIXEL_MEAN = [0.48145466, 0.4578275, 0.40821073]
    cfg.INPUT.PIXEL_STD = [0.26862954, 0.26130258, 0.27577711]
    train = build_transform(cfg, is_train=True)
    test = build_transform(cfg, is_train=False)
    assert [type(step).__name__ for step in train.transforms] == [
        "RandomResizedCrop", "RandomHorizontalFlip", "ToTensor", "Normalize"
    ]
    assert [type(step).__name__ for step in test.transforms] == ["Resize", "CenterCrop", "ToTensor", "Normalize"]
    assert train.transforms[0].interpolation.value == "bicubic" and test.transforms[0].size == 224
    normalization = (
        "+ normalization (mean=[0.48145466, 0.4578275, 0.40821073], std=[0.26862954, 0.26130258, 0.27577711])"
    )
    assert capsys.readouterr().out.splitlines() == [
        "Building transform_train",
        "+ random resized crop (size=(224, 224), scale=(0.08, 1.0))",
        "+ random flip",
        "+ to torch tensor of range [0, 1]",
        normalization,
        "Building transform_test",
        "+ resize the smaller edge to 224",
        "+ 224x224 center crop",
        "+ to torch tensor of range [0, 1]",
        normalization,
    ]


def test_every_supported_transform_runs_in_dassl_order() -> None:
    from PIL import Image

    cfg = get_cfg_default()
    cfg.INPUT.SIZE = (IMAGE_SIZE, IMAGE_SIZE)
    cfg.INPUT.GB_K = 3
    choices = (
        "random_flip", "random_crop", "random_translation", "colorjitter", "randomgrayscale", "gaussian_blur",
        "cutout", "normalize", "gaussian_noise", "instance_norm", "center_crop",
    )
    transform = build_transform(cfg, is_train=True, choices=choices)
    assert [type(step).__name__ for step in transform.transforms] == [
        "Random2DTranslation", "RandomCrop", "RandomHorizontalFlip", "ColorJitter", "RandomGrayscale",
        "RandomApply", "ToTensor", "Cutout", "Normalize", "GaussianNoise", "InstanceNormalization",
    ]
    output = transform(Image.new("RGB", (20, 18), (10, 200, 30)))
    assert output.shape == (3, IMAGE_SIZE, IMAGE_SIZE) and torch.isfinite(output).all()
    assert build_transform(cfg, is_train=True, choices=()).transforms[0].size == (IMAGE_SIZE, IMAGE_SIZE)


def test_transform_errors_and_no_transform(capsys) -> None:
    cfg = get_cfg_default()
    with pytest.raises(UserError, match="'randaugment' is not implemented by the built-in engine"):
        build_transform(cfg, choices=("randaugment",))
    with pytest.raises(UserError, match="unknown transform 'flip'"):
        build_transform(cfg, choices=("flip",))
    cfg.INPUT.INTERPOLATION = "lanczos"
    with pytest.raises(UserError, match="INPUT.INTERPOLATION"):
        build_transform(cfg)
    cfg.INPUT.NO_TRANSFORM = True
    assert build_transform(cfg) is None
    assert capsys.readouterr().out.endswith("Note: no transform is applied!\n")


def test_data_manager_loaders_batches_and_summary(make_cfg, capsys) -> None:
    cfg = make_cfg()
    set_random_seed(cfg.SEED)
    dm = DataManager(cfg)
    output = capsys.readouterr().out
    assert output.startswith("Loading dataset: EngineTinyDataset\nBuilding transform_train\n")
    assert output.endswith(
        "---------  -----------------\n"
        "Dataset    EngineTinyDataset\n"
        "# classes  3\n"
        "# train_x  18\n"
        "# val      9\n"
        "# test     9\n"
        "---------  -----------------\n"
    )
    assert dm.num_classes == 3 and dm.lab2cname == {0: "cat", 1: "dog", 2: "owl"} and dm.num_source_domains == 0
    assert dm.train_loader_u is None
    assert (len(dm.train_loader_x), len(dm.val_loader), len(dm.test_loader)) == (4, 2, 2)  # 18 // 4 dropped-last

    batch = next(iter(dm.train_loader_x))
    assert set(batch) == {"img", "label", "domain", "impath", "index"}
    assert batch["img"].shape == (4, 3, IMAGE_SIZE, IMAGE_SIZE) and batch["img"].dtype == torch.float32
    assert batch["label"].dtype == torch.int64 and batch["index"].dtype == torch.int64
    assert isinstance(batch["impath"], list) and len(batch["impath"]) == 4


def test_a_split_smaller_than_the_batch_gives_one_batch(make_cfg) -> None:
    cfg = make_cfg(DATASET__NUM_SHOTS=1, DATALOADER__TRAIN_X__BATCH_SIZE=32, VERBOSE=False)
    dm = DataManager(cfg)
    assert len(dm.dataset.train_x) == 3
    batches = list(dm.train_loader_x)
    assert len(batches) == 1 and batches[0]["img"].shape[0] == 3


def test_k_transforms_img0_and_transform_lists(make_cfg) -> None:
    cfg = make_cfg(DATALOADER__K_TRANSFORMS=2, DATALOADER__RETURN_IMG0=True, VERBOSE=False)
    dm = DataManager(cfg)
    batch = next(iter(dm.train_loader_x))
    assert isinstance(batch["img"], list) and len(batch["img"]) == 2
    assert batch["img0"].shape == (4, 3, IMAGE_SIZE, IMAGE_SIZE)
    test_batch = next(iter(dm.test_loader))
    assert test_batch["img"].shape == (5, 3, IMAGE_SIZE, IMAGE_SIZE)  # one view at test time

    two_views = build_data_loader(
        cfg, data_source=dm.dataset.test, batch_size=3, tfm=[dm.test_loader.dataset.transform] * 2, is_train=False
    )
    assert {"img", "img2"} <= set(next(iter(two_views)))


def test_loader_errors(make_cfg) -> None:
    cfg = make_cfg()
    with pytest.raises(UserError, match="empty split"):
        build_data_loader(cfg, data_source=[], batch_size=4)
    with pytest.raises(ValueError, match="Unknown sampler type: Shuffled"):
        build_sampler("Shuffled", data_source=[1])
    with pytest.raises(NotImplementedError, match="RandomDomainSampler"):
        build_sampler("RandomDomainSampler", data_source=[1])


def epoch_of(cfg) -> list[tuple[list[str], torch.Tensor]]:
    set_random_seed(cfg.SEED)
    dm = DataManager(cfg)
    return [(batch["impath"], batch["img"]) for batch in dm.train_loader_x]


def test_same_seed_same_batches_with_workers(make_cfg) -> None:
    cfg = make_cfg(DATALOADER__NUM_WORKERS=2, VERBOSE=False)
    first, second = epoch_of(cfg), epoch_of(cfg)
    other = epoch_of(make_cfg(DATALOADER__NUM_WORKERS=2, VERBOSE=False, SEED=2))
    assert [paths for paths, _ in first] == [paths for paths, _ in second]
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(first, second))
    assert [paths for paths, _ in first] != [paths for paths, _ in other]
