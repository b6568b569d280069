"""Tip-Adapter and Tip-Adapter-F (Zhang et al., ECCV 2022) as Dassl trainers on the shared base.

Both build Tip-Adapter's cache from the few-shot training images: keys = per image, the normalised mean of the
normalised features f0 of its stored augmented views (TRAINER.<node>.VIEWS, Tip-Adapter's 10 by default), values =
one-hot labels. Logits = s n(f0) W^T + alpha exp(-beta (1 - n(f0) K^T)) V with the shared text classifier W.
Tip-Adapter is training-free; Tip-Adapter-F fine-tunes the keys (AdamW lr 1e-3, eps 1e-4, cosine per iteration,
20 epochs, EuroSAT 100; one stored view per image per epoch). Then alpha and beta are searched on the validation
split over Tip-Adapter's per-dataset ranges. No choice looks at test (Tip-Adapter-F's released code keeps its
best epoch on test; here the last epoch is kept). The run is one "epoch" holding these stages; Dassl then saves
the checkpoint, prints `Finish training` and tests. Config: TRAINER.TIP_ADAPTER / TRAINER.TIP_ADAPTER_F.
"""
from safe_clip import adapters
from safe_clip.dassl import TRAINER_REGISTRY
from safe_clip.errors import UserError
from safe_clip.features import class_logits, l2_normalize
from safe_clip.search import distinct_validation
from safe_clip.trainer import ClipTrainer


@TRAINER_REGISTRY.register()
class TipAdapter(ClipTrainer):
    stage = "pooled"
    # The config node under TRAINER, and whether the cache keys train.
    config_node = "TIP_ADAPTER"
    min_views = 1
    learnable_keys = False

    def check_cfg(self, cfg):
        super().check_cfg(cfg)
        tip_cfg, prefix = self.method_cfg(cfg), f"TRAINER.{self.config_node}"
        if len(tip_cfg.SEARCH_SCALE) not in (0, 2):
            raise UserError(f"{prefix}.SEARCH_SCALE is {tip_cfg.SEARCH_SCALE}; give [beta_max, alpha_max], or [] "
                            f"for Tip-Adapter's range for the dataset")
        if len(tip_cfg.SEARCH_STEPS) != 2 or min(tip_cfg.SEARCH_STEPS) < 1:
            raise UserError(f"{prefix}.SEARCH_STEPS is {tip_cfg.SEARCH_STEPS}; give [beta_steps, alpha_steps], "
                            f"both 1 or more")

    def build_method(self):
        tip_cfg = self.method_cfg()
        self.adapter = adapters.build_tip_adapter(
            len(self.dm.dataset.train_x), self.text_classifier.shape[1], self.num_classes, self.learnable_keys,
            self.cfg.DATASET.NAME, tip_cfg.INIT_ALPHA, tip_cfg.INIT_BETA,
        ).to(self.device)
        self.register_model("adapter", self.adapter)
        self.adapter_choice = {"source": "not fitted yet"}
        self.max_epoch = 1  # one pass: cache, (fine-tuning,) search

    def logits_from_normalized(self, normalized_features):
        return self.adapter(normalized_features, class_logits(normalized_features, self.text_classifier,
                                                              self.logit_scale))

    def model_inference(self, original_features):
        return self.logits_from_normalized(l2_normalize(original_features))

    # ------------------------------------------------------------------ stages
    def run_epoch(self):
        view_features, labels = self.stored_split("train").tensors(self.device)
        view_features = l2_normalize(view_features)
        self.adapter.set_cache(adapters.tip_cache_keys(view_features), labels)
        print(f"Tip-Adapter cache: {len(labels)} images x {view_features.shape[1]} views")
        self.fit_cache(view_features, labels)
        self.adapter.eval()
        self.adapter_choice = adapters.choose_tip_alpha_beta(
            self.adapter, self.validation(), adapters.tip_search_scale(self.cfg.DATASET.NAME, self.method_cfg().SEARCH_SCALE),
            self.method_cfg().SEARCH_STEPS,
        )

    def fit_cache(self, view_features, labels):
        """Training-free: the cache stays as built."""

    def validation(self):
        """(normalised features, zero-shot logits, labels) of the validation split, or None without one."""
        if not distinct_validation(self.dm.dataset.val, self.dm.dataset.test):
            return None
        features, labels = self.stored_split("val").tensors(self.device)
        normalized = l2_normalize(features[:, 0])
        return normalized, class_logits(normalized, self.text_classifier, self.logit_scale), labels

    def after_load(self, model_name):
        self.adapter_choice = {"source": "checkpoint"}

    def result_extras(self):
        return {"alpha": round(float(self.adapter.alpha), 4), "beta": round(float(self.adapter.beta), 4),
                "adapter_choice": self.adapter_choice}


@TRAINER_REGISTRY.register()
class TipAdapterF(TipAdapter):
    config_node = "TIP_ADAPTER_F"
    learnable_keys = True

    def fit_cache(self, view_features, labels):
        tip_cfg = self.method_cfg()
        epochs = adapters.tip_f_epochs(self.cfg.DATASET.NAME, tip_cfg.EPOCHS)
        print(f"Fine-tuning the cache keys for {epochs} epochs")
        adapters.fine_tune_adapter(self.adapter, self.logits_from_normalized, view_features, labels, epochs=epochs,
                                   batch_size=tip_cfg.BATCH_SIZE, lr=tip_cfg.LR, eps=tip_cfg.EPS)
