"""CLI: ``serve`` (a DICOM node: MR/CT series in over C-STORE, synthesized series out)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def serve(
    model: Annotated[str, typer.Option(help="Any model convert accepts: shipped name (student-ps, ...), model "
                                            "folder, .safetensors, .onnx, OpenVINO .xml.")],
    direction: Annotated[str, typer.Option(help="mr2ct (MR in, synthetic CT out) or ct2mr.")],
    ae_title: Annotated[str, typer.Option("--ae-title", help="This node's AE title (callers must call it).")]
    = "SCCG",
    port: Annotated[int, typer.Option(help="TCP port to listen on (0 = any free port; see status.json).")] = 11112,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",
    forward: Annotated[str | None, typer.Option(help="Send each synthesized series to HOST:PORT:AET with "
                                                     "C-STORE.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write each synthesized series to OUT/<SeriesInstanceUID>/.")]
    = None,
    spool: Annotated[Path | None, typer.Option(help="Durable working folder (default: "
                                                    "~/.local/state/sccg-edge/spool/<AET>).")] = None,
    workers: Annotated[int, typer.Option(help="Conversion threads.")] = 1,
    threads: Annotated[int, typer.Option(help="Inference threads per conversion (0 = the runtime's default).")]
    = 0,
    backend: Annotated[str | None, typer.Option(help="Inference backend for a model spec (default: torch; "
                                                     "implied by an artifact's suffix).")] = None,
    size: Annotated[int | None, typer.Option(help="Slice size to run the model at (default: the model's own).")]
    = None,
    allow: Annotated[str | None, typer.Option(help="Comma-separated calling AE titles allowed (default: any).")]
    = None,
    idle_timeout: Annotated[float, typer.Option(help="Seconds without a new instance after which a series is "
                                                     "complete.")] = 10.0,
    incomplete_timeout: Annotated[float, typer.Option(help="Seconds a series held after an aborted association "
                                                           "or a refusal waits for a re-send before "
                                                           "quarantine.")] = 21600.0,
    max_spool_bytes: Annotated[int | None, typer.Option(help="Refuse instances (status 0xA700, out of "
                                                             "resources) once the spool holds this many "
                                                             "bytes.")] = None,
    forward_retries: Annotated[int, typer.Option(help="Quick forward attempts, back-off 1, 2, 4 ... s.")] = 5,
    forward_park: Annotated[float, typer.Option(help="After the quick attempts, retry a waiting series this "
                                                     "often (seconds).")] = 300.0,
    remember_days: Annotated[float, typer.Option(help="Days a converted series is remembered: its re-sent "
                                                      "instances are recognised, new ones quarantined.")] = 7.0,
    http_port: Annotated[int | None, typer.Option(help="Serve GET /status (JSON) and /metrics on this port "
                                                       "(127.0.0.1 unless --http-host).")] = None,
    http_host: Annotated[str, typer.Option(help="Address of the HTTP status endpoint.")] = "127.0.0.1",
    quiet: Annotated[bool, typer.Option("--quiet", help="Log warnings and errors only.")] = False,
) -> None:
    """Run a DICOM Storage SCP that converts each received series and publishes and/or forwards the result."""
    import logging

    from sccg_edge.serve import ServeConfig
    from sccg_edge.serve import serve as run
    from sccg_edge.serve.config import default_spool, parse_allow, parse_forward

    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = ServeConfig(model=model, direction=direction, spool=spool or default_spool(ae_title), ae_title=ae_title,
                      host=host, port=port, out=out, forward=parse_forward(forward), allow=parse_allow(allow),
                      workers=workers, threads=threads, backend=backend, size=size, idle_timeout=idle_timeout,
                      incomplete_timeout=incomplete_timeout, max_spool_bytes=max_spool_bytes,
                      forward_retries=forward_retries, forward_park=forward_park, remember=remember_days * 86400.0,
                      http=(http_host, http_port) if http_port is not None else None)
    run(cfg)


def register(app: typer.Typer) -> None:
    """Add ``serve``."""
    app.command("serve")(serve)
