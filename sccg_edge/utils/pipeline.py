"""Overlapping the stages of a stream: work read ahead on threads or processes, in order, with a bounded backlog.

NumPy and the inference runtimes spend most of their time outside the GIL, so threads let them overlap; the
DICOM pixel decoders (pylibjpeg) and pydicom's writer hold it, so decoding the next slices runs in forked processes
where that is safe (:func:`decoder_processes`), beside the model and the writer thread of the main process.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def _ready() -> None:
    """A task that makes a new process pool start its processes now."""


@contextmanager
def decoder_processes(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """A pool of ``workers`` processes forked now, for GIL-bound work such as DICOM decoding; None where forking is
    not safe or possible: ``workers`` 0, no 'fork' start method (Windows), or other threads already running in this
    process (a forked copy of a running server's locks could deadlock), where callers use threads instead.

    Fork before starting threads of your own; the pool is shut down, queued work cancelled, on leaving.
    """
    if workers <= 0 or "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        yield None
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
    try:
        pool.submit(_ready)  # the fork start method launches every process at the first submit: now, single-threaded
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def prefetch_map(fn: Callable[[T], R], items: Iterable[T], workers: int = 2, ahead: int = 8,
                 executor: Executor | None = None) -> Iterator[R]:
    """``map(fn, items)`` computed on ``workers`` threads (or on ``executor``, e.g. :func:`decoder_processes`, whose
    ``fn`` must pickle), at most ``ahead`` results ahead of the consumer, in order.

    ``workers`` 0 without an executor runs ``fn`` in the calling thread (no overlap). An exception of ``fn`` is
    raised where its result would have been yielded; the work still queued is cancelled.
    """
    if workers <= 0 and executor is None:
        yield from map(fn, items)
        return
    if executor is not None:
        yield from _ahead(executor, fn, items, ahead)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prefetch") as pool:
        yield from _ahead(pool, fn, items, ahead)


def _ahead(pool: Executor, fn: Callable[[T], R], items: Iterable[T], ahead: int) -> Iterator[R]:
    """Results of ``fn`` over ``items`` from ``pool``, in order, at most ``ahead`` submitted beyond the consumer."""
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= max(ahead, 1):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for fut in pending:
            fut.cancel()


class BackgroundTasks:
    """Run tasks on one background thread, at most ``backlog`` of them queued; :meth:`wait` re-raises the first error.

    One thread keeps the tasks' order and lets them share state (a header cache) without locks.
    """

    def __init__(self, backlog: int = 8, enabled: bool = True) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="writer") if enabled else None
        self._pending: deque[Future[Any]] = deque()
        self._backlog = max(backlog, 1)

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        if self._pool is None:
            fn(*args, **kwargs)
            return
        self._pending.append(self._pool.submit(fn, *args, **kwargs))
        while len(self._pending) > self._backlog:
            self._pending.popleft().result()

    def wait(self) -> None:
        """Wait for every queued task; the first failure is raised."""
        while self._pending:
            self._pending.popleft().result()

    def __enter__(self) -> BackgroundTasks:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self.wait()
        finally:
            for fut in self._pending:
                fut.cancel()
            if self._pool is not None:
                self._pool.shutdown(wait=True)
