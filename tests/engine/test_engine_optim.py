"""safe_clip.optim: Dassl's per-epoch LR values, checkpoint-safe warm-up state, resuming, Adam's epsilon."""
from __future__ import annotations

import io
import math
import warnings

import pytest
import torch
from torch.optim.lr_scheduler import LRScheduler

from safe_clip.engine import build_optimizer, get_cfg_default
from safe_clip.errors import UserError
from safe_clip.optim import ConstantWarmupScheduler, LinearWarmupScheduler, apply_adam_eps, build_lr_scheduler

COOP_E5 = [1e-05, 0.002, 0.0018090, 0.0013090, 0.0006910]


@pytest.fixture(autouse=True)
def quiet_scheduler_order_warnings():
    # Stepping schedulers without optimizer steps makes torch warn; irrelevant here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def optim_cfg(**overrides):
    cfg = get_cfg_default()
    cfg.OPTIM.NAME = "sgd"
    cfg.OPTIM.LR = 0.002
    cfg.OPTIM.LR_SCHEDULER = "cosine"
    cfg.OPTIM.MAX_EPOCH = 5
    cfg.OPTIM.WARMUP_EPOCH = 1
    cfg.OPTIM.WARMUP_TYPE = "constant"
    cfg.OPTIM.WARMUP_CONS_LR = 1e-5
    for key, value in overrides.items():
        cfg.OPTIM[key] = value
    return cfg.OPTIM


def new_optimizer(lr: float = 0.002) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=lr, momentum=0.9)


def epoch_lrs(optimizer, scheduler, epochs: int) -> list[float]:
    """LR used during each epoch, stepping once per epoch as CoOp does."""
    lrs = []
    for _ in range(epochs):
        lrs.append(optimizer.param_groups[0]["lr"])
        scheduler.step()
    return lrs


def test_coop_cosine_with_constant_warmup() -> None:
    optimizer = new_optimizer()
    scheduler = build_lr_scheduler(optimizer, optim_cfg())
    assert isinstance(scheduler, ConstantWarmupScheduler)
    assert epoch_lrs(optimizer, scheduler, 5) == pytest.approx(COOP_E5, abs=5e-8)


@pytest.mark.parametrize("max_epoch", [5, 50, 200])
def test_coop_formula_shifted_by_one_epoch(max_epoch: int) -> None:
    optimizer = new_optimizer()
    scheduler = build_lr_scheduler(optimizer, optim_cfg(MAX_EPOCH=max_epoch))
    expected = [1e-5] + [0.002 * (1 + math.cos(math.pi * (e - 1) / max_epoch)) / 2 for e in range(1, max_epoch)]
    assert epoch_lrs(optimizer, scheduler, max_epoch) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_linear_warmup_two_epochs() -> None:
    optimizer = new_optimizer()
    scheduler = build_lr_scheduler(optimizer, optim_cfg(WARMUP_EPOCH=2, WARMUP_TYPE="linear"))
    assert isinstance(scheduler, LinearWarmupScheduler)
    assert epoch_lrs(optimizer, scheduler, 5) == pytest.approx([1e-05, 0.001, 0.002, 0.0018090, 0.0013090], abs=5e-8)


def test_single_and_multi_step_without_warmup() -> None:
    optimizer = new_optimizer()
    single = build_lr_scheduler(optimizer, optim_cfg(LR_SCHEDULER="single_step", STEPSIZE=(2,), WARMUP_EPOCH=-1))
    assert epoch_lrs(optimizer, single, 6) == pytest.approx([0.002, 0.002, 0.0002, 0.0002, 2e-05, 2e-05])

    optimizer = new_optimizer()
    default_step = build_lr_scheduler(optimizer, optim_cfg(LR_SCHEDULER="single_step", WARMUP_EPOCH=-1))
    assert default_step.step_size == 5  # STEPSIZE (-1,) means MAX_EPOCH

    optimizer = new_optimizer()
    multi = build_lr_scheduler(optimizer, optim_cfg(LR_SCHEDULER="multi_step", STEPSIZE=(1, 3), WARMUP_EPOCH=-1))
    assert epoch_lrs(optimizer, multi, 4) == pytest.approx([0.002, 0.0002, 0.0002, 2e-05])


def test_warmup_without_recount_starts_the_successor_late() -> None:
    optimizer = new_optimizer()
    scheduler = build_lr_scheduler(optimizer, optim_cfg(WARMUP_RECOUNT=False))
    assert scheduler.successor.last_epoch == 1
    lrs = epoch_lrs(optimizer, scheduler, 5)
    assert lrs[:2] == pytest.approx([1e-5, 0.002]) and lrs[2] < 0.0018090


def test_bad_settings_raise_dassl_error_types() -> None:
    optimizer = new_optimizer()
    with pytest.raises(ValueError, match="scheduler must be one of"):
        build_lr_scheduler(optimizer, optim_cfg(LR_SCHEDULER="exp"))
    with pytest.raises(TypeError, match="stepsize must be an integer"):
        build_lr_scheduler(optimizer, optim_cfg(LR_SCHEDULER="single_step", STEPSIZE=(2.5,)))
    with pytest.raises(TypeError, match="stepsize must be a list"):
        build_lr_scheduler(optimizer, optim_cfg(LR_SCHEDULER="multi_step", STEPSIZE=3))
    with pytest.raises(ValueError, match="WARMUP_TYPE") as error:
        build_lr_scheduler(optimizer, optim_cfg(WARMUP_TYPE="cubic"))
    assert isinstance(error.value, UserError)


