"""Runs CoOp's own dataset classes on real Dassl and writes what they pick, for the equivalence test.

    python coop_reference.py COOP_SRC JOBS.json OUT.json

COOP_SRC is a CoOp checkout (its `datasets/` folder is loaded as the package `coop_datasets`; nothing is copied).
Each job is {"dataset", "root", "shots", "seed", "keep"}: the dataset is built exactly as CoOp's train.py would
(`set_random_seed(seed)` then the class), and its train_x / val / test entries (paths relative to the dataset
folder), class names and the split JSON it wrote (if any) are recorded. Files the class created in the dataset
folder are removed afterwards unless "keep" is true, so every job starts from the same layout.
"""
import importlib
import importlib.util
import json
import os
import shutil
import sys

MODULES = (
    "oxford_pets", "oxford_flowers", "fgvc_aircraft", "dtd", "eurosat", "stanford_cars", "food101", "sun397",
    "caltech101", "ucf101", "imagenet", "imagenetv2", "imagenet_sketch", "imagenet_a", "imagenet_r",
)


def load_coop_datasets(coop_src):
    package_dir = os.path.join(coop_src, "datasets")
    spec = importlib.util.spec_from_file_location(
        "coop_datasets", os.path.join(package_dir, "__init__.py"), submodule_search_locations=[package_dir]
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules["coop_datasets"] = package
    spec.loader.exec_module(package)
    for name in MODULES:
        importlib.import_module(f"coop_datasets.{name}")


def snapshot(folder):
    found = set()
    for current, dirs, files in os.walk(folder):
        for name in dirs + files:
            found.add(os.path.join(current, name))
    return found


def rows(items, prefix):
    return [[os.path.relpath(item.impath, prefix), int(item.label), item.classname] for item in items or []]


def main():
    coop_src, jobs_path, out_path = sys.argv[1:4]
    load_coop_datasets(coop_src)
    from dassl.config import get_cfg_default
    from dassl.data.datasets import DATASET_REGISTRY
    from dassl.utils import set_random_seed

    with open(jobs_path) as handle:
        jobs = json.load(handle)
    results = []
    for job in jobs:
        cls = DATASET_REGISTRY.get(job["dataset"])
        dataset_dir = os.path.join(job["root"], cls.dataset_dir)
        before = snapshot(dataset_dir)
        cfg = get_cfg_default()
        cfg.DATASET.SUBSAMPLE_CLASSES = job.get("subsample", "all")
        cfg.DATASET.ROOT = job["root"]
        cfg.DATASET.NAME = job["dataset"]
        cfg.DATASET.NUM_SHOTS = job["shots"]
        cfg.SEED = job["seed"]
        set_random_seed(job["seed"])
        dataset = cls(cfg)
        written = None
        split_path = getattr(dataset, "split_path", None)
        if split_path and split_path in snapshot(dataset_dir) - before:
            with open(split_path) as handle:
                written = json.load(handle)
        results.append(
            {
                "train_x": rows(dataset.train_x, dataset_dir),
                "val": rows(dataset.val, dataset_dir),
                "test": rows(dataset.test, dataset_dir),
                "classnames": list(dataset.classnames),
                "written_split": written,
            }
        )
        if not job.get("keep"):
            for path in sorted(snapshot(dataset_dir) - before, key=len, reverse=True):
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                elif os.path.exists(path):
                    os.remove(path)
    with open(out_path, "w") as handle:
        json.dump(results, handle)


if __name__ == "__main__":
    main()
