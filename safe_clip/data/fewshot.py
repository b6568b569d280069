"""Few-shot sampling identical to Dassl + CoOp, and the caches of its picks.

Sampling (`sample_few_shot`) is Dassl's `generate_fewshot_dataset` (contract §3.3): group the items by label in
order of first appearance, then per group `random.sample(group, K)` from the global `random` (seeded by
`set_random_seed`), or the whole group with no `random` call when it has fewer than K items. CoOp samples train
with K and val with min(K, 4).

Caches, in the order they are tried (`few_shot_splits`):

1. CoOp's own `<dataset>/split_fewshot/shot_{K}-seed_{S}.pkl`, when present: read, never written. It holds pickled
   real-Dassl `Datum`s (class path `dassl.data.datasets.base_dataset.Datum`) with absolute paths; a restricted
   unpickler maps that class to plain values, so it reads under either Dassl implementation, and the picks are
   trusted only when every image path lies under the current dataset folder and exists (else they are rebuilt).
2. This project's cache: a JSON of relative paths under `cache_root()/fewshot/` (`$SAFE_CLIP_DATA_CACHE`, else
   `$SAFE_CLIP_CACHE/data`, else `~/.cache/safe_clip/data`), outside the data folder (so a
   read-only data folder works), named after the shots, seed and subsample setting plus a hash of everything that
   shapes the picks (dataset, dataset folder, the train/val lists, shots, val shots, seed, SUBSAMPLE_CLASSES).
   Written atomically; skipped when the cache folder is not writable, and not written for unseeded runs (SEED < 0).

Like CoOp, reading a cache makes no `random` call, and building the picks makes exactly Dassl's calls.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import random
from typing import Any, Sequence

from safe_clip.data.splits import datum_class, split_entries
from safe_clip.io import atomic_write_json

DATA_CACHE_VARIABLE = "SAFE_CLIP_DATA_CACHE"
CACHE_VARIABLE = "SAFE_CLIP_CACHE"
CACHE_FORMAT = 1

DASSL_DATUM_PATHS = {
    ("dassl.data.datasets.base_dataset", "Datum"),
    ("dassl.data.datasets", "Datum"),
}


def cache_root() -> str:
    """Where data caches go: `$SAFE_CLIP_DATA_CACHE`, else `$SAFE_CLIP_CACHE/data`, else `~/.cache/safe_clip/data`."""
    explicit = os.environ.get(DATA_CACHE_VARIABLE, "").strip()
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    root = os.environ.get(CACHE_VARIABLE, "").strip() or os.path.join("~", ".cache", "safe_clip")
    return os.path.join(os.path.abspath(os.path.expanduser(root)), "data")


def sample_few_shot(items: Sequence[Any], num_shots: int, repeat: bool = False) -> list:
    """Dassl's `generate_fewshot_dataset` for one data source: K per label, same `random` calls, same order."""
    if num_shots < 1:
        return list(items)
    groups: dict[int, list] = {}
    for item in items:
        groups.setdefault(item.label, []).append(item)
    picked: list = []
    for group in groups.values():
        if len(group) >= num_shots:
            picked.extend(random.sample(group, num_shots))
        elif repeat:
            picked.extend(random.choices(group, k=num_shots))
        else:
            picked.extend(group)
    return picked


# --------------------------------------------------------------------------------------------------------------
# CoOp's pickles


class _PickledDatum:
    """Stand-in for a pickled Dassl `Datum`: only its state (`_impath`, `_label`, `_domain`, `_classname`) is kept."""

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slots state)
            state = state[0] or {}
        if not isinstance(state, dict):
            raise pickle.UnpicklingError("unexpected Datum state")
        self.state = state

    def to_datum(self) -> Any:
        state = getattr(self, "state", {})
        impath = state.get("_impath")
        if not isinstance(impath, str):
            raise pickle.UnpicklingError("Datum without an image path")
        return {
            "impath": impath,
            "label": int(state.get("_label", 0)),
            "domain": int(state.get("_domain", 0)),
            "classname": str(state.get("_classname", "")),
        }


