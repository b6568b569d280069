"""Config nodes this project adds to Dassl's default tree.

`extend_cfg(cfg)` is called by our `train.py` after `get_cfg_default()`, and by a host CoOp suite from its own
`extend_cfg`. It only adds what is missing, so it is safe to call after CoOp's `extend_cfg` (which already adds
`TRAINER.COOP` and `DATASET.SUBSAMPLE_CLASSES`) and safe to call twice.

One function per trainer adds that trainer's commented block; `extend_cfg` calls them all.
"""
from __future__ import annotations

from typing import Any

from yacs.config import CfgNode

# The five parameter groups of CLIP's attention pooling layer (`visual.attnpool`).
POOLING_GROUPS = ("positional_embedding", "q_proj", "k_proj", "v_proj", "c_proj")

# 0, 0.05, ..., 1: the default grid for SAFE's blend ratio.
DEFAULT_BLEND_GRID = tuple(round(step * 0.05, 2) for step in range(21))


# Blocks shared by several trainers' nodes (each trainer still gets its own node).
_TIP_CACHE = {
    # Initial Tip-Adapter alpha (-1 = Tip-Adapter's value for the dataset) and beta; the final values are
    # searched on val.
    "INIT_ALPHA": -1.0,
    "INIT_BETA": 1.0,
    # Search ranges (beta_max, alpha_max); () = Tip-Adapter's value for the dataset.
    "SEARCH_SCALE": (),
    # Number of beta and alpha values searched (Tip-Adapter: 200 x 20).
    "SEARCH_STEPS": (200, 20),
}
_TIP_FINE_TUNING = {
    # Cache fine-tuning (Tip-Adapter-F's recipe): AdamW, cosine annealing per iteration.
    "LR": 1e-3,
    "EPS": 1e-4,
    # Epochs; -1 = Tip-Adapter's default for the dataset (20, EuroSAT 100).
    "EPOCHS": -1,
    "BATCH_SIZE": 256,
}
_CLIP_ADAPTER_HEAD = {
    # Bottleneck reduction of the MLP (hidden width = embedding width / REDUCTION) and residual ratio:
    # f' = RATIO * MLP(f) + (1 - RATIO) * f; 0 is zero-shot CLIP.
    "REDUCTION": 4,
    "RATIO": 0.2,
}
# Augmented views stored per training image (Tip-Adapter's cache uses 10).
_VIEWS = 10


def _merge_missing(parent: CfgNode, name: str, defaults: dict[str, Any]) -> None:
    """Adds `parent.name` with `defaults`, or only the keys it lacks when the node already exists."""
    if name not in parent:
        parent[name] = CfgNode()
    node = parent[name]
    for key, value in defaults.items():
        if isinstance(value, dict):
            _merge_missing(node, key, value)
        elif key not in node:
            node[key] = value


def add_dataset_cfg(cfg: CfgNode) -> None:
    _merge_missing(
        cfg,
        "DATASET",
        {
            # CoOp's base-to-new protocol: "all" classes, the first half ("base") or the second half ("new").
            "SUBSAMPLE_CLASSES": "all",
        },
    )


def add_optim_cfg(cfg: CfgNode) -> None:
    _merge_missing(
        cfg,
        "OPTIM",
        {
            # Epsilon of Adam-family optimizers (Dassl's builder has none, so torch's 1e-8 applied);
            # SAFE and Tip-Adapter-F use 1e-4.
            "ADAM_EPS": 1e-8,
        },
    )


def add_store_cfg(cfg: CfgNode) -> None:
    _merge_missing(
        cfg,
        "STORE",
        {
            # Where dense maps and pooled features are cached on disk. "" = $SAFE_CLIP_CACHE or
            # ~/.cache/safe_clip/store (outside the data root); "none" = keep them in memory for this run only.
            "DIR": "",
            # Precision of stored dense maps: "fp16" (half the disk and memory) or "fp32" (bit-exact).
            "PRECISION": "fp16",
            # Training maps are gathered in memory when they take at most this many GiB; else read from disk.
            "MEMORY_GB": 4.0,
            # Batch size used while filling the store.
            "BATCH_SIZE": 64,
        },
    )


