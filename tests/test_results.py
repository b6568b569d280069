"""The results table (python -m safe_clip.results) and the zero-shot script."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from safe_clip import results
from tests.conftest import REPO_ROOT


def write_run(folder: Path, trainer: str, dataset: str, shots: int, seed: int, accuracy: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    record = {"trainer": trainer, "dataset": dataset, "shots": shots, "seed": seed, "accuracy": accuracy}
    (folder / "results.json").write_text(json.dumps(record))


def write_coop_log(folder: Path, accuracies: list[float]) -> None:
    """A CoOp log: result blocks before and after `Finish training`; the last one after it counts."""
    folder.mkdir(parents=True, exist_ok=True)
    blocks = [f"=> result\n* total: 100\n* accuracy: {a}%\n* error: {100 - a}%\n" for a in accuracies]
    (folder / "log.txt").write_text("epoch [1/1] ...\n" + blocks[0] + "Finish training\n" + "".join(blocks[1:]))


def test_mean_sample_std_and_count_per_trainer_dataset_shots(tmp_path):
    for seed, accuracy in zip((1, 2, 3), (70.0, 72.0, 77.0)):
        write_run(tmp_path / "eurosat" / "SAFE" / "rn50_16shots" / f"seed{seed}", "SAFE", "EuroSAT", 16, seed, accuracy)
    write_run(tmp_path / "eurosat" / "SAFE_A" / "rn50_16shots" / "seed1", "SAFE_A", "EuroSAT", 16, 1, 80.0)
    # A CoOp run without results.json: read from its log, trainer/dataset/shots/seed from the folders.
    write_coop_log(tmp_path / "eurosat" / "CoOp" / "rn50_16shots" / "nctx16_cscFalse_ctpend" / "seed1", [10.0, 81.5, 82.5])
    rows = results.summarize(results.collect([tmp_path]))
    by_trainer = {row["trainer"]: row for row in rows}
    assert by_trainer["SAFE"]["mean"] == pytest.approx(73.0)
    assert by_trainer["SAFE"]["std"] == pytest.approx(3.605551, abs=1e-5)  # sample std (n - 1)
    assert by_trainer["SAFE"]["n"] == 3
    assert by_trainer["SAFE_A"]["n"] == 1
    assert by_trainer["CoOp"]["mean"] == 82.5 and by_trainer["CoOp"]["dataset"] == "eurosat"
    markdown = results.format_table(rows, "markdown")
    assert "| SAFE " in markdown and "73.00" in markdown and "3.61" in markdown


def test_cli_prints_both_tables_and_rejects_an_empty_folder(tmp_path, capsys):
    write_run(tmp_path / "run", "SAFE", "EuroSAT", 4, 1, 50.0)
    assert results.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "accuracy (%)" in out and "|" in out and "-----" in out
    assert results.main([str(tmp_path / "nothing")]) == 2
    (tmp_path / "empty").mkdir()
    assert results.main([str(tmp_path / "empty")]) == 2
    assert "no results.json" in capsys.readouterr().err


def test_zero_shot_script(tiny_clip_checkpoint, eurosat_root, tmp_path):
    env = {**os.environ, "DATA": str(eurosat_root), "OUTPUT": str(tmp_path), "PYTHON": sys.executable,
           "PYTHONWARNINGS": "ignore"}
    command = ["bash", str(REPO_ROOT / "scripts" / "zeroshot" / "main.sh"), "eurosat",
               "MODEL.BACKBONE.NAME", str(tiny_clip_checkpoint), "INPUT.SIZE", "(64, 64)", "DATALOADER.NUM_WORKERS", "0"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads((tmp_path / "eurosat" / "ZeroshotCLIP" / "rn50" / "results.json").read_text())
    assert record["trainer"] == "ZeroshotCLIP" and record["dataset"] == "EuroSAT"
    unknown = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "zeroshot" / "main.sh"), "eurosatt"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "unknown dataset 'eurosatt'" in unknown.stderr
