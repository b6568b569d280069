"""Trainers with Dassl's hooks, printed lines and checkpoints: TrainerBase -> SimpleTrainer -> TrainerX.

A subclass registers its trainable modules with `register_model(name, module, optimizer, scheduler)` in
`build_model()`, and implements `forward_backward(batch)` returning a dict of numbers for the log line.
Registered models are the ones saved, resumed, loaded and switched between train and eval mode.
"""
from __future__ import annotations

import datetime
import os
import time
from collections import OrderedDict
from typing import Any, Optional, Union

import numpy as np
import torch
import torch.nn as nn
from tqdm import tqdm

from safe_clip.engine.checkpoint import load_checkpoint, resume_from_checkpoint, save_checkpoint
from safe_clip.engine.data import DataManager
from safe_clip.engine.errors import UnsupportedFeatureError, UserFileNotFoundError
from safe_clip.engine.evaluation import build_evaluator
from safe_clip.engine.meters import AverageMeter, MetricMeter
from safe_clip.engine.registry import Registry, check_availability
from safe_clip.engine.utils import mkdir_if_missing, tolist_if_not

__all__ = ["TRAINER_REGISTRY", "SimpleTrainer", "TrainerBase", "TrainerX", "build_trainer"]

TRAINER_REGISTRY = Registry("TRAINER")


def build_trainer(cfg: Any) -> "TrainerBase":
    """Instantiates the trainer registered as `cfg.TRAINER.NAME` with `cfg`."""
    name = cfg.TRAINER.NAME
    check_availability(name, TRAINER_REGISTRY.registered_names())
    if cfg.VERBOSE:
        print(f"Loading trainer: {name}")
    return TRAINER_REGISTRY.get(name)(cfg)


def _format_val_result(val_result: Optional[float]) -> str:
    # Dassl formatted with :.1f and crashed on the None stored in every last-epoch checkpoint (hazard 4).
    return "None" if val_result is None else f"{val_result:.1f}"


