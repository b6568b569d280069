"""The "done when" check: on synthetic copies of all 15 layouts, this project's picks equal those of real
Dassl + CoOp's own dataset classes, for shots 1 and 16 and seeds 1 and 2, with the split JSON present and
with it missing (built from the raw files with the same `random` calls), and a CoOp-written few-shot pickle
is read back.

CoOp's classes run in a subprocess on an interpreter where `dassl` imports: this one, or the one named by
$SAFE_CLIP_DASSL_PYTHON (so the built-in implementation can be compared too). They are loaded from a CoOp
checkout at $COOP_SRC (default /tmp/coop-src), never copied into this repository. Skipped when either is missing.
"""
from __future__ import annotations

import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.datasets.helpers import DATASET_NAMES, FIXED_SPLIT, TEST_ONLY, build, snapshot, summary
from tests.layouts import LAYOUT_WRITERS

COOP_SRC = Path(os.environ.get("COOP_SRC", "/tmp/coop-src"))
REFERENCE = Path(__file__).with_name("coop_reference.py")
SHOTS = (1, 16)
SEEDS = (1, 2)


def dassl_python() -> str | None:
    explicit = os.environ.get("SAFE_CLIP_DASSL_PYTHON", "")
    if explicit:
        return explicit
    if importlib.util.find_spec("dassl") is not None:
        return sys.executable
    return None


def require_reference() -> str:
    python = dassl_python()
    if python is None:
        pytest.skip("real Dassl is not importable (set SAFE_CLIP_DASSL_PYTHON to a python that has it)")
    if not (COOP_SRC / "datasets" / "oxford_pets.py").is_file():
        pytest.skip(f"no CoOp checkout at {COOP_SRC} (set COOP_SRC)")
    return python


def write_layouts(root: Path, with_split: bool) -> None:
    for name, writer in LAYOUT_WRITERS.items():
        if not with_split and name in FIXED_SPLIT:
            continue  # nothing to build: covered by the split-json run
        if name == "ImageNetV2":
            writer(root, n_per_class=1, n_classes=1000)  # CoOp's class walks folders 0..999
        elif name in TEST_ONLY:
            writer(root, n_per_class=3, n_classes=3)
        else:
            # 40 per class: 20 train and 8 val, so both 16-shot train and 4-shot val really sample.
            writer(root, n_per_class=40, n_classes=3, with_split=with_split)


def run_coop(python: str, jobs: list[dict], work: Path) -> list[dict]:
    jobs_path, out_path = work / "jobs.json", work / "coop_out.json"
    jobs_path.write_text(json.dumps(jobs))
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    done = subprocess.run(
        [python, str(REFERENCE), str(COOP_SRC), str(jobs_path), str(out_path)],
        cwd=str(work), env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out_path.read_text())


def equivalence_jobs(root: Path, with_split: bool) -> list[dict]:
    names = [n for n in DATASET_NAMES if with_split or n not in FIXED_SPLIT]
    return [
        {"dataset": name, "root": str(root), "shots": shots, "seed": seed}
        for name in names
        for shots in SHOTS
        for seed in SEEDS
    ]


def pickle_jobs(root: Path) -> list[dict]:
    return [
        {"dataset": "EuroSAT", "root": str(root), "shots": 4, "seed": 3, "keep": True},
        {"dataset": "ImageNet", "root": str(root), "shots": 2, "seed": 3, "keep": True},
    ]


@pytest.fixture(scope="module")
def coop_runs(tmp_path_factory):
    """Writes the layouts and runs every CoOp job in one subprocess (importing real Dassl takes seconds)."""
    python = require_reference()
    work = tmp_path_factory.mktemp("coop")
    runs = {}
    jobs = []
    for with_split in (True, False):
        root = work / ("data-split-json" if with_split else "data-split-built")
        write_layouts(root, with_split)
        runs[with_split] = (root, equivalence_jobs(root, with_split))
        jobs += runs[with_split][1]
    pickle_root = work / "data-pickles"
    LAYOUT_WRITERS["EuroSAT"](pickle_root, n_per_class=40, n_classes=3)
    LAYOUT_WRITERS["ImageNet"](pickle_root, n_per_class=20, n_classes=3)
    runs["pickles"] = (pickle_root, pickle_jobs(pickle_root))
    jobs += runs["pickles"][1]
    results = iter(run_coop(python, jobs, work))
    return {key: (root, [(job, next(results)) for job in key_jobs]) for key, (root, key_jobs) in runs.items()}


