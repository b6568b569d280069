"""Few-shot caches: CoOp's pickles are read (never written), this project's cache lives outside the data folder,
is keyed on everything that shapes it, and a read-only data folder works."""
from __future__ import annotations

import importlib.util
import json
import os
import pickle
import random
import sys
import types
from pathlib import Path

import pytest

from tests.datasets.helpers import build, snapshot, summary
from tests.layouts import write_eurosat

SHOTS, SEED = 2, 1


@pytest.fixture
def eurosat(tmp_path) -> Path:
    write_eurosat(tmp_path / "data", n_per_class=10, n_classes=4)
    return tmp_path / "data"


def cache_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "data_cache").rglob("*.json"))


def test_own_cache_is_outside_the_data_folder_and_reused(eurosat, tmp_path):
    before = snapshot(eurosat)
    first = summary(build(eurosat, "EuroSAT", SHOTS, SEED))
    assert snapshot(eurosat) == before, "nothing may be written into the data folder (no split_fewshot/)"
    files = cache_files(tmp_path)
    assert len(files) == 1 and files[0].name.startswith(f"shot_{SHOTS}-seed_{SEED}-all-")
    content = json.loads(files[0].read_text())
    assert all(not os.path.isabs(row[0]) for row in content["train"] + content["val"])

    # A cache hit makes no random call, like CoOp reading its pickle.
    from tests.datasets.helpers import make_cfg
    from safe_clip.dassl import DATASET_REGISTRY

    random.seed(99)
    state = random.getstate()
    second = summary(DATASET_REGISTRY.get("EuroSAT")(make_cfg(eurosat, "EuroSAT", SHOTS, SEED)))
    assert random.getstate() == state
    assert second == first


def test_cache_key_covers_shots_seed_subsample_and_split(eurosat, tmp_path):
    build(eurosat, "EuroSAT", SHOTS, SEED)
    build(eurosat, "EuroSAT", SHOTS, SEED, subsample="base")
    build(eurosat, "EuroSAT", SHOTS, SEED + 1)
    build(eurosat, "EuroSAT", SHOTS + 1, SEED)
    assert len(cache_files(tmp_path)) == 4
    # Another split JSON (one train item dropped) must not reuse the cached picks.
    split_path = eurosat / "eurosat" / "split_zhou_EuroSAT.json"
    split = json.loads(split_path.read_text())
    split["train"] = split["train"][1:]
    split_path.write_text(json.dumps(split))
    build(eurosat, "EuroSAT", SHOTS, SEED)
    assert len(cache_files(tmp_path)) == 5


def test_unseeded_runs_are_not_cached(eurosat, tmp_path):
    build(eurosat, "EuroSAT", SHOTS, seed=-1)
    assert cache_files(tmp_path) == []


def test_damaged_or_stale_cache_is_rebuilt(eurosat, tmp_path):
    expected = summary(build(eurosat, "EuroSAT", SHOTS, SEED))
    (path,) = cache_files(tmp_path)
    path.write_text("{not json")
    assert summary(build(eurosat, "EuroSAT", SHOTS, SEED)) == expected
    content = json.loads(path.read_text())
    content["train"][0][1] = 99  # a label the split does not have
    path.write_text(json.dumps(content))
    assert summary(build(eurosat, "EuroSAT", SHOTS, SEED)) == expected


def test_read_only_data_folder(tmp_path, monkeypatch):
    """A split built for a read-only data folder is kept in the cache folder and reused; nothing is written
    into the data folder."""
    import safe_clip.data.splits as splits

    root = tmp_path / "data"
    write_eurosat(root, n_per_class=10, n_classes=4, with_split=False)
    monkeypatch.setattr(splits, "_writable_dir", lambda directory: False)
    before = snapshot(root)
    first = summary(build(root, "EuroSAT", SHOTS, SEED))
    assert snapshot(root) == before
    saved = list((tmp_path / "data_cache" / "splits").rglob("split_zhou_EuroSAT.json"))
    assert len(saved) == 1
    # Later runs (other seeds too) read that split instead of building a new one.
    random.seed(5)
    again = summary(build(root, "EuroSAT", SHOTS, SEED))
    assert again == first


