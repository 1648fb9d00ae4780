"""Is a swapped face still its own person? The gate's de-identification measure, taken by swap before it writes.

A render follows the original face's landmarks, pose and expression, and the
head around it (hair, ears, outline) stays the frame's; on a small face that
is much of what dlib sees, so a swap can keep its person recognisable. The
gate would then reject the whole frame. Swap measures each swapped face as the
gate will (:mod:`facecast.models.recognition`: dlib's landmarks re-fitted in
the face's detection box of the rendered frame, its 128-D descriptor, the
distances to every original track's and donor's centroid) and obscures a face
that is within ``gate.deid.min_distance`` of its own person's centroid or
whose person is the nearest of them all (rank 1), with the reason
``not_deidentified``: the frame is published with that face obscured instead
of not at all. The frame is measured as the JPEG it will be written as
(:meth:`facecast.swap.clip_render.ClipSwapper._verify`), the pixels the gate
reads: a rank decided by a few hundredths would otherwise flip between the two. A track without a centroid (no face of it was embedded) is not
measured here; the gate decides.

What it measured of a face that stays swapped (the landmarks and the
descriptor, on the frame exactly as written) goes into ``swaps.parquet``
with the sha256 of the JPEG, so the gate need not measure the same pixels
again (``gate.reuse_swap_measures``).

dlib's descriptor network keeps state between calls, so the frames rendered in
parallel threads take turns (:data:`_LOCK`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from facecast.models.recognition import ReferenceGallery, descriptor, distances, refit
from facecast.reasons import SwapReason
from facecast.tables import Reason

_LOCK = threading.Lock()


@dataclass(frozen=True)
class Check:
    """One swapped face measured as the gate measures it: dlib's landmarks re-fitted in its box, their
    descriptor, and why the face is still its own person (None: it is not)."""

    landmarks: np.ndarray  # (68, 2) float64, frame px
    descriptor: np.ndarray  # (128,) float64
    problem: Reason | None


@dataclass(frozen=True)
class Verifier:
    """``gallery``: every original track and donor centroid; ``clip_id``: the clip whose tracks are checked."""

    gallery: ReferenceGallery
    clip_id: str
    min_distance: float

    def problem(self, image: np.ndarray, box: tuple[float, float, float, float], track_id: int) -> Reason | None:
        """Why the swapped face in ``box`` of the rendered RGB ``image`` is still its own person, or None."""
        check = self.check(image, box, track_id)
        return None if check is None else check.problem

    def check(self, image: np.ndarray, box: tuple[float, float, float, float], track_id: int) -> Check | None:
        """The face in ``box`` measured (:class:`Check`); None when its track has no centroid (the gate decides)
        or dlib's fit has no extent (the gate finds nothing to measure either)."""
        truth = self.gallery.track_index.get((self.clip_id, int(track_id)))
        if truth is None:
            return None
        with _LOCK:
            try:
                fitted = refit(image, box)
                query = descriptor(image, fitted)
            except ValueError:
                return None
        near = distances(query[None], self.gallery.embeddings)[0]
        own = float(near[truth])
        problem = None
        if own < self.min_distance:
            problem = Reason(
                SwapReason.NOT_DEIDENTIFIED,
                f"dlib distance {own:.3f} to its own person, under gate.deid.min_distance {self.min_distance:g}",
            )
        elif not (near < own).any():
            problem = Reason(
                SwapReason.NOT_DEIDENTIFIED,
                f"its own person is still the nearest of {len(near)} originals and donors (distance {own:.3f})",
            )
        return Check(np.asarray(fitted, np.float64), np.asarray(query, np.float64), problem)
