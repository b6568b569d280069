"""SAFE-A: SAFE plus an adapter head on the blended feature, as a Dassl trainer.

Stages: (1) train SAFE and choose the blend ratio on val; (2) build the cache from the blended training features
(mean over the stored views, normalised); (3) fine-tune it (Tip-Adapter-F: the cache keys; CLIP-Adapter: the
bottleneck MLP); (4) choose Tip-Adapter's alpha and beta on val. TRAINER.SAFE_A.ADAPTER selects `tip_f`
(default), `tip` (training-free) or `clip_adapter`. Drop this file beside safe.py in a CoOp-style trainers/.
"""
import torch

from safe_clip.adapters import (
    ClipAdapter,
    TipAdapter,
    build_tip_adapter,
    choose_tip_alpha_beta,
    fine_tune_adapter,
    tip_cache_keys,
    tip_f_epochs,
    tip_search_scale,
)
from safe_clip.dassl import TRAINER_REGISTRY
from safe_clip.errors import UserError
from safe_clip.features import class_logits
from safe_clip.pooling import blend_features

from .safe import SAFE

ADAPTERS = ("tip_f", "tip", "clip_adapter")


@TRAINER_REGISTRY.register()
class SAFE_A(SAFE):
    min_views = 1  # the cache is built from stored views

    def check_cfg(self, cfg):
        super().check_cfg(cfg)
        if cfg.TRAINER.SAFE_A.ADAPTER not in ADAPTERS:
            raise UserError(f"TRAINER.SAFE_A.ADAPTER is {cfg.TRAINER.SAFE_A.ADAPTER!r}; use one of {', '.join(ADAPTERS)}")

    def build_method(self):
        super().build_method()
        adapter_cfg = self.cfg.TRAINER.SAFE_A
        feature_dim = self.text_classifier.shape[1]
        if adapter_cfg.ADAPTER == "clip_adapter":
            self.adapter = ClipAdapter(feature_dim, adapter_cfg.REDUCTION, adapter_cfg.RATIO)
        else:
            self.adapter = build_tip_adapter(
                len(self.dm.dataset.train_x), feature_dim, self.num_classes, adapter_cfg.ADAPTER == "tip_f",
                self.cfg.DATASET.NAME, adapter_cfg.INIT_ALPHA, adapter_cfg.INIT_BETA,
            )
        self.adapter.to(self.device)
        self.adapter_choice = {}
        # The adapter trains in its own stage with its own optimizer; registered for checkpoints and modes.
        self.register_model("adapter", self.adapter)
        self.check_trainable(
            {f"safe.pooling.{name}" for name in self.safe.tuned_parameter_names()}
            | {f"adapter.{name}" for name, parameter in self.adapter.named_parameters() if parameter.requires_grad}
        )

    def model_inference(self, dense_maps):
        return self.logits_from_blended(self.blended_features(dense_maps))

    def logits_from_blended(self, blended):
        if isinstance(self.adapter, ClipAdapter):
            return self.adapter.logits(blended, self.text_classifier, self.logit_scale)
        return self.adapter(blended, class_logits(blended, self.text_classifier, self.logit_scale))

    # ------------------------------------------------------------------ stages 2-4
    @torch.no_grad()
    def blended_training_views(self):
        """[N, V, D] blended features of every stored view of every training image, and the [N] labels."""
        self.set_model_mode("eval")
        stored = self.stored_split("train")
        per_item = [self.blended_features(stored.all_views(index).to(self.device)) for index in range(len(stored))]
        labels = torch.tensor(stored.labels, device=self.device)
        return torch.stack(per_item), labels

    def after_safe_training(self):
        adapter_cfg = self.cfg.TRAINER.SAFE_A
        view_features, labels = self.blended_training_views()
        if isinstance(self.adapter, TipAdapter):
            self.adapter.set_cache(tip_cache_keys(view_features), labels)
        if adapter_cfg.ADAPTER != "tip":
            self.fit_adapter(view_features, labels)
        if isinstance(self.adapter, TipAdapter):
            self.choose_alpha_beta()

    def fit_adapter(self, view_features, labels):
        adapter_cfg = self.cfg.TRAINER.SAFE_A
        epochs = tip_f_epochs(self.cfg.DATASET.NAME, adapter_cfg.EPOCHS)
        print(f"Fine-tuning the {adapter_cfg.ADAPTER} adapter for {epochs} epochs")
        fine_tune_adapter(self.adapter, self.logits_from_blended, view_features, labels, epochs=epochs,
                          batch_size=adapter_cfg.BATCH_SIZE, lr=adapter_cfg.LR, eps=adapter_cfg.EPS)

    @torch.no_grad()
    def choose_alpha_beta(self):
        adapter_cfg = self.cfg.TRAINER.SAFE_A
        validation = self.validation_pooled()
        if validation is not None:
            original, tuned, labels = validation
            blended = blend_features(original, tuned, float(self.safe.blend))
            validation = (blended, class_logits(blended, self.text_classifier, self.logit_scale), labels)
        self.adapter_choice = choose_tip_alpha_beta(
            self.adapter, validation, tip_search_scale(self.cfg.DATASET.NAME, adapter_cfg.SEARCH_SCALE),
            adapter_cfg.SEARCH_STEPS,
        )

    def result_extras(self):
        extras = {**super().result_extras(), "adapter": self.cfg.TRAINER.SAFE_A.ADAPTER}
        if isinstance(self.adapter, TipAdapter):
            extras.update(alpha=round(float(self.adapter.alpha), 4), beta=round(float(self.adapter.beta), 4))
        extras["adapter_choice"] = self.adapter_choice
        return extras
