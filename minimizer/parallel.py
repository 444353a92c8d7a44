"""Chunks minimised on every core, in order, with a bounded number in flight.

The heavy steps release the GIL: H3 indexing (h3ronpy, Rust), Arrow casts and Parquet
reads and writes (C++). So threads use both cores without copying chunks between processes,
and reading the next chunk overlaps with minimising this one. At most ``2 × workers`` chunks
are in flight, so memory stays bounded.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

__all__ = ["default_workers", "ordered_map"]

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """``MINIMIZER_WORKERS`` if set, else the cores this process may use."""
    configured = os.environ.get("MINIMIZER_WORKERS")
    if configured:
        return max(1, int(configured))
    return max(1, len(os.sched_getaffinity(0)))


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[tuple[T, R]]:
    """``(item, fn(item))`` in input order, computed by up to ``workers`` threads."""
    if workers <= 1:
        for item in items:
            yield item, fn(item)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="minimise") as pool:
        pending: deque[tuple[T, Future[R]]] = deque()
        for item in items:
            pending.append((item, pool.submit(fn, item)))
            if len(pending) >= 2 * workers:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
