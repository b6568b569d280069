"""SAFE and SAFE-A as Dassl trainers, through train.py, on a tiny CLIP and a synthetic EuroSAT folder."""
from __future__ import annotations

import re

import pytest
import torch

from tests.conftest import REPO_ROOT, build_trainer_from, read_results, train_argv

SHORT_RUN = ("DATASET.NUM_SHOTS", "4", "OPTIM.MAX_EPOCH", "3", "TRAINER.SAFE.VIEWS", "2", "STORE.PRECISION", "fp32")
SHORT_ADAPTER = ("TRAINER.SAFE_A.EPOCHS", "5", "TRAINER.SAFE_A.SEARCH_STEPS", "(20, 5)")


@pytest.fixture(scope="module")
def safe_run(tmp_path_factory, tiny_clip_checkpoint, eurosat_root):
    """One short SAFE run shared by the tests below: (argv, output folder)."""
    import train

    output_dir = tmp_path_factory.mktemp("safe_run")
    argv = train_argv(eurosat_root, output_dir, "SAFE", tiny_clip_checkpoint, *SHORT_RUN)
    assert train.run(argv) == 0
    return argv, output_dir


def test_safe_run_writes_results_checkpoint_and_coop_log(safe_run):
    _, output_dir = safe_run
    results = read_results(output_dir)
    assert results["trainer"] == "SAFE" and results["shots"] == 4 and results["seed"] == 1
    assert 0.0 <= results["method"]["blend"] <= 1.0
    assert results["method"]["blend_choice"]["source"] == "val search"
    log = (output_dir / "log.txt").read_text()
    assert re.search(r"^Dassl: ", log, re.M)
    assert re.search(r"^Blend ratio chosen on val: \d\.\d\d \(val accuracy [\d.]+%\)$", log, re.M)
    assert log.index("Finish training") < log.rindex("* accuracy:")
    assert f"* accuracy: {results['accuracy']:.1f}%" in log
    assert (output_dir / "safe" / "checkpoint").read_text() == "model.pth.tar-3\n"
    checkpoint = torch.load(output_dir / "safe" / "model.pth.tar-3", weights_only=True)
    assert set(checkpoint) == {"state_dict", "epoch", "optimizer", "scheduler", "val_result"}
    assert float(checkpoint["state_dict"]["blend"]) == results["method"]["blend"]
    assert not any(key.startswith(("trunk", "visual")) for key in checkpoint["state_dict"]), "only the copy is saved"


def test_eval_only_reproduces_the_test_accuracy(safe_run, run_train, tmp_path):
    argv, output_dir = safe_run
    eval_dir = tmp_path / "eval"
    eval_argv = [arg if arg != str(output_dir) else str(eval_dir) for arg in argv]
    assert run_train(["--eval-only", "--model-dir", str(output_dir), *eval_argv]) == 0
    trained, evaluated = read_results(output_dir), read_results(eval_dir)
    assert evaluated["accuracy"] == trained["accuracy"]
    assert evaluated["macro_f1"] == trained["macro_f1"]
    assert evaluated["method"]["blend"] == trained["method"]["blend"]


def test_same_seed_same_result(safe_run, run_train, tmp_path):
    """A second run with the same seed (warm store this time) gives the same accuracy and the same weights."""
    argv, output_dir = safe_run
    again = tmp_path / "again"
    assert run_train([arg if arg != str(output_dir) else str(again) for arg in argv]) == 0
    assert read_results(again)["accuracy"] == read_results(output_dir)["accuracy"]
    first = torch.load(output_dir / "safe" / "model.pth.tar-3", weights_only=True)["state_dict"]
    second = torch.load(again / "safe" / "model.pth.tar-3", weights_only=True)["state_dict"]
    assert all(torch.equal(first[key], second[key]) for key in first)


def test_safe_trains_only_the_pooling_copy_and_leaves_the_rest_unchanged(tiny_clip_checkpoint, eurosat_root, tmp_path):
    trainer = build_trainer_from(train_argv(eurosat_root, tmp_path, "SAFE", tiny_clip_checkpoint, *SHORT_RUN))
    names = trainer.trainable_parameter_names()
    expected = {f"safe.pooling.{name}" for name, _ in trainer.clip_model.visual.attnpool.named_parameters()}
    assert set(names) == expected
    frozen_before = {k: v.clone() for k, v in trainer.clip_model.state_dict().items()}
    original_pooling_before = {k: v.clone() for k, v in trainer.encoder.original_pooling.state_dict().items()}
    copy_before = {k: v.clone() for k, v in trainer.safe.pooling.state_dict().items()}
    trainer.train()
    assert all(torch.equal(v, frozen_before[k]) for k, v in trainer.clip_model.state_dict().items())
    assert all(torch.equal(v, original_pooling_before[k]) for k, v in trainer.encoder.original_pooling.state_dict().items())
    assert any(not torch.equal(v, copy_before[k]) for k, v in trainer.safe.pooling.state_dict().items())


