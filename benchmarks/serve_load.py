"""Load benchmark of ``sccg-edge serve``: N series sent by concurrent dcmtk ``storescu`` associations.

Usage (from the repository root, in the environment of ``./run.sh``)::

    python benchmarks/serve_load.py --series 20 --concurrency 4 --model student-ps \\
        --out benchmarks/results/<date>_serve

The node runs as ``sccg-edge serve`` in a child process and forwards every synthesized series to dcmtk's
``storescp``. Each input series is a copy of the shared porcine T2 MR series with new UIDs (``--source``; default
``../shared/data/porcine-head-t2-dicom``) or, without it, one synthetic phantom patient's MR series. Measured:
series per minute (first instance sent -> last series forwarded) and, per series, the latency from its last
received instance to its forwarded series (with and without the idle timeout that closes a series). Checked: every
input series comes back as exactly one series at the destination, with the input's slice count and geometry, and
``dciodvfy`` reports no errors on a sample. Writes results.json and report.md; exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from sccg_edge.serve.dcmtk import find_dcmtk

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SCCG_SHARED_DATA", REPO.parent / "shared" / "data"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(cond: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")


def make_inputs(source: Path | None, n: int, work: Path, size: int, slices: int) -> list[Path]:
    """N series folders: copies of ``source`` with fresh UIDs, or N phantom MR series."""
    import pydicom
    from pydicom.uid import generate_uid

    from sccg_edge.data.dicom import scan_series
    from sccg_edge.data.phantom import write_phantom_dataset

    if source is None:
        write_phantom_dataset(work / "phantom", patients=n, size=size, slices=slices)
        return [work / "phantom" / f"p{k:03d}" / "mr" for k in range(n)]
    files = scan_series(source).files
    folders = []
    for k in range(n):
        folder = work / "in" / f"s{k:03d}"
        folder.mkdir(parents=True)
        series = generate_uid()
        for i, path in enumerate(files):
            ds = pydicom.dcmread(path)
            ds.SeriesInstanceUID, ds.SOPInstanceUID = series, generate_uid()
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.save_as(folder / f"{i:04d}.dcm", enforce_file_format=True)
        folders.append(folder)
    return folders


def _storescu(port: int, folder: Path) -> dict[str, Any]:
    start = time.time()
    res = subprocess.run([str(find_dcmtk("storescu")), "-aet", "LOADSCU", "-aec", "SCCG", "127.0.0.1", str(port),
                          *map(str, sorted(folder.glob("*.dcm")))], capture_output=True, text=True, check=False)
    return {"folder": str(folder), "rc": res.returncode, "start": start, "end": time.time(),
            "stderr": res.stderr[-300:]}


def _dciodvfy_errors(path: Path) -> int:
    exe = shutil.which("dciodvfy") or str(Path(sys.executable).parent / "dciodvfy")
    res = subprocess.run([exe, str(path)], capture_output=True, text=True, check=False)
    return sum(line.startswith("Error") for line in (res.stdout + res.stderr).splitlines())


def check_outputs(inputs: list[Path], dest: Path, records: list[dict[str, Any]], sample: int) -> dict[str, Any]:
    """Exactly one output series per input, with its slice count and geometry; dciodvfy on a sample."""
    import pydicom

    from sccg_edge.data.dicom import scan_series

    received: dict[str, list[Path]] = {}
    for path in sorted(p for p in dest.iterdir() if p.is_file()):
        uid = str(pydicom.dcmread(path, stop_before_pixels=True).SeriesInstanceUID)
        received.setdefault(uid, []).append(path)
    by_input = {r["input_series_uid"]: r for r in records}
    problems, geometry_err, dciodvfy = [], 0.0, {"files": 0, "errors": 0}
    for k, folder in enumerate(inputs):
        src = scan_series(folder)
        rec = by_input.get(src.series_uid)
        files = received.get(rec["output_series_uid"], []) if rec else []
        if rec is None or len(files) != src.shape[0]:
            problems.append(f"{src.series_uid}: {len(files)} instance(s) at the destination, {src.shape[0]} sent")
            continue
        got = scan_series(files)
        geometry_err = max(geometry_err, float(np.abs(got.positions - src.positions).max()),
                           float(np.abs(np.subtract(got.spacing, src.spacing)).max()),
                           float(np.abs(np.subtract(got.orientation, src.orientation)).max()))
        if got.shape != src.shape:
            problems.append(f"{src.series_uid}: shape {got.shape} != {src.shape}")
        if k < sample:
            for path in (got.files[0], got.files[len(got.files) // 2]):
                dciodvfy["files"] += 1
                dciodvfy["errors"] += _dciodvfy_errors(path)
    if len(received) != len(inputs):
        problems.append(f"{len(received)} series at the destination for {len(inputs)} sent")
    if geometry_err > 1e-3:
        problems.append(f"geometry differs from the input by up to {geometry_err:g} mm")
    if dciodvfy["errors"]:
        problems.append(f"dciodvfy: {dciodvfy['errors']} error(s) on the sample")
    return {"series_at_destination": len(received), "max_geometry_diff": geometry_err, "dciodvfy_sample": dciodvfy,
            "problems": problems, "ok": not problems}


def _stats(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=float)
    return {"p50": round(float(np.median(arr)), 2), "p95": round(float(np.percentile(arr, 95)), 2),
            "max": round(float(arr.max()), 2), "mean": round(float(arr.mean()), 2)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from sccg_edge.bench.machine import machine_info

    out = Path(args.out)
    work = out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    source = None if args.source == "phantom" else Path(args.source)
    if source is not None and not source.is_dir():
        print(f"[serve_load] {source} is absent: using the synthetic phantom", file=sys.stderr)
        source = None
    inputs = make_inputs(source, args.series + args.single, work, args.phantom_size, args.phantom_slices)
    load, single = inputs[:args.series], inputs[args.series:]
    dest_port, dest = _free_port(), work / "dest"
    dest.mkdir()
    storescp = subprocess.Popen([str(find_dcmtk("storescp")), "-aet", "DEST", "-od", str(dest), str(dest_port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    spool = work / "spool"
    node_cmd = [sys.executable, "-m", "sccg_edge", "serve", "--model", args.model, "--direction", "mr2ct",
                "--port", "0", "--host", "127.0.0.1", "--spool", str(spool), "--forward",
                f"127.0.0.1:{dest_port}:DEST", "--workers", str(args.workers), "--threads", str(args.threads),
                "--idle-timeout", str(args.idle_timeout)]
    log = (work / "node.log").open("wb")
    node = subprocess.Popen(node_cmd, stdout=subprocess.DEVNULL, stderr=log, cwd=REPO)
    load_before = os.getloadavg()
    try:
        status = _wait(lambda: _status(spool, node.pid), 300, "the node to listen")
        port = int(status["node"]["port"])
        t0 = time.time()
        with ThreadPoolExecutor(args.concurrency) as pool:
            sends = list(pool.map(lambda f: _storescu(port, f), load))
        records = _wait(lambda: _done(spool, len(load)), args.timeout, "every series to be forwarded")
        for k, folder in enumerate(single):  # then one at a time: the latency without a queue
            sends.append(_storescu(port, folder))
            _wait(lambda k=k: _done(spool, len(load) + k + 1), args.timeout, "the single series to be forwarded")
        records = _done(spool, len(inputs)) or []
    finally:
        node.send_signal(signal.SIGTERM)
        node.wait(60)
        storescp.terminate()
        storescp.wait(10)
        log.close()
    final_status = json.loads((spool / "status.json").read_text())  # written by the node as it stopped
    checks = check_outputs(inputs, dest, records, args.dciodvfy_sample)
    if any(s["rc"] != 0 for s in sends):
        checks["problems"].append("a storescu run failed")
        checks["ok"] = False
    load_uids = {_series_uid(f) for f in load}
    loaded = [r for r in records if r["input_series_uid"] in load_uids]
    alone = [r["forwarded_at"] - r["last_received"] for r in records if r["input_series_uid"] not in load_uids]
    t_last = max(r["forwarded_at"] for r in loaded)
    latency = [r["forwarded_at"] - r["last_received"] for r in loaded]
    result = {
        "command": " ".join(["python", "benchmarks/serve_load.py", *sys.argv[1:]]),
        "node_command": " ".join(["sccg-edge", *node_cmd[3:]]).replace(str(work), "<work>"),
        "date": date.today().isoformat(), "machine": machine_info(threads=args.threads),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "source": str(source).replace(str(REPO.parent), "..") if source else
        f"phantom {args.phantom_size}px x {args.phantom_slices}",
        "series": len(load), "single_series": len(single), "slices_per_series": len(list(inputs[0].glob("*.dcm"))),
        "concurrency": args.concurrency, "model": args.model, "workers": args.workers, "threads": args.threads,
        "idle_timeout_s": args.idle_timeout,
        "wall_s": round(t_last - t0, 1), "series_per_min": round(len(load) / (t_last - t0) * 60, 2),
        "all_received_within_s": round(max(r["last_received"] for r in loaded) - t0, 1),
        "send_s": _stats([s["end"] - s["start"] for s in sends]),
        "latency_last_instance_to_forwarded_s": _stats(latency),
        "latency_minus_idle_timeout_s": _stats([v - args.idle_timeout for v in latency]),
        "latency_single_series_s": _stats(alone) if alone else None,
        "convert_s_per_series": _stats([r["convert_s"] for r in records]),
        "node_counters": final_status.get("counters", {}), "checks": checks,
    }
    (out / "results.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "report.md").write_text(_report(result))
    if not args.keep_work:
        shutil.rmtree(work, ignore_errors=True)
    return result


def _series_uid(folder: Path) -> str:
    import pydicom

    path = min(folder.glob("*.dcm"))
    return str(pydicom.dcmread(path, stop_before_pixels=True).SeriesInstanceUID)


def _status(spool: Path, pid: int) -> dict[str, Any] | None:
    try:
        status = json.loads((spool / "status.json").read_text())
    except (OSError, ValueError):
        return None
    return status if status["node"]["pid"] == pid and status["node"].get("running") else None


def _done(spool: Path, n: int) -> list[dict[str, Any]] | None:
    records = [json.loads(p.read_text()) for p in (spool / "done").glob("*.json")]
    return records if len(records) >= n else None


def _report(r: dict[str, Any]) -> str:
    m, checks = r["machine"], r["checks"]
    lat, net, conv = r["latency_last_instance_to_forwarded_s"], r["latency_minus_idle_timeout_s"], \
        r["convert_s_per_series"]
    verdict = "all passed" if checks["ok"] else "FAILED: " + "; ".join(checks["problems"])
    machine = (f"Machine: {m['cpu_model']}, {m['usable_cores']} usable cores, Python {m['python']}, torch "
               f"{m['versions'].get('torch')}; load average before/after {r['load_average_before'][0]} / "
               f"{r['load_average_after'][0]} (the machine was shared with other jobs).")
    inputs = (f"Input: {r['series']} series of {r['slices_per_series']} slices ({r['source']}), sent by "
              f"{r['concurrency']} concurrent dcmtk storescu associations; node model {r['model']}, "
              f"{r['workers']} worker(s) x {r['threads']} thread(s), idle timeout {r['idle_timeout_s']} s; "
              "destination dcmtk storescp.")
    sent = r["series"] + r.get("single_series", 0)
    checked = (f"Checks: {checks['series_at_destination']} series at the destination for {sent} sent; "
               f"geometry within {checks['max_geometry_diff']:g} mm of the input; dciodvfy errors on "
               f"{checks['dciodvfy_sample']['files']} sampled files: {checks['dciodvfy_sample']['errors']}; {verdict}.")
    queue = (f"Every series was received within {r['all_received_within_s']} s of the first instance sent, so the "
             "series queue for the conversion workers: a series' latency is about its place in the queue times the "
             "conversion time per series, which is what limits the rate (about 60 / conversion time x workers "
             "series per minute). Without a queue the latency is the idle timeout plus one conversion and the "
             "forward.")
    rows = [
        ("series per minute (first instance sent -> last series forwarded)", r["series_per_min"]),
        ("wall time, s", r["wall_s"]),
        ("latency, last instance received -> series forwarded, s (p50 / p95 / max)",
         f"{lat['p50']} / {lat['p95']} / {lat['max']}"),
        (f"the same minus the {r['idle_timeout_s']} s idle timeout, s (p50 / p95 / max)",
         f"{net['p50']} / {net['p95']} / {net['max']}"),
        ("conversion per series, s (p50 / p95)", f"{conv['p50']} / {conv['p95']}"),
    ]
    if r.get("latency_single_series_s"):
        one = r["latency_single_series_s"]
        name = f"latency of {r['single_series']} series sent one at a time afterwards (no queue), s (p50 / max)"
        rows.append((name, f"{one['p50']} / {one['max']}"))
    lines = [f"# sccg-edge serve under load ({r['date']})", "", f"Command: `{r['command']}`", "",
             f"Node: `{r['node_command']}`", "", machine, "", inputs, "", "| measure | value |", "| --- | --- |",
             *[f"| {name} | {value} |" for name, value in rows], "", checked, "", queue, ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent storescu associations")
    parser.add_argument("--single", type=int, default=3, help="series sent one at a time after the load")
    parser.add_argument("--model", default="student-ps")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--idle-timeout", type=float, default=2.0)
    parser.add_argument("--source", default=str(SHARED / "porcine-head-t2-dicom"),
                        help="series folder to copy, or 'phantom'")
    parser.add_argument("--phantom-size", type=int, default=128)
    parser.add_argument("--phantom-slices", type=int, default=16)
    parser.add_argument("--dciodvfy-sample", type=int, default=3, help="series whose first and middle file are "
                                                                       "checked with dciodvfy")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--keep-work", action="store_true")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / f"{date.today().isoformat()}_serve"))
    args = parser.parse_args(argv)
    for tool in ("storescu", "storescp"):
        if find_dcmtk(tool) is None:
            print(f"error: {tool}: dcmtk is needed (apt-get install dcmtk)", file=sys.stderr)
            return 2
    result = run(args)
    print(json.dumps({k: result[k] for k in ("series_per_min", "latency_last_instance_to_forwarded_s", "checks")},
                     indent=1))
    return 0 if result["checks"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