def test_unwritable_cache_folder_is_skipped(eurosat, tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv("SAFE_CLIP_DATA_CACHE", str(blocker / "cache"))
    dataset = build(eurosat, "EuroSAT", SHOTS, SEED)
    assert len(dataset.train_x) == SHOTS * 4


# ----------------------------------------------------------------------------------------------------------
# CoOp's pickles


def coop_datum_class(monkeypatch):
    """Real Dassl's Datum when installed, else a stand-in registered under Dassl's module path."""
    if importlib.util.find_spec("dassl") is not None:
        from dassl.data.datasets.base_dataset import Datum

        return Datum
    module = types.ModuleType("dassl.data.datasets.base_dataset")

    class Datum:  # same state layout as Dassl's Datum
        def __init__(self, impath="", label=0, domain=0, classname=""):
            self._impath, self._label, self._domain, self._classname = impath, label, domain, classname

        impath = property(lambda self: self._impath)
        label = property(lambda self: self._label)
        classname = property(lambda self: self._classname)

    Datum.__module__ = module.__name__
    Datum.__qualname__ = "Datum"
    module.Datum = Datum
    for name in ("dassl", "dassl.data", "dassl.data.datasets"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return Datum


def write_coop_pickle(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)


def last_items(dataset_dir: Path, split: dict, part: str, per_class: int, Datum) -> list:
    """The last `per_class` items of each class of a split part, as CoOp's Datums with absolute paths."""
    picked = []
    for label in sorted({row[1] for row in split[part]}):
        rows = [row for row in split[part] if row[1] == label][-per_class:]
        picked += [Datum(impath=str(dataset_dir / "2750" / r[0]), label=r[1], classname=r[2]) for r in rows]
    return picked


def test_coop_pickle_is_read_with_either_implementation(eurosat, tmp_path, monkeypatch):
    dataset_dir = eurosat / "eurosat"
    split = json.loads((dataset_dir / "split_zhou_EuroSAT.json").read_text())
    with monkeypatch.context() as patch:
        Datum = coop_datum_class(patch)
        train = last_items(dataset_dir, split, "train", SHOTS, Datum)
        val = last_items(dataset_dir, split, "val", SHOTS, Datum)
        write_coop_pickle(dataset_dir / "split_fewshot" / f"shot_{SHOTS}-seed_{SEED}.pkl", {"train": train, "val": val})
    dataset = build(eurosat, "EuroSAT", SHOTS, SEED)
    assert [i.impath for i in dataset.train_x] == [d.impath for d in train]
    assert [i.impath for i in dataset.val] == [d.impath for d in val]
    assert [(i.label, i.classname) for i in dataset.train_x] == [(d.label, d.classname) for d in train]
    assert cache_files(tmp_path) == []  # the pickle was used, nothing sampled or cached
    assert sorted(os.listdir(dataset_dir / "split_fewshot")) == [f"shot_{SHOTS}-seed_{SEED}.pkl"]


def test_coop_pickle_from_another_root_is_rebuilt(eurosat, tmp_path, monkeypatch):
    dataset_dir = eurosat / "eurosat"
    split = json.loads((dataset_dir / "split_zhou_EuroSAT.json").read_text())
    moved = tmp_path / "old_root" / "eurosat"
    with monkeypatch.context() as patch:
        Datum = coop_datum_class(patch)
        train = last_items(dataset_dir, split, "train", SHOTS, Datum)
        for item in train:  # same files, recorded under the root CoOp ran with
            item._impath = item._impath.replace(str(dataset_dir), str(moved))
        write_coop_pickle(dataset_dir / "split_fewshot" / f"shot_{SHOTS}-seed_{SEED}.pkl", {"train": train, "val": []})
    expected_dir = tmp_path / "fresh"
    write_eurosat(expected_dir, n_per_class=10, n_classes=4)
    dataset = build(eurosat, "EuroSAT", SHOTS, SEED)
    reference = build(expected_dir, "EuroSAT", SHOTS, SEED)  # same split, no pickle: sampled
    assert [os.path.relpath(i.impath, eurosat) for i in dataset.train_x] == [
        os.path.relpath(i.impath, expected_dir) for i in reference.train_x
    ]


def test_foreign_pickle_is_refused(eurosat, tmp_path):
    dataset_dir = eurosat / "eurosat"
    path = dataset_dir / "split_fewshot" / f"shot_{SHOTS}-seed_{SEED}.pkl"
    marker = tmp_path / "executed"
    write_coop_pickle(path, {"train": [os.system], "val": []})  # a global that is not a Datum
    dataset = build(eurosat, "EuroSAT", SHOTS, SEED)
    assert len(dataset.train_x) == SHOTS * 4 and not marker.exists()


def test_read_coop_pickle_rejects_anything_but_datums(tmp_path):
    from safe_clip.data import read_coop_pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps({"train": [Evil()]}))
    assert read_coop_pickle(str(path), ["train"], str(tmp_path)) is None
