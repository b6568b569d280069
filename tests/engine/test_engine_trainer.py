"""TrainerX end to end on a tiny image dataset: log lines, checkpoints, resuming, best-val, determinism."""
from __future__ import annotations

import importlib.util
import os
import re
import sys

import pytest
import torch

from safe_clip.engine import build_trainer, set_random_seed, setup_logger
from tests.engine.engine_helpers import (
    EngineTinyTrainer,
    make_tiny_dataset_class,
    make_tiny_trainer_class,
    registered,
)

# Dassl's training line (dassl-contract.md §2.3), losses = "loss v (avg) acc v (avg)".
LOG_LINE = re.compile(
    r"epoch \[(\d+)/(\d+)\] batch \[(\d+)/(\d+)\] time (\d+\.\d{3}) \((\d+\.\d{3})\) "
    r"data (\d+\.\d{3}) \((\d+\.\d{3})\) loss (-?\d+\.\d{4}) \((-?\d+\.\d{4})\) acc (\d+\.\d{4}) \((\d+\.\d{4})\) "
    r"lr (\d\.\d{4}e[+-]\d{2}) eta (\d+:\d{2}:\d{2})$"
)
RESULT_BLOCK = re.compile(
    r"=> result\n\* total: 9\n\* correct: \d\n\* accuracy: \d+\.\d%\n\* error: \d+\.\d%\n\* macro_f1: \d+\.\d%\n"
)


def train(cfg) -> EngineTinyTrainer:
    set_random_seed(cfg.SEED)
    trainer = build_trainer(cfg)
    trainer.train()
    return trainer


def test_log_lines_checkpoint_layout_and_final_test(make_cfg, restore_stdout) -> None:
    cfg = make_cfg()
    log_path = setup_logger(cfg.OUTPUT_DIR)
    trainer = train(cfg)
    sys.stdout.flush()
    log = open(log_path).read()
    lines = log.splitlines()

    # 6 train images per class, batch 4: 4 batches, lines at batches 2 and 4 (PRINT_FREQ 2).
    training_lines = [line for line in lines if line.startswith("epoch [")]
    assert len(training_lines) == 6
    for line in training_lines:
        assert LOG_LINE.match(line), line
    parsed = [LOG_LINE.match(line).groups() for line in training_lines]
    assert [(p[0], p[1], p[2], p[3]) for p in parsed[:2]] == [("1", "3", "2", "4"), ("1", "3", "4", "4")]
    # The LR is read after forward_backward: the last batch of epoch 1 already shows epoch 2's LR.
    assert [p[12] for p in parsed] == [
        "1.0000e-05", "2.0000e-03", "2.0000e-03", "1.5000e-03", "1.5000e-03", "5.0000e-04"
    ]
    assert trainer.epoch_lrs == pytest.approx([1e-5, 0.002, 0.0015])

    assert "No checkpoint found, train from scratch" in lines
    assert lines.index("Finish training") < lines.index("Deploy the last-epoch model")
    assert RESULT_BLOCK.search(log[log.index("Finish training"):])
    assert re.search(r"^Elapsed: \d+:\d{2}:\d{2}$", log, re.M)

    model_dir = os.path.join(cfg.OUTPUT_DIR, "tiny_head")
    assert sorted(os.listdir(model_dir)) == ["checkpoint", "model.pth.tar-3"]
    checkpoint = torch.load(os.path.join(model_dir, "model.pth.tar-3"), weights_only=True)
    assert checkpoint["epoch"] == 3 and checkpoint["val_result"] is None
    assert os.path.isdir(os.path.join(cfg.OUTPUT_DIR, "tensorboard"))
    if importlib.util.find_spec("tensorboard") is None:
        assert "TensorBoard is not installed, so no training curves are written (pip install tensorboard)" in lines
    else:
        event_files = os.listdir(os.path.join(cfg.OUTPUT_DIR, "tensorboard"))
        assert any(name.startswith("events.out.tfevents") for name in event_files)


class StopAfterEpoch(Exception):
    pass


def test_resume_continues_the_lr_schedule(make_cfg, capsys) -> None:
    cfg = make_cfg(OPTIM__MAX_EPOCH=6, TRAIN__CHECKPOINT_FREQ=3, TEST__NO_TEST=True)
    set_random_seed(1)
    interrupted = build_trainer(cfg)
    original_after_epoch = interrupted.after_epoch

    def after_epoch_then_stop() -> None:
        original_after_epoch()
        if interrupted.epoch == 2:
            raise StopAfterEpoch

    interrupted.after_epoch = after_epoch_then_stop
    with pytest.raises(StopAfterEpoch):
        interrupted.train()
    assert interrupted.epoch_lrs == pytest.approx([1e-5, 0.002, 0.0018660254])

    capsys.readouterr()
    resumed = train(cfg)
    output = capsys.readouterr().out
    assert f"Found checkpoint at {cfg.OUTPUT_DIR} (will resume training)" in output
    assert "Previous epoch: 3" in output
    assert resumed.start_epoch == 3
    # Dassl froze the LR at 0.0015 here (hazard 3).
    assert resumed.epoch_lrs == pytest.approx([0.0015, 0.001, 0.0005])
    assert sorted(os.listdir(os.path.join(cfg.OUTPUT_DIR, "tiny_head"))) == [
        "checkpoint", "model.pth.tar-3", "model.pth.tar-6"
    ]


