"""Shape transfer: the identity's face shape, performing the frame's expression, in the frame's head pose.

Pasting an identity's texture onto the original landmarks keeps the original
person's face shape (jaw, eye spacing, nose length, mouth width), and that
shape alone is enough to recognise them. So each track's landmarks are split
into three parts:

* **pose**: per frame, the similarity (translation, scale, in-plane roll)
  that best maps the frame's *stable* points (eye corners, nose, temples:
  points that expressions barely move) onto the track's neutral shape;
* **neutral shape**: the per-point median of the track's pose-normalised
  shapes over its most closed-mouth frames (the lowest :data:`REST_SHARE`
  of inner-lip gaps), i.e. the person's own face at rest, so that a track
  that talks or yawns a lot still gets a closed neutral mouth and its
  openings are transferred in full;
* **expression offsets**: each frame's pose-normalised shape minus the
  neutral shape: the mouth opening, the brows rising, the lids closing, and
  the foreshortening of a turned head.

The render is driven by the identity's shape (similarity-aligned onto the
neutral shape) plus the frame's offsets, mapped back into the frame by the
inverse of the frame's pose. Out-of-plane rotation (yaw, pitch) is carried by
the offsets, measured on the original person's own face: exact for their
shape, an approximation for the identity's that grows with the angle, which
is one reason turned faces beyond ``swap.max_yaw_deg`` are obscured instead.
"""

from __future__ import annotations

import numpy as np

from facecast.geometry.canonical import mean_shape
from facecast.geometry.landmarks import STABLE, mouth_gap
from facecast.geometry.transforms import apply, invert, similarity

CANONICAL_SIZE = 512
REST_SHARE = (
    0.3  # the neutral shape is the median of this share of the track's frames, those with the most closed mouth
)


class TrackShape:
    """The neutral shape of one track and each frame's pose, from the track's (n, 68, 2) landmarks."""

    def __init__(self, landmarks: np.ndarray, size: int = CANONICAL_SIZE, max_template: int = 60):
        shapes = np.asarray(landmarks, np.float64)
        if shapes.ndim != 3 or shapes.shape[1:] != (68, 2) or not len(shapes):
            raise ValueError(f"a track shape needs (n, 68, 2) landmarks with n >= 1, got {shapes.shape}")
        gaps = np.array([mouth_gap(s) for s in shapes])
        rest = shapes[gaps <= np.quantile(gaps, REST_SHARE)]
        step = max(1, len(rest) // max_template)
        start = mean_shape(list(rest[::step]), size)
        self.neutral = self._fit(rest, start)
        self.neutral = self._fit(rest, self.neutral)  # once more against its own median

    @staticmethod
    def _fit(shapes: np.ndarray, reference: np.ndarray) -> np.ndarray:
        normalised = np.stack([apply(similarity(s[STABLE], reference[STABLE]), s) for s in shapes])
        return np.median(normalised, axis=0)

    def pose(self, landmarks: np.ndarray) -> np.ndarray:
        """The 2x3 similarity from this frame's landmarks into the neutral shape's frame."""
        return similarity(np.asarray(landmarks, np.float64)[STABLE], self.neutral[STABLE])

    def offsets(self, landmarks: np.ndarray) -> np.ndarray:
        """The frame's expression (and out-of-plane pose) offsets from the neutral shape, (68, 2) canonical px."""
        return apply(self.pose(landmarks), landmarks) - self.neutral

    def drive(self, identity: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """The identity's shape with this frame's offsets, in this frame's pose: (68, 2) frame px."""
        own = np.asarray(identity, np.float64)
        on_neutral = apply(similarity(own[STABLE], self.neutral[STABLE]), own)
        return apply(invert(self.pose(landmarks)), on_neutral + self.offsets(landmarks))
