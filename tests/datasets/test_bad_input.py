"""Bad input gives one-line `UserError`s that name the file or folder and the fix."""
from __future__ import annotations

import json

import pytest

from safe_clip.data import read_image
from safe_clip.errors import UserError
from tests.datasets.helpers import build
from tests.layouts import LAYOUT_WRITERS, write_eurosat


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_missing_dataset_folder_names_it_and_the_download(tmp_path):
    with pytest.raises(UserError) as error:
        build(tmp_path, "Food101")
    message = one_line(error)
    assert str(tmp_path / "food-101") in message and "python -m safe_clip.data download food101" in message


def test_missing_root(tmp_path):
    with pytest.raises(UserError, match="DATASET.ROOT is not set"):
        build("", "EuroSAT")


@pytest.mark.parametrize("name", ["ImageNetA", "ImageNetSketch"])
def test_missing_variant_folder(name, tmp_path):
    with pytest.raises(UserError) as error:
        build(tmp_path, name)
    assert "not found" in one_line(error)


def test_missing_split_and_annotations_name_the_file(tmp_path):
    dataset_dir = LAYOUT_WRITERS["OxfordPets"](tmp_path, with_split=False)
    (dataset_dir / "annotations" / "trainval.txt").unlink()
    with pytest.raises(UserError) as error:
        build(tmp_path, "OxfordPets")
    assert str(dataset_dir / "annotations" / "trainval.txt") in one_line(error)


def test_fgvc_missing_list_names_the_file(tmp_path):
    dataset_dir = LAYOUT_WRITERS["FGVCAircraft"](tmp_path)
    (dataset_dir / "images_variant_val.txt").unlink()
    with pytest.raises(UserError) as error:
        build(tmp_path, "FGVCAircraft")
    assert "images_variant_val.txt" in one_line(error)


def test_missing_classnames_file(tmp_path):
    dataset_dir = LAYOUT_WRITERS["ImageNetR"](tmp_path)
    (dataset_dir / "classnames.txt").unlink()
    with pytest.raises(UserError) as error:
        build(tmp_path, "ImageNetR")
    assert "classnames.txt" in one_line(error)


def test_missing_image_names_image_and_split_file(tmp_path):
    dataset_dir = write_eurosat(tmp_path, n_per_class=5, n_classes=3)
    victim = dataset_dir / "2750" / "Forest" / "Forest_2.jpg"
    victim.unlink()
    with pytest.raises(UserError) as error:
        build(tmp_path, "EuroSAT")
    message = one_line(error)
    assert str(victim) in message and "split_zhou_EuroSAT.json" in message


@pytest.mark.parametrize("field, value, expected", [(2, "River", "label 0"), (1, 2, "label 2")])
def test_label_and_classname_must_agree(field, value, expected, tmp_path):
    dataset_dir = write_eurosat(tmp_path, n_per_class=5, n_classes=3)
    split_path = dataset_dir / "split_zhou_EuroSAT.json"
    split = json.loads(split_path.read_text())
    split["val"][0][field] = value
    split_path.write_text(json.dumps(split))
    with pytest.raises(UserError) as error:
        build(tmp_path, "EuroSAT")
    message = one_line(error)
    assert str(split_path) in message and expected in message and "val[0]" in message


def test_malformed_split_file(tmp_path):
    dataset_dir = write_eurosat(tmp_path, n_per_class=5, n_classes=3)
    (dataset_dir / "split_zhou_EuroSAT.json").write_text("{ not json")
    with pytest.raises(UserError) as error:
        build(tmp_path, "EuroSAT")
    assert "cannot be read" in one_line(error)


def test_bad_subsample_setting(tmp_path):
    write_eurosat(tmp_path, n_per_class=5, n_classes=3)
    with pytest.raises(UserError) as error:
        build(tmp_path, "EuroSAT", subsample="half")
    assert "SUBSAMPLE_CLASSES" in one_line(error)


def test_unreadable_image_names_the_file(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    with pytest.raises(UserError) as error:
        read_image(str(broken))
    assert str(broken) in one_line(error)
    with pytest.raises(UserError, match="not found"):
        read_image(str(tmp_path / "absent.jpg"))
