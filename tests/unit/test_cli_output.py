"""Third-party output while a command runs: in a log file by default, on stderr with ``--verbose``; the result stream
(stdout) never gets any of it; sccg-edge's own warnings always reach stderr."""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import pytest

from sccg_edge.cli import _common


def _chatter() -> None:
    print("Statistics collection 100%")  # what NNCF's progress bars print to stdout
    warnings.warn("Constant folding not applied", UserWarning, stacklevel=1)  # torch's ONNX exporter
    logging.getLogger().warning("Axis 1 is out-of-range")  # a third-party call on the root logger
    logging.getLogger("sccg_edge.data.default").warning("using the SYNTHETIC phantom")
    _common.result_stream().write("RESULT\n")


@pytest.mark.parametrize("verbose", [False, True])
def test_third_party_output_goes_to_the_log_unless_verbose(verbose: bool, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("SCCG_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_common, "VERBOSE", [verbose])
    before = list(logging.getLogger().handlers)
    with _common.diverted_stdout():
        _chatter()
    assert logging.getLogger().handlers == before  # the process's logging is as it was
    out, err = capsys.readouterr()
    assert out == "RESULT\n" and "using the SYNTHETIC phantom" in err
    third_party = ("Statistics collection", "Constant folding", "Axis 1 is out-of-range")
    logs = list((tmp_path / "logs").glob("*.log"))
    if verbose:
        assert all(t in err for t in third_party) and not logs
    else:
        assert not any(t in err for t in third_party) and len(logs) == 1
        text = logs[0].read_text()
        assert all(t in text for t in third_party) and "SYNTHETIC" not in text
        assert re.search(r"third-party messages: .*\.log; --verbose shows them", err)


def test_verbose_is_accepted_after_the_command(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from sccg_edge.cli import main

    assert main(["data", "phantom", "--out", str(tmp_path / "p"), "--patients", "1", "--size", "32",
                 "--verbose"]) == 0
    assert _common.VERBOSE[0] is True
    assert main(["data", "phantom", "--out", str(tmp_path / "q"), "--patients", "1", "--size", "32"]) == 0
    assert _common.VERBOSE[0] is False


@pytest.mark.parametrize(("flag", "value", "says"), [("--patients", "0", "'patients' must be"),
                                                      ("--patients", "1001", "'patients' must be"),
                                                      ("--size", "8", "'size' must be"), ("--size", "30", "'size'")])
def test_phantom_out_of_range_is_one_error_line(flag: str, value: str, says: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    from sccg_edge.cli import main

    assert main(["data", "phantom", "--out", str(tmp_path / "p"), flag, value]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("error:") and says in err[0], err
    assert not (tmp_path / "p").exists()