def run_ours(jobs: list[dict], tmp_path: Path, monkeypatch) -> list[dict]:
    results = []
    for index, job in enumerate(jobs):
        # A fresh cache per job, so every job really samples (as CoOp does without its pickle).
        monkeypatch.setenv("SAFE_CLIP_DATA_CACHE", str(tmp_path / f"cache{index}"))
        root = Path(job["root"])
        before = snapshot(root)
        dataset = build(root, job["dataset"], job["shots"], job["seed"])
        result = summary(dataset)
        split_path = getattr(dataset, "split_path", "")
        new = snapshot(root) - before
        result["written_split"] = json.loads(Path(split_path).read_text()) if split_path in new else None
        for path in sorted(new, key=len, reverse=True):
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.remove(path)
        results.append(result)
    return results


@pytest.mark.parametrize("with_split", [True, False], ids=["split-json", "split-built"])
def test_picks_equal_coop(with_split, coop_runs, tmp_path, monkeypatch):
    root, runs = coop_runs[with_split]
    jobs = [job for job, _ in runs]
    ours = run_ours(jobs, tmp_path, monkeypatch)
    matched = set()
    for (job, coop), mine in zip(runs, ours):
        label = f"{job['dataset']} shots={job['shots']} seed={job['seed']}"
        for key in ("classnames", "train_x", "val", "test"):
            assert mine[key] == coop[key], f"{label}: {key} differs from CoOp's"
        assert mine["written_split"] == coop["written_split"], f"{label}: the saved split JSON differs"
        if not with_split and job["dataset"] not in FIXED_SPLIT:
            assert coop["written_split"] is not None  # the build path really ran
        if job["shots"] == 16 and job["dataset"] not in TEST_ONLY:
            assert len(mine["train_x"]) == 16 * len(mine["classnames"])
        matched.add(job["dataset"])
    expected = [n for n in DATASET_NAMES if with_split or n not in FIXED_SPLIT]
    assert sorted(matched) == sorted(expected)
    assert len(matched) == (15 if with_split else 9)


def test_coop_written_pickles_are_read(coop_runs, tmp_path, monkeypatch):
    """CoOp's `split_fewshot/shot_K-seed_S.pkl` (real Dassl Datums) and ImageNet's `preprocessed.pkl` are read,
    with either Dassl implementation: the picks equal CoOp's even when `random` is in another state."""
    root, runs = coop_runs["pickles"]
    assert (root / "eurosat" / "split_fewshot" / "shot_4-seed_3.pkl").is_file()
    assert (root / "imagenet" / "preprocessed.pkl").is_file()

    import safe_clip.dassl as seam
    from tests.datasets.helpers import make_cfg

    for job, coop in runs:
        monkeypatch.setenv("SAFE_CLIP_DATA_CACHE", str(tmp_path / f"cache-{job['dataset']}"))
        cfg = make_cfg(root, job["dataset"], job["shots"], job["seed"])
        random.seed(12345)  # not the seed: only the pickle can reproduce CoOp's picks
        state = random.getstate()
        mine = summary(seam.DATASET_REGISTRY.get(job["dataset"])(cfg))
        assert random.getstate() == state, "reading CoOp's pickle must not use random"
        for key in ("classnames", "train_x", "val", "test"):
            assert mine[key] == coop[key], f"{job['dataset']}: {key} differs from CoOp's pickle"
    # Nothing of ours was written next to CoOp's files, nor into our cache (the pickle was used).
    assert sorted(p.name for p in (root / "eurosat" / "split_fewshot").iterdir()) == ["shot_4-seed_3.pkl"]
    assert not (tmp_path / "cache-EuroSAT").exists()
