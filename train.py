"""CoOp-compatible entry point: the same flags, config merge order and outputs as CoOp's train.py.

Differences, on purpose: `--seed 0` is a seed (CoOp ignores it); the Dassl implementation in use is printed (so it
lands in log.txt); results.json and config.yaml are written beside log.txt; user mistakes print one line,
`error: ...`, and exit with status 2 instead of a traceback.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
from typing import Optional, Sequence

from safe_clip.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=str, default="", help="path to dataset")
    parser.add_argument("--output-dir", type=str, default="", help="output directory")
    parser.add_argument("--resume", type=str, default="", help="checkpoint directory (from which the training resumes)")
    parser.add_argument("--seed", type=int, default=-1, help="only non-negative value enables a fixed seed")
    parser.add_argument("--source-domains", type=str, nargs="+", help="source domains for DA/DG")
    parser.add_argument("--target-domains", type=str, nargs="+", help="target domains for DA/DG")
    parser.add_argument("--transforms", type=str, nargs="+", help="data augmentation methods")
    parser.add_argument("--config-file", type=str, default="", help="path to config file")
    parser.add_argument("--dataset-config-file", type=str, default="", help="path to config file for dataset setup")
    parser.add_argument("--trainer", type=str, default="", help="name of trainer")
    parser.add_argument("--backbone", type=str, default="", help="name of CNN backbone")
    parser.add_argument("--head", type=str, default="", help="name of head")
    parser.add_argument("--eval-only", action="store_true", help="evaluation only")
    parser.add_argument("--model-dir", type=str, default="", help="load model from this directory for eval-only mode")
    parser.add_argument("--load-epoch", type=int, help="load model weights at this epoch for evaluation")
    parser.add_argument("--no-train", action="store_true", help="do not call trainer.train()")
    parser.add_argument("--no-download", action="store_true",
                        help="never download a missing dataset (also: SAFE_CLIP_NO_DOWNLOAD=1)")
    parser.add_argument("opts", default=None, nargs=argparse.REMAINDER, help="modify config options using the command-line")
    return parser


def reset_cfg(cfg, args: argparse.Namespace) -> None:
    """Flags override the YAML files, as in CoOp, except that any non-negative seed counts."""
    if args.root:
        cfg.DATASET.ROOT = args.root
    if args.output_dir:
        cfg.OUTPUT_DIR = args.output_dir
    if args.resume:
        cfg.RESUME = args.resume
    if args.seed >= 0:
        cfg.SEED = args.seed
    if args.source_domains:
        cfg.DATASET.SOURCE_DOMAINS = args.source_domains
    if args.target_domains:
        cfg.DATASET.TARGET_DOMAINS = args.target_domains
    if args.transforms:
        cfg.INPUT.TRANSFORMS = args.transforms
    if args.trainer:
        cfg.TRAINER.NAME = args.trainer
    if args.backbone:
        cfg.MODEL.BACKBONE.NAME = args.backbone
    if args.head:
        cfg.MODEL.HEAD.NAME = args.head


def _merge_file(cfg, path: str, what: str) -> None:
    if not os.path.isfile(path):
        raise UserError(f"{what} not found: {path}; pass an existing YAML file (see configs/)")
    try:
        cfg.merge_from_file(path)
    except (KeyError, ValueError, AssertionError) as error:
        raise UserError(f"{what} {path}: {_first_line(error)}; fix the key or value in that file") from error


def setup_cfg(args: argparse.Namespace):
    """Dassl defaults -> this project's nodes -> dataset YAML -> trainer YAML -> flags -> KEY VALUE pairs -> freeze."""
    import safe_clip
    from safe_clip.dassl import get_cfg_default

    cfg = get_cfg_default()
    safe_clip.extend_cfg(cfg)
    if args.dataset_config_file:
        _merge_file(cfg, args.dataset_config_file, "dataset config file")
    if args.config_file:
        _merge_file(cfg, args.config_file, "trainer config file")
    reset_cfg(cfg, args)
    if len(args.opts or []) % 2:
        raise UserError(f"config overrides must come in KEY VALUE pairs, got {args.opts}")
    try:
        cfg.merge_from_list(args.opts or [])
    except (KeyError, ValueError, AssertionError) as error:
        raise UserError(f"bad config override: {_first_line(error)}; see the keys printed in log.txt") from error
    cfg.freeze()
    return cfg


