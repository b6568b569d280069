"""Dassl's `build_optimizer`: an optimizer from the `cfg.OPTIM` node (no epsilon setting, as in Dassl)."""
from __future__ import annotations

import warnings
from typing import Any, Iterable, Optional, Union

import torch
import torch.nn as nn

from safe_clip.engine.errors import UserTypeError, UserValueError

__all__ = ["AVAI_OPTIMS", "build_optimizer"]

AVAI_OPTIMS = ["adam", "amsgrad", "sgd", "rmsprop", "radam", "adamw"]


def _staged_param_groups(model: nn.Module, optim_cfg: Any) -> list[dict[str, Any]]:
    """Children named in NEW_LAYERS train at LR; all other children at LR * BASE_LR_MULT (listed first)."""
    if not isinstance(model, nn.Module):
        raise UserTypeError("When staged_lr is True, model given to build_optimizer() must be an instance of nn.Module")
    if isinstance(model, nn.DataParallel):
        model = model.module
    new_layers = optim_cfg.NEW_LAYERS
    if isinstance(new_layers, str):
        new_layers = [new_layers]
    base_params: list[nn.Parameter] = []
    new_params: list[nn.Parameter] = []
    for name, module in model.named_children():
        (new_params if name in new_layers else base_params).extend(module.parameters())
    return [{"params": base_params, "lr": optim_cfg.LR * optim_cfg.BASE_LR_MULT}, {"params": new_params}]


def build_optimizer(
    model: Union[nn.Module, Iterable[Any]], optim_cfg: Any, param_groups: Optional[Iterable[Any]] = None
) -> torch.optim.Optimizer:
    """The optimizer `optim_cfg.NAME` over `param_groups`, or else over the model (or iterable) given.

    adam / amsgrad / adamw / radam use (ADAM_BETA1, ADAM_BETA2); sgd uses MOMENTUM, SGD_DAMPNING,
    SGD_NESTEROV; rmsprop uses MOMENTUM, RMSPROP_ALPHA; WEIGHT_DECAY applies to all.
    """
    name = optim_cfg.NAME
    if name not in AVAI_OPTIMS:
        raise UserValueError(f"optim must be one of {AVAI_OPTIMS}, but got {name}")
    if param_groups is not None and optim_cfg.STAGED_LR:
        warnings.warn(
            "staged_lr will be ignored, if you need to use staged_lr, please bind it with param_groups yourself."
        )
    if param_groups is None:
        if optim_cfg.STAGED_LR:
            param_groups = _staged_param_groups(model, optim_cfg)
        else:
            param_groups = model.parameters() if isinstance(model, nn.Module) else model

    lr = optim_cfg.LR
    weight_decay = optim_cfg.WEIGHT_DECAY
    betas = (optim_cfg.ADAM_BETA1, optim_cfg.ADAM_BETA2)
    if name in ("adam", "amsgrad"):
        return torch.optim.Adam(
            param_groups, lr=lr, weight_decay=weight_decay, betas=betas, amsgrad=name == "amsgrad"
        )
    if name == "sgd":
        return torch.optim.SGD(
            param_groups,
            lr=lr,
            momentum=optim_cfg.MOMENTUM,
            weight_decay=weight_decay,
            dampening=optim_cfg.SGD_DAMPNING,
            nesterov=optim_cfg.SGD_NESTEROV,
        )
    if name == "rmsprop":
        return torch.optim.RMSprop(
            param_groups, lr=lr, momentum=optim_cfg.MOMENTUM, weight_decay=weight_decay, alpha=optim_cfg.RMSPROP_ALPHA
        )
    if name == "radam":
        # torch's RAdam with decoupled weight decay makes the same updates as Dassl's bundled RAdam (checked to
        # float precision), without its deprecated tensor-method calls.
        return torch.optim.RAdam(
            param_groups, lr=lr, weight_decay=weight_decay, betas=betas, decoupled_weight_decay=True
        )
    return torch.optim.AdamW(param_groups, lr=lr, weight_decay=weight_decay, betas=betas)
