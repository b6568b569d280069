"""The Classification evaluator's printed block (parsed by CoOp's parse_test_res.py) and compute_accuracy."""
from __future__ import annotations

import os

import pytest
import torch

from safe_clip.engine import build_evaluator, compute_accuracy, get_cfg_default

LOGITS = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 4.0], [5.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
LABELS = torch.tensor([0, 1, 1, 0, 2])  # predictions 0 1 2 0 2: 4 of 5 correct


def evaluator_for(**test_settings):
    cfg = get_cfg_default()
    for key, value in test_settings.items():
        cfg.TEST[key] = value
    return cfg, build_evaluator(cfg, lab2cname={0: "cat", 1: "dog", 2: "owl"})


def test_result_block_and_returned_values(capsys) -> None:
    _, evaluator = evaluator_for()
    evaluator.process(LOGITS[:2], LABELS[:2])
    evaluator.process(LOGITS[2:], LABELS[2:])
    results = evaluator.evaluate()
    assert capsys.readouterr().out == (
        "Loading evaluator: Classification\n"
        "=> result\n"
        "* total: 5\n"
        "* correct: 4\n"
        "* accuracy: 80.0%\n"
        "* error: 20.0%\n"
        "* macro_f1: 77.8%\n"
    )
    assert list(results) == ["accuracy", "error_rate", "macro_f1"]
    assert results["accuracy"] == pytest.approx(80.0) and results["error_rate"] == pytest.approx(20.0)

    evaluator.reset()
    evaluator.process(LOGITS[:1], LABELS[:1])
    assert evaluator.evaluate()["accuracy"] == 100.0


def test_per_class_result_and_confusion_matrix(tmp_path, capsys) -> None:
    cfg, evaluator = evaluator_for(PER_CLASS_RESULT=True, COMPUTE_CMAT=True)
    cfg.OUTPUT_DIR = str(tmp_path)
    evaluator.process(LOGITS, LABELS)
    results = evaluator.evaluate()
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("=> per-class result")
    assert lines[start + 1 : start + 5] == [
        "* class: 0 (cat)\ttotal: 2\tcorrect: 2\tacc: 100.0%",
        "* class: 1 (dog)\ttotal: 2\tcorrect: 1\tacc: 50.0%",
        "* class: 2 (owl)\ttotal: 1\tcorrect: 1\tacc: 100.0%",
        "* average: 83.3%",
    ]
    assert results["perclass_accuracy"] == pytest.approx(250 / 3)
    cmat_path = os.path.join(str(tmp_path), "cmat.pt")
    assert lines[-1] == f"Confusion matrix is saved to {cmat_path}"
    cmat = torch.load(cmat_path, weights_only=True)
    assert cmat.shape == (3, 3) and cmat[1, 2] == pytest.approx(0.5)


def test_per_class_result_needs_class_names() -> None:
    cfg = get_cfg_default()
    cfg.TEST.PER_CLASS_RESULT = True
    with pytest.raises(ValueError, match="lab2cname"):
        build_evaluator(cfg)


def test_compute_accuracy_topk_and_tuple_outputs() -> None:
    top1, top3 = compute_accuracy(LOGITS, LABELS, topk=(1, 3))
    assert top1.shape == (1,) and top1.item() == pytest.approx(80.0) and top3.item() == pytest.approx(100.0)
    assert compute_accuracy((LOGITS, None), LABELS)[0].item() == pytest.approx(80.0)


def test_equals_real_dassl_block(capsys) -> None:
    pytest.importorskip("dassl")
    from dassl.evaluation import build_evaluator as dassl_build_evaluator

    cfg = get_cfg_default()
    cfg.TEST.PER_CLASS_RESULT = True
    names = {0: "cat", 1: "dog", 2: "owl"}
    outputs = []
    for build in (build_evaluator, dassl_build_evaluator):
        evaluator = build(cfg, lab2cname=names)
        evaluator.process(LOGITS, LABELS)
        results = evaluator.evaluate()
        outputs.append((capsys.readouterr().out, dict(results)))
    assert outputs[0] == outputs[1]
