"""Landmark-guided (Delaunay) morph between two images of the same size.

The classic face morph: the landmark sets of both images, plus fixed points
at the image corners and edge midpoints, are interpolated to an intermediate
shape (with dlib's 68 points, a ring of points around the head is added so
hair and neck move with the face); the intermediate shape is
Delaunay-triangulated; both images are warped piecewise-affinely onto it and
cross-dissolved with the same weight.
The faces stay aligned at every step, so the result is one face changing
expression, not two faces overlaid.

The piecewise-affine warp is :class:`facecast.geometry.warp.Warp`, built
once per morph frame on the intermediate shape.
"""

from __future__ import annotations

import cv2
import numpy as np

from facecast.geometry.outline import frame_points
from facecast.geometry.warp import Warp

OUTLINE = np.r_[0:27]  # dlib 68: jaw 0-16, brows 17-26
HEAD_RING_SCALE = 1.6


def ease(n: int) -> np.ndarray:
    """The ``n`` morph weights strictly between 0 and 1, smoothstep-eased (slow in, slow out)."""
    s = np.arange(1, n + 1, dtype=np.float64) / (n + 1)
    return s * s * (3.0 - 2.0 * s)


def head_ring(landmarks: np.ndarray, scale: float = HEAD_RING_SCALE) -> np.ndarray:
    """Points around the head: the face outline (jaw and brows) enlarged ``scale`` times about its centre.

    They follow the face's position, size and tilt, so hair and neck move
    with the face instead of fading between two places.
    """
    outline = np.asarray(landmarks, dtype=np.float64)[OUTLINE]
    centre = outline.mean(axis=0)
    return centre + scale * (outline - centre)


def _with_anchors(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """The control points of one image: landmarks (+ head ring for 68 points) inside the image, then the anchors."""
    points = np.asarray(points, dtype=np.float64)
    if len(points) == 68:
        points = np.vstack([points, head_ring(points)])
    inside = np.clip(points, 0, [width - 1, height - 1])
    return np.vstack([inside, frame_points(width, height)])


def _remap(image: np.ndarray, maps: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return cv2.remap(image, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def morph(image_a: np.ndarray, points_a: np.ndarray, image_b: np.ndarray, points_b: np.ndarray, t: float) -> np.ndarray:
    """The image ``t`` of the way from ``image_a`` to ``image_b`` (0: a, 1: b).

    ``points_a``/``points_b`` are corresponding landmarks, (N, 2) pixels; the
    face of the result has landmarks ``(1 - t) * points_a + t * points_b``.
    """
    if image_a.shape != image_b.shape:
        raise ValueError(f"morph needs images of one size, got {image_a.shape} and {image_b.shape}")
    if np.shape(points_a) != np.shape(points_b):
        raise ValueError(f"morph needs corresponding landmarks, got {np.shape(points_a)} and {np.shape(points_b)}")
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"morph weight must be in [0, 1], got {t}")
    height, width = image_a.shape[:2]
    src_a = _with_anchors(points_a, width, height)
    src_b = _with_anchors(points_b, width, height)
    mid = (1.0 - t) * src_a + t * src_b
    warp = Warp(mid, width, height)
    warped_a, warped_b = (_remap(image_a, warp.maps(src_a)), _remap(image_b, warp.maps(src_b)))
    return cv2.addWeighted(warped_a, 1.0 - t, warped_b, t, 0.0)
