"""Checkpoints: Dassl's layout and keys, atomic writes, weights_only loading, resuming, partial weight loading."""
from __future__ import annotations

import os
import pickle
import warnings

import pytest
import torch

import safe_clip.engine.checkpoint as checkpoint_module
from safe_clip.engine import (
    get_cfg_default,
    load_checkpoint,
    load_pretrained_weights,
    resume_from_checkpoint,
    save_checkpoint,
)
from safe_clip.optim import build_lr_scheduler


def coop_like_state(epoch: int = 3):
    model = torch.nn.Linear(4, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.002, momentum=0.9)
    cfg = get_cfg_default()
    cfg.OPTIM.LR_SCHEDULER = "cosine"
    cfg.OPTIM.MAX_EPOCH = 6
    cfg.OPTIM.WARMUP_EPOCH = 1
    cfg.OPTIM.WARMUP_TYPE = "constant"
    scheduler = build_lr_scheduler(optimizer, cfg.OPTIM)
    model(torch.randn(2, 4)).sum().backward()
    optimizer.step()
    scheduler.step()
    state = {
        "state_dict": model.state_dict(),
        "epoch": epoch,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "val_result": None,
    }
    return model, optimizer, scheduler, state


def files_in(folder) -> list[str]:
    return sorted(os.listdir(folder))


def test_save_then_load_gives_identical_state(tmp_path, capsys) -> None:
    model, _, scheduler, state = coop_like_state()
    save_dir = str(tmp_path / "prompt_learner")
    fpath = save_checkpoint(state, save_dir)

    assert fpath == os.path.join(save_dir, "model.pth.tar-3")
    assert capsys.readouterr().out == f"Checkpoint saved to {fpath}\n"
    assert files_in(save_dir) == ["checkpoint", "model.pth.tar-3"]
    with open(os.path.join(save_dir, "checkpoint")) as pointer:
        assert pointer.read() == "model.pth.tar-3\n"

    loaded = load_checkpoint(fpath)
    assert set(loaded) == {"state_dict", "epoch", "optimizer", "scheduler", "val_result"}
    for key, tensor in model.state_dict().items():
        assert torch.equal(loaded["state_dict"][key], tensor)
    assert loaded["scheduler"] == scheduler.state_dict()
    assert loaded["epoch"] == 3 and loaded["val_result"] is None
    # Plain data only: torch's safe loader reads it directly.
    assert torch.load(fpath, weights_only=True)["scheduler"]["successor"]["T_max"] == 6.0


def test_module_prefix_is_stripped_and_best_copy_written(tmp_path, capsys) -> None:
    _, _, _, state = coop_like_state()
    state["state_dict"] = {f"module.{key}": value for key, value in state["state_dict"].items()}
    original_keys = list(state["state_dict"])
    save_dir = str(tmp_path / "model")
    save_checkpoint(state, save_dir, is_best=True, model_name="model-best.pth.tar")
    assert list(state["state_dict"]) == original_keys  # the caller's dict is untouched
    assert files_in(save_dir) == ["checkpoint", "model-best.pth.tar"]
    assert sorted(load_checkpoint(os.path.join(save_dir, "model-best.pth.tar"))["state_dict"]) == ["bias", "weight"]
    assert 'Best checkpoint saved to "' in capsys.readouterr().out


