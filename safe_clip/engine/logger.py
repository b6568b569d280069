"""Tee of stdout into OUTPUT_DIR/log.txt, as Dassl's `setup_logger` (stderr is not captured, as in Dassl)."""
from __future__ import annotations

import os
import sys
import time
from typing import Any, Optional, TextIO

from safe_clip.engine.utils import mkdir_if_missing

__all__ = ["Logger", "setup_logger"]


class Logger:
    """Writes every message to the console stream and to a file.

    Closing it closes only the file: Dassl's logger also closed the real stdout when it was garbage-collected
    at exit (hazard 13), which swallowed later output.
    """

    def __init__(self, fpath: Optional[str] = None, console: Optional[TextIO] = None) -> None:
        self.console: TextIO = console if console is not None else sys.stdout
        self.file: Optional[TextIO] = None
        if fpath is not None:
            mkdir_if_missing(os.path.dirname(fpath))
            self.file = open(fpath, "w", encoding="utf-8")

    def write(self, msg: str) -> int:
        self.console.write(msg)
        if self.file is not None and not self.file.closed:
            self.file.write(msg)
        return len(msg)

    def flush(self) -> None:
        self.console.flush()
        if self.file is not None and not self.file.closed:
            self.file.flush()
            # As Dassl: the log survives a crash or a killed job up to the last flush.
            os.fsync(self.file.fileno())

    def close(self) -> None:
        if self.file is not None and not self.file.closed:
            self.file.close()

    def __enter__(self) -> "Logger":
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        # isatty(), encoding, fileno() ... of the console, for code that inspects sys.stdout. The guard stops a
        # recursion when __init__ failed before `console` was set.
        if name in ("console", "file") or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.console, name)


def _log_path(output: str) -> str:
    """`output` itself when it names a .txt/.log file, else output/log.txt; never an existing file."""
    fpath = output if output.endswith((".txt", ".log")) else os.path.join(output, "log.txt")
    if os.path.exists(fpath):
        # Dassl's rule: keep the old log, write this run's to log.txt-YYYY-MM-DD-HH-MM-SS.
        fpath += time.strftime("-%Y-%m-%d-%H-%M-%S")
    return fpath


def setup_logger(output: Optional[str] = None) -> Optional[str]:
    """Tees stdout into `output` (a folder, or a .txt/.log path); returns the log file's path (None: no-op).

    Calling it again moves the tee to the new file instead of stacking loggers.
    """
    if output is None:
        return None
    fpath = _log_path(output)
    console = sys.stdout
    if isinstance(console, Logger):
        console.close()
        console = console.console
    sys.stdout = Logger(fpath, console=console)
    return fpath
