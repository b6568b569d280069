"""setup_logger: stdout tee into log.txt with Dassl's naming, without closing the real stdout."""
from __future__ import annotations

import gc
import os
import re
import sys

from safe_clip.engine import setup_logger
from safe_clip.engine.logger import Logger


def test_tees_stdout_into_log_txt(tmp_path, restore_stdout, capsys) -> None:
    output_dir = str(tmp_path / "run")
    log_path = setup_logger(output_dir)
    assert log_path == os.path.join(output_dir, "log.txt")
    print("Finish training")
    print("* accuracy: 80.0%")
    sys.stdout.flush()
    assert open(log_path).read() == "Finish training\n* accuracy: 80.0%\n"
    assert "Finish training" in capsys.readouterr().out  # still on the console


def test_existing_log_gets_a_timestamp_suffix(tmp_path, restore_stdout) -> None:
    first = setup_logger(str(tmp_path))
    print("first run")
    second = setup_logger(str(tmp_path))
    print("second run")
    sys.stdout.flush()
    assert re.fullmatch(re.escape(first) + r"-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}", second)
    # The second call moved the tee: the first file has only the first run's line.
    assert open(first).read() == "first run\n"
    assert open(second).read() == "second run\n"


def test_explicit_file_names_and_none(tmp_path, restore_stdout) -> None:
    assert setup_logger(None) is None
    path = str(tmp_path / "nested" / "train.log")
    assert setup_logger(path) == path and os.path.isfile(path)


def test_closing_the_logger_keeps_the_console_open(tmp_path, capsys) -> None:
    console = sys.stdout
    logger = Logger(str(tmp_path / "log.txt"), console=console)
    logger.write("line\n")
    logger.close()
    del logger
    gc.collect()
    assert not console.closed
    print("still printing")
    assert "still printing" in capsys.readouterr().out


def test_logger_forwards_stream_attributes(tmp_path) -> None:
    with Logger(str(tmp_path / "log.txt"), console=sys.__stdout__) as logger:
        assert logger.isatty() == sys.__stdout__.isatty()
        assert logger.encoding == sys.__stdout__.encoding
