"""`ClipTrainer`: the one base class of every trainer in this suite, on top of Dassl's `TrainerX`.

It holds what the trainers share, once: loading CLIP and the text classifier, the frozen image encoder and the
feature store, the evaluation loop that also writes results.json, atomic checkpoints, a `load_model` that works for
last-epoch checkpoints, and per-epoch LR stepping. Subclasses override Dassl's hooks only where they differ
(`build_method`, `forward_backward`, `model_inference`, ...). It works on real Dassl and on `safe_clip.engine`.
"""
from __future__ import annotations

import os.path as osp
from typing import Any, Optional

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from safe_clip.clip_loading import check_input_size, load_clip
from safe_clip.dassl import IMPLEMENTATION, TrainerX, compute_accuracy, load_checkpoint
from safe_clip.encoder import FrozenImageEncoder
from safe_clip.errors import UserError
from safe_clip.features import class_logits, l2_normalize
from safe_clip.engine.checkpoint import save_checkpoint as atomic_save_checkpoint
from safe_clip.io import atomic_write_json
from safe_clip.optim import apply_adam_eps
from safe_clip.store import StoredViews, TensorStore, check_views, fill_store, resolve_store_dir, view_requests
from safe_clip.templates import templates_for_dataset
from safe_clip.text import build_text_classifier

RESULTS_FILE = "results.json"
PRECISIONS = ("fp16", "fp32", "amp")
_GIB = 1024**3


