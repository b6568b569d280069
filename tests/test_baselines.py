"""The baselines beside SAFE (linear probe, CoOp, CLIP-Adapter, Tip-Adapter, Tip-Adapter-F) as Dassl trainers on
a tiny CLIP and a synthetic EuroSAT folder: they train, test, reload, train exactly what their method says, reduce
to zero-shot CLIP where they should, choose on val only, and share the few-shot images with every other trainer."""
from __future__ import annotations

import contextlib
import io
import math
import os
import re
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO_ROOT, build_trainer_from, read_results, train_argv

SHOTS = ("DATASET.NUM_SHOTS", "4")
SHORT = {
    "LinearProbeCLIP": ("TRAINER.LINEAR_PROBE.SEARCH_STEPS", "3"),
    "CoOp": ("OPTIM.MAX_EPOCH", "2", "TRAINER.COOP.VIEWS", "2", "TRAINER.COOP.N_CTX", "4"),
    "CLIPAdapter": ("OPTIM.MAX_EPOCH", "2", "TRAINER.CLIP_ADAPTER.VIEWS", "2"),
    "TipAdapter": ("TRAINER.TIP_ADAPTER.VIEWS", "2", "TRAINER.TIP_ADAPTER.SEARCH_STEPS", "(20, 5)"),
    "TipAdapterF": ("TRAINER.TIP_ADAPTER_F.VIEWS", "2", "TRAINER.TIP_ADAPTER_F.EPOCHS", "5",
                    "TRAINER.TIP_ADAPTER_F.SEARCH_STEPS", "(20, 5)"),
}
# What each method trains by gradient, by registered model name.
TRAINABLE = {
    "LinearProbeCLIP": set(),
    "CoOp": {"prompt_learner.ctx"},
    "CLIPAdapter": {"adapter.mlp.0.weight", "adapter.mlp.2.weight"},
    "TipAdapter": set(),
    "TipAdapterF": {"adapter.keys"},
}
CHECKPOINT = {"LinearProbeCLIP": "linear_probe/model.pth.tar-1", "CoOp": "prompt_learner/model.pth.tar-2",
              "CLIPAdapter": "adapter/model.pth.tar-2", "TipAdapter": "adapter/model.pth.tar-1",
              "TipAdapterF": "adapter/model.pth.tar-1"}
SCRIPTS = {"linear_probe": "LinearProbeCLIP", "coop": "CoOp", "clip_adapter": "CLIPAdapter",
           "tip_adapter": "TipAdapter", "tip_adapter_f": "TipAdapterF"}


def argv_for(root, output_dir, trainer, checkpoint, *extra, **kwargs) -> list[str]:
    return train_argv(root, output_dir, trainer, checkpoint, *SHOTS, *SHORT.get(trainer, ()), *extra, **kwargs)


def replace_output(argv: list[str], old: Path, new: Path) -> list[str]:
    return [arg if arg != str(old) else str(new) for arg in argv]


def stored_test_features(trainer) -> torch.Tensor:
    return trainer.stored_split("test").tensors(trainer.device)[0][:, 0]


@dataclass
class Run:
    trainer: object
    argv: list
    output_dir: Path
    log: str
    trainable: set
    clip_before: dict


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_clip_checkpoint, eurosat_root) -> dict[str, Run]:
    """One short run of each baseline, built as train.py builds it, shared by the tests below."""
    done = {}
    for name in SHORT:
        output_dir = tmp_path_factory.mktemp(name)
        argv = argv_for(eurosat_root, output_dir, name, tiny_clip_checkpoint)
        trainer = build_trainer_from(argv)
        trainable = set(trainer.trainable_parameter_names())
        clip_before = {key: value.clone() for key, value in trainer.clip_model.state_dict().items()}
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            trainer.train()
        done[name] = Run(trainer, argv, output_dir, output.getvalue(), trainable, clip_before)
    return done


def test_every_baseline_is_registered():
    import trainers  # noqa: F401
    from safe_clip.dassl import TRAINER_REGISTRY

    assert set(SHORT) <= set(TRAINER_REGISTRY.registered_names())


