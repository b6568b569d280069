"""Classification evaluator and top-k accuracy, printing Dassl's result block (parsed by parse_test_res.py)."""
from __future__ import annotations

import os
from collections import OrderedDict, defaultdict
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch

from safe_clip.engine.registry import Registry, check_availability
from safe_clip.engine.utils import atomic_write

__all__ = ["EVALUATOR_REGISTRY", "Classification", "EvaluatorBase", "build_evaluator", "compute_accuracy"]

EVALUATOR_REGISTRY = Registry("EVALUATOR")


def build_evaluator(cfg: Any, **kwargs: Any) -> "EvaluatorBase":
    """Instantiates `cfg.TEST.EVALUATOR` (e.g. `Classification`) with `kwargs` (e.g. `lab2cname=`)."""
    name = cfg.TEST.EVALUATOR
    check_availability(name, EVALUATOR_REGISTRY.registered_names())
    if cfg.VERBOSE:
        print(f"Loading evaluator: {name}")
    return EVALUATOR_REGISTRY.get(name)(cfg, **kwargs)


class EvaluatorBase:
    """Accumulates model outputs with `process`, summarises them with `evaluate`."""

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg

    def reset(self) -> None:
        raise NotImplementedError

    def process(self, mo: torch.Tensor, gt: torch.Tensor) -> None:
        raise NotImplementedError

    def evaluate(self) -> "OrderedDict[str, float]":
        raise NotImplementedError


@EVALUATOR_REGISTRY.register()
class Classification(EvaluatorBase):
    """Accuracy, error rate and macro F1 (in percent); optional per-class accuracy and confusion matrix."""

    def __init__(self, cfg: Any, lab2cname: Optional[dict[int, str]] = None, **kwargs: Any) -> None:
        super().__init__(cfg)
        if cfg.TEST.PER_CLASS_RESULT and lab2cname is None:
            raise ValueError("TEST.PER_CLASS_RESULT needs the class names: pass lab2cname= to the evaluator")
        self._lab2cname = lab2cname
        self._track_per_class = bool(cfg.TEST.PER_CLASS_RESULT)
        self.reset()

    def reset(self) -> None:
        self._correct = 0
        self._total = 0
        self._y_true: list[int] = []
        self._y_pred: list[int] = []
        # label -> list of 0/1 hits, only with TEST.PER_CLASS_RESULT
        self._per_class_res: Optional[defaultdict[int, list[int]]] = (
            defaultdict(list) if self._track_per_class else None
        )

    def process(self, mo: torch.Tensor, gt: torch.Tensor) -> None:
        """`mo`: logits [batch, num_classes]; `gt`: labels [batch]."""
        pred = mo.max(1)[1]
        matches = pred.eq(gt).int()
        self._correct += int(matches.sum().item())
        self._total += gt.shape[0]
        true_labels = gt.detach().cpu().tolist()
        self._y_true.extend(true_labels)
        self._y_pred.extend(pred.detach().cpu().tolist())
        if self._per_class_res is not None:
            for label, hit in zip(true_labels, matches.cpu().tolist()):
                self._per_class_res[label].append(hit)

    def evaluate(self) -> "OrderedDict[str, float]":
        if self._total == 0:
            raise ValueError("nothing to evaluate: process() was never called with a non-empty batch")
        from sklearn.metrics import f1_score  # imported when needed: scikit-learn takes a second to import

        results: OrderedDict[str, float] = OrderedDict()
        acc = 100.0 * self._correct / self._total
        err = 100.0 - acc
        macro_f1 = 100.0 * f1_score(self._y_true, self._y_pred, average="macro", labels=np.unique(self._y_true))
        # The first value is what trainer.test() returns.
        results["accuracy"] = acc
        results["error_rate"] = err
        results["macro_f1"] = macro_f1
        print(
            "=> result\n"
            f"* total: {self._total:,}\n"
            f"* correct: {self._correct:,}\n"
            f"* accuracy: {acc:.1f}%\n"
            f"* error: {err:.1f}%\n"
            f"* macro_f1: {macro_f1:.1f}%"
        )
        if self._per_class_res is not None:
            results["perclass_accuracy"] = self._print_per_class_result()
        if self.cfg.TEST.COMPUTE_CMAT:
            self._save_confusion_matrix()
        return results

    def _print_per_class_result(self) -> float:
        assert self._per_class_res is not None and self._lab2cname is not None
        print("=> per-class result")
        accs = []
        for label in sorted(self._per_class_res):
            hits = self._per_class_res[label]
            correct, total = sum(hits), len(hits)
            acc = 100.0 * correct / total
            accs.append(acc)
            print(
                f"* class: {label} ({self._lab2cname[label]})\t"
                f"total: {total:,}\t"
                f"correct: {correct:,}\t"
                f"acc: {acc:.1f}%"
            )
        mean_acc = float(np.mean(accs))
        print(f"* average: {mean_acc:.1f}%")
        return mean_acc

    def _save_confusion_matrix(self) -> None:
        from sklearn.metrics import confusion_matrix

        cmat = confusion_matrix(self._y_true, self._y_pred, normalize="true")
        save_path = os.path.join(self.cfg.OUTPUT_DIR, "cmat.pt")
        # A tensor (Dassl saved the NumPy array), so that torch.load(weights_only=True) reads it.
        atomic_write(save_path, lambda path: torch.save(torch.from_numpy(cmat), path))
        print(f"Confusion matrix is saved to {save_path}")


def compute_accuracy(
    output: Union[torch.Tensor, Sequence[torch.Tensor]], target: torch.Tensor, topk: Sequence[int] = (1,)
) -> list[torch.Tensor]:
    """Top-k accuracies in percent, one 1-element tensor per k; a tuple/list `output` uses its first item."""
    if isinstance(output, (tuple, list)):
        output = output[0]
    maxk = max(topk)
    batch_size = target.size(0)
    _, pred = output.topk(maxk, 1, True, True)
    correct = pred.t().eq(target.view(1, -1).expand(maxk, -1))
    return [correct[:k].reshape(-1).float().sum(0, keepdim=True).mul_(100.0 / batch_size) for k in topk]
