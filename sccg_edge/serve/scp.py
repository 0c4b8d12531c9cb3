"""The Storage SCP (pynetdicom): Verification, and C-STORE of the direction's image class into the spool.

Every storage SOP class is accepted at association, so that an object the node cannot use is answered with a
C-STORE failure status that says why (0x0122 SOP class not supported) instead of a silent context rejection.
Uncompressed transfer syntaxes are preferred; the common compressed ones are accepted too, and an instance whose
pixels no installed decoder can read is answered 0xC100 (see :mod:`sccg_edge.serve.checks`).

An instance is answered "success" only after it was written and fsync'd in the spool. Calling AE titles can be
limited to a list (others are rejected at association), and the called AE title must be the node's.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any

from pydicom import uid as _uid
from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.pdu_primitives import A_RELEASE
from pynetdicom.presentation import StoragePresentationContexts
from pynetdicom.sop_class import Verification

from sccg_edge.serve import checks
from sccg_edge.serve.config import ServeConfig
from sccg_edge.serve.spool import Spool, Stored
from sccg_edge.serve.status import Stats

log = logging.getLogger("sccg_edge.serve")

TRANSFER_SYNTAXES = [
    _uid.ExplicitVRLittleEndian, _uid.ImplicitVRLittleEndian, _uid.DeflatedExplicitVRLittleEndian,
    _uid.ExplicitVRBigEndian, _uid.JPEGLosslessSV1, _uid.JPEGLossless, _uid.JPEGLSLossless, _uid.JPEG2000Lossless,
    _uid.RLELossless, _uid.HTJ2KLossless, _uid.JPEGBaseline8Bit, _uid.JPEGExtended12Bit, _uid.JPEGLSNearLossless,
    _uid.JPEG2000, _uid.HTJ2K,
]


class StorageSCP:
    """pynetdicom handlers bound to a spool; ``open_associations()`` tells the scheduler who is still sending."""

    def __init__(self, cfg: ServeConfig, spool: Spool, stats: Stats) -> None:
        self.cfg, self.spool, self.stats = cfg, spool, stats
        self._ids = itertools.count(1)
        self._boot = f"{int(time.time()):x}"
        self._lock = threading.Lock()
        self._assocs: dict[int, tuple[Any, str, dict[str, bool]]] = {}  # id(assoc) -> (assoc, our id, flags)
        self.server: Any = None

    # ------------------------------------------------------------------------------------------------ lifecycle

    def start(self) -> int:
        """Listen (non-blocking); returns the bound port."""
        ae = AE(ae_title=self.cfg.ae_title)
        ae.require_called_aet = True
        ae.require_calling_aet = list(self.cfg.allow)
        ae.maximum_associations = self.cfg.max_associations
        ae.acse_timeout, ae.dimse_timeout, ae.network_timeout = 30, 60, 120
        for cx in StoragePresentationContexts:
            ae.add_supported_context(cx.abstract_syntax, TRANSFER_SYNTAXES)
        ae.add_supported_context(Verification)
        handlers = [(evt.EVT_C_STORE, self.on_store), (evt.EVT_C_ECHO, self.on_echo),
                    (evt.EVT_ESTABLISHED, self.on_established), (evt.EVT_RELEASED, self.on_released),
                    (evt.EVT_ABORTED, self.on_aborted), (evt.EVT_REJECTED, self.on_rejected),
                    (evt.EVT_ACSE_RECV, self.on_acse_recv)]
        self.server = ae.start_server((self.cfg.host, self.cfg.port), block=False, evt_handlers=handlers)
        return int(self.server.server_address[1])

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
        self.reap(everything=True)

    def open_associations(self) -> set[str]:
        """Ids of associations still running (after ending those whose thread has finished)."""
        self.reap()
        with self._lock:
            return {ours for _, ours, _ in self._assocs.values()}

    def reap(self, everything: bool = False) -> None:
        """Tell the spool about associations that ended: released normally, or not (aborted, dropped, killed)."""
        with self._lock:
            ended = [k for k, (a, _, _) in self._assocs.items() if everything or not a.is_alive()]
            gone = [self._assocs.pop(k) for k in ended]
        for _, ours, flags in gone:
            released = flags.get("released", False) and not flags.get("aborted", False)
            if not released:
                self.stats.add("associations_aborted")
            self.spool.association_ended(ours, released)

    def _ours(self, assoc: Any) -> str:
        with self._lock:
            entry = self._assocs.get(id(assoc))
            if entry is None:
                entry = (assoc, f"{self._boot}-{next(self._ids)}", {})
                self._assocs[id(assoc)] = entry
            return entry[1]

    # ------------------------------------------------------------------------------------------------ events

    def on_established(self, event: Any) -> None:
        ours = self._ours(event.assoc)
        self.stats.add("associations_accepted")
        log.info("association %s from %s (%s) accepted", ours, event.assoc.requestor.ae_title,
                 event.assoc.requestor.address)

    def on_acse_recv(self, event: Any) -> None:
        """A release request: record it before pynetdicom answers it, so a sender whose release was confirmed
        never meets a node that restarts thinking the association was cut short."""
        primitive = event.primitive
        if isinstance(primitive, A_RELEASE) and primitive.result is None:
            self._flag(event.assoc, "released")
            self.spool.association_ended(self._ours(event.assoc), released=True)

    def on_released(self, event: Any) -> None:
        self._flag(event.assoc, "released")

    def on_aborted(self, event: Any) -> None:
        self._flag(event.assoc, "aborted")

    def _flag(self, assoc: Any, name: str) -> None:
        self._ours(assoc)
        with self._lock:
            self._assocs[id(assoc)][2][name] = True

    def on_rejected(self, event: Any) -> None:
        self.stats.add("associations_rejected")
        log.warning("association from %s (%s) rejected: calling AE title not allowed or called AE title not %s",
                    event.assoc.requestor.ae_title, event.assoc.requestor.address, self.cfg.ae_title)

    def on_echo(self, event: Any) -> int:
        self.stats.add("echoes")
        return checks.SUCCESS

    def on_store(self, event: Any) -> Dataset | int:
        """Check, store durably, then answer; never raises (a bug answers 0x0110 and the node keeps serving)."""
        sop = str(event.request.AffectedSOPInstanceUID or "")
        try:
            status, reason = self._store(event, sop)
        except Exception:
            log.exception("C-STORE of instance %s failed unexpectedly", sop if checks.valid_uid(sop) else "?")
            status, reason = checks.PROCESSING_FAILURE, "processing failure in the node"
        if status == checks.SUCCESS:
            return status
        self.stats.refused(status, reason)
        log.warning("instance %s refused with 0x%04X: %s", sop if checks.valid_uid(sop) else "?", status, reason)
        rsp = Dataset()
        rsp.Status = status
        rsp.ErrorComment = reason[:64]
        return rsp

    def _store(self, event: Any, sop: str) -> tuple[int, str]:
        data = event.encoded_dataset()
        verdict = checks.check_instance(data, str(event.context.abstract_syntax), sop, self.cfg.direction)
        if not verdict.ok:
            if verdict.taints and verdict.series_uid:
                self.spool.taint(verdict.series_uid, f"instance {sop}: {verdict.reason}")
            return verdict.status, verdict.reason
        result, reason = self.spool.store(verdict.series_uid, sop, data, self._ours(event.assoc), verdict.geometry)
        if result is Stored.NO_SPACE:
            return checks.OUT_OF_RESOURCES, reason
        if result is Stored.INCONSISTENT:
            return checks.INCONSISTENT_GEOMETRY, reason
        self.stats.add({Stored.STORED: "instances_received", Stored.DUPLICATE: "instances_duplicate",
                        Stored.LATE: "instances_late"}[result])
        if result is Stored.LATE:
            log.warning("instance %s of closed series %s kept in quarantine: %s", sop, verdict.series_uid, reason)
        return checks.SUCCESS, ""
