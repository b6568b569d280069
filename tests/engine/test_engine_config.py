"""The engine's default config: Dassl's tree, and yacs' merge / coercion / error behaviour on it."""
from __future__ import annotations

import pytest
from yacs.config import CfgNode

from safe_clip.engine import clean_cfg, get_cfg_default


def test_defaults_that_coop_relies_on() -> None:
    cfg = get_cfg_default()
    assert isinstance(cfg, CfgNode)
    assert (cfg.SEED, cfg.OUTPUT_DIR, cfg.RESUME, cfg.USE_CUDA, cfg.VERBOSE) == (-1, "./output", "", True, True)
    assert cfg.INPUT.SIZE == (224, 224) and cfg.INPUT.INTERPOLATION == "bilinear"
    assert cfg.INPUT.TRANSFORMS == () and cfg.INPUT.PIXEL_MEAN == [0.485, 0.456, 0.406]
    assert cfg.DATASET.NUM_SHOTS == -1 and cfg.DATASET.SOURCE_DOMAINS == ()
    assert cfg.DATALOADER.NUM_WORKERS == 4 and cfg.DATALOADER.TRAIN_X.SAMPLER == "RandomSampler"
    assert cfg.DATALOADER.TEST.SAMPLER == "SequentialSampler" and cfg.DATALOADER.TEST.BATCH_SIZE == 32
    assert cfg.OPTIM.NAME == "adam" and cfg.OPTIM.LR == 0.0003 and cfg.OPTIM.WEIGHT_DECAY == 5e-4
    assert cfg.OPTIM.STEPSIZE == (-1,) and cfg.OPTIM.WARMUP_EPOCH == -1 and cfg.OPTIM.WARMUP_RECOUNT is True
    assert cfg.OPTIM.SGD_DAMPNING == 0 and cfg.OPTIM.MAX_EPOCH == 10
    assert cfg.TRAIN.CHECKPOINT_FREQ == 0 and cfg.TRAIN.PRINT_FREQ == 10
    assert cfg.TEST.EVALUATOR == "Classification" and cfg.TEST.FINAL_MODEL == "last_step"
    assert cfg.TRAINER.NAME == "" and cfg.TRAINER.FIXMATCH.CONF_THRE == 0.95


def test_each_call_returns_an_independent_copy() -> None:
    first = get_cfg_default()
    first.OPTIM.LR = 1.0
    first.INPUT.PIXEL_MEAN.append(9.0)
    second = get_cfg_default()
    assert second.OPTIM.LR == 0.0003
    assert second.INPUT.PIXEL_MEAN == [0.485, 0.456, 0.406]


def test_merge_order_and_literal_coercion(tmp_path) -> None:
    dataset_yaml = tmp_path / "dataset.yaml"
    dataset_yaml.write_text('DATASET:\n  NAME: "EuroSAT"\nOPTIM:\n  MAX_EPOCH: 7\n')
    trainer_yaml = tmp_path / "trainer.yaml"
    trainer_yaml.write_text(
        "INPUT:\n"
        "  SIZE: (32, 32)\n"
        '  TRANSFORMS: ["random_resized_crop", "random_flip", "normalize"]\n'
        "OPTIM:\n"
        "  MAX_EPOCH: 50\n"
        "  WARMUP_CONS_LR: 1e-5\n"
        "  LR: 0.002\n"
    )
    cfg = get_cfg_default()
    cfg.merge_from_file(str(dataset_yaml))
    cfg.merge_from_file(str(trainer_yaml))
    cfg.merge_from_list(["OPTIM.MAX_EPOCH", "3", "MODEL.BACKBONE.NAME", "ViT-B/16", "TEST.NO_TEST", "True"])
    cfg.freeze()

    assert cfg.DATASET.NAME == "EuroSAT"
    assert cfg.OPTIM.MAX_EPOCH == 3  # the later merge wins
    assert cfg.INPUT.SIZE == (32, 32)  # "(32, 32)" is literal-evaluated
    assert cfg.INPUT.TRANSFORMS == ("random_resized_crop", "random_flip", "normalize")  # list -> default's tuple
    assert isinstance(cfg.OPTIM.WARMUP_CONS_LR, float) and cfg.OPTIM.WARMUP_CONS_LR == 1e-5  # YAML string -> float
    assert cfg.MODEL.BACKBONE.NAME == "ViT-B/16" and cfg.TEST.NO_TEST is True


def test_type_mismatch_and_unknown_keys_raise(tmp_path) -> None:
    cfg = get_cfg_default()
    with pytest.raises(ValueError, match="Type mismatch"):
        cfg.merge_from_list(["OPTIM.LR", "1"])  # int for a float
    with pytest.raises(ValueError):
        cfg.merge_from_list(["OPTIM.MAX_EPOCH", "2.0"])  # float for an int
    with pytest.raises(AssertionError, match="Non-existent key: FOO.BAR"):
        cfg.merge_from_list(["FOO.BAR", "1"])
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("OPTIM:\n  LEARNING_RATE: 0.1\n")
    with pytest.raises(KeyError, match="Non-existent config key"):
        cfg.merge_from_file(str(unknown))


def test_frozen_config_refuses_changes() -> None:
    cfg = get_cfg_default()
    cfg.freeze()
    with pytest.raises(AttributeError, match="immutable"):
        cfg.SEED = 3


def test_dump_is_sorted_with_two_space_nesting() -> None:
    lines = str(get_cfg_default()).splitlines()
    top_level = [line.split(":")[0] for line in lines if not line.startswith(" ")]
    assert top_level == sorted(top_level)
    assert "  LR: 0.0003" in lines


def test_clean_cfg_keeps_name_and_the_given_trainer() -> None:
    cfg = get_cfg_default()
    clean_cfg(cfg, "fixmatch")
    assert sorted(cfg.TRAINER.keys()) == ["FIXMATCH", "NAME"]


def test_identical_to_real_dassl_defaults() -> None:
    pytest.importorskip("dassl")
    from dassl.config import get_cfg_default as dassl_get_cfg_default

    assert str(get_cfg_default()) == str(dassl_get_cfg_default())
    assert get_cfg_default() == dassl_get_cfg_default()
