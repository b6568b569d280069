"""Dassl 0.6.3's default config tree, as a yacs `CfgNode`.

yacs gives the same merge semantics as real Dassl (literal_eval of strings, type checks, list<->tuple, unknown
keys rejected), so only the tree is written here. The trainer sub-nodes of Dassl's own DA/DG/SSL methods are kept
so that the config dumped into log.txt is identical to a real Dassl run's.
"""
from __future__ import annotations

from typing import Any

from yacs.config import CfgNode

__all__ = ["get_cfg_default", "clean_cfg"]

# Top-level keys: output folder, resume folder, seed (< 0: do not seed), device, verbosity.
_TOP_LEVEL: dict[str, Any] = {
    "VERSION": 1,
    "OUTPUT_DIR": "./output",
    "RESUME": "",
    "SEED": -1,
    "USE_CUDA": True,
    "VERBOSE": True,
}

_INPUT: dict[str, Any] = {
    "SIZE": (224, 224),
    "INTERPOLATION": "bilinear",  # bilinear, bicubic or nearest
    "TRANSFORMS": (),  # names accepted by build_transform
    "NO_TRANSFORM": False,  # True: loaders yield PIL images
    "PIXEL_MEAN": [0.485, 0.456, 0.406],  # ImageNet statistics
    "PIXEL_STD": [0.229, 0.224, 0.225],
    "CROP_PADDING": 4,
    "RRCROP_SCALE": (0.08, 1.0),
    "CUTOUT_N": 1,
    "CUTOUT_LEN": 16,
    "GN_MEAN": 0.0,
    "GN_STD": 0.15,
    "RANDAUGMENT_N": 2,
    "RANDAUGMENT_M": 10,
    "COLORJITTER_B": 0.4,
    "COLORJITTER_C": 0.4,
    "COLORJITTER_S": 0.4,
    "COLORJITTER_H": 0.1,
    "RGS_P": 0.2,  # random grayscale probability
    "GB_P": 0.5,  # gaussian blur probability
    "GB_K": 21,  # gaussian blur kernel size (odd)
}

_DATASET: dict[str, Any] = {
    "ROOT": "",
    "NAME": "",
    "SOURCE_DOMAINS": (),
    "TARGET_DOMAINS": (),
    "NUM_LABELED": -1,
    "NUM_SHOTS": -1,  # images per class; < 1 keeps the full training split
    "VAL_PERCENT": 0.1,
    "STL10_FOLD": -1,
    "CIFAR_C_TYPE": "",
    "CIFAR_C_LEVEL": 1,
    "ALL_AS_UNLABELED": False,
}


def _sampler_settings(sampler: str) -> dict[str, Any]:
    return {"SAMPLER": sampler, "BATCH_SIZE": 32, "N_DOMAIN": 0, "N_INS": 16}


_DATALOADER: dict[str, Any] = {
    "NUM_WORKERS": 4,
    "K_TRANSFORMS": 1,  # augmented views per training image
    "RETURN_IMG0": False,  # also return the un-augmented image
    "TRAIN_X": _sampler_settings("RandomSampler"),
    "TRAIN_U": {"SAME_AS_X": True, **_sampler_settings("RandomSampler")},
    "TEST": {"SAMPLER": "SequentialSampler", "BATCH_SIZE": 32},
}

_MODEL: dict[str, Any] = {
    "INIT_WEIGHTS": "",
    "BACKBONE": {"NAME": "", "PRETRAINED": True},
    "HEAD": {"NAME": "", "HIDDEN_LAYERS": (), "ACTIVATION": "relu", "BN": True, "DROPOUT": 0.0},
}

_OPTIM: dict[str, Any] = {
    "NAME": "adam",  # adam, amsgrad, sgd, rmsprop, radam or adamw
    "LR": 0.0003,
    "WEIGHT_DECAY": 5e-4,
    "MOMENTUM": 0.9,
    "SGD_DAMPNING": 0,  # (sic) Dassl's spelling
    "SGD_NESTEROV": False,
    "RMSPROP_ALPHA": 0.99,
    "ADAM_BETA1": 0.9,
    "ADAM_BETA2": 0.999,
    "STAGED_LR": False,  # layers not in NEW_LAYERS train at LR * BASE_LR_MULT
    "NEW_LAYERS": (),
    "BASE_LR_MULT": 0.1,
    "LR_SCHEDULER": "single_step",  # single_step, multi_step or cosine
    "STEPSIZE": (-1,),  # -1 or 0: MAX_EPOCH
    "GAMMA": 0.1,
    "MAX_EPOCH": 10,
    "WARMUP_EPOCH": -1,  # > 0 turns warm-up on
    "WARMUP_TYPE": "linear",  # linear or constant
    "WARMUP_CONS_LR": 1e-5,
    "WARMUP_MIN_LR": 1e-5,
    "WARMUP_RECOUNT": True,  # False: the successor starts at WARMUP_EPOCH
}

