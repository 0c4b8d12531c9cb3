"""CLI: ``convert`` (slices through a generator)."""

from __future__ import annotations

from pathlib import Path

import typer


def convert(
    model: str = typer.Option(..., help="Shipped model name (teacher, student-s, ...), model/run folder or file."),
    direction: str = typer.Option(..., help="mr2ct (synthetic CT) or ct2mr (synthetic MR)."),
    input: Path = typer.Option(..., "--input", help="Folder of PNG slices."),
    out: Path = typer.Option(..., help="New output folder (refused if it exists)."),
) -> None:
    """Translate a folder of slices with a generator; outputs keep the input file names."""
    from sccg_edge.cli._common import print_json
    from sccg_edge.convert import convert_png_folder

    print_json(convert_png_folder(model, direction, input, out))


def register(app: typer.Typer) -> None:
    """Add ``convert``."""
    app.command("convert")(convert)
