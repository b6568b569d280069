"""The built-in implementation of the Dassl.pytorch 0.6.3 API subset that CoOp-style trainers use.

`safe_clip.dassl` re-exports these names when the real `dassl` package is not importable. Behaviour follows
shared/docs/dassl-contract.md; the upstream bugs listed there (warm-up schedulers on current torch, pickled
scheduler objects in checkpoints, frozen LR after resuming, `val_result=None` in `load_model`, the logger closing
stdout) are fixed rather than reproduced.

Modules: config (default tree), registry, utils / meters / logger (dassl.utils), checkpoint, datasets (Datum,
DatasetBase, DATASET_REGISTRY), transforms, data (DataManager and loaders), optimizer, evaluation, trainer.
"""
from safe_clip.engine.checkpoint import (
    load_checkpoint,
    load_pretrained_weights,
    resume_from_checkpoint,
    save_checkpoint,
)
from safe_clip.engine.config import clean_cfg, get_cfg_default
from safe_clip.engine.data import DataManager, DatasetWrapper, build_data_loader, build_sampler
from safe_clip.engine.datasets import DATASET_REGISTRY, DatasetBase, Datum, build_dataset
from safe_clip.engine.errors import (
    UnsupportedFeatureError,
    UserFileNotFoundError,
    UserKeyError,
    UserTypeError,
    UserValueError,
)
from safe_clip.engine.evaluation import (
    EVALUATOR_REGISTRY,
    Classification,
    EvaluatorBase,
    build_evaluator,
    compute_accuracy,
)
from safe_clip.engine.logger import Logger, setup_logger
from safe_clip.engine.meters import AverageMeter, MetricMeter
from safe_clip.engine.optimizer import build_optimizer
from safe_clip.engine.registry import Registry, check_availability, get_most_similar_str_to_a_from_b
from safe_clip.engine.trainer import TRAINER_REGISTRY, SimpleTrainer, TrainerBase, TrainerX, build_trainer
from safe_clip.engine.transforms import build_transform
from safe_clip.engine.utils import (
    check_isfile,
    collect_env_info,
    count_num_param,
    listdir_nohidden,
    mkdir_if_missing,
    read_image,
    read_json,
    set_random_seed,
    tolist_if_not,
    write_json,
)
from safe_clip.optim import ConstantWarmupScheduler, LinearWarmupScheduler, apply_adam_eps, build_lr_scheduler

__all__ = [
    # config
    "get_cfg_default",
    "clean_cfg",
    # registries and builders
    "Registry",
    "check_availability",
    "get_most_similar_str_to_a_from_b",
    "TRAINER_REGISTRY",
    "DATASET_REGISTRY",
    "EVALUATOR_REGISTRY",
    "build_trainer",
    "build_dataset",
    "build_evaluator",
    "build_optimizer",
    "build_lr_scheduler",
    "build_transform",
    "build_data_loader",
    "build_sampler",
    # trainers
    "TrainerBase",
    "SimpleTrainer",
    "TrainerX",
    # data
    "Datum",
    "DatasetBase",
    "DatasetWrapper",
    "DataManager",
    # evaluation
    "EvaluatorBase",
    "Classification",
    "compute_accuracy",
    # schedulers / optimizers
    "ConstantWarmupScheduler",
    "LinearWarmupScheduler",
    "apply_adam_eps",
    # checkpoints
    "save_checkpoint",
    "load_checkpoint",
    "resume_from_checkpoint",
    "load_pretrained_weights",
    # utils
    "AverageMeter",
    "MetricMeter",
    "Logger",
    "setup_logger",
    "set_random_seed",
    "collect_env_info",
    "check_isfile",
    "count_num_param",
    "listdir_nohidden",
    "mkdir_if_missing",
    "read_image",
    "read_json",
    "write_json",
    "tolist_if_not",
    # errors
    "UnsupportedFeatureError",
    "UserFileNotFoundError",
    "UserKeyError",
    "UserTypeError",
    "UserValueError",
]
