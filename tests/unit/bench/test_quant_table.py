"""The quantization table's variant names and the CLI's refusal of unknown ones (the table itself is built in
tests/integration/test_quant_table.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sccg_edge.bench import parse_variant
from sccg_edge.cli import main
from sccg_edge.errors import ConfigError


def test_variant_names() -> None:
    assert parse_variant("ov-int8-budget@0.05") == ("ov-int8-budget", 0.05)
    assert parse_variant("qdq-int8") == ("qdq-int8", 0.0)
    for bad in ("ov-int4", "ov-int8-budget", "ov-int8@0.3", "ov-int8-budget@x", "ov-int8-budget@-1"):
        with pytest.raises(ConfigError):
            parse_variant(bad)


def test_cli_refuses_unknown_variant(tiny_generator: Path, tmp_path: Path, capsys) -> None:
    assert main(["quant-table", "--model", str(tiny_generator), "--out", str(tmp_path / "t"),
                 "--variants", "ov-int3"]) == 2
    assert "unknown variant" in capsys.readouterr().err