def test_blend_zero_is_zero_shot_clip(tiny_clip_checkpoint, eurosat_root, tmp_path, run_train):
    safe_dir, zero_shot_dir = tmp_path / "safe", tmp_path / "zs"
    assert run_train(train_argv(eurosat_root, safe_dir, "SAFE", tiny_clip_checkpoint, *SHORT_RUN,
                                "TRAINER.SAFE.BLEND", "0.0")) == 0
    zero_shot_argv = ["--eval-only", *train_argv(eurosat_root, zero_shot_dir, "ZeroshotCLIP", tiny_clip_checkpoint)]
    assert run_train(zero_shot_argv) == 0
    safe, zero_shot = read_results(safe_dir), read_results(zero_shot_dir)
    assert safe["method"]["blend"] == 0.0
    assert (safe["accuracy"], safe["macro_f1"]) == (zero_shot["accuracy"], zero_shot["macro_f1"])


def test_safe_a_trainable_set_and_eval_only(tiny_clip_checkpoint, eurosat_root, tmp_path, run_train):
    argv = train_argv(eurosat_root, tmp_path / "run", "SAFE_A", tiny_clip_checkpoint, *SHORT_RUN, *SHORT_ADAPTER)
    trainer = build_trainer_from(argv)
    pooling = {f"safe.pooling.{name}" for name, _ in trainer.clip_model.visual.attnpool.named_parameters()}
    assert set(trainer.trainable_parameter_names()) == pooling | {"adapter.keys"}
    assert run_train(argv) == 0
    trained = read_results(tmp_path / "run")
    assert trained["method"]["adapter"] == "tip_f"
    assert trained["method"]["adapter_choice"]["source"] == "val search"
    eval_argv = [a if a != str(tmp_path / "run") else str(tmp_path / "eval") for a in argv]
    assert run_train(["--eval-only", "--model-dir", str(tmp_path / "run"), *eval_argv]) == 0
    evaluated = read_results(tmp_path / "eval")
    assert evaluated["accuracy"] == trained["accuracy"]
    assert (evaluated["method"]["alpha"], evaluated["method"]["beta"]) == (trained["method"]["alpha"], trained["method"]["beta"])


@pytest.mark.parametrize("adapter, trainable_adapter", [("tip", set()), ("clip_adapter", {"adapter.mlp.0.weight", "adapter.mlp.2.weight"})])
def test_safe_a_other_adapters(adapter, trainable_adapter, tiny_clip_checkpoint, eurosat_root, tmp_path, run_train):
    argv = train_argv(eurosat_root, tmp_path, "SAFE_A", tiny_clip_checkpoint, *SHORT_RUN, *SHORT_ADAPTER,
                      "TRAINER.SAFE_A.ADAPTER", adapter)
    trainer = build_trainer_from(argv)
    adapter_names = {name for name in trainer.trainable_parameter_names() if name.startswith("adapter.")}
    assert adapter_names == trainable_adapter
    assert run_train(argv) == 0
    assert read_results(tmp_path)["method"]["adapter"] == adapter


def test_reference_path_without_store_trains(tiny_clip_checkpoint, eurosat_root, tmp_path, run_train):
    argv = train_argv(eurosat_root, tmp_path, "SAFE", tiny_clip_checkpoint, *SHORT_RUN)
    argv[argv.index("TRAINER.SAFE.VIEWS") + 1] = "0"
    assert run_train(argv) == 0
    log = (tmp_path / "log.txt").read_text()
    assert "Feature store" not in log, "VIEWS 0 is the reference path: no store at all"
    assert 0.0 <= read_results(tmp_path)["accuracy"] <= 100.0


def _last_stderr_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def test_vit_backbone_for_safe_is_a_one_line_error(tmp_path, eurosat_root, run_train, capsys):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from clip.model import CLIP
    vit_checkpoint = tmp_path / "tiny_vit.pt"
    torch.save(CLIP(32, 64, 1, 64, 16, 77, 49408, 64, 1, 1).state_dict(), vit_checkpoint)
    code = run_train(train_argv(eurosat_root, tmp_path / "out", "SAFE", vit_checkpoint, *SHORT_RUN))
    assert code == 2
    assert re.match(r"error: SAFE tunes the attention pooling layer .*ViT.*use RN50", _last_stderr_line(capsys))


