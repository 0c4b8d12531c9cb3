"""User-facing errors.

Every error a user can cause (a bad file, a wrong flag, a missing optional package) is raised as a
:class:`SccgError` whose message names the file and says what to do. The CLI prints it as one line and
exits non-zero; library callers can catch it. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class SccgError(Exception):
    """An error caused by the user's input or environment, with a message that says how to fix it."""

    exit_code = 2

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)


class InputError(SccgError):
    """A file or folder given by the user cannot be used (unreadable, wrong kind, inconsistent)."""


class ConfigError(SccgError):
    """A recipe, flag or override has an unknown key or a wrong type."""


class MissingDependencyError(SccgError):
    """An optional package is not installed; the message names the extra that provides it."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(f"{purpose} needs the package '{package}', which is not installed. "
                         f"Install it with: pip install 'sccg-edge[{extra}]'")
        self.package = package
        self.extra = extra
