"""Work spread over processes: a pool of fresh interpreters, and results collected in order with a progress bar."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager

from tqdm import tqdm


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


@contextmanager
def process_pool(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """A pool of ``workers`` fresh processes with one torch thread each (None for one worker).
    Processes start on the first task, so an unused pool costs nothing."""
    if workers <= 1:
        yield None
        return
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # after a failure, do not wait for queued work


def collect(futures: list[Future], desc: str, unit: str) -> list:
    """Results of ``futures`` in submission order, with a progress bar as they complete."""
    for future in tqdm(as_completed(futures), total=len(futures), desc=desc, unit=unit, disable=None):
        future.result()  # raise the first failure as soon as it happens
    return [f.result() for f in futures]
