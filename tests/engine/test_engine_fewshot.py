"""Few-shot sampling picks exactly what Dassl picks for the same `random` state (dassl-contract.md §3.3)."""
from __future__ import annotations

import os
import random
from collections import OrderedDict

import pytest

from safe_clip.engine import DatasetBase, Datum


def reference_fewshot(items: list, num_shots: int, repeat: bool = False) -> list:
    """The contract's algorithm, written independently: group by first appearance of each label, then per
    group `random.sample` (enough items), `random.choices` (too few, repeat) or everything (too few)."""
    groups: "OrderedDict[int, list]" = OrderedDict()
    for item in items:
        groups.setdefault(item.label, []).append(item)
    picked = []
    for group in groups.values():
        if len(group) >= num_shots:
            picked += random.sample(group, num_shots)
        elif repeat:
            picked += random.choices(group, k=num_shots)
        else:
            picked += group
    return picked


def make_items(folder: str, datum_class=Datum) -> list:
    """40 items over 5 labels, interleaved and with labels first appearing out of order (3, 0, 4, 1, 2);
    label 2 has only 3 items."""
    os.makedirs(folder, exist_ok=True)
    labels = [3, 0, 4, 1, 3, 0, 4, 1] * 4 + [2, 2, 2] + [3, 0, 4, 1, 0]
    items = []
    for index, label in enumerate(labels):
        path = os.path.join(folder, f"{index:03d}.jpg")
        if not os.path.exists(path):
            open(path, "wb").close()
        items.append(datum_class(impath=path, label=label, classname=f"class{label}"))
    return items


def paths(items: list) -> list[str]:
    return [item.impath for item in items]


@pytest.mark.parametrize("seed", [1, 2, 3, 17])
@pytest.mark.parametrize("num_shots", [1, 2, 4, 8, 16])
def test_picks_equal_the_reference_algorithm(tmp_path, seed: int, num_shots: int) -> None:
    items = make_items(str(tmp_path))
    dataset = DatasetBase(train_x=items)
    random.seed(seed)
    ours = dataset.generate_fewshot_dataset(items, num_shots=num_shots)
    state_after_ours = random.getstate()
    random.seed(seed)
    expected = reference_fewshot(items, num_shots)
    assert paths(ours) == paths(expected)
    assert random.getstate() == state_after_ours  # same number of draws, so later draws agree too


@pytest.mark.parametrize("seed", [1, 5])
def test_repeat_and_several_sources(tmp_path, seed: int) -> None:
    train = make_items(str(tmp_path / "train"))
    val = make_items(str(tmp_path / "val"))
    dataset = DatasetBase(train_x=train)
    random.seed(seed)
    ours_train, ours_val = dataset.generate_fewshot_dataset(train, val, num_shots=4, repeat=True)
    random.seed(seed)
    expected_train = reference_fewshot(train, 4, repeat=True)
    expected_val = reference_fewshot(val, 4, repeat=True)
    assert paths(ours_train) == paths(expected_train) and paths(ours_val) == paths(expected_val)
    assert len(ours_train) == 5 * 4  # the 3-item label is filled up to 4 by repeats


def test_no_sampling_below_one_shot(tmp_path, capsys) -> None:
    items = make_items(str(tmp_path))
    dataset = DatasetBase(train_x=items)
    state = random.getstate()
    assert dataset.generate_fewshot_dataset(items, num_shots=-1) is items
    assert dataset.generate_fewshot_dataset(items, items, num_shots=0) == (items, items)
    assert random.getstate() == state and capsys.readouterr().out == ""
    dataset.generate_fewshot_dataset(items, num_shots=2)
    assert capsys.readouterr().out == "Creating a 2-shot dataset\n"


def test_split_by_label_keeps_first_appearance_order(tmp_path) -> None:
    items = make_items(str(tmp_path))
    groups = DatasetBase(train_x=items).split_dataset_by_label(items)
    assert list(groups) == [3, 0, 4, 1, 2]
    assert paths(groups[2]) == paths([item for item in items if item.label == 2])


def test_class_info_comes_from_train_x(tmp_path) -> None:
    items = make_items(str(tmp_path))
    dataset = DatasetBase(train_x=items, test=items[:3])
    assert dataset.num_classes == 5
    assert dataset.classnames == [f"class{label}" for label in range(5)]
    assert dataset.lab2cname[3] == "class3"


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("num_shots", [1, 4, 16])
def test_picks_equal_real_dassl(tmp_path, seed: int, num_shots: int) -> None:
    pytest.importorskip("dassl")
    from dassl.data.datasets import DatasetBase as DasslDatasetBase
    from dassl.data.datasets import Datum as DasslDatum

    ours_items = make_items(str(tmp_path))
    dassl_items = make_items(str(tmp_path), datum_class=DasslDatum)
    random.seed(seed)
    ours = DatasetBase(train_x=ours_items).generate_fewshot_dataset(ours_items, ours_items, num_shots=num_shots)
    random.seed(seed)
    theirs = DasslDatasetBase(train_x=dassl_items).generate_fewshot_dataset(
        dassl_items, dassl_items, num_shots=num_shots
    )
    assert [paths(split) for split in ours] == [paths(split) for split in theirs]
