"""``sccg-edge serve`` flags: user errors print one ``error:`` line and exit 2; importing the CLI stays lean."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import pytest

from sccg_edge.cli import main


def _run(args: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(["serve", *args])
    return rc, err.getvalue()


@pytest.mark.parametrize(("extra", "message"), [
    ([], "give --out DIR and/or --forward"),
    (["--out", "OUT", "--forward", "pacs:104"], "is not HOST:PORT:AET"),
    (["--out", "OUT", "--forward", "pacs:99999:PACS"], "is not HOST:PORT:AET"),
    (["--out", "OUT", "--ae-title", "THIS_TITLE_IS_TOO_LONG"], "not a valid AE title"),
    (["--out", "OUT", "--allow", "A,B\\C"], "not a valid AE title"),
    (["--out", "OUT", "--direction", "mr2pet"], "unknown --direction"),
    (["--out", "SPOOL/out"], "lies inside the spool"),
])
def test_bad_flags_are_one_line_errors(tmp_path: Path, extra: list[str], message: str) -> None:
    direction = [] if "--direction" in extra else ["--direction", "mr2ct"]
    args = ["--model", "student-ps", *direction, "--spool", str(tmp_path / "spool"), *extra]
    args = [a.replace("SPOOL", str(tmp_path / "spool")).replace("OUT", str(tmp_path / "out")) for a in args]
    rc, err = _run(args)
    assert rc == 2 and err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1, err


def test_a_spool_serves_one_node_at_a_time(make_node, tmp_path: Path) -> None:
    node = make_node()
    rc, err = _run(["--model", str(node.cfg.model), "--direction", "mr2ct", "--spool", str(node.cfg.spool),
                    "--out", str(tmp_path / "out2"), "--port", "0"])
    assert rc == 2 and "another sccg-edge serve node is using this spool" in err


def test_cli_import_does_not_load_pynetdicom() -> None:
    code = "import sys\nimport sccg_edge.cli, sccg_edge.serve\nprint('pynetdicom' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert res.stdout.strip() == "False"


def test_a_port_in_use_is_a_one_line_error(make_node, tmp_path: Path) -> None:
    node = make_node()
    rc, err = _run(["--model", str(node.cfg.model), "--direction", "mr2ct", "--spool", str(tmp_path / "spool2"),
                    "--out", str(tmp_path / "out2"), "--host", "127.0.0.1", "--port", str(node.port)])
    assert rc == 2 and "cannot listen on 127.0.0.1:" in err and len(err.strip().splitlines()) == 1, err