class TrainerBase:
    """Registry of models / optimizers / schedulers, the epoch loop, checkpoints and TensorBoard scalars."""

    def __init__(self) -> None:
        self._models: OrderedDict[str, nn.Module] = OrderedDict()
        self._optims: OrderedDict[str, Optional[torch.optim.Optimizer]] = OrderedDict()
        self._scheds: OrderedDict[str, Optional[Any]] = OrderedDict()
        self._writer: Optional[Any] = None

    def register_model(
        self,
        name: str = "model",
        model: Optional[nn.Module] = None,
        optim: Optional[torch.optim.Optimizer] = None,
        sched: Optional[Any] = None,
    ) -> None:
        for attribute in ("_models", "_optims", "_scheds"):
            if self.__dict__.get(attribute) is None:
                raise AttributeError(f"Cannot assign {attribute[1:-1]} before super().__init__() call")
        if name in self._models:
            raise ValueError(f"Found duplicate model names: {name!r} is already registered")
        self._models[name] = model
        self._optims[name] = optim
        self._scheds[name] = sched

    def get_model_names(self, names: Union[None, str, list[str]] = None) -> list[str]:
        """All registered names in registration order, or the given ones after checking them."""
        registered = list(self._models.keys())
        if names is None:
            return registered
        names = tolist_if_not(names)
        for name in names:
            if name not in registered:
                raise KeyError(f"{name!r} is not a registered model; registered: {registered}")
        return names

    def save_model(
        self,
        epoch: int,
        directory: str,
        is_best: bool = False,
        val_result: Optional[float] = None,
        model_name: str = "",
    ) -> None:
        """Saves each registered model to `directory/<name>/` with epoch + 1, as Dassl."""
        for name in self.get_model_names():
            optim = self._optims[name]
            sched = self._scheds[name]
            save_checkpoint(
                {
                    "state_dict": self._models[name].state_dict(),
                    "epoch": epoch + 1,
                    "optimizer": optim.state_dict() if optim is not None else None,
                    "scheduler": sched.state_dict() if sched is not None else None,
                    "val_result": val_result,
                },
                os.path.join(directory, name),
                is_best=is_best,
                model_name=model_name,
            )

    def resume_model_if_exist(self, directory: str) -> int:
        """Resumes every registered model from `directory/<name>/`; returns the epoch to start from (0: none)."""
        names = self.get_model_names()
        if any(not os.path.exists(os.path.join(directory, name)) for name in names):
            print("No checkpoint found, train from scratch")
            return 0

        print(f"Found checkpoint at {directory} (will resume training)")
        start_epoch = 0
        for name in names:
            start_epoch = resume_from_checkpoint(
                os.path.join(directory, name), self._models[name], self._optims[name], self._scheds[name]
            )
        return start_epoch

    def load_model(self, directory: str, epoch: Optional[int] = None) -> None:
        """Loads `model.pth.tar-<epoch>` (default `model-best.pth.tar`) into every registered model."""
        if not directory:
            print(
                "Note that load_model() is skipped as no pretrained model is given "
                "(ignore this if it's done on purpose)"
            )
            return

        model_file = "model-best.pth.tar" if epoch is None else f"model.pth.tar-{epoch}"
        for name in self.get_model_names():
            model_path = os.path.join(directory, name, model_file)
            if not os.path.exists(model_path):
                raise UserFileNotFoundError(f"No model at {model_path}")
            checkpoint = load_checkpoint(model_path)
            print(
                f"Load {model_path} to {name} (epoch={checkpoint['epoch']}, "
                f"val_result={_format_val_result(checkpoint.get('val_result'))})"
            )
            self._models[name].load_state_dict(checkpoint["state_dict"])

    def set_model_mode(self, mode: str = "train", names: Union[None, str, list[str]] = None) -> None:
        """"train" -> .train(); "test" or "eval" -> .eval(), for registered models."""
        if mode not in ("train", "test", "eval"):
            raise KeyError(f"model mode must be 'train', 'test' or 'eval', got {mode!r}")
        for name in self.get_model_names(names):
            if mode == "train":
                self._models[name].train()
            else:
                self._models[name].eval()

    def update_lr(self, names: Union[None, str, list[str]] = None) -> None:
        """Steps every scheduler (CoOp-style trainers call this once per epoch, at the last batch)."""
        for name in self.get_model_names(names):
            if self._scheds[name] is not None:
                self._scheds[name].step()

    def detect_anomaly(self, loss: torch.Tensor) -> None:
        if not torch.isfinite(loss).all():
            raise FloatingPointError("Loss is infinite or NaN!")

    def init_writer(self, log_dir: str) -> None:
        """Opens a TensorBoard writer; without the `tensorboard` package, says so and writes no scalars."""
        if self.__dict__.get("_writer") is not None:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            print("TensorBoard is not installed, so no training curves are written (pip install tensorboard)")
            return
        print(f"Initialize tensorboard (log_dir={log_dir})")
        self._writer = SummaryWriter(log_dir=log_dir)

    def close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def write_scalar(self, tag: str, scalar_value: float, global_step: Optional[int] = None) -> None:
        # No writer in eval-only runs or without TensorBoard: nothing to do.
        if self._writer is not None:
            self._writer.add_scalar(tag, scalar_value, global_step)

    def train(self, start_epoch: int, max_epoch: int) -> None:
        """before_train, then before_epoch / run_epoch / after_epoch per epoch, then after_train."""
        self.start_epoch = start_epoch
        self.max_epoch = max_epoch
        self.before_train()
        # The range is read after before_train, so a start epoch found by resuming takes effect.
        for self.epoch in range(self.start_epoch, self.max_epoch):
            self.before_epoch()
            self.run_epoch()
            self.after_epoch()
        self.after_train()

    def before_train(self) -> None:
        pass

    def after_train(self) -> None:
        pass

    def before_epoch(self) -> None:
        pass

    def after_epoch(self) -> None:
        pass

    def run_epoch(self) -> None:
        raise NotImplementedError

    def test(self) -> Any:
        raise NotImplementedError

    def parse_batch_train(self, batch: Any) -> Any:
        raise NotImplementedError

    def parse_batch_test(self, batch: Any) -> Any:
        raise NotImplementedError

    def forward_backward(self, batch: Any) -> Any:
        raise NotImplementedError

    def model_inference(self, input: Any) -> Any:
        raise NotImplementedError

    def model_zero_grad(self, names: Union[None, str, list[str]] = None) -> None:
        for name in self.get_model_names(names):
            if self._optims[name] is not None:
                self._optims[name].zero_grad()

    def model_backward(self, loss: torch.Tensor) -> None:
        self.detect_anomaly(loss)
        loss.backward()

    def model_update(self, names: Union[None, str, list[str]] = None) -> None:
        for name in self.get_model_names(names):
            if self._optims[name] is not None:
                self._optims[name].step()

    def model_backward_and_update(self, loss: torch.Tensor, names: Union[None, str, list[str]] = None) -> None:
        """zero_grad -> backward (after the NaN/inf check) -> optimizer step."""
        self.model_zero_grad(names)
        self.model_backward(loss)
        self.model_update(names)


