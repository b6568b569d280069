"""SAFE (Semantic-Aware FinE-tuning, arXiv 2311.04464) as a Dassl trainer.

Fine-tunes a copy of CLIP's attention pooling layer on dense maps of the frozen ResNet trunk (read from the feature
store), then blends tuned and original features, f = n((1 - gamma) n(f0) + gamma n(f)), with gamma chosen on the
validation split. Config: TRAINER.SAFE (safe_clip/config.py). Drop this file into a CoOp-style repo's trainers/,
import it from train.py and call `safe_clip.extend_cfg(cfg)` there.
"""
import torch
import torch.nn.functional as F

from safe_clip.dassl import TRAINER_REGISTRY, build_lr_scheduler
from safe_clip.errors import UserError
from safe_clip.features import class_logits, l2_normalize
from safe_clip.pooling import SafePooling, anchor_penalty, require_resnet
from safe_clip.search import distinct_validation, search_blend
from safe_clip.trainer import ClipTrainer


@TRAINER_REGISTRY.register()
class SAFE(ClipTrainer):
    stage = "dense"
    config_node = "SAFE"

    def check_cfg(self, cfg):
        super().check_cfg(cfg)
        safe_cfg = cfg.TRAINER.SAFE
        if not (safe_cfg.BLEND == -1 or 0 <= safe_cfg.BLEND <= 1):
            raise UserError(f"TRAINER.SAFE.BLEND is {safe_cfg.BLEND}; use a ratio in [0, 1], or -1 to search it on val")

    def build_method(self):
        safe_cfg = self.cfg.TRAINER.SAFE
        require_resnet(self.clip_model, self.cfg.MODEL.BACKBONE.NAME, self.cfg.TRAINER.NAME)
        self.safe = SafePooling(self.encoder.original_pooling, safe_cfg.TUNE, blend=max(safe_cfg.BLEND, 0.0))
        self.safe.to(self.device)
        self.blend_choice = {"source": "fixed" if safe_cfg.BLEND >= 0 else "not searched yet"}
        trainable = [parameter for parameter in self.safe.parameters() if parameter.requires_grad]
        optimizer = self.build_adam_family_optimizer(trainable, self.cfg.OPTIM)
        scheduler = build_lr_scheduler(optimizer, self.cfg.OPTIM)
        self.register_model("safe", self.safe, optimizer, scheduler)
        self.check_trainable({f"safe.pooling.{name}" for name in self.safe.tuned_parameter_names()})

    # ------------------------------------------------------------------ training
    def forward_backward(self, batch):
        dense_maps, labels = self.parse_batch_train(batch)
        logits = class_logits(l2_normalize(self.safe(dense_maps)), self.text_classifier, self.logit_scale)
        loss = F.cross_entropy(logits, labels)
        safe_cfg = self.cfg.TRAINER.SAFE
        if safe_cfg.CONSISTENCY_WEIGHT > 0:
            with torch.no_grad():
                original_logits = self.zero_shot_logits(self.encoder.pool(dense_maps))
            loss = loss + safe_cfg.CONSISTENCY_WEIGHT * (logits - original_logits).abs().mean()
        if safe_cfg.ANCHOR_WEIGHT > 0:
            loss = loss + safe_cfg.ANCHOR_WEIGHT * anchor_penalty(self.safe.pooling, self.encoder.original_pooling)
        return self.update_and_summarize(loss, logits, labels)

    def blended_features(self, dense_maps):
        return self.safe.blended(dense_maps, self.encoder.pool(dense_maps))

    def model_inference(self, dense_maps):
        return class_logits(self.blended_features(dense_maps), self.text_classifier, self.logit_scale)

    def after_epoch(self):
        # The blend is chosen before Dassl saves the last-epoch checkpoint, so the checkpoint carries it.
        last_epoch = self.epoch + 1 == self.max_epoch
        if last_epoch or self.cfg.TEST.FINAL_MODEL == "best_val":
            self.choose_blend()
        if last_epoch:
            self.after_safe_training()
        super().after_epoch()

    def after_safe_training(self):
        """Hook for SAFE-A's adapter stages, which run once the pooling copy and the blend are final."""

    # ------------------------------------------------------------------ the blend ratio
    @torch.no_grad()
    def validation_pooled(self):
        """(original features, tuned features, labels) of the validation split, or None without a usable one."""
        if not distinct_validation(self.dm.dataset.val, self.dm.dataset.test):
            return None
        self.set_model_mode("eval")
        originals, tuned, labels = [], [], []
        for batch in self.evaluation_loader("val"):
            dense_maps, batch_labels = self.parse_batch_test(batch)
            originals.append(self.encoder.pool(dense_maps))
            tuned.append(self.safe(dense_maps))
            labels.append(batch_labels)
        return torch.cat(originals), torch.cat(tuned), torch.cat(labels)

    def choose_blend(self):
        safe_cfg = self.cfg.TRAINER.SAFE
        if safe_cfg.BLEND >= 0:
            return
        validation = self.validation_pooled()
        if validation is None:
            # ImageNet's Dassl split has no val (val = test): never choose on test; keep the middle of the range.
            self.safe.blend.fill_(0.5)
            self.blend_choice = {"source": "no validation split: default 0.5"}
            print("No validation split distinct from test: blend ratio set to 0.5 (set TRAINER.SAFE.BLEND to choose)")
            return
        original, tuned, labels = validation
        blend, accuracy = search_blend(
            original, tuned, labels, self.text_classifier, self.logit_scale, safe_cfg.BLEND_GRID
        )
        self.safe.blend.fill_(blend)
        self.blend_choice = {"source": "val search", "val_accuracy": accuracy}
        print(f"Blend ratio chosen on val: {blend:.2f} (val accuracy {accuracy:.1f}%)")

    def after_load(self, model_name):
        if model_name == "safe":
            self.blend_choice = {"source": "checkpoint"}
            print(f"Blend ratio from the checkpoint: {float(self.safe.blend):.2f}")

    def result_extras(self):
        return {"blend": round(float(self.safe.blend), 4), "blend_choice": self.blend_choice}
