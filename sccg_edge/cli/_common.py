"""Helpers shared by the CLI modules: JSON output and rich tables."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

_RESULT_STREAM: list[Any] = []


STARTED: list[float] = [0.0]  # time.time() when this command started (the process start for the console script)
VERBOSE: list[bool] = [False]  # set by ``sccg-edge --verbose`` (the root option; accepted after the command too)


class _LogSink:
    """Where third-party output goes while a command runs quietly: the command's log file, else stderr.

    One object for the whole process, so that a library which keeps the stream it saw at import time (NNCF's
    logging handler does) writes to the current command's log file later, never to a closed one.
    """

    def __init__(self) -> None:
        self.file: Any = None
        self.lines = 0

    def write(self, text: str) -> int:
        if self.file is None:
            return sys.__stderr__.write(text) if sys.__stderr__ else len(text)
        self.lines += text.count("\n")
        return self.file.write(text)

    def flush(self) -> None:
        (self.file or sys.__stderr__ or sys.stderr).flush()

    def isatty(self) -> bool:
        return False


_SINK = _LogSink()


@contextlib.contextmanager
def diverted_stdout(quiet: bool = True) -> Iterator[None]:
    """Run a command with third-party output kept off the result stream and, unless ``--verbose``, off the terminal.

    Quiet (the default): what libraries print to stdout, Python warnings (torch's ONNX-export warnings) and every
    log record of other libraries (``WARNING:root:Axis 1 is out-of-range``, NNCF's messages) go to a log file
    under ``<cache>/logs/``, named on stderr at the end when anything was written; sccg-edge's own warnings still
    reach stderr. ``--verbose`` (or ``quiet=False``, for ``serve``, which logs for an operator): all of it goes to
    stderr. :func:`result_stream` stays the real stdout either way.
    """
    import logging

    _RESULT_STREAM.append(sys.stdout)
    if not quiet:
        try:
            with contextlib.redirect_stdout(sys.stderr):
                yield
        finally:
            _RESULT_STREAM.pop()
        return
    path = None
    if not VERBOSE[0]:
        from sccg_edge.utils.fs import cache_dir

        path = cache_dir() / "logs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
    root, own = logging.getLogger(), logging.getLogger("sccg_edge")
    saved = (list(root.handlers), root.level, list(own.handlers), own.level)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
    to_file = logging.StreamHandler(_SINK)
    to_file.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
    to_file.addFilter(lambda record: not record.name.startswith("sccg_edge"))
    if path is None:
        handlers = [stderr]
    else:
        stderr.setLevel(logging.WARNING)
        stderr.addFilter(lambda record: record.name.startswith("sccg_edge"))
        handlers = [to_file, stderr]
    with contextlib.ExitStack() as stack:
        if path is not None:
            _SINK.file, _SINK.lines = stack.enter_context(path.open("w")), 0
        root.handlers, own.handlers = handlers, []
        root.setLevel(logging.INFO)
        own.setLevel(logging.WARNING)  # INFO chatter of sccg-edge's own modules stays out
        logging.captureWarnings(True)
        try:
            with contextlib.redirect_stdout(_SINK if path is not None else sys.stderr):
                yield
        finally:
            logging.captureWarnings(False)
            root.handlers, root.level, own.handlers, own.level = saved
            _SINK.file = None
            _RESULT_STREAM.pop()
    if path is not None and path.stat().st_size:
        print(f"(third-party messages: {path}; --verbose shows them)", file=sys.stderr, flush=True)
    elif path is not None:
        path.unlink()


def result_stream() -> Any:
    """Where command results go: the real stdout, even while library output is diverted to stderr.

    :func:`sccg_edge.cli.main` sends everything printed during a command (third-party progress output, e.g. NNCF's)
    to stderr, so that ``--json`` output on stdout is exactly one JSON object.
    """
    return _RESULT_STREAM[-1] if _RESULT_STREAM else sys.stdout


def result_console() -> Any:
    """A rich Console writing to :func:`result_stream` (for result tables)."""
    from rich.console import Console

    return Console(file=result_stream())


def print_json(obj: Any) -> None:
    """Print one JSON object on stdout (for ``--json``)."""
    stream = result_stream()
    stream.write(json.dumps(obj, indent=2, default=_default) + "\n")
    stream.flush()


def _default(obj: Any) -> Any:
    from pathlib import Path

    import numpy as np

    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def print_kv_table(title: str, rows: dict[str, Any]) -> None:
    """Print a two-column rich table of key -> value."""
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in rows.items():
        table.add_row(str(key), str(rounded(value)))
    result_console().print(table)


def env_set(command: str) -> list[str]:
    """Extra ``--set`` items for ``command`` from ``$SCCG_SET_<COMMAND>`` (whitespace-separated ``key=value``).

    Explicit ``--set`` items come after these and win. Tests and CI use it to run a command exactly as a user types
    it with a tiny budget (``SCCG_SET_DISTILL="max_steps=2"``).
    """
    import os

    return os.environ.get(f"SCCG_SET_{command.upper().replace('-', '_')}", "").split()


def rounded(value: Any, digits: int = 4) -> Any:
    """Floats rounded for a terminal table (``digits`` decimals below 10, fewer above); anything else unchanged."""
    if isinstance(value, float):
        return round(value, digits if abs(value) < 10 else 2)
    return value


def say(text: str) -> None:
    """One human line on stderr (what a command chose, where it wrote): never mixed into ``--json`` stdout."""
    print(text, file=sys.stderr, flush=True)


def command_wall_s() -> float:
    """Seconds since this command started (for ``sccg-edge ...``: since its process started, imports included)."""
    return time.time() - (STARTED[0] or time.time())


def mark_started(whole_process: bool) -> None:
    """Record when the command started: the process's start time (console script) or now (in-process call)."""
    started = time.time()
    if whole_process:
        with contextlib.suppress(Exception):
            import psutil

            started = psutil.Process().create_time()
    STARTED[0] = started
