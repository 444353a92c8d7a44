"""Chunks minimised on every core, in order, with a bounded number in flight.

H3 cells and keyed hashes are CPU-bound, so one process cannot use a second core. Worker
processes start lazily, only once a source turns out to have more than one chunk, so small
runs pay no start-up cost. At most ``2 × workers`` chunks are in flight, so memory stays bounded.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
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
    """``(item, fn(item))`` in input order; in worker processes once there is a second item."""
    iterator = iter(items)
    first = next(iterator, None)
    if first is None:
        return
    second = next(iterator, None)
    if second is None or workers <= 1:
        yield first, fn(first)
        if second is not None:
            yield second, fn(second)
            for item in iterator:
                yield item, fn(item)
        return
    # forkserver: the parent holds DuckDB/Arrow threads, which fork() would copy half-locked.
    context = multiprocessing.get_context("forkserver")
    # The server imports the heavy modules once; each worker is then a cheap fork of it.
    context.set_forkserver_preload(["minimizer.minimise"])
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: deque[tuple[T, Future[R]]] = deque()
        for item in _chain(first, second, iterator):
            pending.append((item, pool.submit(fn, item)))
            if len(pending) >= 2 * workers:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()


def _chain(first: T, second: T, rest: Iterator[T]) -> Iterator[T]:
    yield first
    yield second
    yield from rest