def add_safe_cfg(cfg: CfgNode) -> None:
    _merge_missing(
        cfg.TRAINER,
        "SAFE",
        {
            # Parameter groups of the pooling copy that train (a subset of POOLING_GROUPS).
            "TUNE": POOLING_GROUPS,
            # Blend ratio gamma in [0, 1]; -1 searches it on the validation split over BLEND_GRID.
            "BLEND": -1.0,
            "BLEND_GRID": DEFAULT_BLEND_GRID,
            # Augmented views stored per training image; 0 = no store, run the encoder on fresh
            # augmentations every step (the reference path).
            "VIEWS": 10,
            # Precision of the frozen image trunk on GPU: "fp16" or "fp32" (always fp32 on CPU).
            "PREC": "fp16",
            # Weight of the L1 consistency between tuned and original logits (RAFT); 0 = off.
            "CONSISTENCY_WEIGHT": 0.0,
            # Weight of the L2 pull of the copy's parameters toward the original layer's (ProLIP); 0 = off.
            "ANCHOR_WEIGHT": 0.0,
        },
    )


def add_safe_a_cfg(cfg: CfgNode) -> None:
    _merge_missing(
        cfg.TRAINER,
        "SAFE_A",
        {
            # Adapter on the blended feature: "tip_f" (Tip-Adapter-F), "tip" (training-free) or "clip_adapter".
            "ADAPTER": "tip_f",
            **_TIP_CACHE,
            **_TIP_FINE_TUNING,
            # CLIP-Adapter head (ADAPTER clip_adapter only):
            **_CLIP_ADAPTER_HEAD,
        },
    )


def add_coop_cfg(cfg: CfgNode) -> None:
    """CoOp's own node (CoOp's train.py adds it too; only missing keys are added) plus VIEWS."""
    _merge_missing(
        cfg.TRAINER,
        "COOP",
        {
            "N_CTX": 16,  # number of learned context tokens
            "CSC": False,  # class-specific context
            "CTX_INIT": "",  # initialise the context from these words
            "PREC": "fp16",  # fp16, fp32 or amp
            "CLASS_TOKEN_POSITION": "end",  # end, middle or front
            # Augmented views stored per training image (image features f0 come from the store, the text encoder
            # runs on the learned prompts every step); 0 = no store, CoOp's reference path (encoder every step).
            "VIEWS": _VIEWS,
        },
    )


def add_linear_probe_cfg(cfg: CfgNode) -> None:
    _merge_missing(
        cfg.TRAINER,
        "LINEAR_PROBE",
        {
            # Inverse regularisation strength of the logistic regression; -1 = search it on val (CoOp's lpclip:
            # the coarse grid, then SEARCH_STEPS bisection steps), a positive number fixes it.
            "C": -1.0,
            "C_GRID": (1e6, 1e4, 1e2, 1.0, 1e-2, 1e-4, 1e-6),
            "SEARCH_STEPS": 8,
            # C used when the dataset has no validation split distinct from test (ImageNet): never choose on test.
            "NO_VAL_C": 1.0,
            # L-BFGS iterations.
            "MAX_ITER": 1000,
        },
    )


def add_clip_adapter_cfg(cfg: CfgNode) -> None:
    _merge_missing(
        cfg.TRAINER,
        "CLIP_ADAPTER",
        {
            **_CLIP_ADAPTER_HEAD,
            # Augmented views stored per training image; 0 = no store (encoder on fresh augmentations every step).
            "VIEWS": _VIEWS,
        },
    )


def add_tip_adapter_cfg(cfg: CfgNode) -> None:
    _merge_missing(
        cfg.TRAINER,
        "TIP_ADAPTER",
        {
            **_TIP_CACHE,
            # Augmented views per training image; the cache key is their normalised mean (1 or more).
            "VIEWS": _VIEWS,
        },
    )


def add_tip_adapter_f_cfg(cfg: CfgNode) -> None:
    _merge_missing(
        cfg.TRAINER,
        "TIP_ADAPTER_F",
        {
            **_TIP_CACHE,
            **_TIP_FINE_TUNING,
            # Augmented views per training image: their mean makes the cache, and fine-tuning draws one per image
            # per epoch (1 or more).
            "VIEWS": _VIEWS,
        },
    )


def extend_cfg(cfg: CfgNode) -> CfgNode:
    """Adds every config node this project's trainers and datasets read; returns `cfg` for chaining."""
    add_dataset_cfg(cfg)
    add_optim_cfg(cfg)
    add_store_cfg(cfg)
    add_safe_cfg(cfg)
    add_safe_a_cfg(cfg)
    add_coop_cfg(cfg)
    add_linear_probe_cfg(cfg)
    add_clip_adapter_cfg(cfg)
    add_tip_adapter_cfg(cfg)
    add_tip_adapter_f_cfg(cfg)
    return cfg
