"""Registries, availability checks and the builders' error texts (Dassl's, on one line)."""
from __future__ import annotations

import pytest

import safe_clip.engine as engine
from safe_clip.engine import (
    DATASET_REGISTRY,
    EVALUATOR_REGISTRY,
    TRAINER_REGISTRY,
    Registry,
    build_dataset,
    build_trainer,
    check_availability,
    get_cfg_default,
)
from safe_clip.errors import UserError

# What safe_clip.dassl imports from the engine when real Dassl is absent.
SEAM_NAMES = (
    "DATASET_REGISTRY TRAINER_REGISTRY AverageMeter DataManager DatasetBase Datum MetricMeter SimpleTrainer "
    "TrainerX build_dataset build_evaluator build_optimizer build_trainer compute_accuracy get_cfg_default "
    "listdir_nohidden load_checkpoint mkdir_if_missing read_json save_checkpoint set_random_seed setup_logger "
    "write_json"
).split()


def test_engine_exports_every_name_the_seam_needs() -> None:
    missing = [name for name in SEAM_NAMES if not hasattr(engine, name)]
    assert missing == []
    assert set(SEAM_NAMES) <= set(engine.__all__)


def test_register_as_decorator_and_call_keeps_order() -> None:
    registry = Registry("THING")

    @registry.register()
    class First:
        pass

    def second() -> None:
        pass

    registry.register(second)
    assert registry.registered_names() == ["First", "second"]
    assert registry.get("First") is First and "second" in registry


def test_duplicate_and_missing_names_raise_dassl_texts() -> None:
    registry = Registry("THING")

    class Item:
        pass

    registry.register(Item)
    with pytest.raises(KeyError) as duplicate:
        registry.register(Item)
    assert str(duplicate.value) == 'An object named "Item" was already registered in "THING" registry'
    registry.register(Item, force=True)  # force replaces

    with pytest.raises(KeyError) as missing:
        registry.get("Nope")
    assert str(missing.value) == 'Object name "Nope" does not exist in "THING" registry'
    assert isinstance(missing.value, UserError)


def test_check_availability_suggests_the_closest_name() -> None:
    with pytest.raises(ValueError) as error:
        check_availability("EuroSTA", ["OxfordPets", "EuroSAT", "DescribableTextures"])
    message = str(error.value)
    assert message == (
        "The requested one is expected to belong to ['OxfordPets', 'EuroSAT', 'DescribableTextures'], "
        "but got [EuroSTA] (do you mean [EuroSAT]?)"
    )
    assert "\n" not in message and isinstance(error.value, UserError)


def test_builders_reject_unknown_names() -> None:
    cfg = get_cfg_default()
    cfg.TRAINER.NAME = "NoSuchTrainer"
    cfg.DATASET.NAME = "NoSuchDataset"
    with pytest.raises(ValueError, match=r"but got \[NoSuchTrainer\]"):
        build_trainer(cfg)
    with pytest.raises(ValueError, match=r"but got \[NoSuchDataset\]"):
        build_dataset(cfg)


def test_registries_hold_the_built_in_and_test_entries() -> None:
    assert "Classification" in EVALUATOR_REGISTRY.registered_names()
    assert "EngineTinyDataset" in DATASET_REGISTRY  # registered by conftest
    assert "EngineTinyTrainer" in TRAINER_REGISTRY


def test_error_texts_equal_real_dassl() -> None:
    pytest.importorskip("dassl")
    from dassl.utils import Registry as DasslRegistry
    from dassl.utils import check_availability as dassl_check_availability

    def message(call, *args) -> str:
        # args[0]: the text itself (str() of a KeyError adds quotes; ours leaves them out to read as one line).
        with pytest.raises(Exception) as error:
            call(*args)
        return error.value.args[0]

    available = ["CoOp", "CoCoOp", "ZeroshotCLIP"]
    assert message(check_availability, "Coop", available) == message(dassl_check_availability, "Coop", available)
    ours, theirs = Registry("TRAINER"), DasslRegistry("TRAINER")
    assert message(ours.get, "X") == message(theirs.get, "X")
