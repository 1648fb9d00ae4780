"""The Ray executor: each task (one clip's work) runs on a worker of an existing Ray cluster.

``ray.init(address=...)`` joins the cluster a person started (``ray start --head`` on one machine, ``ray start
--address=<head>`` on the others). A task runs in the folder the stage runs in, so every node must see the project
at the same path (shared storage), with the same facecast installed. Ray keeps its worker processes between tasks,
so a model is loaded once per worker (:mod:`facecast.models.loaders` caches per process), not once per clip.

A task's own error (bad input found in a clip) comes back as the very exception the local pool would raise, so
the stage prints the same one line; a task Ray itself lost (a worker or node that died) is one line naming the
clip's function and Ray's reason.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from facecast.errors import InputError

log = logging.getLogger(__name__)

_THREADS_SET = False


def _run_there(cwd: str, fn: Callable, args: tuple) -> tuple[str, Any]:
    """What a Ray worker runs: ``fn(*args)`` in the stage's folder, with one torch thread (as a local worker);
    its error returned as a value, so that it reaches the stage as itself rather than wrapped by Ray."""
    global _THREADS_SET
    os.chdir(cwd)
    if not _THREADS_SET:
        import torch

        torch.set_num_threads(1)
        _THREADS_SET = True
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # noqa: BLE001 - handed back to the stage, which raises it
        try:
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001 - an exception that cannot travel: its message does
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        return ("error", exc)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("..." if len(text) > 300 else "")


class RayPool:
    """``submit(fn, *args)`` -> a :class:`concurrent.futures.Future`, as a process pool's; ``stop()`` cancels
    every task not yet finished."""

    def __init__(self, address: str, cpus_per_task: float):
        try:
            import ray
        except ImportError:
            raise InputError(
                "executor.kind is ray but the ray package is not installed: pip install 'facecast[ray]'"
            ) from None
        self._ray = ray
        if not ray.is_initialized():
            try:
                ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise InputError(
                    f"executor.address {address}: no Ray cluster could be joined ({_one_line(exc)})"
                ) from None
            log.info("joined the Ray cluster at %s: %s", address, ray.cluster_resources())
        self._task = ray.remote(num_cpus=cpus_per_task, max_retries=0)(_run_there)
        self._cwd = os.getcwd()
        self._refs: list = []

    def submit(self, fn: Callable, *args: Any) -> Future:
        ref = self._task.remote(self._cwd, fn, args)
        self._refs.append(ref)
        out: Future = Future()
        out.set_running_or_notify_cancel()
        name = getattr(fn, "__qualname__", repr(fn))

        def settle(done: Future) -> None:
            try:
                status, value = done.result()
            except BaseException as exc:  # noqa: BLE001 - Ray lost the task: say so in one line
                out.set_exception(InputError(f"Ray task {name} failed: {_one_line(exc)}"))
                return
            if status == "ok":
                out.set_result(value)
            else:
                out.set_exception(value)

        ref.future().add_done_callback(settle)
        return out

    def stop(self) -> None:
        for ref in self._refs:
            try:
                self._ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - already finished or gone
                pass
