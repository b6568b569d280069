"""Shared fixtures: a tiny random CLIP checkpoint and a small EuroSAT folder in CoOp's layout."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    # train.py, trainers/ and datasets/ live at the repository root, as in CoOp.
    sys.path.insert(0, str(REPO_ROOT))

from tests.layouts import write_eurosat  # noqa: E402
from tests.tiny_clip import save_tiny_clip  # noqa: E402

TINY_INPUT_SIZE = "(64, 64)"


@pytest.fixture(scope="session")
def tiny_clip_checkpoint(tmp_path_factory) -> Path:
    return save_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny_rn.pt")


@pytest.fixture(scope="session")
def eurosat_root(tmp_path_factory) -> Path:
    """A DATASET.ROOT holding eurosat/ with 10 classes x 10 images (5 train, 2 val, 3 test per class)."""
    root = tmp_path_factory.mktemp("data")
    write_eurosat(root, n_per_class=10)
    return root


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path, monkeypatch):
    """Feature-store and few-shot caches go to a per-test folder, never to the user's home."""
    monkeypatch.setenv("SAFE_CLIP_CACHE", str(tmp_path / "store"))
    monkeypatch.setenv("SAFE_CLIP_DATA_CACHE", str(tmp_path / "data_cache"))
    monkeypatch.setenv("SAFE_CLIP_NO_DOWNLOAD", "1")
    yield


def tiny_opts(checkpoint: Path, *extra: str) -> list[str]:
    """KEY VALUE overrides that point a run at the tiny CLIP."""
    return ["MODEL.BACKBONE.NAME", str(checkpoint), "INPUT.SIZE", TINY_INPUT_SIZE, "DATALOADER.NUM_WORKERS", "0", *extra]


os.environ.setdefault("TQDM_DISABLE", "1")
# Session-wide defaults for module-scoped fixtures; `isolated_caches` gives each test its own folders on top.
_SESSION_CACHE = tempfile.mkdtemp(prefix="safe_clip_tests_")
os.environ["SAFE_CLIP_CACHE"] = os.path.join(_SESSION_CACHE, "store")
os.environ["SAFE_CLIP_DATA_CACHE"] = os.path.join(_SESSION_CACHE, "data_cache")
os.environ["SAFE_CLIP_NO_DOWNLOAD"] = "1"


@pytest.fixture
def run_train():
    """Runs train.py's `run(argv)` in-process and returns its exit status; Dassl's logger replaces sys.stdout, so
    it is restored afterwards."""
    import train

    def _run(argv: list[str]) -> int:
        saved_stdout = sys.stdout
        try:
            return train.run([str(arg) for arg in argv])
        finally:
            sys.stdout = saved_stdout

    return _run


def train_argv(root: Path, output_dir: Path, trainer: str, checkpoint: Path, *extra: str, seed: int = 1,
               config: str = "rn50", dataset: str = "eurosat") -> list[str]:
    """train.py arguments for `trainer` on the tiny CLIP and a synthetic dataset folder."""
    return [
        "--root", str(root), "--seed", str(seed), "--trainer", trainer,
        "--dataset-config-file", str(REPO_ROOT / "configs" / "datasets" / f"{dataset}.yaml"),
        "--config-file", str(REPO_ROOT / "configs" / "trainers" / trainer / f"{config}.yaml"),
        "--output-dir", str(output_dir),
        *tiny_opts(checkpoint, *extra),
    ]


def read_results(output_dir: Path) -> dict:
    """The results.json a run wrote into `output_dir`."""
    import json

    return json.loads((Path(output_dir) / "results.json").read_text())


def build_trainer_from(argv: list[str]):
    """The trainer train.py would build for `argv` (datasets and trainers registered), without running it."""
    import datasets  # noqa: F401
    import train
    import trainers  # noqa: F401
    from safe_clip.dassl import build_trainer, set_random_seed

    cfg = train.setup_cfg(train.build_parser().parse_args(argv))
    set_random_seed(cfg.SEED)
    return build_trainer(cfg)
