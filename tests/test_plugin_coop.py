"""SAFE and SAFE-A dropped into an unmodified CoOp checkout, on real Dassl.

Needs real Dassl and a CoOp checkout (its path in SAFE_CLIP_COOP_DIR); skipped otherwise. The checkout is copied to
a temporary folder, the two trainer files are copied into its trainers/, and its train.py gets the README's
plug-in lines; nothing of CoOp is kept in this repository.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.layouts import write_eurosat

COOP_DIR = os.environ.get("SAFE_CLIP_COOP_DIR", "")

pytestmark = [
    pytest.mark.skipif(not COOP_DIR or not Path(COOP_DIR, "train.py").is_file(),
                       reason="set SAFE_CLIP_COOP_DIR to a CoOp checkout to run the plug-in test"),
]


def add_plugin_lines(train_py: Path) -> None:
    """The README's plug-in steps for CoOp's train.py: import the two trainers and safe_clip beside CoOp's own
    trainer imports, and call `safe_clip.extend_cfg(cfg)` at the end of its `extend_cfg`."""
    source = train_py.read_text()
    anchor = "import trainers.zsclip\n"
    assert anchor in source and "\ndef setup_cfg(args):" in source
    source = source.replace(anchor, anchor + "import trainers.safe\nimport trainers.safe_a\nimport safe_clip\n", 1)
    # In CoOp's train.py, extend_cfg is the function right before setup_cfg.
    before, after = source.split("\ndef setup_cfg(args):", 1)
    train_py.write_text(before.rstrip("\n") + "\n    safe_clip.extend_cfg(cfg)\n\n\ndef setup_cfg(args):" + after)


@pytest.mark.parametrize("trainer, extra", [("SAFE", []), ("SAFE_A", ["TRAINER.SAFE_A.EPOCHS", "3"])])
def test_trainers_run_inside_a_coop_checkout_on_real_dassl(trainer, extra, tmp_path, tiny_clip_checkpoint):
    pytest.importorskip("dassl")
    host = tmp_path / "CoOp"
    shutil.copytree(COOP_DIR, host, ignore=shutil.ignore_patterns(".git", "output"))
    for name in ("safe.py", "safe_a.py"):
        shutil.copy(REPO_ROOT / "trainers" / name, host / "trainers" / name)
    shutil.copytree(REPO_ROOT / "configs" / "trainers" / trainer, host / "configs" / "trainers" / trainer)
    add_plugin_lines(host / "train.py")
    write_eurosat(tmp_path / "data", n_per_class=10)
    output_dir = tmp_path / "output"
    command = [
        sys.executable, "train.py", "--root", str(tmp_path / "data"), "--seed", "1", "--trainer", trainer,
        "--dataset-config-file", "configs/datasets/eurosat.yaml",
        "--config-file", f"configs/trainers/{trainer}/rn50.yaml", "--output-dir", str(output_dir),
        "MODEL.BACKBONE.NAME", str(tiny_clip_checkpoint), "INPUT.SIZE", "(64, 64)", "DATALOADER.NUM_WORKERS", "0",
        "DATASET.NUM_SHOTS", "2", "OPTIM.MAX_EPOCH", "2", "TRAINER.SAFE.VIEWS", "2", *extra,
    ]
    # Run from the checkout's root, as CoOp expects: its own clip/ package shadows the installed clip-anytorch.
    result = subprocess.run(command, cwd=host, capture_output=True, text=True, timeout=900,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert result.returncode == 0, result.stderr[-3000:]
    log = (output_dir / "log.txt").read_text()
    assert "Finish training" in log and "* accuracy:" in log
    results = json.loads((output_dir / "results.json").read_text())
    assert results["trainer"] == trainer and results["dassl"].startswith("dassl ")
    assert 0.0 <= results["method"]["blend"] <= 1.0
