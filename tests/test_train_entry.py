"""train.py, the seam, CLIP loading and the text classifier: the foundation every trainer stands on."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import torch

import train
from safe_clip import clip_loading
from safe_clip.clip_loading import load_clip, read_state_dict, resolve_checkpoint
from safe_clip.errors import UserError
from safe_clip.features import class_logits, l2_normalize
from safe_clip.templates import IMAGENET_TEMPLATES_SELECT, templates_for_dataset
from safe_clip.text import build_text_classifier, encode_prompts
from tests.conftest import REPO_ROOT, TINY_INPUT_SIZE, train_argv

# CoOp's parse_test_res.py reads the accuracy with this expression after "Finish training" / "=> result".
COOP_ACCURACY = re.compile(r"\* accuracy: ([\.\deE+-]+)%")
# Dassl's TrainerX log line (contract §2.3).
DASSL_EPOCH_LINE = re.compile(
    r"^epoch \[\d+/\d+\] batch \[\d+/\d+\] time \d+\.\d{3} \(\d+\.\d{3}\) data \d+\.\d{3} \(\d+\.\d{3}\) "
    r"loss \d+\.\d{4} \(\d+\.\d{4}\) acc \d+\.\d{4} \(\d+\.\d{4}\) lr \d\.\d{4}e[-+]\d\d eta \d+:\d\d:\d\d$",
    re.M,
)


def parse_args(*argv: str):
    return train.build_parser().parse_args(list(argv))


# ---------------------------------------------------------------------------------------------------- config
def test_merge_order_defaults_dataset_trainer_flags_then_opts(tmp_path):
    trainer_yaml = tmp_path / "trainer.yaml"
    trainer_yaml.write_text("DATASET:\n  NAME: FromTrainerYaml\nOPTIM:\n  LR: 0.5\n  MAX_EPOCH: 7\nSEED: 5\n")
    cfg = train.setup_cfg(parse_args(
        "--dataset-config-file", str(REPO_ROOT / "configs/datasets/eurosat.yaml"),
        "--config-file", str(trainer_yaml), "--seed", "0", "--trainer", "SAFE", "OPTIM.MAX_EPOCH", "3",
    ))
    assert cfg.DATASET.NAME == "FromTrainerYaml"  # the trainer YAML comes after the dataset YAML
    assert cfg.OPTIM.LR == 0.5 and cfg.OPTIM.MAX_EPOCH == 3  # KEY VALUE pairs come last
    assert cfg.SEED == 0, "--seed 0 is a seed"
    assert cfg.TRAINER.NAME == "SAFE"
    assert cfg.TRAINER.SAFE.VIEWS == 10 and cfg.DATASET.SUBSAMPLE_CLASSES == "all"
    assert cfg.is_frozen()


def test_unset_seed_stays_unseeded():
    assert train.setup_cfg(parse_args()).SEED == -1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["NOT.A_KEY", "1"], r"bad config override: Non-existent key: NOT.A_KEY"),
        (["OPTIM.LR", "1"], r"bad config override: .*[Tt]ype mismatch"),
        (["OPTIM.LR"], r"KEY VALUE pairs"),
        (["--config-file", "missing.yaml"], r"trainer config file not found: missing.yaml"),
    ],
)
def test_config_mistakes_are_user_errors(argv, message):
    with pytest.raises(UserError, match=message):
        train.setup_cfg(parse_args(*argv))


def test_unknown_key_in_a_yaml_file_names_the_file(tmp_path):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("TRAINER:\n  SAFE:\n    VIEW: 3\n")
    with pytest.raises(UserError, match=r"bad.yaml: Non-existent config key: TRAINER.SAFE.VIEW"):
        train.setup_cfg(parse_args("--config-file", str(bad_yaml)))


def test_extend_cfg_keeps_a_host_suites_values():
    import safe_clip
    from safe_clip.dassl import get_cfg_default

    cfg = get_cfg_default()
    safe_clip.extend_cfg(cfg)
    cfg.TRAINER.COOP.N_CTX = 4
    safe_clip.extend_cfg(cfg)  # a second call (or one after CoOp's own extend_cfg) changes nothing
    assert cfg.TRAINER.COOP.N_CTX == 4


# ---------------------------------------------------------------------------------------------------- registry
def test_registries_hold_every_trainer_and_dataset_of_the_suite():
    import datasets  # noqa: F401
    import trainers  # noqa: F401
    from safe_clip.dassl import DATASET_REGISTRY, TRAINER_REGISTRY

    assert {"ZeroshotCLIP", "SAFE", "SAFE_A"} <= set(TRAINER_REGISTRY.registered_names())
    expected_datasets = {
        "OxfordPets", "OxfordFlowers", "FGVCAircraft", "DescribableTextures", "EuroSAT", "StanfordCars", "Food101",
        "SUN397", "Caltech101", "UCF101", "ImageNet", "ImageNetV2", "ImageNetSketch", "ImageNetA", "ImageNetR",
    }
    assert expected_datasets <= set(DATASET_REGISTRY.registered_names())


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--trainer", "SAFF"], r"error: unknown trainer 'SAFF'; set --trainer to one of .*SAFE"),
        (["--trainer", "SAFE"], r"error: unknown dataset ''; set --dataset-config-file"),
    ],
)
def test_unknown_trainer_or_dataset_is_a_one_line_error(argv, message, run_train, capsys):
    assert run_train(argv) == 2
    assert re.match(message, capsys.readouterr().err.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------------- CLIP
def test_clip_loads_from_a_plain_or_wrapped_state_dict(tiny_clip_checkpoint, tmp_path):
    model = load_clip(str(tiny_clip_checkpoint), "cpu")
    assert model.visual.input_resolution == 64 and model.visual.conv1.weight.dtype == torch.float32
    wrapped = tmp_path / "wrapped.pth"
    state = torch.load(tiny_clip_checkpoint, weights_only=True)
    torch.save({"state_dict": {f"module.{key}": value for key, value in state.items()}}, wrapped)
    assert read_state_dict(wrapped).keys() == state.keys()


def test_named_model_offline_is_a_one_line_error(tmp_path, monkeypatch):
    import urllib.error

    monkeypatch.setenv("SAFE_CLIP_CLIP_CACHE", str(tmp_path / "clip_cache"))

    def offline(url, root):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(clip_loading._clip_module, "_download", offline)
    with pytest.raises(UserError) as error:
        resolve_checkpoint("RN50")
    message = str(error.value)
    assert "\n" not in message
    assert "RN50" in message and str(tmp_path / "clip_cache" / "RN50.pt") in message and "offline" in message


def test_named_model_found_in_the_cache_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("SAFE_CLIP_CLIP_CACHE", str(tmp_path))
    monkeypatch.setattr(clip_loading._clip_module, "_download", lambda url, root: os.path.join(root, "RN50.pt"))
    assert resolve_checkpoint("RN50") == tmp_path / "RN50.pt"


def test_unknown_backbone_name_lists_the_choices():
    with pytest.raises(UserError, match=r"unknown CLIP backbone 'RN49'; use one of RN50, RN101"):
        resolve_checkpoint("RN49")


# ---------------------------------------------------------------------------------------------------- text
def test_text_classifier_single_template_and_ensemble(tiny_clip_checkpoint):
    model = load_clip(str(tiny_clip_checkpoint), "cpu")
    classnames = ["Annual_Crop Land", "Forest"]
    single = build_text_classifier(model, classnames, templates_for_dataset("EuroSAT"))
    expected = encode_prompts(model, ["a centered satellite photo of Annual Crop Land.", "a centered satellite photo of Forest."])
    assert torch.equal(single, expected)
    templates = templates_for_dataset("ImageNet")
    assert templates == IMAGENET_TEMPLATES_SELECT and len(templates) == 7
    ensemble = build_text_classifier(model, classnames, templates)
    per_template = torch.stack([encode_prompts(model, [t.format(c.replace("_", " ")) for c in classnames]) for t in templates])
    assert torch.allclose(ensemble, l2_normalize(per_template.mean(0)))
    assert templates_for_dataset("ImageNetR") == IMAGENET_TEMPLATES_SELECT  # not mutated by the ensemble
    assert templates_for_dataset("MyOwnDataset") == ("a photo of a {}.",)


# ---------------------------------------------------------------------------------------------------- zero-shot
def test_zero_shot_through_train_py_equals_a_direct_computation(tiny_clip_checkpoint, eurosat_root, tmp_path, run_train):
    output_dir = tmp_path / "zs"
    argv = ["--eval-only", *train_argv(eurosat_root, output_dir, "ZeroshotCLIP", tiny_clip_checkpoint)]
    assert run_train(argv) == 0
    results = json.loads((output_dir / "results.json").read_text())
    log = (output_dir / "log.txt").read_text()

    from torchvision import transforms

    from safe_clip.store import read_rgb_image

    model = load_clip(str(tiny_clip_checkpoint), "cpu")
    split = json.loads((eurosat_root / "eurosat" / "split_zhou_EuroSAT.json").read_text())
    names = sorted({(label, name) for _, label, name in split["train"]})
    text_classifier = build_text_classifier(model, [name for _, name in names], templates_for_dataset("EuroSAT"))
    preprocess = transforms.Compose([
        transforms.Resize(64, interpolation=transforms.InterpolationMode.BICUBIC), transforms.CenterCrop((64, 64)),
        transforms.ToTensor(),
        transforms.Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)),
    ])
    images = torch.stack([preprocess(read_rgb_image(str(eurosat_root / "eurosat" / "2750" / path))) for path, _, _ in split["test"]])
    labels = torch.tensor([label for _, label, _ in split["test"]])
    with torch.no_grad():
        logits = class_logits(l2_normalize(model.encode_image(images)), text_classifier, model.logit_scale.exp().item())
    direct_accuracy = 100.0 * int((logits.argmax(-1) == labels).sum()) / len(labels)
    assert results["accuracy"] == direct_accuracy
    assert "=> result" in log and float(COOP_ACCURACY.findall(log)[-1]) == round(direct_accuracy, 1)
    assert "Note that load_model() is skipped" in log
    assert (output_dir / "config.yaml").is_file()


def test_training_log_lines_match_coop_and_dassl_formats(tiny_clip_checkpoint, eurosat_root, tmp_path, run_train):
    output_dir = tmp_path / "safe"
    argv = train_argv(eurosat_root, output_dir, "SAFE", tiny_clip_checkpoint, "DATASET.NUM_SHOTS", "2",
                      "OPTIM.MAX_EPOCH", "2", "TRAINER.SAFE.VIEWS", "1")
    assert run_train(argv) == 0
    log = (output_dir / "log.txt").read_text()
    assert len(DASSL_EPOCH_LINE.findall(log)) == 2
    after_finish = log[log.index("Finish training"):]
    accuracy = float(COOP_ACCURACY.findall(after_finish)[-1])
    assert accuracy == round(json.loads((output_dir / "results.json").read_text())["accuracy"], 1)
    # The LR printed on an epoch's last batch is already the next epoch's (CoOp steps the scheduler there).
    assert "epoch [1/2] batch [1/1]" in log and "lr 1.0000e-04" in log


# ---------------------------------------------------------------------------------------------------- seam
def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT,
                          env={**os.environ, **env}, timeout=300)


def test_built_in_implementation_runs_when_dassl_cannot_be_imported(tiny_clip_checkpoint, eurosat_root, tmp_path):
    """With `dassl` made unimportable, the seam uses safe_clip.engine and a zero-shot run goes through."""
    argv = ["--eval-only", *train_argv(eurosat_root, tmp_path / "zs", "ZeroshotCLIP", tiny_clip_checkpoint)]
    code = (
        "import sys; sys.modules['dassl'] = None\n"
        "import train\n"
        f"sys.exit(train.run({argv!r}))\n"
    )
    result = _python(code, PYTHONWARNINGS="ignore")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Dassl: built-in (safe_clip.engine)" in (tmp_path / "zs" / "log.txt").read_text()
    assert json.loads((tmp_path / "zs" / "results.json").read_text())["dassl"] == "built-in (safe_clip.engine)"


def test_seam_choice_variable():
    forced = _python("import safe_clip.dassl as d; print(d.IMPLEMENTATION, d.IS_BUILTIN)", SAFE_CLIP_DASSL="builtin")
    assert forced.stdout.strip() == "built-in (safe_clip.engine) True"
    wrong = _python("import safe_clip.dassl", SAFE_CLIP_DASSL="maybe")
    assert "SAFE_CLIP_DASSL='maybe' is not understood" in wrong.stderr


def test_seam_exports_the_dassl_api():
    import safe_clip.dassl as seam

    for name in seam.__all__:
        assert getattr(seam, name) is not None, name


def test_real_dassl_is_used_when_installed():
    pytest.importorskip("dassl")
    import safe_clip.dassl as seam

    assert seam.IMPLEMENTATION.startswith("dassl ") and not seam.IS_BUILTIN
