"""Learning-rate schedulers with Dassl 0.6.3's semantics, fixed for current torch, and Adam's epsilon.

`build_lr_scheduler(optimizer, optim_cfg)` reads the same `OPTIM.*` keys as Dassl and gives the same per-epoch
learning rates (schedulers are stepped once per epoch). Its warm-up wrappers differ from Dassl's in three ways
that matter (dassl-contract.md §9, hazards 1-3):

- they call torch's `LRScheduler.__init__(optimizer, last_epoch)` (Dassl passes the `verbose` argument that
  current torch no longer accepts, so every CoOp config crashed);
- `state_dict()` holds the successor's state dict, not the successor object, so a checkpoint loads with
  `torch.load(weights_only=True)`;
- `load_state_dict()` loads into the live successor, which drives the live optimizer, so a resumed run keeps
  following the schedule (Dassl's unpickled successor drove a copy of the optimizer and the LR froze).

This module is imported by `safe_clip.dassl` whichever Dassl implementation is active, so it imports neither
`dassl` nor `safe_clip.engine`; it works with any `torch.optim.Optimizer`, including those from Dassl's
`build_optimizer`.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from safe_clip.errors import UserError

__all__ = [
    "AVAILABLE_SCHEDULERS",
    "ConstantWarmupScheduler",
    "LinearWarmupScheduler",
    "apply_adam_eps",
    "build_lr_scheduler",
]

AVAILABLE_SCHEDULERS = ("single_step", "multi_step", "cosine")
AVAILABLE_WARMUP_TYPES = ("constant", "linear")

# Keys of a warm-up scheduler's state that are not plain data: the optimizer is the live one and never saved;
# the successor is saved through its own state_dict().
_SUCCESSOR_KEY = "successor"
_NOT_SAVED_KEYS = ("optimizer", _SUCCESSOR_KEY)


class ScheduleValueError(UserError, ValueError):
    """A bad scheduler setting. A ValueError, as in Dassl, so host code that catches ValueError still does."""


class ScheduleTypeError(UserError, TypeError):
    """A scheduler setting of the wrong type. A TypeError, as in Dassl."""


class _WarmupScheduler(LRScheduler):
    """Runs a warm-up for `warmup_epoch` steps, then hands every step to `successor`.

    The successor is built on the same optimizer before the wrapper, and its first value is used at the first
    step after the warm-up (so a cosine successor starts one epoch late, as in Dassl).
    """

    def __init__(
        self, optimizer: Optimizer, successor: LRScheduler, warmup_epoch: int, last_epoch: int = -1
    ) -> None:
        if successor.optimizer is not optimizer:
            raise ValueError("the successor scheduler must drive the same optimizer as the warm-up scheduler")
        self.successor = successor
        self.warmup_epoch = warmup_epoch
        super().__init__(optimizer, last_epoch)

    def warmup_lrs(self) -> list[float]:
        """Learning rates during warm-up step `self.last_epoch` (< warmup_epoch)."""
        raise NotImplementedError

    def get_lr(self) -> list[float]:
        if self.last_epoch >= self.warmup_epoch:
            return list(self.successor.get_last_lr())
        return self.warmup_lrs()

    def step(self, epoch: int | None = None) -> None:
        if self.last_epoch >= self.warmup_epoch:
            self.successor.step(epoch)
            self._last_lr = list(self.successor.get_last_lr())
        else:
            super().step(epoch)

    def state_dict(self) -> dict[str, Any]:
        state = {key: value for key, value in self.__dict__.items() if key not in _NOT_SAVED_KEYS}
        state[_SUCCESSOR_KEY] = self.successor.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        successor_state = state.pop(_SUCCESSOR_KEY, None)
        if isinstance(successor_state, LRScheduler):
            # A checkpoint written by Dassl's own warm-up scheduler pickled the successor object; keep only its
            # state (the pickled copy drives a dead optimizer).
            successor_state = successor_state.state_dict()
        if successor_state is not None:
            self.successor.load_state_dict(successor_state)
        state.pop("optimizer", None)
        self.__dict__.update(state)


class ConstantWarmupScheduler(_WarmupScheduler):
    """Warm-up at a constant `cons_lr` for `warmup_epoch` epochs (Dassl's WARMUP_TYPE "constant")."""

    def __init__(
        self,
        optimizer: Optimizer,
        successor: LRScheduler,
        warmup_epoch: int,
        cons_lr: float,
        last_epoch: int = -1,
    ) -> None:
        self.cons_lr = cons_lr
        super().__init__(optimizer, successor, warmup_epoch, last_epoch)

    def warmup_lrs(self) -> list[float]:
        return [self.cons_lr for _ in self.base_lrs]


class LinearWarmupScheduler(_WarmupScheduler):
    """Warm-up from `min_lr` rising linearly to the base LR (Dassl's WARMUP_TYPE "linear").

    Step 0 uses `min_lr`, step t > 0 uses `base_lr * t / warmup_epoch`.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        successor: LRScheduler,
        warmup_epoch: int,
        min_lr: float,
        last_epoch: int = -1,
    ) -> None:
        self.min_lr = min_lr
        super().__init__(optimizer, successor, warmup_epoch, last_epoch)

    def warmup_lrs(self) -> list[float]:
        if self.last_epoch == 0:
            return [self.min_lr for _ in self.base_lrs]
        return [base_lr * self.last_epoch / self.warmup_epoch for base_lr in self.base_lrs]


def _single_step_size(stepsize: Any, max_epoch: int) -> int:
    """STEPSIZE's last entry (Dassl accepts a list or a bare int); -1 or 0 means MAX_EPOCH."""
    if isinstance(stepsize, (list, tuple)):
        if not stepsize:
            raise ScheduleValueError("OPTIM.STEPSIZE is empty: give one step size, e.g. OPTIM.STEPSIZE (20,)")
        stepsize = stepsize[-1]
    if not isinstance(stepsize, int) or isinstance(stepsize, bool):
        raise ScheduleTypeError(
            f"For single_step lr_scheduler, stepsize must be an integer, but got {type(stepsize)}"
        )
    return max_epoch if stepsize <= 0 else stepsize


def _main_scheduler(optimizer: Optimizer, optim_cfg: Any) -> LRScheduler:
    name = optim_cfg.LR_SCHEDULER
    stepsize = optim_cfg.STEPSIZE
    gamma = optim_cfg.GAMMA
    max_epoch = optim_cfg.MAX_EPOCH
    if name not in AVAILABLE_SCHEDULERS:
        raise ScheduleValueError(f"scheduler must be one of {list(AVAILABLE_SCHEDULERS)}, but got {name}")
    if name == "single_step":
        return torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=_single_step_size(stepsize, max_epoch), gamma=gamma
        )
    if name == "multi_step":
        if not isinstance(stepsize, (list, tuple)):
            raise ScheduleTypeError(
                f"For multi_step lr_scheduler, stepsize must be a list, but got {type(stepsize)}"
            )
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(stepsize), gamma=gamma)
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=float(max_epoch))


