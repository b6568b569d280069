"""Zero-shot CLIP (CoOp's `ZeroshotCLIP`): logits = s * n(f0) W^T with the dataset's prompt template
(the 7-template ensemble for the ImageNet family). Nothing trains; run it with --eval-only."""
from safe_clip.dassl import TRAINER_REGISTRY
from safe_clip.trainer import ClipTrainer


@TRAINER_REGISTRY.register()
class ZeroshotCLIP(ClipTrainer):
    stage = "pooled"

    def model_inference(self, original_features):
        return self.zero_shot_logits(original_features)
