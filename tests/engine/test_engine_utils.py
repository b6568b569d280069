"""dassl.utils equivalents: meters, JSON, directory listing, seeding, environment summary."""
from __future__ import annotations

import json
import os
import random
import time

import numpy as np
import pytest
import torch

from safe_clip.engine import (
    AverageMeter,
    MetricMeter,
    collect_env_info,
    count_num_param,
    listdir_nohidden,
    mkdir_if_missing,
    read_json,
    set_random_seed,
    write_json,
)


def test_meters() -> None:
    meter = AverageMeter()
    meter.update(torch.tensor(2.0))
    meter.update(4.0, n=3)
    assert (meter.val, meter.sum, meter.count, meter.avg) == (4.0, 14.0, 4, 3.5)

    metrics = MetricMeter()
    metrics.update({"loss": 2.5, "acc": torch.tensor(12.5)})
    metrics.update({"loss": 2.3, "acc": 25.0})
    metrics.update(None)
    assert str(metrics) == "loss 2.3000 (2.4000) acc 25.0000 (18.7500)"
    with pytest.raises(TypeError, match="must be a dictionary"):
        metrics.update([1.0])


def test_json_round_trip_in_dassl_format(tmp_path) -> None:
    path = str(tmp_path / "deep" / "split.json")
    split = {"train": [["a/b.jpg", 0, "Annual Crop Land"]], "val": [], "test": []}
    write_json(split, path)
    assert read_json(path) == split
    assert open(path).read() == json.dumps(split, indent=4, separators=(",", ": "))
    assert [name for name in os.listdir(os.path.dirname(path))] == ["split.json"]  # no temporary left


def test_listdir_nohidden_and_mkdir(tmp_path) -> None:
    for name in ("b", ".hidden", "a"):
        (tmp_path / name).mkdir()
    assert sorted(listdir_nohidden(str(tmp_path))) == ["a", "b"]
    assert listdir_nohidden(str(tmp_path), sort=True) == ["a", "b"]
    mkdir_if_missing(str(tmp_path / "a"))
    mkdir_if_missing("")


def test_seeding_covers_random_numpy_and_torch() -> None:
    set_random_seed(3)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    set_random_seed(3)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def test_env_info_is_cheap_and_leaves_rngs_alone() -> None:
    set_random_seed(1)
    states = (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state())
    started = time.perf_counter()
    info = collect_env_info()
    assert time.perf_counter() - started < 2.0
    assert random.getstate() == states[0] and np.array_equal(np.random.get_state()[1], states[1])
    assert torch.equal(torch.get_rng_state(), states[2])
    assert info.startswith("PyTorch version: ") and "Pillow (" in info.splitlines()[-1]


def test_count_num_param() -> None:
    model = torch.nn.Linear(3, 2)
    assert count_num_param(model) == 8
    assert count_num_param(params=[{"params": model.weight}, model.bias]) == 8
    with pytest.raises(ValueError):
        count_num_param()
