"""Outlines of a face and of an image: forehead points above the brows, the closed face contour, frame points.

dlib's 68 landmarks stop at the brows. The forehead is extrapolated from the
jaw line: the jaw points 1-15 are mirrored across the temple line (jaw point
0 to jaw point 16), their distance from that line scaled by
``FOREHEAD_RATIO`` (0.6), which gives a rounded brow-to-hairline outline that
follows the face's roll and width.
"""

from __future__ import annotations

import numpy as np

from facecast.geometry.landmarks import JAW

FOREHEAD_RATIO = 0.6


def forehead_points(landmarks: np.ndarray, ratio: float = FOREHEAD_RATIO) -> np.ndarray:
    """15 points outlining the forehead above the brows: jaw points 1-15 mirrored across the temple line.

    Each jaw point's distance below the line from jaw point 0 to jaw point 16
    is scaled by ``ratio`` and laid off above it, so the outline follows the
    face's width and roll. Returns (15, 2) float, ordered from the image's
    left temple to its right one.
    """
    pts = np.asarray(landmarks, np.float64)
    a, b = pts[0], pts[16]
    axis = (b - a) / np.linalg.norm(b - a)
    normal = np.array([-axis[1], axis[0]])  # points towards the chin for an upright face
    jaw = pts[1:16]
    along = (jaw - a) @ axis
    below = (jaw - a) @ normal
    foot = a + along[:, None] * axis
    return foot - ratio * below[:, None] * normal


def face_outline(landmarks: np.ndarray, ratio: float = FOREHEAD_RATIO) -> np.ndarray:
    """The 68 landmarks followed by the forehead points: (83, 2)."""
    return np.vstack([np.asarray(landmarks, np.float64), forehead_points(landmarks, ratio)])


def contour(landmarks: np.ndarray, ratio: float = FOREHEAD_RATIO) -> np.ndarray:
    """The face's closed outline, (32, 2): the jaw line (points 0-16) then the forehead back over the brows.

    Fill it with ``cv2.fillPoly``.
    """
    pts = np.asarray(landmarks, np.float64)
    return np.vstack([pts[JAW], forehead_points(pts, ratio)[::-1]])


def frame_points(width: int, height: int | None = None) -> np.ndarray:
    """The four corners and four edge midpoints of a ``width`` x ``height`` image: (8, 2)."""
    h = width if height is None else height
    x1, y1 = width - 1.0, h - 1.0
    return np.array(
        [[0, 0], [x1 / 2, 0], [x1, 0], [x1, y1 / 2], [x1, y1], [x1 / 2, y1], [0, y1], [0, y1 / 2]], np.float64
    )
