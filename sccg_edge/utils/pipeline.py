"""Overlapping the stages of a stream: work read ahead on threads, in order, with a bounded backlog.

NumPy, the DICOM pixel decoders and the inference runtimes spend most of their time outside the GIL, so a few
threads let decoding the next slices, running the model and writing the last ones proceed at the same time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def prefetch_map(fn: Callable[[T], R], items: Iterable[T], workers: int = 2, ahead: int = 8) -> Iterator[R]:
    """``map(fn, items)`` computed on ``workers`` threads, at most ``ahead`` results ahead of the consumer, in order.

    ``workers`` 0 runs ``fn`` in the calling thread (no overlap). An exception of ``fn`` is raised where its result
    would have been yielded; the work still queued is cancelled.
    """
    if workers <= 0:
        yield from map(fn, items)
        return
    pending: deque[Future[R]] = deque()
    it = iter(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prefetch") as pool:
        try:
            for item in it:
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
