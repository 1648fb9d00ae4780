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
class Verifier:
    """``gallery``: every original track and donor centroid; ``clip_id``: the clip whose tracks are checked."""

    gallery: ReferenceGallery
    clip_id: str
    min_distance: float

    def problem(self, image: np.ndarray, box: tuple[float, float, float, float], track_id: int) -> Reason | None:
        """Why the swapped face in ``box`` of the rendered RGB ``image`` is still its own person, or None."""
        truth = self.gallery.track_index.get((self.clip_id, int(track_id)))
        if truth is None:
            return None
        with _LOCK:
            try:
                query = descriptor(image, refit(image, box))
            except ValueError:  # the fitted points have no extent: the gate finds nothing to measure either
                return None
        near = distances(query[None], self.gallery.embeddings)[0]
        own = float(near[truth])
        if own < self.min_distance:
            return Reason(
                SwapReason.NOT_DEIDENTIFIED,
                f"dlib distance {own:.3f} to its own person, under gate.deid.min_distance {self.min_distance:g}",
            )
        if not (near < own).any():
            return Reason(
                SwapReason.NOT_DEIDENTIFIED,
                f"its own person is still the nearest of {len(near)} originals and donors (distance {own:.3f})",
            )
        return None
