"""The ``sccg-edge`` command line: one typer app, one module per stage.

Each module under ``sccg_edge/cli/`` defines ``register(app)``, which adds its commands. Commands only parse
arguments, call one library function and print its result; heavy imports happen inside the command bodies so
that ``sccg-edge --help`` stays fast and imports no inference runtime.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import typer

from sccg_edge.errors import SccgError
from sccg_edge.utils.fs import os_error_line


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived during a command; every ``finally`` on the way up has cleaned its temporary output."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


app = typer.Typer(
    name="sccg-edge",
    help="Structure-constrained CycleGAN for brain MR<->CT: train, distill, quantize, export, bench, convert.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", help="Show third-party messages (export warnings, "
                                       "NNCF, runtime logs) on stderr instead of the log file (also accepted after "
                                       "the command).")) -> None:
    """Structure-constrained CycleGAN for brain MR<->CT: train, distill, quantize, export, bench, convert."""
    from sccg_edge.cli._common import VERBOSE

    VERBOSE[0] = verbose


def _register_all() -> None:
    from sccg_edge.cli import (
        bench,
        convert,
        cv,
        data,
        demo,
        distill,
        evaluate,
        export,
        metrics,
        quantize,
        review,
        train,
    )

    for module in (demo, data, metrics, train, cv, distill, evaluate, quantize, export, convert, bench, review):
        module.register(app)
    from sccg_edge.cli import serve

    serve.register(app)
    _divert_library_output(app)


def _divert_library_output(typer_app: typer.Typer) -> None:
    """Run every command body with stdout diverted to stderr; results are printed to the real stdout.

    Third-party libraries (NNCF's progress bars, exporters' messages) print to stdout; a ``--json`` result must be
    the only thing there.
    """
    import functools

    from sccg_edge.cli._common import diverted_stdout

    def wrap(func, quiet: bool):  # type: ignore[no-untyped-def]
        @functools.wraps(func)
        def run(*args, **kwargs):  # type: ignore[no-untyped-def]
            try:
                with diverted_stdout(quiet):
                    return func(*args, **kwargs)
            except KeyboardInterrupt:  # typer would turn it into a plain return value 130: keep it an interrupt
                raise Interrupted(signal.SIGINT) from None

        return run

    for info in typer_app.registered_commands:
        info.callback = wrap(info.callback, quiet=(info.name or info.callback.__name__) != "serve")
    for group in typer_app.registered_groups:
        _divert_library_output(group.typer_instance)


_register_all()


def _on_sigterm(signum: int, _frame: object) -> None:
    signal.signal(signum, signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up the first one started
    raise Interrupted(signum)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning user errors into one line on stderr and a non-zero exit code.

    SIGINT exits with 130 and SIGTERM with 143 (128 + the signal number), after the temporary and partial outputs
    were removed on the way out; an OS error (read-only or full disk, a path under a file) is one line and exit 2.
    """
    from sccg_edge.cli._common import mark_started

    mark_started(whole_process=argv is None)
    args = list(sys.argv[1:] if argv is None else argv)
    if "--verbose" in args[1:]:  # `sccg-edge quantize --int8 --verbose` means the root option
        args = ["--verbose"] + [a for a in args if a != "--verbose"]
    previous = _install_sigterm()
    try:
        rv = app(args=args, standalone_mode=False)
    except SccgError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except Interrupted as ex:
        name = signal.Signals(ex.signum).name
        print(f"error: interrupted by {name}; temporary and partial outputs were removed", file=sys.stderr)
        return 128 + ex.signum
    except KeyboardInterrupt:
        print("error: interrupted by SIGINT; temporary and partial outputs were removed", file=sys.stderr)
        return 130
    except typer.Exit as ex:  # raised by commands that stop early on purpose
        return ex.exit_code
    except OSError as err:  # the file is the one the OS named, else the command's output
        print(f"error: {os_error_line(err, _out_arg(args))}", file=sys.stderr)
        return 2
    except Exception as ex:
        # Usage errors (bad flag, missing argument) come from the click that typer bundles; recognise them by
        # their interface rather than importing a private module.
        if callable(getattr(ex, "show", None)) and isinstance(getattr(ex, "exit_code", None), int):
            ex.show()
            return ex.exit_code or 2
        if type(ex).__name__ == "Abort":
            print("error: aborted", file=sys.stderr)
            return 1
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if rv == 130:  # typer returns an interrupt outside a command body (while parsing) as the value 130
        print("error: interrupted by SIGINT", file=sys.stderr)
    return rv if isinstance(rv, int) and not isinstance(rv, bool) else 0


def _out_arg(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg.startswith("--out="):
            return arg.split("=", 1)[1]
        if arg in ("--out", "--dest") and i + 1 < len(argv):
            return argv[i + 1]
    return None


def _install_sigterm() -> Any:
    """Make SIGTERM unwind like Ctrl-C (so ``finally`` blocks clean up); returns the handler to restore."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _on_sigterm)


if __name__ == "__main__":
    sys.exit(main())
