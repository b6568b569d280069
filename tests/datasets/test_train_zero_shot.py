"""Zero-shot CLIP runs through train.py on each of the 15 synthetic layouts, and bad data folders end in one
`error:` line with exit status 2, no traceback."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, tiny_opts
from tests.datasets.helpers import DATASET_NAMES
from tests.layouts import EXPECTED_CLASSNAMES, LAYOUT_WRITERS, write_eurosat

pytestmark = pytest.mark.skipif(not (REPO_ROOT / "train.py").is_file(), reason="train.py is not written yet")

CONFIG_FILES = {
    "OxfordPets": "oxford_pets", "OxfordFlowers": "oxford_flowers", "FGVCAircraft": "fgvc_aircraft",
    "DescribableTextures": "dtd", "EuroSAT": "eurosat", "StanfordCars": "stanford_cars", "Food101": "food101",
    "SUN397": "sun397", "Caltech101": "caltech101", "UCF101": "ucf101", "ImageNet": "imagenet",
    "ImageNetV2": "imagenetv2", "ImageNetSketch": "imagenet_sketch", "ImageNetA": "imagenet_a",
    "ImageNetR": "imagenet_r",
}


@pytest.fixture(scope="module")
def all_layouts(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("zs_layouts")
    for writer in LAYOUT_WRITERS.values():
        writer(root, n_per_class=4)
    return root


def zero_shot_argv(root: Path, output_dir: Path, dataset: str, checkpoint: Path, *extra: str) -> list[str]:
    return [
        "--root", str(root),
        "--trainer", "ZeroshotCLIP",
        "--dataset-config-file", str(REPO_ROOT / "configs" / "datasets" / f"{CONFIG_FILES[dataset]}.yaml"),
        "--config-file", str(REPO_ROOT / "configs" / "trainers" / "ZeroshotCLIP" / "rn50.yaml"),
        "--output-dir", str(output_dir),
        "--eval-only",
        *tiny_opts(checkpoint, "DATALOADER.TEST.BATCH_SIZE", "8", *extra),
    ]


@pytest.mark.parametrize("dataset", DATASET_NAMES)
def test_zero_shot_clip_runs_on_each_layout(dataset, all_layouts, tmp_path, tiny_clip_checkpoint, run_train):
    output_dir = tmp_path / "out"
    status = run_train(zero_shot_argv(all_layouts, output_dir, dataset, tiny_clip_checkpoint))
    assert status == 0
    log = (output_dir / "log.txt").read_text()
    assert "=> result" in log and "* accuracy:" in log
    assert f"# classes  {len(EXPECTED_CLASSNAMES[dataset])}" in log


def last_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "nothing on stderr"
    assert "Traceback" not in err
    return lines[-1]


def test_missing_dataset_folder_is_one_line(tmp_path, tiny_clip_checkpoint, run_train, capsys):
    status = run_train(zero_shot_argv(tmp_path / "empty", tmp_path / "out", "EuroSAT", tiny_clip_checkpoint))
    assert status == 2
    line = last_error_line(capsys)
    assert line.startswith("error: ") and "eurosat" in line and "python -m safe_clip.data download" in line


def test_imagenet_missing_lists_manual_steps(tmp_path, tiny_clip_checkpoint, run_train, capsys):
    status = run_train(zero_shot_argv(tmp_path / "empty", tmp_path / "out", "ImageNet", tiny_clip_checkpoint))
    assert status == 2
    line = last_error_line(capsys)
    assert "image-net.org" in line and "classnames.txt" in line


def test_missing_image_is_one_line(tmp_path, tiny_clip_checkpoint, run_train, capsys):
    dataset_dir = write_eurosat(tmp_path / "data", n_per_class=4, n_classes=3)
    victim = next((dataset_dir / "2750" / "Forest").iterdir())
    victim.unlink()
    status = run_train(zero_shot_argv(tmp_path / "data", tmp_path / "out", "EuroSAT", tiny_clip_checkpoint))
    assert status == 2
    line = last_error_line(capsys)
    assert str(victim) in line and "split_zhou_EuroSAT.json" in line


def test_label_classname_mismatch_is_one_line(tmp_path, tiny_clip_checkpoint, run_train, capsys):
    dataset_dir = write_eurosat(tmp_path / "data", n_per_class=4, n_classes=3)
    split_path = dataset_dir / "split_zhou_EuroSAT.json"
    split = json.loads(split_path.read_text())
    split["test"][0][2] = "River"  # label 0 is "Annual Crop Land" everywhere else
    split_path.write_text(json.dumps(split))
    status = run_train(zero_shot_argv(tmp_path / "data", tmp_path / "out", "EuroSAT", tiny_clip_checkpoint))
    assert status == 2
    line = last_error_line(capsys)
    assert "split_zhou_EuroSAT.json" in line and "label 0" in line


def test_unreadable_image_is_one_line(tmp_path, tiny_clip_checkpoint, run_train, capsys):
    dataset_dir = write_eurosat(tmp_path / "data", n_per_class=4, n_classes=3)
    split = json.loads((dataset_dir / "split_zhou_EuroSAT.json").read_text())
    victim = dataset_dir / "2750" / split["test"][0][0]
    victim.write_bytes(b"this is not a jpeg")
    status = run_train(zero_shot_argv(tmp_path / "data", tmp_path / "out", "EuroSAT", tiny_clip_checkpoint))
    assert status == 2
    line = last_error_line(capsys)
    assert line.startswith("error: ") and str(victim) in line