class ClipTrainer(TrainerX):
    """Base trainer. Subclasses set `stage` ("pooled" or "dense") and implement `build_method`."""

    # Which output of the frozen encoder this trainer consumes; the store keeps that stage.
    stage: str = "pooled"
    # The trainer's node under cfg.TRAINER (e.g. "SAFE"). Its PREC key, when present, sets CLIP's precision on
    # GPU, and its VIEWS key the stored augmented views per training image (0 = no store: the encoder runs on
    # fresh augmentations every step).
    config_node: str = ""
    # Fewest stored views the trainer works with (1 for trainers that build a cache from them).
    min_views: int = 0

    # ------------------------------------------------------------------ settings read from the trainer's node
    def method_cfg(self, cfg=None):
        """cfg.TRAINER.<config_node>, or None for a trainer without a node."""
        cfg = cfg if cfg is not None else self.cfg
        return cfg.TRAINER.get(self.config_node) if self.config_node else None

    def check_cfg(self, cfg) -> None:
        node, prefix = self.method_cfg(cfg), f"TRAINER.{self.config_node}"
        if node is None:
            return
        if "PREC" in node and node.PREC not in PRECISIONS:
            raise UserError(f"{prefix}.PREC is {node.PREC!r}; use one of {', '.join(PRECISIONS)}")
        if "VIEWS" in node:
            check_views(node.VIEWS, f"{prefix}.VIEWS", self.min_views,
                        f"{type(self).__name__} builds its cache from stored views")

    def clip_precision(self) -> str:
        """Precision CLIP is loaded in on GPU ("fp16", "fp32" or "amp"); CPU is always fp32."""
        node = self.method_cfg()
        return node.PREC if node is not None and "PREC" in node else "fp16"

    def train_views(self) -> int:
        """Stored augmented views per training image; 0 = no store, encode fresh augmentations every step."""
        node = self.method_cfg()
        return node.VIEWS if node is not None and "VIEWS" in node else 0

    def uses_store(self) -> bool:
        """Trainers with a VIEWS setting of 0 run without any store (the reference path); all others use it."""
        node = self.method_cfg()
        return self.train_views() > 0 if node is not None and "VIEWS" in node else True

    def result_extras(self) -> dict[str, Any]:
        """Method-specific values recorded in results.json (a chosen blend ratio, alpha/beta, ...)."""
        return {}

    def build_method(self) -> None:
        """Builds and registers the method's trainable parts (called at the end of `build_model`)."""

    # ------------------------------------------------------------------ model
    def build_model(self) -> None:
        cfg = self.cfg
        backbone = cfg.MODEL.BACKBONE.NAME
        if not backbone:
            raise UserError("MODEL.BACKBONE.NAME is empty; set it to a CLIP model name (e.g. RN50) or a checkpoint path")
        print(f"Loading CLIP (backbone: {backbone})")
        self.clip_model = load_clip(backbone, self.device, self.clip_precision())
        check_input_size(self.clip_model, cfg.INPUT.SIZE, backbone)
        self.clip_model.requires_grad_(False)
        self.logit_scale = float(self.clip_model.logit_scale.exp().item())
        self.classnames = list(self.dm.dataset.classnames)
        templates = templates_for_dataset(cfg.DATASET.NAME)
        print(f"Building the text classifier ({len(self.classnames)} classes x {len(templates)} template(s))")
        self.text_classifier = build_text_classifier(self.clip_model, self.classnames, templates).to(self.device)
        self.encoder = FrozenImageEncoder(self.clip_model)
        self._stored: dict[str, StoredViews] = {}
        self.build_method()

    def zero_shot_logits(self, original_features: torch.Tensor) -> torch.Tensor:
        return class_logits(l2_normalize(original_features), self.text_classifier, self.logit_scale)

    def build_adam_family_optimizer(self, parameters, optim_cfg):
        """Dassl's `build_optimizer`, plus OPTIM.ADAM_EPS for Adam-family optimizers (Dassl has no eps key)."""
        from safe_clip.dassl import build_optimizer

        optimizer = build_optimizer(parameters, optim_cfg)
        if optim_cfg.NAME in ("adam", "adamw", "amsgrad", "radam") and "ADAM_EPS" in optim_cfg:
            apply_adam_eps(optimizer, float(optim_cfg.ADAM_EPS))
        return optimizer

    # ------------------------------------------------------------------ feature store
    def _store_for(self, stage: str) -> TensorStore:
        precision = self.cfg.STORE.PRECISION if stage == "dense" else "fp32"
        if precision not in ("fp16", "fp32"):
            raise UserError(f"STORE.PRECISION is {precision!r}; use fp16 or fp32")
        dtype = torch.float16 if precision == "fp16" else torch.float32
        return TensorStore(resolve_store_dir(self.cfg.STORE.DIR), self.encoder.fingerprint(stage), dtype)

    def stored_split(self, split: str, stage: Optional[str] = None) -> StoredViews:
        """Stored encoder outputs for `split` ("train": the training transform's views; "train_test_view": the
        training images under the test transform; "val"/"test"), computing whatever is missing first."""
        stage = stage or self.stage
        cache_key = f"{split}:{stage}"
        if cache_key in self._stored:
            return self._stored[cache_key]
        items = {"train": self.dm.dataset.train_x, "train_test_view": self.dm.dataset.train_x,
                 "val": self.dm.dataset.val, "test": self.dm.dataset.test}[split]
        if split == "train":
            transform, views = self.train_loader_x.dataset.transform, max(1, self.train_views())
        else:
            transform, views = self.test_loader.dataset.transform, 1
        store = self._store_for(stage)
        impaths = [item.impath for item in items]
        requests = view_requests(store, impaths, transform, views)
        flat_requests = [request for per_item in requests for request in per_item]
        encoded = fill_store(
            store,
            flat_requests,
            transform,
            self.encoder.stage(stage),
            self.device,
            batch_size=self.cfg.STORE.BATCH_SIZE,
            num_workers=self.cfg.DATALOADER.NUM_WORKERS,
            description=f"Encoding {split} images ({stage})",
        )
        print(f"Feature store ({stage}, {split}): {len(flat_requests)} entries, {encoded} newly encoded")
        preload = self._fits_in_memory(store, flat_requests)
        stored = StoredViews(store, requests, [item.label for item in items], impaths, preload=preload)
        self._stored[cache_key] = stored
        return stored

    def _fits_in_memory(self, store: TensorStore, flat_requests: list) -> bool:
        if store.directory is None or not flat_requests:
            return True
        sample = store.get(flat_requests[0].key)
        total = sample.numel() * sample.element_size() * len(flat_requests)
        return total <= self.cfg.STORE.MEMORY_GB * _GIB

    def stored_loader(self, stored: StoredViews, batch_size: int, is_train: bool) -> DataLoader:
        """A loader over stored entries with Dassl's rules: random order and drop_last (when there are at least
        batch_size items) for training, sequential otherwise."""
        return DataLoader(
            stored,
            batch_size=batch_size,
            shuffle=is_train,
            drop_last=is_train and len(stored) >= batch_size,
            num_workers=0,
            generator=None if is_train else torch.Generator(),
        )

    def evaluation_loader(self, split: str):
        if not self.uses_store():
            return self.val_loader if split == "val" else self.test_loader
        return self.stored_loader(self.stored_split(split), self.cfg.DATALOADER.TEST.BATCH_SIZE, is_train=False)

    def before_train(self) -> None:
        super().before_train()
        if self.uses_store() and self.train_views() > 0:
            # From here on Dassl's run_epoch iterates stored views instead of decoding and encoding images.
            stored = self.stored_split("train")
            self.train_loader_x = self.stored_loader(stored, self.cfg.DATALOADER.TRAIN_X.BATCH_SIZE, is_train=True)

    def to_stage(self, inputs: torch.Tensor, from_store: bool) -> torch.Tensor:
        """Batches from the store are already at the trainer's stage; image batches go through the encoder."""
        inputs = inputs.to(self.device)
        return inputs if from_store else self.encoder.stage(self.stage)(inputs)

    def parse_batch_train(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        from_store = self.uses_store() and self.train_views() > 0
        return self.to_stage(batch["img"], from_store), batch["label"].to(self.device)

    def parse_batch_test(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        return self.to_stage(batch["img"], self.uses_store()), batch["label"].to(self.device)

    # ------------------------------------------------------------------ training helpers
    def update_and_summarize(self, loss: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> dict:
        """Backward + step, the per-epoch LR step after the last batch (CoOp's convention), and the log values."""
        self.model_backward_and_update(loss)
        if self.batch_idx + 1 == self.num_batches:
            self.update_lr()
        return {"loss": loss.item(), "acc": compute_accuracy(logits, labels)[0].item()}

    def trainable_parameter_names(self) -> list[str]:
        """Names of every parameter that requires grad, across CLIP and the registered models."""
        names = [f"clip.{name}" for name, p in self.clip_model.named_parameters() if p.requires_grad]
        for model_name in self.get_model_names():
            names += [f"{model_name}.{name}" for name, p in self._models[model_name].named_parameters() if p.requires_grad]
        return names

    def check_trainable(self, expected: set[str]) -> None:
        """Fails when the parameters that would train are not exactly the method's (`expected`, named as in
        `trainable_parameter_names`): a frozen weight that trains silently changes the method."""
        actual = set(self.trainable_parameter_names())
        if actual != expected:
            raise RuntimeError(
                f"{type(self).__name__}: trainable parameters are not the method's; unexpected "
                f"{sorted(actual - expected)[:5]}, missing {sorted(expected - actual)[:5]}"
            )

    # ------------------------------------------------------------------ evaluation and results
    @torch.no_grad()
    def test(self, split: Optional[str] = None) -> float:
        """Dassl's test loop over `evaluation_loader`; a test-split evaluation also writes results.json."""
        self.set_model_mode("eval")
        self.evaluator.reset()
        split = split or self.cfg.TEST.SPLIT
        if split != "val" or self.val_loader is None:
            split = "test"
        print(f"Evaluate on the *{split}* set")
        for batch in tqdm(self.evaluation_loader(split)):
            inputs, labels = self.parse_batch_test(batch)
            self.evaluator.process(self.model_inference(inputs), labels)
        results = self.evaluator.evaluate()
        for name, value in results.items():
            self.write_scalar(f"{split}/{name}", value, self.epoch)
        if split == "test":
            self.write_results(results)
        return list(results.values())[0]

    def write_results(self, results: dict) -> None:
        cfg = self.cfg
        record = {
            "trainer": cfg.TRAINER.NAME,
            "dataset": cfg.DATASET.NAME,
            "shots": cfg.DATASET.NUM_SHOTS,
            "seed": cfg.SEED,
            "backbone": cfg.MODEL.BACKBONE.NAME,
            "subsample_classes": cfg.DATASET.get("SUBSAMPLE_CLASSES", "all"),
            "split": "test",
            **{name: float(value) for name, value in results.items()},
            "method": self.result_extras(),
            "dassl": IMPLEMENTATION,
        }
        atomic_write_json(record, osp.join(self.output_dir, RESULTS_FILE))
        print(f"Results saved to {osp.join(self.output_dir, RESULTS_FILE)}")

    # ------------------------------------------------------------------ checkpoints
    def save_model(self, epoch, directory, is_best=False, val_result=None, model_name="") -> None:
        """Dassl's `save_model`, through the project's atomic `save_checkpoint` on either Dassl (real Dassl's
        writes in place, so an interruption could leave a truncated checkpoint that a later run trusts)."""
        for name in self.get_model_names():
            optimizer, scheduler = self._optims[name], self._scheds[name]
            state = {
                "state_dict": self._models[name].state_dict(),
                "epoch": epoch + 1,
                "optimizer": optimizer.state_dict() if optimizer is not None else None,
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "val_result": val_result,
            }
            atomic_save_checkpoint(state, osp.join(directory, name), is_best=is_best, model_name=model_name)

    def load_model(self, directory: str, epoch: Optional[int] = None) -> None:
        """CoOp's `load_model`, fixed: last-epoch checkpoints (val_result None) load, and without `--load-epoch`
        the best checkpoint is used if there is one, else the last one saved (the `checkpoint` pointer)."""
        if not directory:
            print("Note that load_model() is skipped as no pretrained model is given (ignore this if it's done on purpose)")
            return
        for name in self.get_model_names():
            model_path = self._checkpoint_path(directory, name, epoch)
            checkpoint = load_checkpoint(model_path)
            print(f'Loading weights to {name} from "{model_path}" (epoch = {checkpoint["epoch"]})')
            self._models[name].load_state_dict(checkpoint["state_dict"], strict=True)
            self.after_load(name)

    def after_load(self, model_name: str) -> None:
        """Hook: refresh anything derived from loaded weights."""

    @staticmethod
    def _checkpoint_path(directory: str, model_name: str, epoch: Optional[int]) -> str:
        model_dir = osp.join(directory, model_name)
        if epoch is not None:
            candidates = [f"model.pth.tar-{epoch}"]
        else:
            candidates = ["model-best.pth.tar"]
            pointer = osp.join(model_dir, "checkpoint")
            if osp.isfile(pointer):
                with open(pointer) as handle:
                    candidates.append(handle.readline().strip())
        for candidate in candidates:
            if candidate and osp.isfile(osp.join(model_dir, candidate)):
                return osp.join(model_dir, candidate)
        raise UserError(
            f'Model not found at "{osp.join(model_dir, candidates[0])}"; pass --model-dir of a finished run '
            f"(and --load-epoch N for model.pth.tar-N)"
        )
