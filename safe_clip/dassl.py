"""The seam between this project and Dassl.

Every trainer and dataset of this project imports Dassl names from here and nowhere else. When the real
`dassl` package (Dassl.pytorch) is importable, its objects are re-exported, so our trainers and datasets register
into the same registries as a host CoOp suite's. Otherwise the built-in implementation `safe_clip.engine` is used.

`SAFE_CLIP_DASSL` selects explicitly: `builtin` forces `safe_clip.engine`, `dassl` requires the real package,
unset (or `auto`) prefers the real package when it imports.

One name is ours in both cases: `build_lr_scheduler`. Dassl 0.6.3's warm-up schedulers crash on current torch
(they pass `verbose` positionally) and pickle their successor scheduler into checkpoints, so trainers always build
schedulers with `safe_clip.optim.build_lr_scheduler`, which follows Dassl's per-epoch LR values exactly.
"""
from __future__ import annotations

import os
from types import SimpleNamespace

from safe_clip.errors import UserError
from safe_clip.optim import build_lr_scheduler

_CHOICE_VARIABLE = "SAFE_CLIP_DASSL"


def _requested_implementation() -> str:
    choice = os.environ.get(_CHOICE_VARIABLE, "auto").strip().lower() or "auto"
    if choice not in ("auto", "builtin", "dassl"):
        raise UserError(
            f"{_CHOICE_VARIABLE}={choice!r} is not understood: use 'builtin', 'dassl' or leave it unset (auto)"
        )
    return choice


def _import_real_dassl() -> SimpleNamespace:
    import dassl
    from dassl.config import get_cfg_default
    from dassl.data import DataManager
    from dassl.data.datasets import DATASET_REGISTRY, DatasetBase, Datum, build_dataset
    from dassl.engine import TRAINER_REGISTRY, SimpleTrainer, TrainerX, build_trainer
    from dassl.evaluation import build_evaluator
    from dassl.metrics import compute_accuracy
    from dassl.optim import build_optimizer
    from dassl.utils import (
        AverageMeter,
        MetricMeter,
        listdir_nohidden,
        load_checkpoint,
        mkdir_if_missing,
        read_json,
        save_checkpoint,
        set_random_seed,
        setup_logger,
        write_json,
    )

    return SimpleNamespace(
        IMPLEMENTATION=f"dassl {getattr(dassl, '__version__', 'unknown version')}",
        IS_BUILTIN=False,
        **{name: value for name, value in locals().items() if name != "dassl"},
    )


def _import_builtin() -> SimpleNamespace:
    from safe_clip.engine import (
        DATASET_REGISTRY,
        TRAINER_REGISTRY,
        AverageMeter,
        DataManager,
        DatasetBase,
        Datum,
        MetricMeter,
        SimpleTrainer,
        TrainerX,
        build_dataset,
        build_evaluator,
        build_optimizer,
        build_trainer,
        compute_accuracy,
        get_cfg_default,
        listdir_nohidden,
        load_checkpoint,
        mkdir_if_missing,
        read_json,
        save_checkpoint,
        set_random_seed,
        setup_logger,
        write_json,
    )

    return SimpleNamespace(IMPLEMENTATION="built-in (safe_clip.engine)", IS_BUILTIN=True, **locals())


def _select() -> SimpleNamespace:
    choice = _requested_implementation()
    if choice == "builtin":
        return _import_builtin()
    try:
        return _import_real_dassl()
    except ImportError as error:
        if choice == "dassl":
            raise UserError(
                f"{_CHOICE_VARIABLE}=dassl but Dassl does not import ({error}); install Dassl.pytorch and its "
                f"requirements, or unset {_CHOICE_VARIABLE} to use the built-in implementation"
            ) from error
        if getattr(error, "name", None) not in ("dassl", None) and _dassl_is_installed():
            # Dassl is there but one of its own imports (wilds, tensorboard, ...) is missing: say so rather than
            # silently switching implementations under a user who installed Dassl on purpose.
            raise UserError(
                f"Dassl is installed but does not import ({error}); install its missing requirement, or set "
                f"{_CHOICE_VARIABLE}=builtin to use the built-in implementation"
            ) from error
        return _import_builtin()


def _dassl_is_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("dassl") is not None


_api = _select()

IMPLEMENTATION: str = _api.IMPLEMENTATION
IS_BUILTIN: bool = _api.IS_BUILTIN

get_cfg_default = _api.get_cfg_default
TRAINER_REGISTRY = _api.TRAINER_REGISTRY
build_trainer = _api.build_trainer
TrainerX = _api.TrainerX
SimpleTrainer = _api.SimpleTrainer
DATASET_REGISTRY = _api.DATASET_REGISTRY
build_dataset = _api.build_dataset
DatasetBase = _api.DatasetBase
Datum = _api.Datum
DataManager = _api.DataManager
build_optimizer = _api.build_optimizer
build_evaluator = _api.build_evaluator
compute_accuracy = _api.compute_accuracy
set_random_seed = _api.set_random_seed
setup_logger = _api.setup_logger
load_checkpoint = _api.load_checkpoint
save_checkpoint = _api.save_checkpoint
mkdir_if_missing = _api.mkdir_if_missing
listdir_nohidden = _api.listdir_nohidden
read_json = _api.read_json
write_json = _api.write_json
AverageMeter = _api.AverageMeter
MetricMeter = _api.MetricMeter

__all__ = [
    "IMPLEMENTATION",
    "IS_BUILTIN",
    "get_cfg_default",
    "TRAINER_REGISTRY",
    "build_trainer",
    "TrainerX",
    "SimpleTrainer",
    "DATASET_REGISTRY",
    "build_dataset",
    "DatasetBase",
    "Datum",
    "DataManager",
    "build_optimizer",
    "build_lr_scheduler",
    "build_evaluator",
    "compute_accuracy",
    "set_random_seed",
    "setup_logger",
    "load_checkpoint",
    "save_checkpoint",
    "mkdir_if_missing",
    "listdir_nohidden",
    "read_json",
    "write_json",
    "AverageMeter",
    "MetricMeter",
]