@pytest.mark.parametrize("name", list(SHORT))
def test_baseline_trains_tests_and_trains_only_its_parameters(name, runs):
    run = runs[name]
    assert run.trainable == TRAINABLE[name]
    assert all(torch.equal(value, run.clip_before[key]) for key, value in run.trainer.clip_model.state_dict().items())
    assert run.log.index("Finish training") < run.log.rindex("* accuracy:")
    results = read_results(run.output_dir)
    assert results["trainer"] == name and results["shots"] == 4 and results["seed"] == 1
    assert f"* accuracy: {results['accuracy']:.1f}%" in run.log
    assert (run.output_dir / CHECKPOINT[name]).is_file()


@pytest.mark.parametrize("name", list(SHORT))
def test_eval_only_reproduces_the_test_accuracy(name, runs, run_train, tmp_path):
    run = runs[name]
    assert run_train(["--eval-only", "--model-dir", str(run.output_dir),
                      *replace_output(run.argv, run.output_dir, tmp_path)]) == 0
    trained, evaluated = read_results(run.output_dir), read_results(tmp_path)
    assert (evaluated["accuracy"], evaluated["macro_f1"]) == (trained["accuracy"], trained["macro_f1"])
    for key in ("alpha", "beta", "C", "ratio", "n_ctx"):
        assert evaluated["method"].get(key) == trained["method"].get(key)


def test_choices_are_made_on_val(runs):
    for name in ("TipAdapter", "TipAdapterF"):
        assert read_results(runs[name].output_dir)["method"]["adapter_choice"]["source"] == "val search"
        assert re.search(r"^Adapter alpha [\d.]+ and beta [\d.]+ chosen on val", runs[name].log, re.M)
    assert read_results(runs["LinearProbeCLIP"].output_dir)["method"]["C_choice"]["source"] == "val search"


@pytest.mark.parametrize("name", ["TipAdapter", "TipAdapterF"])
def test_tip_adapter_with_alpha_zero_is_zero_shot_clip(name, runs):
    trainer = runs[name].trainer
    features = stored_test_features(trainer)
    alpha = float(trainer.adapter.alpha)
    try:
        trainer.adapter.alpha.fill_(0.0)
        with torch.no_grad():
            assert torch.equal(trainer.model_inference(features), trainer.zero_shot_logits(features))
    finally:
        trainer.adapter.alpha.fill_(alpha)


def test_tip_cache_holds_the_training_images_and_f_moves_its_keys(runs):
    for name in ("TipAdapter", "TipAdapterF"):
        trainer = runs[name].trainer
        stored = trainer.stored_split("train")
        assert stored.impaths == [item.impath for item in trainer.dm.dataset.train_x]
        assert torch.equal(trainer.adapter.values.argmax(dim=1).cpu(), torch.tensor(stored.labels))
    from safe_clip.adapters import tip_cache_keys
    from safe_clip.features import l2_normalize

    trainer = runs["TipAdapterF"].trainer
    built = tip_cache_keys(l2_normalize(trainer.stored_split("train").tensors(trainer.device)[0]))
    assert not torch.allclose(trainer.adapter.keys, built), "Tip-Adapter-F fine-tunes the keys"
    assert torch.allclose(runs["TipAdapter"].trainer.adapter.keys, built)


def test_clip_adapter_with_ratio_zero_is_zero_shot_clip(tiny_clip_checkpoint, eurosat_root, tmp_path, run_train):
    argv = argv_for(eurosat_root, tmp_path / "adapter", "CLIPAdapter", tiny_clip_checkpoint,
                    "TRAINER.CLIP_ADAPTER.RATIO", "0.0")
    trainer = build_trainer_from(argv)
    with contextlib.redirect_stdout(io.StringIO()):
        trainer.train()
    features = stored_test_features(trainer)
    with torch.no_grad():
        assert torch.equal(trainer.model_inference(features), trainer.zero_shot_logits(features))
    zero_shot_argv = ["--eval-only", *train_argv(eurosat_root, tmp_path / "zs", "ZeroshotCLIP", tiny_clip_checkpoint)]
    assert run_train(zero_shot_argv) == 0
    adapter, zero_shot = read_results(tmp_path / "adapter"), read_results(tmp_path / "zs")
    assert (adapter["accuracy"], adapter["macro_f1"]) == (zero_shot["accuracy"], zero_shot["macro_f1"])