def test_load_model_handles_last_epoch_checkpoints(make_cfg, capsys) -> None:
    cfg = make_cfg(OPTIM__MAX_EPOCH=1, TEST__NO_TEST=True)
    trained = train(cfg)
    fresh = build_trainer(cfg)
    capsys.readouterr()
    fresh.load_model(cfg.OUTPUT_DIR, epoch=1)  # val_result is None: Dassl crashed here (hazard 4)
    path = os.path.join(cfg.OUTPUT_DIR, "tiny_head", "model.pth.tar-1")
    assert capsys.readouterr().out == f"Load {path} to tiny_head (epoch=1, val_result=None)\n"
    assert torch.equal(fresh.model.head.weight, trained.model.head.weight)

    fresh.load_model("")
    assert "load_model() is skipped as no pretrained model is given" in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match="No model at"):
        fresh.load_model(cfg.OUTPUT_DIR, epoch=7)


def test_best_val_saves_and_deploys_the_best_model(make_cfg, capsys) -> None:
    cfg = make_cfg(OPTIM__MAX_EPOCH=2, TEST__FINAL_MODEL="best_val")
    train(cfg)
    output = capsys.readouterr().out
    assert "Evaluate on the *val* set" in output
    assert "Deploy the model with the best val performance" in output
    assert re.search(r"\(epoch=\d, val_result=\d+\.\d\)", output)
    assert "model-best.pth.tar" in os.listdir(os.path.join(cfg.OUTPUT_DIR, "tiny_head"))


def test_same_seed_same_training(make_cfg, tmp_path) -> None:
    first = train(make_cfg(OUTPUT_DIR=str(tmp_path / "a"), DATASET__NUM_SHOTS=4))
    second = train(make_cfg(OUTPUT_DIR=str(tmp_path / "b"), DATASET__NUM_SHOTS=4))
    third = train(make_cfg(OUTPUT_DIR=str(tmp_path / "c"), DATASET__NUM_SHOTS=4, SEED=2))
    assert torch.equal(first.model.head.weight, second.model.head.weight)
    assert not torch.equal(first.model.head.weight, third.model.head.weight)
    assert [d.impath for d in first.dm.dataset.train_x] == [d.impath for d in second.dm.dataset.train_x]


def test_test_split_falls_back_to_test_without_val(make_cfg, capsys) -> None:
    trainer = build_trainer(make_cfg())
    trainer.val_loader = None
    capsys.readouterr()
    accuracy = trainer.test(split="val")
    assert "Evaluate on the *test* set" in capsys.readouterr().out
    assert 0.0 <= accuracy <= 100.0


def mask_timings(text: str) -> str:
    text = re.sub(r"time \d+\.\d{3} \(\d+\.\d{3}\) data \d+\.\d{3} \(\d+\.\d{3}\)", "time T data D", text)
    text = re.sub(r"eta \d+:\d{2}:\d{2}", "eta E", text)
    return re.sub(r"Elapsed: \d+:\d{2}:\d{2}", "Elapsed: E", text)


def test_prints_what_real_dassl_prints(make_cfg, capsys) -> None:
    """Same seed, same data, same model: every printed line equals real Dassl's, timings aside."""
    pytest.importorskip("dassl")
    from dassl.data.datasets import DATASET_REGISTRY as DASSL_DATASETS
    from dassl.data.datasets import DatasetBase as DasslDatasetBase
    from dassl.data.datasets import Datum as DasslDatum
    from dassl.engine import TRAINER_REGISTRY as DASSL_TRAINERS
    from dassl.engine import TrainerX as DasslTrainerX
    from dassl.engine import build_trainer as dassl_build_trainer
    from dassl.metrics import compute_accuracy as dassl_compute_accuracy
    from dassl.optim import build_optimizer as dassl_build_optimizer

    dassl_dataset = make_tiny_dataset_class(DasslDatasetBase, DasslDatum)
    dassl_trainer = make_tiny_trainer_class(DasslTrainerX, dassl_build_optimizer, dassl_compute_accuracy)

    def run(build, output_dir: str) -> list[str]:
        cfg = make_cfg(OUTPUT_DIR=output_dir, DATASET__NUM_SHOTS=4, OPTIM__MAX_EPOCH=2)
        set_random_seed(cfg.SEED)
        capsys.readouterr()
        build(cfg).train()
        return mask_timings(capsys.readouterr().out.replace(output_dir, "OUT")).splitlines()

    ours = run(build_trainer, os.path.join(str(make_cfg().OUTPUT_DIR), "ours"))
    with registered(DASSL_DATASETS, dassl_dataset), registered(DASSL_TRAINERS, dassl_trainer):
        theirs = run(dassl_build_trainer, os.path.join(str(make_cfg().OUTPUT_DIR), "dassl"))
    assert ours == theirs