def round_trip(state: dict) -> dict:
    """Saves and reloads with weights_only=True, as a checkpoint would be."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("warmup_type", ["constant", "linear"])
def test_state_dict_is_plain_data(warmup_type: str) -> None:
    optimizer = new_optimizer()
    scheduler = build_lr_scheduler(optimizer, optim_cfg(WARMUP_TYPE=warmup_type))
    scheduler.step()
    state = scheduler.state_dict()
    assert not any(isinstance(value, (LRScheduler, torch.optim.Optimizer)) for value in state.values())
    assert isinstance(state["successor"], dict) and "optimizer" not in state["successor"]
    assert round_trip(state)["successor"]["T_max"] == 5.0


def test_resume_keeps_following_the_schedule() -> None:
    """Contract hazard 3: resumed at epoch 3 of a 6-epoch CoOp schedule, the LR keeps decreasing."""
    cfg = optim_cfg(MAX_EPOCH=6)
    optimizer = new_optimizer()
    scheduler = build_lr_scheduler(optimizer, cfg)
    first_three = epoch_lrs(optimizer, scheduler, 3)
    saved = round_trip({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()})

    resumed_optimizer = new_optimizer()
    resumed_scheduler = build_lr_scheduler(resumed_optimizer, cfg)
    resumed_optimizer.load_state_dict(saved["optimizer"])
    resumed_scheduler.load_state_dict(saved["scheduler"])
    assert resumed_scheduler.successor.optimizer is resumed_optimizer
    assert first_three == pytest.approx([1e-5, 0.002, 0.0018660254])
    assert epoch_lrs(resumed_optimizer, resumed_scheduler, 3) == pytest.approx([0.0015, 0.001, 0.0005])
    assert resumed_scheduler.get_last_lr() == pytest.approx([0.002 * (1 + math.cos(5 * math.pi / 6)) / 2])


def test_loads_a_dassl_state_that_pickled_the_successor() -> None:
    """Dassl's warm-up state holds the successor object (driving a dead optimizer); only its state is used."""
    cfg = optim_cfg(MAX_EPOCH=6)
    old_optimizer = new_optimizer()
    old_scheduler = build_lr_scheduler(old_optimizer, cfg)
    epoch_lrs(old_optimizer, old_scheduler, 3)
    dassl_style = dict(old_scheduler.state_dict(), successor=old_scheduler.successor)

    optimizer = new_optimizer()
    scheduler = build_lr_scheduler(optimizer, cfg)
    optimizer.load_state_dict(old_optimizer.state_dict())
    scheduler.load_state_dict(dassl_style)
    assert scheduler.successor is not old_scheduler.successor
    assert epoch_lrs(optimizer, scheduler, 3) == pytest.approx([0.0015, 0.001, 0.0005])


@pytest.mark.parametrize("name", ["adam", "amsgrad", "adamw", "radam"])
def test_apply_adam_eps_sets_every_group(name: str) -> None:
    cfg = get_cfg_default()
    cfg.OPTIM.NAME = name
    cfg.OPTIM.STAGED_LR = True
    cfg.OPTIM.NEW_LAYERS = ("1",)
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    optimizer = build_optimizer(model, cfg.OPTIM)
    assert len(optimizer.param_groups) == 2
    assert apply_adam_eps(optimizer, 1e-4) is True
    assert [group["eps"] for group in optimizer.param_groups] == [1e-4, 1e-4]
    assert optimizer.defaults["eps"] == 1e-4
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0003 * 0.1)  # staged: base layers slower


def test_apply_adam_eps_leaves_sgd_alone_and_checks_the_value() -> None:
    optimizer = new_optimizer()
    assert apply_adam_eps(optimizer, 1e-4) is False and "eps" not in optimizer.param_groups[0]
    with pytest.raises(UserError, match="ADAM_EPS"):
        apply_adam_eps(optimizer, -1.0)


def test_works_with_real_dassl_optimizers() -> None:
    pytest.importorskip("dassl")
    from dassl.optim import build_optimizer as dassl_build_optimizer

    cfg = get_cfg_default()
    cfg.OPTIM.NAME = "adamw"
    optimizer = dassl_build_optimizer(torch.nn.Linear(2, 2), cfg.OPTIM)
    assert apply_adam_eps(optimizer, 1e-4) and optimizer.param_groups[0]["eps"] == 1e-4

    cfg.OPTIM.NAME = "sgd"
    cfg.OPTIM.LR = 0.002
    cfg.OPTIM.LR_SCHEDULER = "cosine"
    cfg.OPTIM.MAX_EPOCH = 5
    cfg.OPTIM.WARMUP_EPOCH = 1
    cfg.OPTIM.WARMUP_TYPE = "constant"
    optimizer = dassl_build_optimizer(torch.nn.Linear(2, 2), cfg.OPTIM)
    scheduler = build_lr_scheduler(optimizer, cfg.OPTIM)
    assert epoch_lrs(optimizer, scheduler, 5) == pytest.approx(COOP_E5, abs=5e-8)
