"""``sccg-edge serve``: a DICOM node that turns incoming series into synthesized series.

A Storage SCP (:mod:`.scp`) writes every received instance, fsync'd, into a spool (:mod:`.spool`) before it answers
success; a series that has been idle for ``idle_timeout`` seconds after a normally released association is claimed
once and converted with :func:`sccg_edge.convert.convert_path` (:mod:`.worker`); the synthesized series is published
to an output folder and/or sent with C-STORE to a destination (:mod:`.forward`). Every step is recorded in the
spool, so a node killed at any moment resumes what was pending and never publishes or forwards a partial series.

Importing this package is cheap: pynetdicom is imported by :mod:`.scp` and :mod:`.forward` only.
"""

from __future__ import annotations

from sccg_edge.serve.config import ServeConfig, parse_forward
from sccg_edge.serve.node import Node

__all__ = ["Node", "ServeConfig", "parse_forward", "serve"]


def serve(cfg: ServeConfig) -> None:
    """Run a node until SIGTERM/SIGINT (the ``serve`` verb)."""
    Node(cfg).run_forever()
