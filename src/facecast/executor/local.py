"""The local executor: a pool of this machine's fresh interpreters, and results collected in order with a progress bar.

Workers never outlive their stage. Each asks the kernel (Linux ``PR_SET_PDEATHSIG``) to
be killed when the stage process dies, however it dies (``kill -9`` included), and
ignores SIGINT: a Ctrl-C reaches the whole process group, and only the stage answers
it, by killing its workers at once rather than waiting for their tasks. When the
workers are gone, multiprocessing's resource tracker sees its pipe close and exits too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager

from tqdm import tqdm

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Have this process killed when ``parent`` (the stage) dies; exit now if it already has."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the stage died before the request was made
        os._exit(1)


def guard_worker(parent: int) -> None:
    """A worker's first step (a pool's ``initializer``, ``parent`` the stage's pid): die with the stage, leave
    Ctrl-C to it. The worker was started with SIGINT blocked (:class:`Pool`), so a Ctrl-C while it was starting
    waits, and is dropped here."""
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


class Pool(ProcessPoolExecutor):
    """A process pool whose workers start with SIGINT blocked, and whose spawning a Ctrl-C cannot cut short.

    A Ctrl-C that reaches a worker while its interpreter starts (before :func:`guard_worker` runs) would print
    a traceback of its own; one that interrupts the stage while it hands a new worker its task leaves the
    worker reading an empty pipe (another traceback). So the worker inherits a blocked SIGINT, and the stage
    holds its own Ctrl-C for the milliseconds of the spawn, then raises it."""

    def _spawn_process(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            super()._spawn_process()  # type: ignore[misc]
            return
        held: list[int] = []
        handler = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            super()._spawn_process()  # type: ignore[misc]
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            signal.signal(signal.SIGINT, handler)
        if held:
            raise KeyboardInterrupt


def _init_worker(parent: int) -> None:
    guard_worker(parent)
    import torch

    torch.set_num_threads(1)


def stop_now(pool: ProcessPoolExecutor) -> None:
    """Stop every worker of ``pool`` now (an interruption or a failure): queued and running tasks are abandoned."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.kill()
    for process in processes:
        process.join(timeout=5)
    try:
        pool.shutdown(wait=True, cancel_futures=True)
    except RuntimeError:  # interrupted while the pool was starting its manager thread: nothing to join
        pass


@contextmanager
def process_pool(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """A pool of ``workers`` fresh processes with one torch thread each (None for one worker).
    Processes start on the first task, so an unused pool costs nothing."""
    if workers <= 1:
        yield None
        return
    context = multiprocessing.get_context("spawn")
    pool = Pool(max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:
        stop_now(pool)
        raise
    pool.shutdown(wait=True)


def collect(futures: list[Future], desc: str, unit: str) -> list:
    """Results of ``futures`` in submission order, with a progress bar as they complete."""
    for future in tqdm(as_completed(futures), total=len(futures), desc=desc, unit=unit, disable=None):
        future.result()  # raise the first failure as soon as it happens
    return [f.result() for f in futures]
