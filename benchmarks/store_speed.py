"""How much the feature store saves SAFE, measured on this machine (run by hand, not by CI).

1. Speed of a SAFE training step, images per second, on CLIP RN50-shaped random weights at 224 px:
   the store path (stored fp16 dense maps -> tuned pooling forward + backward + AdamW step) against the
   reference path (the frozen trunk on fresh images, then the same pooling step).
2. Encoder passes of a 3-seed `scripts/safe/main.sh`-style run (train.py in-process, tiny CLIP, synthetic
   EuroSAT folder) against the minimum: each test image once, each val image once, VIEWS views of each
   training image once, over the union of what the seeds pick.

    python benchmarks/store_speed.py [--batch 32] [--batches 3] [--repeats 3] [--shots 8] [--views 10]
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from clip.model import CLIP

from safe_clip.encoder import FrozenImageEncoder  # noqa: E402
from safe_clip.features import class_logits, l2_normalize  # noqa: E402
from safe_clip.pooling import SafePooling  # noqa: E402


def rn50_shaped_clip() -> CLIP:
    torch.manual_seed(0)
    return CLIP(1024, 224, (3, 4, 6, 3), 64, None, 77, 49408, 512, 8, 12).float().eval()


def step_rate(step, batch: int, batches: int) -> float:
    """Images per second of `step()` over `batches` batches, after one warm-up batch."""
    step()
    start = time.perf_counter()
    for _ in range(batches):
        step()
    return batch * batches / (time.perf_counter() - start)


def measure_speed(batch: int, batches: int, repeats: int) -> tuple[float, float]:
    model = rn50_shaped_clip()
    encoder = FrozenImageEncoder(model)
    safe = SafePooling(encoder.original_pooling)
    optimizer = torch.optim.AdamW([p for p in safe.parameters() if p.requires_grad], lr=1e-4, eps=1e-4)
    text_classifier = l2_normalize(torch.randn(10, 1024))
    labels = torch.randint(10, (batch,))
    images = torch.randn(batch, 3, 224, 224)
    stored_maps = encoder.dense(images).half()

    def pooling_step(dense_maps: torch.Tensor) -> None:
        loss = F.cross_entropy(class_logits(l2_normalize(safe(dense_maps)), text_classifier, 100.0), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    # Alternate the two paths and keep each one's median, so a burst of load elsewhere hits both alike.
    store_rates, reference_rates = [], []
    for _ in range(repeats):
        store_rates.append(step_rate(lambda: pooling_step(stored_maps.float()), batch, batches))
        reference_rates.append(step_rate(lambda: pooling_step(encoder.dense(images)), batch, batches))
    return statistics.median(store_rates), statistics.median(reference_rates)


def count_encoder_passes(shots: int, views: int) -> tuple[int, int, int]:
    """(images encoded by a 3-seed run, the minimum, what a run without store encodes)."""
    import train
    from tests.layouts import write_eurosat
    from tests.tiny_clip import save_tiny_clip

    work = Path(tempfile.mkdtemp(prefix="safe_bench_"))
    write_eurosat(work / "data", n_per_class=40)
    checkpoint = save_tiny_clip(work / "tiny.pt")
    os.environ["SAFE_CLIP_CACHE"] = str(work / "store")
    os.environ["SAFE_CLIP_DATA_CACHE"] = str(work / "data_cache")
    epochs, encoded, trainers = 5, 0, []
    for seed in (1, 2, 3):
        output_dir = work / "out" / f"seed{seed}"
        argv = ["--root", str(work / "data"), "--seed", str(seed), "--trainer", "SAFE",
                "--dataset-config-file", str(REPO_ROOT / "configs/datasets/eurosat.yaml"),
                "--config-file", str(REPO_ROOT / "configs/trainers/SAFE/rn50.yaml"), "--output-dir", str(output_dir),
                "MODEL.BACKBONE.NAME", str(checkpoint), "INPUT.SIZE", "(64, 64)", "DATALOADER.NUM_WORKERS", "0",
                "DATASET.NUM_SHOTS", str(shots), "OPTIM.MAX_EPOCH", str(epochs), "TRAINER.SAFE.VIEWS", str(views)]
        saved_stdout = sys.stdout
        try:
            with open(os.devnull, "w") as quiet:  # the run's own log goes to its log.txt
                sys.stdout = quiet
                assert train.run(argv) == 0
        finally:
            sys.stdout = saved_stdout
        log = (output_dir / "log.txt").read_text()
        encoded += sum(int(n) for n in re.findall(r"entries, (\d+) newly encoded", log))
        trainers.append(build_dataset_for(argv))
    train_union = {item.impath for dataset in trainers for item in dataset.train_x}
    val_union = {item.impath for dataset in trainers for item in dataset.val}
    test_count = len(trainers[0].test)
    minimum = test_count + len(val_union) + views * len(train_union)
    # Without a store, each seed encodes its training images every epoch of the recipe (configs/trainers/SAFE:
    # 50; the store's count does not depend on epochs, so the run above used 5), its val set and the test set.
    recipe_epochs = 50
    without_store = sum(recipe_epochs * len(d.train_x) + len(d.val) + len(d.test) for d in trainers)
    return encoded, minimum, without_store


def build_dataset_for(argv: list[str]):
    import datasets  # noqa: F401
    import train
    from safe_clip.dassl import build_dataset, set_random_seed

    cfg = train.setup_cfg(train.build_parser().parse_args(argv))
    set_random_seed(cfg.SEED)
    return build_dataset(cfg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="measurements per path (the median is kept)")
    parser.add_argument("--shots", type=int, default=8)
    parser.add_argument("--views", type=int, default=10)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    store_rate, reference_rate = measure_speed(args.batch, args.batches, args.repeats)
    print(f"SAFE training step, RN50 shapes, 224 px, batch {args.batch}:")
    print(f"  store path (fp16 dense maps):    {store_rate:8.1f} images/s")
    print(f"  reference path (encoder + step): {reference_rate:8.1f} images/s")
    print(f"  speed-up: {store_rate / reference_rate:.1f}x")
    encoded, minimum, without_store = count_encoder_passes(args.shots, args.views)
    print(f"Encoder passes, 3 seeds, {args.shots} shots, {args.views} views (synthetic EuroSAT, 10 classes):")
    print(f"  with the store: {encoded}; minimum: {minimum}; without a store (50 epochs): {without_store}")


if __name__ == "__main__":
    main()