def _first_line(error: BaseException) -> str:
    text = str(error).strip().strip("'\"")
    return text.splitlines()[0] if text else type(error).__name__


def print_args(args: argparse.Namespace, cfg) -> None:
    print("***************")
    print("** Arguments **")
    print("***************")
    for key in sorted(args.__dict__):
        print(f"{key}: {args.__dict__[key]}")
    print("************")
    print("** Config **")
    print("************")
    print(cfg)


def environment_summary() -> str:
    import PIL
    import torch

    return "\n".join(
        [
            f"Python: {sys.version.split()[0]} ({platform.platform()})",
            f"PyTorch: {torch.__version__} (CUDA available: {torch.cuda.is_available()})",
            f"Pillow: {PIL.__version__}",
        ]
    )


def check_registered(cfg) -> None:
    from safe_clip.dassl import DATASET_REGISTRY, TRAINER_REGISTRY

    for what, name, registry, flag in (
        ("trainer", cfg.TRAINER.NAME, TRAINER_REGISTRY, "--trainer"),
        ("dataset", cfg.DATASET.NAME, DATASET_REGISTRY, "--dataset-config-file"),
    ):
        available = registry.registered_names()
        if name not in available:
            raise UserError(f"unknown {what} {name!r}; set {flag} to one of {', '.join(sorted(available))}")


class _NonClosingStream:
    """Forwards to a stream but ignores close(): Dassl 0.6.3's Logger closes the console it wraps when it is
    garbage-collected, which would close the real stdout (or a caller's capture) under it."""

    def __init__(self, stream):
        self._stream = stream

    def close(self) -> None:
        pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


def start_log_file(output_dir: str) -> None:
    from safe_clip.dassl import setup_logger

    setup_logger(output_dir)
    if getattr(sys.stdout, "console", None) is not None:
        sys.stdout.console = _NonClosingStream(sys.stdout.console)


def write_config(cfg) -> None:
    from safe_clip.io import atomic_write_text

    atomic_write_text(cfg.dump(), os.path.join(cfg.OUTPUT_DIR, "config.yaml"))


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    cfg = setup_cfg(args)

    # Registers every dataset and trainer of the suite (import side effects, as in CoOp).
    import datasets  # noqa: F401
    import trainers  # noqa: F401
    from safe_clip.dassl import IMPLEMENTATION, build_trainer, set_random_seed
    from safe_clip.data import ensure_dataset

    check_registered(cfg)
    if cfg.SEED >= 0:
        print(f"Setting fixed seed: {cfg.SEED}")
        set_random_seed(cfg.SEED)
    start_log_file(cfg.OUTPUT_DIR)
    print(f"Dassl: {IMPLEMENTATION}")
    print_args(args, cfg)
    write_config(cfg)
    print("Collecting env info ...")
    print(f"** System info **\n{environment_summary()}\n")

    # A missing dataset that is freely downloadable is fetched into DATASET.ROOT first (CoOp's layout).
    ensure_dataset(cfg, download=False if args.no_download else None)
    trainer = build_trainer(cfg)
    if args.eval_only:
        trainer.load_model(args.model_dir, epoch=args.load_epoch)
        trainer.test()
        return 0
    if not args.no_train:
        trainer.train()
    return 0


def run(argv: Optional[Sequence[str]] = None) -> int:
    """`main` with user mistakes reported as one line on stderr and exit status 2."""
    try:
        return main(argv)
    except UserError as error:
        sys.stdout.flush()
        print(f"error: {user_error_line(error)}", file=sys.stderr)
        return 2


def user_error_line(error: BaseException) -> str:
    """The message of a UserError; one raised in a DataLoader worker arrives wrapped in a traceback text, whose
    last line is the original message."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    if len(lines) > 1 and lines[-1].startswith(f"{UserError.__module__}.UserError: "):
        return lines[-1].split(": ", 1)[1]
    return lines[-1] if lines else type(error).__name__


if __name__ == "__main__":
    sys.exit(run())