@pytest.mark.parametrize(
    "extra, message",
    [
        (("TRAINER.SAFE.NOT_A_KEY", "1"), r"error: bad config override: Non-existent key: TRAINER.SAFE.NOT_A_KEY"),
        (("OPTIM.MAX_EPOCH", "2.5"), r"error: bad config override: .*[Tt]ype mismatch"),
        (("TRAINER.SAFE.BLEND", "1.5"), r"error: TRAINER.SAFE.BLEND is 1.5"),
        (("INPUT.SIZE", "(224, 224)"), r"error: INPUT.SIZE is \(224, 224\) but backbone .* takes 64x64"),
    ],
)
def test_bad_settings_are_one_line_errors(extra, message, tiny_clip_checkpoint, eurosat_root, tmp_path, run_train, capsys):
    code = run_train(train_argv(eurosat_root, tmp_path, "SAFE", tiny_clip_checkpoint, *SHORT_RUN, *extra))
    assert code == 2
    assert re.match(message, _last_stderr_line(capsys))


def test_missing_weights_is_a_one_line_error(eurosat_root, tmp_path, run_train, capsys):
    code = run_train(train_argv(eurosat_root, tmp_path, "SAFE", tmp_path / "missing.pt", *SHORT_RUN))
    assert code == 2
    assert re.match(r"error: CLIP checkpoint not found: .*missing.pt", _last_stderr_line(capsys))


def test_unreadable_image_names_the_file(tiny_clip_checkpoint, tmp_path, run_train, capsys):
    from tests.layouts import write_eurosat

    write_eurosat(tmp_path / "data", n_per_class=10, n_classes=10)
    broken = tmp_path / "data" / "eurosat" / "2750" / "Forest" / "Forest_9.jpg"  # a test image of class 1
    broken.write_bytes(b"this is not a jpeg")
    code = run_train(train_argv(tmp_path / "data", tmp_path / "out", "SAFE", tiny_clip_checkpoint, *SHORT_RUN))
    assert code == 2
    assert re.match(r"error: cannot read image .*Forest_9.jpg", _last_stderr_line(capsys))
    assert not (tmp_path / "out" / "results.json").exists()


def test_main_scripts_run_three_seeds_skip_finished_and_rerun_unfinished(tiny_clip_checkpoint, eurosat_root, tmp_path):
    import subprocess
    import sys

    env = {**__import__("os").environ, "DATA": str(eurosat_root), "OUTPUT": str(tmp_path / "output"),
           "PYTHON": sys.executable, "PYTHONWARNINGS": "ignore"}
    opts = ["MODEL.BACKBONE.NAME", str(tiny_clip_checkpoint), "INPUT.SIZE", "(64, 64)", "DATALOADER.NUM_WORKERS", "0",
            "OPTIM.MAX_EPOCH", "2", "TRAINER.SAFE.VIEWS", "2", *SHORT_ADAPTER]
    for script, trainer in (("safe", "SAFE"), ("safe_a", "SAFE_A")):
        command = ["bash", str(REPO_ROOT / "scripts" / script / "main.sh"), "eurosat", "2", *opts]
        first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert first.returncode == 0, first.stderr[-2000:]
        runs = tmp_path / "output" / "eurosat" / trainer / "rn50_2shots"
        accuracies = [read_results(runs / f"seed{seed}")["accuracy"] for seed in (1, 2, 3)]
        assert re.search(rf"{trainer}\s+EuroSAT\s+2\s+[\d.]+\s+[\d.]+\s+3", first.stdout)
        (runs / "seed2" / "results.json").unlink()  # as if seed 2 had been interrupted
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert second.returncode == 0, second.stderr[-2000:]
        assert second.stdout.count("(so skip this job)") == 2
        assert f"Unfinished run at {runs / 'seed2'}" in second.stdout
        assert read_results(runs / "seed2")["accuracy"] == accuracies[1]


def test_a_frozen_weight_that_would_train_is_caught(tiny_clip_checkpoint, eurosat_root, tmp_path):
    trainer = build_trainer_from(train_argv(eurosat_root, tmp_path, "SAFE", tiny_clip_checkpoint, *SHORT_RUN))
    expected = {f"safe.pooling.{name}" for name in trainer.safe.tuned_parameter_names()}
    trainer.check_trainable(expected)
    trainer.clip_model.visual.layer4[0].conv1.weight.requires_grad_(True)
    with pytest.raises(RuntimeError, match=r"unexpected \['clip.visual.layer4.0.conv1.weight'\]"):
        trainer.check_trainable(expected)