class _DatumUnpickler(pickle.Unpickler):
    """Unpickles dicts and lists of Dassl `Datum`s only; any other global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in DASSL_DATUM_PATHS or (module.startswith("safe_clip.") and name == "Datum"):
            return _PickledDatum
        raise pickle.UnpicklingError(f"unexpected object {module}.{name}")


def read_coop_pickle(path: str, keys: Sequence[str], dataset_dir: str, check_all: bool = True) -> dict | None:
    """The lists `keys` of a CoOp pickle as plain dicts, or None when it cannot be trusted.

    Trusted means: it unpickles with only `Datum`s in it, has every key, and its image paths lie under
    `dataset_dir` and exist (all of them, or with `check_all=False` the first and last 50 of each list,
    for ImageNet's 1.3-million-entry `preprocessed.pkl`).
    """
    try:
        with open(path, "rb") as handle:
            data = _DatumUnpickler(io.BytesIO(handle.read())).load()
    except Exception as error:  # any corrupt or foreign pickle: rebuild instead
        print(f"Note: ignoring {path} ({type(error).__name__}: {error}); the split is rebuilt")
        return None
    if not isinstance(data, dict):
        print(f"Note: ignoring {path} (not a dict); the split is rebuilt")
        return None
    prefix = os.path.join(os.path.abspath(dataset_dir), "")
    out = {}
    for key in keys:
        items = data.get(key)
        if not isinstance(items, list) or not all(isinstance(item, _PickledDatum) for item in items):
            print(f"Note: ignoring {path} (no list of Datum under {key!r}); the split is rebuilt")
            return None
        try:
            values = [item.to_datum() for item in items]
        except pickle.UnpicklingError as error:
            print(f"Note: ignoring {path} ({error}); the split is rebuilt")
            return None
        checked = values if check_all or len(values) <= 100 else values[:50] + values[-50:]
        for value in checked:
            if not value["impath"].startswith(prefix) or not os.path.isfile(value["impath"]):
                print(
                    f"Note: ignoring {path}: it lists {value['impath']}, which is not an image under "
                    f"{dataset_dir} (made under another DATASET.ROOT?); the split is rebuilt"
                )
                return None
        out[key] = values
    return out


def datums_from_values(values: list[dict]) -> list:
    Datum = datum_class()
    return [Datum(**value) for value in values]


# --------------------------------------------------------------------------------------------------------------
# This project's cache


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def few_shot_cache_path(
    dataset: str,
    dataset_dir: str,
    train: Sequence[Any],
    val: Sequence[Any] | None,
    num_shots: int,
    val_shots: int | None,
    seed: int,
    subsample: str,
) -> str:
    """Where this project caches the picks for these inputs (the hash covers everything that shapes them)."""
    dataset_dir = os.path.abspath(dataset_dir)
    key = {
        "format": CACHE_FORMAT,
        "dataset": dataset,
        "dataset_dir": dataset_dir,
        "train": _digest(split_entries(train, dataset_dir)),
        "val": None if val is None else _digest(split_entries(val, dataset_dir)),
        "num_shots": num_shots,
        "val_shots": val_shots,
        "seed": seed,
        "subsample": subsample,
    }
    name = f"shot_{num_shots}-seed_{seed}-{subsample}-{_digest(key)[:16]}.json"
    return os.path.join(cache_root(), "fewshot", dataset, name)


def _read_own_cache(path: str, pools: dict[str, Sequence[Any]], dataset_dir: str) -> dict[str, list] | None:
    """The cached picks as the very Datum objects of `pools`, or None when absent or inconsistent with them."""
    try:
        with open(path, "r") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        print(f"Note: ignoring the few-shot cache {path} ({error}); the picks are rebuilt")
        return None
    out = {}
    for key, pool in pools.items():
        by_path = {item.impath: item for item in pool}
        picked = []
        for row in data.get(key) or []:
            item = by_path.get(os.path.join(dataset_dir, row[0])) if isinstance(row, list) and row else None
            if item is None or item.label != row[1] or item.classname != row[2]:
                print(f"Note: ignoring the few-shot cache {path} (it does not match the split); rebuilding")
                return None
            picked.append(item)
        out[key] = picked
    return out


def few_shot_splits(
    dataset: str,
    dataset_dir: str,
    train: list,
    val: list | None,
    num_shots: int,
    seed: int,
    subsample: str = "all",
    val_shots: int | None = None,
) -> tuple[list, list | None]:
    """CoOp's few-shot step: (train with K per class, val with `val_shots` per class), cached as described above.

    `val=None` (ImageNet) samples train only. `val_shots` defaults to min(K, 4). K < 1 returns the inputs.
    """
    if num_shots < 1:
        return train, val
    if val is not None and val_shots is None:
        val_shots = min(num_shots, 4)
    keys = ["train"] if val is None else ["train", "val"]

    coop_path = os.path.join(dataset_dir, "split_fewshot", f"shot_{num_shots}-seed_{seed}.pkl")
    if os.path.exists(coop_path):
        values = read_coop_pickle(coop_path, keys, dataset_dir)
        if values is not None:
            print(f"Loading preprocessed few-shot data from {coop_path}")
            loaded = {key: datums_from_values(values[key]) for key in keys}
            return loaded["train"], loaded.get("val", val)

    cache_path = few_shot_cache_path(dataset, dataset_dir, train, val, num_shots, val_shots, seed, subsample)
    pools = {"train": train} if val is None else {"train": train, "val": val}
    cached = _read_own_cache(cache_path, pools, dataset_dir) if seed >= 0 else None
    if cached is not None:
        print(f"Loading few-shot split from {cache_path}")
        return cached["train"], cached.get("val", val)

    print(f"Creating a {num_shots}-shot dataset")
    picked_train = sample_few_shot(train, num_shots)
    picked_val = val
    if val is not None:
        print(f"Creating a {val_shots}-shot dataset")
        picked_val = sample_few_shot(val, val_shots)

    if seed >= 0:
        content = {"train": split_entries(picked_train, dataset_dir)}
        if picked_val is not None:
            content["val"] = split_entries(picked_val, dataset_dir)
        try:
            atomic_write_json(content, cache_path)
            print(f"Saved few-shot split to {cache_path}")
        except OSError as error:
            print(f"Note: could not cache the few-shot split at {cache_path} ({error}); continuing without")
    return picked_train, picked_val
