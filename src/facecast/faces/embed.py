"""dlib's 128-D face descriptors (ResNet, "dlib_face_recognition_resnet_model_v1").

A face is aligned by its 68-point shape into a 150x150 chip (``dlib.get_face_chips``,
padding 0.25: exactly what ``compute_face_descriptor(image, shape)`` does
inside, so the descriptors are identical), and chips go through the network
in batches. Two descriptors of the same person lie within a Euclidean distance
of about 0.6 (dlib's own threshold); descriptors are not normalised.

dlib holds the GIL and uses one core while it computes, so :class:`Embedder`
can hand the chips to a helper process (``background=True``): the tracker
goes on detecting and following faces on one core while descriptors are
computed on another. When the helper falls behind (``MAX_IN_FLIGHT`` batches
waiting), the caller computes the batch itself, so neither core idles. The
results are the same wherever they are computed.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Hashable, Sequence
from concurrent.futures import Future

import numpy as np

from facecast.executor import Pool, guard_worker, stop_now
from facecast.models.embedding import embed_chips, load_encoder

MAX_IN_FLIGHT = 2  # batches the helper may have waiting before the caller computes one itself


class Embedder:
    """Collects chips under keys and computes their descriptors, here or in a helper process.

    Use as a context manager; :meth:`results` waits for every descriptor submitted."""

    def __init__(self, background: bool = False):
        self._pool = (
            Pool(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=guard_worker,
                initargs=(os.getpid(),),
            )
            if background
            else None
        )
        self._flying: list[Future] = []
        if self._pool is not None:
            # start the helper and load the network while the caller begins
            self._flying.append(self._pool.submit(load_encoder))
        self._pending: list[tuple[list[Hashable], Future | np.ndarray]] = []

    def submit(self, keys: Sequence[Hashable], chips: Sequence[np.ndarray]) -> None:
        if not chips:
            return
        self._flying = [f for f in self._flying if not f.done()]
        if self._pool is not None and len(self._flying) < MAX_IN_FLIGHT:
            future = self._pool.submit(embed_chips, list(chips))
            self._flying.append(future)
            work: Future | np.ndarray = future
        else:
            work = embed_chips(chips)
        self._pending.append((list(keys), work))

    def results(self) -> dict[Hashable, np.ndarray]:
        out: dict[Hashable, np.ndarray] = {}
        for keys, work in self._pending:
            vectors = work.result() if isinstance(work, Future) else work
            out.update(zip(keys, vectors))
        self._pending = []
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Embedder:
        return self

    def __exit__(self, kind, *exc) -> None:
        if kind is not None and self._pool is not None:  # a failure or Ctrl-C: do not wait for the helper
            stop_now(self._pool)
            self._pool = None
        self.close()
