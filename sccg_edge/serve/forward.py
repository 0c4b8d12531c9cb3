"""Send a synthesized series to the destination with C-STORE (pynetdicom as SCU), all instances in one association.

A send either succeeds for every instance or reports why not; the caller retries the whole series with back-off.
The same files (same SOP Instance UIDs) are sent again on a retry, so a destination that got part of a series
before a failure or a kill ends up with each instance once.
"""

from __future__ import annotations

from pathlib import Path

from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from sccg_edge.serve.config import Destination

_OK_CATEGORIES = ("Success", "Warning")


def send_series(dest: Destination, files: list[Path], calling_aet: str, timeout: float = 30.0) -> str | None:
    """C-STORE ``files`` to ``dest``; returns None on success, else a one-line reason (no patient data)."""
    from pynetdicom import AE
    from pynetdicom.status import code_to_category

    if not files:
        return "no files to send"
    ae = AE(ae_title=calling_aet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    ae.connection_timeout = timeout
    classes = sorted({str(dcmread(f, stop_before_pixels=True, specific_tags=["SOPClassUID"]).SOPClassUID)
                      for f in files})
    for sop_class in classes:
        ae.add_requested_context(sop_class, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    assoc = ae.associate(dest.host, dest.port, ae_title=dest.ae_title)
    if not assoc.is_established:
        if assoc.is_rejected:
            return f"{dest} rejected the association (is our AE title {calling_aet} known to it?)"
        return f"could not connect to {dest}, or it aborted the association"
    try:
        for path in files:
            status = assoc.send_c_store(dcmread(path))
            if "Status" not in status:
                return f"no C-STORE response for {path.name} (connection lost or timed out)"
            code = int(status.Status)
            if code_to_category(code) not in _OK_CATEGORIES:
                return f"destination answered 0x{code:04X} ({code_to_category(code)}) for {path.name}"
    except Exception as exc:  # noqa: BLE001 - any network failure is a failed attempt, retried later
        return f"sending failed: {type(exc).__name__}: {str(exc)[:120]}"
    finally:
        if assoc.is_established:
            assoc.release()
    return None
