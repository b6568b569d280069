"""CoOp (Context Optimization, Zhou et al., IJCV 2022) as a Dassl trainer on the shared base.

Learns the prompt's context vectors (TRAINER.COOP: N_CTX, CSC, CTX_INIT, CLASS_TOKEN_POSITION, PREC) with CLIP
frozen. The image side is frozen, so its features f0 come from the feature store (a random stored view per image
per epoch, TRAINER.COOP.VIEWS; 0 = run the image encoder on fresh augmentations every step, CoOp's own path); the
text encoder runs on the learned prompts every step. The registered model `prompt_learner` holds CoOp's
parameter and buffer names, so its checkpoints and CoOp's are interchangeable; loading ignores the saved
`token_prefix` / `token_suffix` (as CoOp's `load_model` does). Configs: CoOp's published ones
(configs/trainers/CoOp/).
"""
import torch
import torch.nn.functional as F

from safe_clip.dassl import TRAINER_REGISTRY, build_lr_scheduler
from safe_clip.errors import UserError
from safe_clip.features import class_logits, l2_normalize
from safe_clip.prompts import CLASS_TOKEN_POSITIONS, PromptLearner, prompted_text_features
from safe_clip.trainer import ClipTrainer


@TRAINER_REGISTRY.register()
class CoOp(ClipTrainer):
    stage = "pooled"
    config_node = "COOP"

    def check_cfg(self, cfg):
        super().check_cfg(cfg)
        coop_cfg = cfg.TRAINER.COOP
        if coop_cfg.CLASS_TOKEN_POSITION not in CLASS_TOKEN_POSITIONS:
            raise UserError(f"TRAINER.COOP.CLASS_TOKEN_POSITION is {coop_cfg.CLASS_TOKEN_POSITION!r}; "
                            f"use one of {', '.join(CLASS_TOKEN_POSITIONS)}")
        if coop_cfg.N_CTX < 1 and not coop_cfg.CTX_INIT:
            raise UserError(f"TRAINER.COOP.N_CTX is {coop_cfg.N_CTX}; use 1 or more context tokens")

    def build_method(self):
        coop_cfg = self.cfg.TRAINER.COOP
        self.prompt_learner = PromptLearner(
            self.classnames, self.clip_model, coop_cfg.N_CTX, coop_cfg.CSC, coop_cfg.CTX_INIT,
            coop_cfg.CLASS_TOKEN_POSITION,
        ).to(self.device)
        if not coop_cfg.CTX_INIT:
            print(f"Initializing {'class-specific contexts' if coop_cfg.CSC else 'a generic context'}")
        print(f'Initial context: "{self.prompt_learner.initial_prompt}"')
        print(f"Number of context words (tokens): {self.prompt_learner.n_ctx}")
        self.prompt_optimizer = self.build_adam_family_optimizer(self.prompt_learner, self.cfg.OPTIM)
        scheduler = build_lr_scheduler(self.prompt_optimizer, self.cfg.OPTIM)
        self.register_model("prompt_learner", self.prompt_learner, self.prompt_optimizer, scheduler)
        amp = coop_cfg.PREC == "amp" and self.device.type == "cuda"
        if coop_cfg.PREC != "fp32" and self.device.type != "cuda":
            print(f"TRAINER.COOP.PREC {coop_cfg.PREC} applies on GPU only: this run is fp32")
        self.scaler = torch.amp.GradScaler("cuda") if amp else None
        self.frozen_text_features = None

    # ------------------------------------------------------------------ logits
    def text_features(self):
        if self.frozen_text_features is not None:
            return self.frozen_text_features
        return prompted_text_features(self.clip_model, self.prompt_learner)

    def model_inference(self, original_features):
        return class_logits(l2_normalize(original_features.float()), self.text_features(), self.logit_scale)

    @torch.no_grad()
    def test(self, split=None):
        # The prompts do not change during an evaluation: encode them once, not once per batch.
        self.set_model_mode("eval")
        self.frozen_text_features = self.text_features()
        try:
            return super().test(split)
        finally:
            self.frozen_text_features = None

    # ------------------------------------------------------------------ training
    def forward_backward(self, batch):
        original_features, labels = self.parse_batch_train(batch)
        with torch.autocast(self.device.type, enabled=self.scaler is not None):
            logits = self.model_inference(original_features)
            loss = F.cross_entropy(logits, labels)
        return self.update_and_summarize(loss, logits, labels)

    def model_backward_and_update(self, loss, names=None):
        if self.scaler is None:
            return super().model_backward_and_update(loss, names)
        # CoOp's amp: scaled backward, unscaled step.
        self.model_zero_grad(names)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.prompt_optimizer)
        self.scaler.update()

    def result_extras(self):
        return {"n_ctx": self.prompt_learner.n_ctx, "class_specific": self.prompt_learner.ctx.dim() == 3,
                "class_token_position": self.prompt_learner.class_token_position}