def test_every_trainer_sees_the_same_training_images_for_a_seed(runs, tiny_clip_checkpoint, eurosat_root, tmp_path):
    def impaths(trainer):
        return [item.impath for item in trainer.dm.dataset.train_x]

    reference = impaths(runs["CoOp"].trainer)
    assert len(reference) == 4 * 10
    for name, run in runs.items():
        assert impaths(run.trainer) == reference, name
    for name in ("ZeroshotCLIP", "SAFE", "SAFE_A"):
        trainer = build_trainer_from(argv_for(eurosat_root, tmp_path / name, name, tiny_clip_checkpoint))
        assert impaths(trainer) == reference, name
    other_seed = build_trainer_from(argv_for(eurosat_root, tmp_path / "seed2", "CoOp", tiny_clip_checkpoint, seed=2))
    assert impaths(other_seed) != reference


@pytest.mark.parametrize("name", ["CoOp", "CLIPAdapter"])
def test_reference_path_without_store_trains(name, tiny_clip_checkpoint, eurosat_root, tmp_path, run_train):
    node = {"CoOp": "COOP", "CLIPAdapter": "CLIP_ADAPTER"}[name]
    argv = argv_for(eurosat_root, tmp_path, name, tiny_clip_checkpoint, "OPTIM.MAX_EPOCH", "1",
                    f"TRAINER.{node}.VIEWS", "0")
    assert run_train(argv) == 0
    assert "Feature store" not in (tmp_path / "log.txt").read_text(), "VIEWS 0 is the reference path: no store"
    assert 0.0 <= read_results(tmp_path)["accuracy"] <= 100.0


def test_clip_adapter_is_sized_from_the_backbone(tmp_path, eurosat_root):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from clip.model import CLIP
    vit = tmp_path / "tiny_vit.pt"  # a ViT whose embedding is 48 wide (RN50's is 1024, the tiny ResNet's 32)
    torch.save(CLIP(48, 64, 1, 64, 16, 77, 49408, 64, 1, 1).state_dict(), vit)
    trainer = build_trainer_from(argv_for(eurosat_root, tmp_path / "out", "CLIPAdapter", vit, "OPTIM.MAX_EPOCH", "1"))
    assert trainer.adapter.mlp[0].weight.shape == (12, 48) and trainer.adapter.mlp[2].weight.shape == (48, 12)
    with contextlib.redirect_stdout(io.StringIO()):
        trainer.train()
    assert read_results(tmp_path / "out")["trainer"] == "CLIPAdapter"


# ---------------------------------------------------------------------------------------------------- CoOp's prompts
@pytest.fixture(scope="module")
def tiny_clip():
    from tests.tiny_clip import build_tiny_clip

    return build_tiny_clip()


CLASSNAMES = ["annual_crop land", "forest", "sea or lake"]


@pytest.mark.parametrize("class_specific", [False, True])
def test_prompt_learner_builds_coops_prompt_shapes(class_specific, tiny_clip):
    from safe_clip.prompts import PromptLearner

    width = tiny_clip.token_embedding.weight.shape[1]
    learner = PromptLearner(CLASSNAMES, tiny_clip, n_ctx=4, class_specific=class_specific)
    assert learner.ctx.shape == ((3, 4, width) if class_specific else (4, width))
    assert [name for name, _ in learner.named_parameters()] == ["ctx"]
    assert set(learner.state_dict()) == {"ctx", "token_prefix", "token_suffix"}
    assert learner.token_prefix.shape == (3, 1, width) and learner.token_suffix.shape == (3, 77 - 1 - 4, width)
    for position in ("end", "middle", "front"):
        learner.class_token_position = position
        assert learner().shape == (3, 77, width)
    assert learner.initial_prompt == "X X X X"
    assert abs(float(learner.ctx.detach().std()) - 0.02) < 0.01