def build_lr_scheduler(optimizer: Optimizer, optim_cfg: Any) -> LRScheduler:
    """Dassl's scheduler for `optim_cfg` (the `cfg.OPTIM` node), stepped once per epoch.

    single_step: StepLR(STEPSIZE[-1] or MAX_EPOCH, GAMMA); multi_step: MultiStepLR(STEPSIZE, GAMMA);
    cosine: CosineAnnealingLR(T_max=MAX_EPOCH). WARMUP_EPOCH > 0 wraps it in a constant or linear warm-up;
    WARMUP_RECOUNT False starts the successor at WARMUP_EPOCH instead of 0.
    """
    scheduler = _main_scheduler(optimizer, optim_cfg)
    warmup_epoch = optim_cfg.WARMUP_EPOCH
    if warmup_epoch <= 0:
        return scheduler
    if not optim_cfg.WARMUP_RECOUNT:
        scheduler.last_epoch = warmup_epoch
    warmup_type = optim_cfg.WARMUP_TYPE
    if warmup_type == "constant":
        return ConstantWarmupScheduler(optimizer, scheduler, warmup_epoch, optim_cfg.WARMUP_CONS_LR)
    if warmup_type == "linear":
        return LinearWarmupScheduler(optimizer, scheduler, warmup_epoch, optim_cfg.WARMUP_MIN_LR)
    raise ScheduleValueError(
        f"OPTIM.WARMUP_TYPE must be one of {list(AVAILABLE_WARMUP_TYPES)}, but got {warmup_type}"
    )


def _is_adam_family(optimizer: Optimizer) -> bool:
    # Adam, AdamW, RAdam, NAdam, Adamax and Dassl's own RAdam; all keep `eps` in their param groups.
    return "adam" in type(optimizer).__name__.lower()


def apply_adam_eps(optimizer: Optimizer, eps: float) -> bool:
    """Sets `eps` in every param group (and the defaults) of an Adam-family optimizer.

    Dassl's `build_optimizer` has no epsilon setting, so `OPTIM.ADAM_EPS` is applied afterwards. Returns True
    when applied, False for an optimizer without an Adam epsilon (SGD, RMSprop), which is left untouched, so
    trainers may call this unconditionally.
    """
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps < 0:
        raise UserError(f"OPTIM.ADAM_EPS must be a finite number >= 0, got {eps!r}: set e.g. OPTIM.ADAM_EPS 1e-4")
    if not _is_adam_family(optimizer):
        return False
    for group in optimizer.param_groups:
        group["eps"] = float(eps)
    optimizer.defaults["eps"] = float(eps)
    return True
