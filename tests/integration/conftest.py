"""End-to-end tests: the CLI and whole stages on tiny synthetic data, seconds to tens of seconds each.

Every test here is marked ``integration``. They run by default (``./run.sh test``, which CI runs); a quick unit-only
run is ``./run.sh test tests/unit`` (a ``-m`` expression replaces the default one, so ``-m "not integration"`` must
keep ``and not slow and not gpu``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.integration)