@pytest.mark.parametrize("position, text", [
    ("end", "a photo of a {}."), ("front", "{} a photo of a."), ("middle", "a photo {} of a."),
])
def test_prompts_from_words_encode_like_the_written_prompt(position, text, tiny_clip):
    """Context initialised from "a photo of a": each class-token position is exactly CLIP's text feature of the
    prompt written out, so the layouts put the class name where CoOp does."""
    from safe_clip.prompts import PromptLearner, prompted_text_features
    from safe_clip.text import encode_prompts

    learner = PromptLearner(CLASSNAMES, tiny_clip, n_ctx=16, ctx_init="a photo of a", class_token_position=position)
    assert learner.n_ctx == 4
    with torch.no_grad():
        learned = prompted_text_features(tiny_clip, learner)
    written = encode_prompts(tiny_clip, [text.format(name.replace("_", " ")) for name in CLASSNAMES])
    assert torch.allclose(learned, written, atol=1e-6)


def test_encode_token_embeddings_is_encode_text(tiny_clip):
    from safe_clip.text import encode_token_embeddings, tokenize

    tokens = tokenize(["a photo of a forest.", "sea or lake texture."])
    with torch.no_grad():
        assert torch.equal(encode_token_embeddings(tiny_clip, tiny_clip.token_embedding(tokens), tokens),
                           tiny_clip.encode_text(tokens))


def test_loading_a_prompt_checkpoint_keeps_the_current_class_names(tiny_clip):
    """CoOp's load_model drops token_prefix / token_suffix: a context learned on some classes transfers."""
    from safe_clip.prompts import PromptLearner

    trained = PromptLearner(CLASSNAMES, tiny_clip, n_ctx=4)
    other = PromptLearner(["river", "highway or road", "pasture"], tiny_clip, n_ctx=4)
    suffix_before = other.token_suffix.clone()
    other.load_state_dict(trained.state_dict(), strict=True)
    assert torch.equal(other.ctx, trained.ctx)
    assert torch.equal(other.token_suffix, suffix_before) and not torch.equal(other.token_suffix, trained.token_suffix)


def test_coop_checkpoint_has_coops_keys(runs):
    checkpoint = torch.load(runs["CoOp"].output_dir / CHECKPOINT["CoOp"], weights_only=True)
    assert set(checkpoint["state_dict"]) == {"ctx", "token_prefix", "token_suffix"}
    assert read_results(runs["CoOp"].output_dir)["method"]["n_ctx"] == 4


# ---------------------------------------------------------------------------------------------------- linear probe
def test_linear_probe_search_is_coops_sweep_then_bisection(monkeypatch):
    """Val accuracy peaks at log10 C = 0.3: the sweep finds 1, and 8 bisection steps close in on 10^0.3. Every
    accuracy is measured on the validation arrays passed in."""
    import safe_clip.linear_probe as linear_probe

    val_features, val_labels = object(), object()
    scored = []

    def fake_fit(features, labels, c, max_iter):
        return c

    def fake_accuracy(c, features, labels):
        assert features is val_features and labels is val_labels
        scored.append(c)
        return 100.0 - abs(math.log10(c) - 0.3)

    monkeypatch.setattr(linear_probe, "fit_logistic_regression", fake_fit)
    monkeypatch.setattr(linear_probe, "accuracy_of", fake_accuracy)
    choice = linear_probe.search_regularization("train", "labels", val_features, val_labels, log=lambda line: None)
    assert scored[:7] == list(linear_probe.COARSE_C_GRID)
    assert abs(math.log10(choice.c) - 0.3) < 2**-6
    assert choice.val_accuracy == fake_accuracy(choice.c, val_features, val_labels)


def test_linear_probe_trainer_searches_on_val_features_only(runs, monkeypatch):
    import safe_clip.linear_probe as linear_probe

    trainer = runs["LinearProbeCLIP"].trainer
    seen = []
    real_search = linear_probe.search_regularization

    def spy(train_features, train_labels, val_features, val_labels, *args, **kwargs):
        seen.append((train_features, val_features, val_labels))
        return real_search(train_features, train_labels, val_features, val_labels, *args, **kwargs)

    monkeypatch.setattr(linear_probe, "search_regularization", spy)
    with contextlib.redirect_stdout(io.StringIO()):
        trainer.run_epoch()
    (train_features, val_features, val_labels), = seen
    stored_val, stored_val_labels = trainer.stored_split("val").tensors()
    assert torch.equal(val_features, stored_val[:, 0]) and torch.equal(val_labels, stored_val_labels)
    assert torch.equal(train_features, trainer.stored_split("train_test_view").tensors()[0][:, 0])
    test_paths = {item.impath for item in trainer.dm.dataset.test}
    assert not test_paths & {item.impath for item in trainer.dm.dataset.val}


