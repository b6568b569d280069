"""CLIP-Adapter (Gao et al., IJCV 2024) as a Dassl trainer on the shared base.

A bottleneck MLP on the frozen image feature, mixed back with a residual ratio: f' = r MLP(f0) + (1 - r) f0, then
CLIP's logits against the shared text classifier. Only the MLP trains. Its width comes from the backbone's
embedding (CLIP-Adapter's own code hard-codes RN50's 1024), and it runs on CPU and GPU. Image features f0 come
from the feature store (a random stored view per image per epoch, TRAINER.CLIP_ADAPTER.VIEWS; 0 = the encoder on
fresh augmentations every step). CLIP-Adapter published no configs; configs/trainers/CLIPAdapter/ use CoOp's
schedule, the suite CLIP-Adapter's code was written for.
"""
import torch.nn.functional as F

from safe_clip.adapters import ClipAdapter
from safe_clip.dassl import TRAINER_REGISTRY, build_lr_scheduler
from safe_clip.errors import UserError
from safe_clip.trainer import ClipTrainer


@TRAINER_REGISTRY.register()
class CLIPAdapter(ClipTrainer):
    stage = "pooled"
    config_node = "CLIP_ADAPTER"

    def check_cfg(self, cfg):
        super().check_cfg(cfg)
        adapter_cfg = cfg.TRAINER.CLIP_ADAPTER
        if adapter_cfg.REDUCTION < 1:
            raise UserError(f"TRAINER.CLIP_ADAPTER.REDUCTION is {adapter_cfg.REDUCTION}; use 1 or more")
        if not 0 <= adapter_cfg.RATIO <= 1:
            raise UserError(f"TRAINER.CLIP_ADAPTER.RATIO is {adapter_cfg.RATIO}; use a ratio in [0, 1]")

    def build_method(self):
        adapter_cfg = self.cfg.TRAINER.CLIP_ADAPTER
        feature_dim = self.text_classifier.shape[1]
        self.adapter = ClipAdapter(feature_dim, adapter_cfg.REDUCTION, adapter_cfg.RATIO).to(self.device)
        print(f"CLIP-Adapter: {feature_dim} -> {self.adapter.mlp[0].out_features} -> {feature_dim}, "
              f"residual ratio {adapter_cfg.RATIO}")
        optimizer = self.build_adam_family_optimizer(self.adapter, self.cfg.OPTIM)
        self.register_model("adapter", self.adapter, optimizer, build_lr_scheduler(optimizer, self.cfg.OPTIM))

    def model_inference(self, original_features):
        return self.adapter.logits(original_features, self.text_classifier, self.logit_scale)

    def forward_backward(self, batch):
        original_features, labels = self.parse_batch_train(batch)
        logits = self.model_inference(original_features)
        return self.update_and_summarize(F.cross_entropy(logits, labels), logits, labels)

    def result_extras(self):
        return {"ratio": round(float(self.adapter.ratio), 6)}