_TRAIN: dict[str, Any] = {
    "CHECKPOINT_FREQ": 0,  # epochs between checkpoints; <= 0: last epoch only
    "PRINT_FREQ": 10,  # batches between log lines
    "COUNT_ITER": "train_x",
}

_TEST: dict[str, Any] = {
    "EVALUATOR": "Classification",
    "PER_CLASS_RESULT": False,
    "COMPUTE_CMAT": False,  # saves OUTPUT_DIR/cmat.pt
    "NO_TEST": False,
    "SPLIT": "test",
    "FINAL_MODEL": "last_step",  # last_step or best_val
}

# Dassl's own domain-adaptation, domain-generalisation and semi-supervised trainers. CLIP trainers ignore them;
# they are here so that `print(cfg)` matches a real Dassl run line for line.
_DASSL_TRAINERS: dict[str, Any] = {
    "NAME": "",
    "MCD": {"N_STEP_F": 4},
    "MME": {"LMDA": 0.1},
    "CDAC": {
        "CLASS_LR_MULTI": 10,
        "RAMPUP_COEF": 30,
        "RAMPUP_ITRS": 1000,
        "TOPK_MATCH": 5,
        "P_THRESH": 0.95,
        "STRONG_TRANSFORMS": (),
    },
    "SE": {"EMA_ALPHA": 0.999, "CONF_THRE": 0.95, "RAMPUP": 300},
    "M3SDA": {"LMDA": 0.5, "N_STEP_F": 4},
    "DAEL": {"WEIGHT_U": 0.5, "CONF_THRE": 0.95, "STRONG_TRANSFORMS": ()},
    "CROSSGRAD": {"EPS_F": 1.0, "EPS_D": 1.0, "ALPHA_F": 0.5, "ALPHA_D": 0.5},
    "DDAIG": {
        "G_ARCH": "",
        "LMDA": 0.3,
        "CLAMP": False,
        "CLAMP_MIN": -1.0,
        "CLAMP_MAX": 1.0,
        "WARMUP": 0,
        "ALPHA": 0.5,
    },
    "DAELDG": {"WEIGHT_U": 0.5, "CONF_THRE": 0.95, "STRONG_TRANSFORMS": ()},
    "DOMAINMIX": {"TYPE": "crossdomain", "ALPHA": 1.0, "BETA": 1.0},
    "ENTMIN": {"LMDA": 1e-3},
    "MEANTEACHER": {"WEIGHT_U": 1.0, "EMA_ALPHA": 0.999, "RAMPUP": 5},
    "MIXMATCH": {"WEIGHT_U": 100.0, "TEMP": 2.0, "MIXUP_BETA": 0.75, "RAMPUP": 20000},
    "FIXMATCH": {"WEIGHT_U": 1.0, "CONF_THRE": 0.95, "STRONG_TRANSFORMS": ()},
}


def _default_tree() -> dict[str, Any]:
    return {
        **_TOP_LEVEL,
        "INPUT": _INPUT,
        "DATASET": _DATASET,
        "DATALOADER": _DATALOADER,
        "MODEL": _MODEL,
        "OPTIM": _OPTIM,
        "TRAIN": _TRAIN,
        "TEST": _TEST,
        "TRAINER": _DASSL_TRAINERS,
    }


def get_cfg_default() -> CfgNode:
    """A fresh, mutable copy of Dassl's default config."""
    # CfgNode copies nested dicts into new nodes, so the module-level dicts are never shared or mutated.
    return CfgNode(_default_tree()).clone()


def clean_cfg(cfg: CfgNode, trainer: str) -> None:
    """Drops every `cfg.TRAINER` sub-node except NAME and `trainer.upper()` (shorter config dumps)."""
    for key in list(cfg.TRAINER.keys()):
        if key not in ("NAME", trainer.upper()):
            cfg.TRAINER.pop(key, None)
