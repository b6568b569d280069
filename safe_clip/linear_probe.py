"""Linear-probe CLIP, CoOp's protocol (lpclip/, after CLIP's paper, appendix A.3): L2-regularised logistic
regression (scikit-learn, L-BFGS) on frozen image features, its inverse regularisation strength C chosen on
validation features: a coarse sweep over powers of ten, then a bisection in log space around the best value.

The search receives training and validation features only; the test split plays no part in any choice.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from torch import nn

# CoOp's lpclip: the coarse sweep, and 8 bisection steps.
COARSE_C_GRID: tuple[float, ...] = (1e6, 1e4, 1e2, 1.0, 1e-2, 1e-4, 1e-6)
BISECTION_STEPS = 8
MAX_ITER = 1000


def _as_numpy(array) -> np.ndarray:
    if isinstance(array, torch.Tensor):
        return array.detach().cpu().numpy()
    return np.asarray(array)


def fit_logistic_regression(features, labels, c: float, max_iter: int = MAX_ITER) -> LogisticRegression:
    """Multinomial L2 logistic regression with inverse regularisation strength `c` (L-BFGS)."""
    model = LogisticRegression(C=c, max_iter=max_iter)
    with warnings.catch_warnings():
        # Very weak regularisation (C = 1e6) on separable few-shot data rarely converges fully; the fit is still
        # what CoOp's protocol scores.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(_as_numpy(features), _as_numpy(labels))


def accuracy_of(model: LogisticRegression, features, labels) -> float:
    """Top-1 accuracy in percent."""
    return float((model.predict(_as_numpy(features)) == _as_numpy(labels)).mean() * 100.0)


@dataclass
class RegularizationChoice:
    c: float
    val_accuracy: float
    model: LogisticRegression


def search_regularization(
    train_features,
    train_labels,
    val_features,
    val_labels,
    coarse_grid: Sequence[float] = COARSE_C_GRID,
    steps: int = BISECTION_STEPS,
    max_iter: int = MAX_ITER,
    log: Callable[[str], None] = print,
) -> RegularizationChoice:
    """CoOp's search for C, on validation data.

    The coarse grid's best value c (the first on ties) opens the interval [c / 10, c * 10]. Each bisection step
    fits both ends and keeps the better one (the left on ties); the next interval runs from the kept end to the
    midpoint (in log10). The value kept by the last step is the choice.
    """
    fitted: dict[float, tuple[LogisticRegression, float]] = {}

    def evaluate(c: float) -> tuple[LogisticRegression, float]:
        if c not in fitted:
            model = fit_logistic_regression(train_features, train_labels, c, max_iter)
            fitted[c] = (model, accuracy_of(model, val_features, val_labels))
        return fitted[c]

    coarse = [evaluate(float(c))[1] for c in coarse_grid]
    log("Linear probe, coarse search of C on val: "
        + ", ".join(f"C={c:g}: {accuracy:.1f}%" for c, accuracy in zip(coarse_grid, coarse)))
    peak = float(coarse_grid[int(np.argmax(coarse))])
    peak_model, peak_accuracy = evaluate(peak)
    choice = RegularizationChoice(peak, peak_accuracy, peak_model)
    low, high = math.log10(peak) - 1.0, math.log10(peak) + 1.0
    for step in range(steps):
        c_low, c_high = 10.0**low, 10.0**high
        (model_low, accuracy_low), (model_high, accuracy_high) = evaluate(c_low), evaluate(c_high)
        middle = (low + high) / 2.0
        if accuracy_low < accuracy_high:
            choice = RegularizationChoice(c_high, accuracy_high, model_high)
            low = middle
        else:
            choice = RegularizationChoice(c_low, accuracy_low, model_low)
            high = middle
        log(f"Linear probe, bisection step {step + 1}/{steps}: C={c_low:.4g} ({accuracy_low:.1f}%) vs "
            f"C={c_high:.4g} ({accuracy_high:.1f}%) -> C={choice.c:.4g}")
    return choice


def classifier_weights(model: LogisticRegression, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight [num_classes, D], bias [num_classes]) fp32 whose logits rank classes as `model` does; rows of
    classes the model never saw get -inf bias. A binary model's single row becomes the logits (0, w x + b)."""
    coef = torch.as_tensor(model.coef_, dtype=torch.float32)
    intercept = torch.as_tensor(model.intercept_, dtype=torch.float32)
    if coef.shape[0] == 1 and len(model.classes_) == 2:
        coef = torch.cat([torch.zeros_like(coef), coef])
        intercept = torch.cat([torch.zeros_like(intercept), intercept])
    weight = torch.zeros(num_classes, coef.shape[1])
    bias = torch.full((num_classes,), -float("inf"))
    classes = torch.as_tensor(model.classes_, dtype=torch.long)
    weight[classes] = coef
    bias[classes] = intercept
    return weight, bias


class LinearProbe(nn.Module):
    """The fitted classifier as a module (buffers, so checkpoints carry it and nothing trains by gradient):
    logits = f W^T + b on the raw image features f, and the chosen C."""

    def __init__(self, feature_dim: int, num_classes: int):
        super().__init__()
        self.register_buffer("weight", torch.zeros(num_classes, feature_dim))
        self.register_buffer("bias", torch.zeros(num_classes))
        self.register_buffer("c", torch.tensor(float("nan"), dtype=torch.float64))

    @torch.no_grad()
    def set_classifier(self, model: LogisticRegression, c: float) -> None:
        weight, bias = classifier_weights(model, self.weight.shape[0])
        self.weight.copy_(weight)
        self.bias.copy_(bias)
        self.c.fill_(c)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features.float() @ self.weight.t() + self.bias


def fit_linear_probe(
    probe: LinearProbe,
    train_features,
    train_labels,
    val_features=None,
    val_labels=None,
    c: Optional[float] = None,
    coarse_grid: Sequence[float] = COARSE_C_GRID,
    steps: int = BISECTION_STEPS,
    max_iter: int = MAX_ITER,
    log: Callable[[str], None] = print,
) -> Optional[float]:
    """Fits `probe`: at the given `c`, or else at the C searched on the validation features. Returns the val
    accuracy of the chosen C when it was searched, else None."""
    if c is not None:
        probe.set_classifier(fit_logistic_regression(train_features, train_labels, c, max_iter), c)
        return None
    if val_features is None or val_labels is None:
        raise ValueError("searching C needs validation features and labels; pass them or a fixed c")
    choice = search_regularization(train_features, train_labels, val_features, val_labels, coarse_grid, steps,
                                   max_iter, log)
    probe.set_classifier(choice.model, choice.c)
    return choice.val_accuracy
