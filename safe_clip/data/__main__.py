"""`python -m safe_clip.data download NAME [NAME ...] --root DATA` and `python -m safe_clip.data list --root DATA`."""
from __future__ import annotations

import argparse
import os
import sys

from safe_clip.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    from safe_clip.data.catalogue import entry_names

    parser = argparse.ArgumentParser(
        prog="python -m safe_clip.data",
        description="Download CoOp's datasets and lay them out as CoOp expects under a data root.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("download", help="download, verify and lay out datasets (skips installed ones)")
    fetch.add_argument("names", nargs="+", metavar="NAME", help=f"dataset names ({', '.join(entry_names())}) or 'all'")
    fetch.add_argument("--root", required=True, help="the data root (DATASET.ROOT / --root of train.py)")
    fetch.add_argument("--keep-archives", action="store_true", help="keep the downloaded archives")
    fetch.add_argument("--quiet", action="store_true", help="no progress bars")
    ensure = commands.add_parser(
        "ensure",
        help="what train.py does before a run: download NAME only if its images are missing and "
        "SAFE_CLIP_NO_DOWNLOAD is not 1; else print the manual steps and exit 2",
    )
    ensure.add_argument("name", metavar="NAME", help="dataset name (registry or config name)")
    ensure.add_argument("--root", required=True, help="the data root")
    ensure.add_argument("--no-download", action="store_true", help="never download; only check")
    listing = commands.add_parser("list", help="show each dataset's folder, source and status")
    listing.add_argument("--root", default="", help="the data root to check")
    return parser


def list_datasets(root: str) -> None:
    from safe_clip.data.catalogue import CATALOGUE
    from safe_clip.data.download import missing_paths

    for entry in CATALOGUE:
        how = f"download ({entry.size})" if entry.downloadable else "manual"
        status = ""
        if root:
            missing = missing_paths(entry, root)
            status = "  installed" if not missing else f"  missing {missing[0]}"
        print(f"{entry.config:16} {entry.name:20} {entry.folder + '/':24} {how}{status}")


def ensure(name: str, root: str, download: bool | None) -> int:
    from types import SimpleNamespace

    from safe_clip.data.catalogue import find_entry
    from safe_clip.data.download import ensure_dataset

    entry = find_entry(name)
    if entry is None:
        raise UserError(f"unknown dataset {name!r}; see `python -m safe_clip.data list`")
    ensure_dataset(SimpleNamespace(DATASET=SimpleNamespace(NAME=entry.name, ROOT=root)), download=download)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            list_datasets(args.root)
            return 0
        if args.command == "ensure":
            return ensure(args.name, os.path.expanduser(args.root), download=False if args.no_download else None)
        from safe_clip.data.download import download_datasets

        errors = download_datasets(
            args.names, os.path.expanduser(args.root), keep_archives=args.keep_archives, quiet=args.quiet
        )
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; run the command again to resume the download", file=sys.stderr)
        return 130
    for message in errors:
        print(f"error: {message}", file=sys.stderr)
    return 2 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
