"""Results as data: read every run's results.json (or, for runs of other CoOp-style code, its log.txt) under some
folders and print mean, sample standard deviation and number of seeds per trainer x dataset x shots.

    python -m safe_clip.results DIR [DIR ...] [--format plain|markdown|both]
"""
from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

from tabulate import tabulate

RESULTS_FILE = "results.json"
# CoOp's parse_test_res.py: the accuracy of the last result block after "Finish training" (or "=> result").
_ACCURACY_LINE = re.compile(r"\* accuracy: ([\.\deE+-]+)%")
# CoOp's output folders: .../<dataset>/<trainer>/<cfg>_<K>shots/.../seed<S>
_SHOTS_PART = re.compile(r"_(\d+)shots$")
_SEED_PART = re.compile(r"^seed(-?\d+)$")


@dataclass(frozen=True)
class RunResult:
    trainer: str
    dataset: str
    shots: int
    seed: int
    accuracy: float
    source: Path


def read_results_json(path: Path) -> Optional[RunResult]:
    try:
        record = json.loads(path.read_text())
        return RunResult(record["trainer"], record["dataset"], int(record["shots"]), int(record["seed"]),
                         float(record["accuracy"]), path)
    except (OSError, ValueError, KeyError, TypeError):
        print(f"warning: skipping unreadable {path}", file=sys.stderr)
        return None


def accuracy_from_log(path: Path) -> Optional[float]:
    """The last `* accuracy: X%` after `Finish training` or `=> result`, as CoOp's parse_test_res.py reads it."""
    accuracy, started = None, False
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if line in ("Finish training", "=> result"):
            started = True
        match = _ACCURACY_LINE.search(line) if started else None
        if match:
            accuracy = float(match.group(1))
    return accuracy


def read_coop_log(path: Path) -> Optional[RunResult]:
    """A run of CoOp-style code without results.json: trainer, dataset, shots and seed come from the folder names."""
    accuracy = accuracy_from_log(path)
    if accuracy is None:
        return None
    parts = path.parent.parts
    seed_match = _SEED_PART.match(parts[-1]) if parts else None
    shots_index = next((i for i in range(len(parts) - 1, -1, -1) if _SHOTS_PART.search(parts[i])), None)
    if seed_match is None or shots_index is None or shots_index < 2:
        return None
    shots = int(_SHOTS_PART.search(parts[shots_index]).group(1))
    return RunResult(parts[shots_index - 1], parts[shots_index - 2], shots, int(seed_match.group(1)), accuracy, path)


def collect(directories: Iterable[Path]) -> list[RunResult]:
    runs = []
    for directory in directories:
        json_dirs = set()
        for path in sorted(Path(directory).rglob(RESULTS_FILE)):
            run = read_results_json(path)
            json_dirs.add(path.parent)
            if run is not None:
                runs.append(run)
        for path in sorted(Path(directory).rglob("log.txt")):
            if path.parent not in json_dirs:
                run = read_coop_log(path)
                if run is not None:
                    runs.append(run)
    return runs


def summarize(runs: Sequence[RunResult]) -> list[dict]:
    """One row per (trainer, dataset, shots): mean and sample std (n - 1) of accuracy over seeds, and n."""
    groups: dict[tuple, list[float]] = defaultdict(list)
    for run in runs:
        groups[(run.trainer, run.dataset, run.shots)].append(run.accuracy)
    rows = []
    for (trainer, dataset, shots), accuracies in sorted(groups.items()):
        std = statistics.stdev(accuracies) if len(accuracies) > 1 else math.nan
        rows.append({"trainer": trainer, "dataset": dataset, "shots": shots,
                     "mean": statistics.fmean(accuracies), "std": std, "n": len(accuracies)})
    return rows


def format_table(rows: Sequence[dict], table_format: str) -> str:
    headers = ["trainer", "dataset", "shots", "accuracy (%)", "std", "n"]
    body = [[row["trainer"], row["dataset"], row["shots"], f"{row['mean']:.2f}",
             "-" if math.isnan(row["std"]) else f"{row['std']:.2f}", row["n"]] for row in rows]
    # disable_numparse keeps "73.00" as written (tabulate would print 73).
    return tabulate(body, headers=headers, tablefmt="pipe" if table_format == "markdown" else "simple",
                    disable_numparse=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Mean, sample std and seed count of results under folders.")
    parser.add_argument("directories", nargs="+", type=Path)
    parser.add_argument("--format", choices=("plain", "markdown", "both"), default="both")
    args = parser.parse_args(argv)
    missing = [str(d) for d in args.directories if not d.is_dir()]
    if missing:
        print(f"error: no such folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    rows = summarize(collect(args.directories))
    if not rows:
        print(f"error: no results.json or CoOp log.txt with a result under {', '.join(map(str, args.directories))}",
              file=sys.stderr)
        return 2
    for table_format in ("plain", "markdown") if args.format == "both" else (args.format,):
        print(format_table(rows, table_format))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