def test_failed_save_leaves_no_partial_file_and_keeps_the_pointer(tmp_path, monkeypatch) -> None:
    _, _, _, state = coop_like_state(epoch=1)
    save_dir = str(tmp_path / "prompt_learner")
    save_checkpoint(state, save_dir)

    real_save = torch.save

    def save_half_then_fail(obj, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module.torch, "save", save_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(dict(state, epoch=2), save_dir)
    monkeypatch.setattr(checkpoint_module.torch, "save", real_save)

    assert files_in(save_dir) == ["checkpoint", "model.pth.tar-1"]  # no model.pth.tar-2, no temporary file
    with open(os.path.join(save_dir, "checkpoint")) as pointer:
        assert pointer.read() == "model.pth.tar-1\n"
    assert load_checkpoint(os.path.join(save_dir, "model.pth.tar-1"))["epoch"] == 1


def test_pointer_write_failure_keeps_the_old_pointer(tmp_path, monkeypatch) -> None:
    _, _, _, state = coop_like_state(epoch=1)
    save_dir = str(tmp_path / "m")
    save_checkpoint(state, save_dir)

    def fail(text, fpath):
        raise OSError("interrupted")

    monkeypatch.setattr(checkpoint_module, "atomic_write_text", fail)
    with pytest.raises(OSError):
        save_checkpoint(dict(state, epoch=2), save_dir)
    with open(os.path.join(save_dir, "checkpoint")) as pointer:
        assert pointer.read() == "model.pth.tar-1\n"


def test_pickled_scheduler_objects_fall_back_to_full_unpickling(tmp_path) -> None:
    """A CoOp checkpoint written by Dassl holds the successor scheduler object."""
    _, optimizer, _, state = coop_like_state()
    successor = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=6.0)
    fpath = str(tmp_path / "model.pth.tar-3")
    torch.save(dict(state, scheduler={"successor": successor, "last_epoch": 1}), fpath)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(fpath, weights_only=True)
    with pytest.warns(UserWarning, match="weights_only=False"):
        loaded = load_checkpoint(fpath)
    assert isinstance(loaded["scheduler"]["successor"], torch.optim.lr_scheduler.CosineAnnealingLR)


def test_missing_or_broken_files(tmp_path, capsys) -> None:
    missing = str(tmp_path / "nothing.pth")
    with pytest.raises(FileNotFoundError, match='File is not found at "'):
        load_checkpoint(missing)
    with pytest.raises(ValueError):
        load_checkpoint(None)
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(Exception):
        load_checkpoint(str(broken))
    assert f'Unable to load checkpoint from "{broken}"' in capsys.readouterr().out


def test_resume_from_checkpoint_restores_everything(tmp_path, capsys) -> None:
    model, optimizer, scheduler, state = coop_like_state(epoch=3)
    save_dir = str(tmp_path / "prompt_learner")
    save_checkpoint(state, save_dir)
    capsys.readouterr()

    new_model = torch.nn.Linear(4, 3)
    new_optimizer = torch.optim.SGD(new_model.parameters(), lr=0.002, momentum=0.9)
    cfg = get_cfg_default()
    cfg.OPTIM.LR_SCHEDULER = "cosine"
    cfg.OPTIM.MAX_EPOCH = 6
    cfg.OPTIM.WARMUP_EPOCH = 1
    cfg.OPTIM.WARMUP_TYPE = "constant"
    new_scheduler = build_lr_scheduler(new_optimizer, cfg.OPTIM)
    assert resume_from_checkpoint(save_dir, new_model, new_optimizer, new_scheduler) == 3
    assert torch.equal(new_model.weight, model.weight)
    assert new_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
    assert new_scheduler.last_epoch == scheduler.last_epoch
    assert capsys.readouterr().out.splitlines() == [
        f'Loading checkpoint from "{os.path.join(save_dir, "model.pth.tar-3")}"',
        "Loaded model weights",
        "Loaded optimizer",
        "Loaded scheduler",
        "Previous epoch: 3",
    ]


def test_resume_without_pointer_says_what_to_do(tmp_path) -> None:
    (tmp_path / "prompt_learner").mkdir()
    with pytest.raises(FileNotFoundError, match="no finished checkpoint"):
        resume_from_checkpoint(str(tmp_path / "prompt_learner"), torch.nn.Linear(1, 1))


def test_load_pretrained_weights_keeps_matching_tensors(tmp_path, capsys) -> None:
    source = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    fpath = str(tmp_path / "weights.pth")
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}, fpath)
    target = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 5))
    load_pretrained_weights(target, fpath)
    assert torch.equal(target[0].weight, source[0].weight)
    output = capsys.readouterr().out
    assert f"Successfully loaded pretrained weights from {fpath}" in output
    assert "Layers discarded due to unmatched keys or size: ['1.weight', '1.bias']" in output

    torch.save({"other.weight": torch.zeros(1)}, fpath)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_pretrained_weights(target, fpath)
    assert any("Cannot load" in str(w.message) for w in caught)