class SimpleTrainer(TrainerBase):
    """Builds data (DataManager), the model (subclass hook) and the evaluator; trains, checkpoints and tests."""

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        self.check_cfg(cfg)
        if torch.cuda.is_available() and cfg.USE_CUDA:
            self.device = torch.device("cuda")
        else:
            self.device = torch.device("cpu")
        self.start_epoch = self.epoch = 0
        self.max_epoch = cfg.OPTIM.MAX_EPOCH
        self.output_dir = cfg.OUTPUT_DIR
        self.cfg = cfg
        self.build_data_loader()
        self.build_model()
        self.evaluator = build_evaluator(cfg, lab2cname=self.lab2cname)
        self.best_result = -np.inf

    def check_cfg(self, cfg: Any) -> None:
        """Hook: check settings this trainer requires (default: none)."""

    def build_data_loader(self) -> None:
        """Sets train_loader_x, train_loader_u, val_loader, test_loader, num_classes, num_source_domains,
        lab2cname and dm (an override must set the same attributes)."""
        dm = DataManager(self.cfg)
        self.train_loader_x = dm.train_loader_x
        self.train_loader_u = dm.train_loader_u
        self.val_loader = dm.val_loader
        self.test_loader = dm.test_loader
        self.num_classes = dm.num_classes
        self.num_source_domains = dm.num_source_domains
        self.lab2cname = dm.lab2cname
        self.dm = dm

    def build_model(self) -> None:
        """Hook: build `self.model` and register it with its optimizer and scheduler."""
        raise UnsupportedFeatureError(
            f"{type(self).__name__} must override build_model(): the built-in engine has no Dassl backbones "
            "(SimpleNet) to build a default model from"
        )

    def train(self) -> None:  # type: ignore[override]
        super().train(self.start_epoch, self.max_epoch)

    def before_train(self) -> None:
        # An existing checkpoint in RESUME (or else OUTPUT_DIR) is resumed, as in Dassl.
        directory = self.cfg.RESUME or self.cfg.OUTPUT_DIR
        self.start_epoch = self.resume_model_if_exist(directory)
        writer_dir = os.path.join(self.output_dir, "tensorboard")
        mkdir_if_missing(writer_dir)
        self.init_writer(writer_dir)
        self.time_start = time.time()

    def after_train(self) -> None:
        print("Finish training")
        if not self.cfg.TEST.NO_TEST:
            if self.cfg.TEST.FINAL_MODEL == "best_val":
                print("Deploy the model with the best val performance")
                self.load_model(self.output_dir)
            else:
                print("Deploy the last-epoch model")
            self.test()
        elapsed = str(datetime.timedelta(seconds=round(time.time() - self.time_start)))
        print(f"Elapsed: {elapsed}")
        self.close_writer()

    def after_epoch(self) -> None:
        """With TEST.FINAL_MODEL best_val, tests on val and keeps the best; saves every CHECKPOINT_FREQ epochs
        (when > 0) and after the last epoch."""
        last_epoch = (self.epoch + 1) == self.max_epoch
        do_test = not self.cfg.TEST.NO_TEST
        checkpoint_freq = self.cfg.TRAIN.CHECKPOINT_FREQ
        meet_checkpoint_freq = checkpoint_freq > 0 and (self.epoch + 1) % checkpoint_freq == 0

        if do_test and self.cfg.TEST.FINAL_MODEL == "best_val":
            curr_result = self.test(split="val")
            if curr_result > self.best_result:
                self.best_result = curr_result
                self.save_model(self.epoch, self.output_dir, val_result=curr_result, model_name="model-best.pth.tar")

        if meet_checkpoint_freq or last_epoch:
            self.save_model(self.epoch, self.output_dir)

    @torch.no_grad()
    def test(self, split: Optional[str] = None) -> float:
        """Evaluates on `split` (default TEST.SPLIT; "val" falls back to test without a val loader); returns
        the first result (accuracy)."""
        self.set_model_mode("eval")
        self.evaluator.reset()
        if split is None:
            split = self.cfg.TEST.SPLIT
        if split == "val" and self.val_loader is not None:
            data_loader = self.val_loader
        else:
            split = "test"
            data_loader = self.test_loader

        print(f"Evaluate on the *{split}* set")
        for batch in tqdm(data_loader):
            input, label = self.parse_batch_test(batch)
            output = self.model_inference(input)
            self.evaluator.process(output, label)

        results = self.evaluator.evaluate()
        for key, value in results.items():
            self.write_scalar(f"{split}/{key}", value, self.epoch)
        return list(results.values())[0]

    def model_inference(self, input: torch.Tensor) -> torch.Tensor:
        return self.model(input)

    def parse_batch_test(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        return batch["img"].to(self.device), batch["label"].to(self.device)

    def get_current_lr(self, names: Union[None, str, list[str]] = None) -> float:
        """LR of the first param group of the first (given) registered model's optimizer."""
        name = self.get_model_names(names)[0]
        return self._optims[name].param_groups[0]["lr"]


class TrainerX(SimpleTrainer):
    """Trains on labeled data only (train_loader_x), printing Dassl's per-batch log line."""

    def run_epoch(self) -> None:
        self.set_model_mode("train")
        losses = MetricMeter()
        batch_time = AverageMeter()
        data_time = AverageMeter()
        self.num_batches = len(self.train_loader_x)
        print_freq = self.cfg.TRAIN.PRINT_FREQ

        end = time.time()
        for self.batch_idx, batch in enumerate(self.train_loader_x):
            data_time.update(time.time() - end)
            loss_summary = self.forward_backward(batch)
            batch_time.update(time.time() - end)
            losses.update(loss_summary)

            meet_freq = (self.batch_idx + 1) % print_freq == 0
            only_few_batches = self.num_batches < print_freq
            if meet_freq or only_few_batches:
                print(self._log_line(batch_time, data_time, losses))

            n_iter = self.epoch * self.num_batches + self.batch_idx
            for name, meter in losses.meters.items():
                self.write_scalar("train/" + name, meter.avg, n_iter)
            self.write_scalar("train/lr", self.get_current_lr(), n_iter)
            end = time.time()

    def _log_line(self, batch_time: AverageMeter, data_time: AverageMeter, losses: MetricMeter) -> str:
        # The LR is read after forward_backward, so a line printed at an epoch's last batch of a trainer that
        # steps its scheduler there already shows the next epoch's LR (as in Dassl).
        batches_left = (self.num_batches - self.batch_idx - 1) + (self.max_epoch - self.epoch - 1) * self.num_batches
        eta = str(datetime.timedelta(seconds=int(batch_time.avg * batches_left)))
        return " ".join(
            [
                f"epoch [{self.epoch + 1}/{self.max_epoch}]",
                f"batch [{self.batch_idx + 1}/{self.num_batches}]",
                f"time {batch_time.val:.3f} ({batch_time.avg:.3f})",
                f"data {data_time.val:.3f} ({data_time.avg:.3f})",
                f"{losses}",
                f"lr {self.get_current_lr():.4e}",
                f"eta {eta}",
            ]
        )

    def parse_batch_train(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return batch["img"].to(self.device), batch["label"].to(self.device), batch["domain"].to(self.device)
