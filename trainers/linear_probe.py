"""Linear-probe CLIP (CoOp's lpclip protocol) as a Dassl trainer.

Logistic regression (scikit-learn, L-BFGS) on the frozen image features f0 of the few-shot training images
under the test transform; its C is searched on the validation features (a sweep from 1e6 to 1e-6, then a
bisection), never on test. Features come from the feature store, so they are shared with every other trainer.
Nothing trains by gradient, so the run is one "epoch" that fits the classifier; Dassl then saves the checkpoint
(the fitted weights), prints `Finish training` and tests. Config: TRAINER.LINEAR_PROBE (safe_clip/config.py).
"""
from safe_clip.dassl import TRAINER_REGISTRY
from safe_clip.errors import UserError
from safe_clip.linear_probe import LinearProbe, fit_linear_probe
from safe_clip.search import distinct_validation
from safe_clip.trainer import ClipTrainer


@TRAINER_REGISTRY.register()
class LinearProbeCLIP(ClipTrainer):
    stage = "pooled"

    def check_cfg(self, cfg):
        probe_cfg = cfg.TRAINER.LINEAR_PROBE
        if not (probe_cfg.C == -1 or probe_cfg.C > 0):
            raise UserError(f"TRAINER.LINEAR_PROBE.C is {probe_cfg.C}; use a positive number, or -1 to search it "
                            f"on val")
        if probe_cfg.NO_VAL_C <= 0:
            raise UserError(f"TRAINER.LINEAR_PROBE.NO_VAL_C is {probe_cfg.NO_VAL_C}; use a positive number")
        grid = probe_cfg.C_GRID
        if not grid or not all(isinstance(c, (int, float)) and c > 0 for c in grid):
            raise UserError(f"TRAINER.LINEAR_PROBE.C_GRID is {list(grid)}; list positive numbers (YAML reads 1e6 as "
                            f"text: write 1.0e+6)")

    def build_method(self):
        self.probe = LinearProbe(self.text_classifier.shape[1], self.num_classes).to(self.device)
        self.register_model("linear_probe", self.probe)
        self.c_choice = {"source": "not fitted yet"}
        self.max_epoch = 1  # one pass: the fit

    def run_epoch(self):
        probe_cfg = self.cfg.TRAINER.LINEAR_PROBE
        train_features, train_labels = self.stored_split("train_test_view").tensors()
        arguments = dict(coarse_grid=probe_cfg.C_GRID, steps=probe_cfg.SEARCH_STEPS, max_iter=probe_cfg.MAX_ITER)
        if probe_cfg.C > 0:
            fit_linear_probe(self.probe, train_features[:, 0], train_labels, c=probe_cfg.C, **arguments)
            self.c_choice = {"source": "fixed"}
        elif not distinct_validation(self.dm.dataset.val, self.dm.dataset.test):
            print(f"No validation split distinct from test: C set to TRAINER.LINEAR_PROBE.NO_VAL_C = "
                  f"{probe_cfg.NO_VAL_C:g} (the test split is never searched)")
            fit_linear_probe(self.probe, train_features[:, 0], train_labels, c=probe_cfg.NO_VAL_C, **arguments)
            self.c_choice = {"source": "no validation split: NO_VAL_C"}
        else:
            val_features, val_labels = self.stored_split("val").tensors()
            accuracy = fit_linear_probe(self.probe, train_features[:, 0], train_labels, val_features[:, 0],
                                        val_labels, **arguments)
            self.c_choice = {"source": "val search", "val_accuracy": accuracy}
            print(f"Linear probe C chosen on val: {float(self.probe.c):.4g} (val accuracy {accuracy:.1f}%)")

    def model_inference(self, original_features):
        return self.probe(original_features)

    def after_load(self, model_name):
        self.c_choice = {"source": "checkpoint"}

    def result_extras(self):
        return {"C": float(self.probe.c), "C_choice": self.c_choice}