def test_linear_probe_without_distinct_val_uses_the_fixed_c(runs, monkeypatch):
    import safe_clip.linear_probe as linear_probe
    import trainers.linear_probe

    def no_search(*args, **kwargs):
        raise AssertionError("nothing may be searched without a validation split")

    monkeypatch.setattr(linear_probe, "search_regularization", no_search)
    monkeypatch.setattr(trainers.linear_probe, "distinct_validation", lambda val, test: False)
    trainer = runs["LinearProbeCLIP"].trainer
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        trainer.run_epoch()
    assert float(trainer.probe.c) == trainer.cfg.TRAINER.LINEAR_PROBE.NO_VAL_C
    assert "No validation split distinct from test" in output.getvalue()


def test_distinct_validation():
    from types import SimpleNamespace

    from safe_clip.search import distinct_validation

    items = [SimpleNamespace(impath=f"{i}.jpg") for i in range(3)]
    assert distinct_validation(items[:1], items[1:])
    assert not distinct_validation(items, list(items)) and not distinct_validation([], items)


# ---------------------------------------------------------------------------------------------------- errors, scripts
def _last_stderr_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    return lines[-1] if lines else ""


@pytest.mark.parametrize(
    "trainer, extra, message",
    [
        ("CoOp", ("TRAINER.COOP.PREC", "bf16"), r"error: TRAINER.COOP.PREC is 'bf16'; use one of fp16, fp32, amp"),
        ("CoOp", ("TRAINER.COOP.CLASS_TOKEN_POSITION", "left"), r"error: TRAINER.COOP.CLASS_TOKEN_POSITION is 'left'"),
        ("CLIPAdapter", ("TRAINER.CLIP_ADAPTER.RATIO", "1.5"), r"error: TRAINER.CLIP_ADAPTER.RATIO is 1.5"),
        ("TipAdapter", ("TRAINER.TIP_ADAPTER.VIEWS", "0"), r"error: TipAdapter builds its cache from stored views: set "
                                                            r"TRAINER.TIP_ADAPTER.VIEWS to 1 or more"),
        ("LinearProbeCLIP", ("TRAINER.LINEAR_PROBE.C", "0.0"), r"error: TRAINER.LINEAR_PROBE.C is 0.0"),
        ("LinearProbeCLIP", ("TRAINER.LINEAR_PROBE.C_GRID", "['1e6']"),
         r"error: TRAINER.LINEAR_PROBE.C_GRID .*1.0e\+6"),
    ],
)
def test_bad_settings_are_one_line_errors(trainer, extra, message, tiny_clip_checkpoint, eurosat_root, tmp_path,
                                          run_train, capsys):
    assert run_train(argv_for(eurosat_root, tmp_path, trainer, tiny_clip_checkpoint, *extra)) == 2
    assert re.match(message, _last_stderr_line(capsys))


def test_every_main_script_runs_end_to_end(tiny_clip_checkpoint, eurosat_root, tmp_path):
    env = {**os.environ, "DATA": str(eurosat_root), "OUTPUT": str(tmp_path / "output"), "SEEDS": "1",
           "PYTHON": sys.executable, "PYTHONWARNINGS": "ignore"}
    for script, trainer in SCRIPTS.items():
        opts = ["MODEL.BACKBONE.NAME", str(tiny_clip_checkpoint), "INPUT.SIZE", "(64, 64)",
                "DATALOADER.NUM_WORKERS", "0", *SHORT[trainer]]
        command = ["bash", str(REPO_ROOT / "scripts" / script / "main.sh"), "eurosat", "2", *opts]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        assert read_results(tmp_path / "output" / "eurosat" / trainer / "rn50_2shots" / "seed1")["trainer"] == trainer
        assert re.search(rf"^{trainer}\s+EuroSAT\s+2\s+[\d.]+\s+-\s+1$", result.stdout, re.M), result.stdout[-500:]
