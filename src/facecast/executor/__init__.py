"""Where per-clip work runs: one interface over this machine's process pool (:mod:`.local`) and a Ray cluster
(:mod:`.cluster`), chosen by params.yaml's ``executor`` section.

A stage hands :func:`run_all` a function and one argument tuple per clip (or donor folder); it gets the results
back in the order it gave them, whichever executor ran them, so the tables it writes are byte-identical.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from tqdm import tqdm

from facecast.executor.local import Pool, collect, guard_worker, process_pool, stop_now
from facecast.params import ExecutorParams

__all__ = ["Pool", "Submitter", "collect", "guard_worker", "pool", "process_pool", "run_all", "stop_now"]


class Submitter(Protocol):
    def submit(self, fn: Callable, /, *args: Any) -> Any: ...


@contextmanager
def pool(settings: ExecutorParams | None, workers: int) -> Iterator[Submitter | None]:
    """Something to ``submit(fn, *args)`` to: with the local executor a pool of ``workers`` processes (None for
    one worker: run here), with Ray the cluster (whose size decides; ``workers`` is not read). Tasks still
    running when the block fails or is interrupted are stopped."""
    settings = settings or ExecutorParams()
    if settings.kind == "local":
        with process_pool(workers) as local:
            yield local
        return
    from facecast.executor.cluster import RayPool

    assert settings.address is not None  # ExecutorParams requires it with kind ray
    cluster = RayPool(settings.address, settings.cpus_per_task)
    try:
        yield cluster
    except BaseException:
        cluster.stop()
        raise


def run_all(
    settings: ExecutorParams | None, workers: int, fn: Callable, items: Sequence[tuple], desc: str, unit: str
) -> list:
    """``fn(*item)`` for every item, results in the order of ``items``: here, in this process, when the local
    executor has one worker or one item to do, else on the executor."""
    settings = settings or ExecutorParams()
    if settings.kind == "local" and min(workers, len(items)) <= 1:
        return [fn(*item) for item in tqdm(items, desc=desc, unit=unit, disable=None)]
    with pool(settings, min(workers, len(items))) as submitter:
        assert submitter is not None
        return collect([submitter.submit(fn, *item) for item in items], desc, unit)
