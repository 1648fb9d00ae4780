"""Morphing donors into an identity: convex texture blends and feathered face masks.

The piecewise-affine warp itself is :class:`facecast.geometry.warp.Warp`
(re-exported here): donors are warped onto the blended shape with it. Add
:func:`facecast.geometry.outline.frame_points` to both point sets to cover the
whole frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from facecast.geometry.outline import face_outline
from facecast.geometry.warp import Warp

__all__ = ["Warp", "blend", "to_uint8", "hull_mask", "face_mask"]

MASK_FEATHER = 0.06  # feather width of the face mask, as a fraction of the face outline's height


def blend(images: Sequence[np.ndarray], weights: Sequence[float] | np.ndarray) -> np.ndarray:
    """Convex combination of same-sized images, as float32 (round with :func:`to_uint8`)."""
    w = np.asarray(weights, np.float64)
    if len(w) != len(images) or not len(w):
        raise ValueError("blend needs one weight per image and at least one image")
    if (w < 0).any() or not np.isclose(w.sum(), 1.0):
        raise ValueError(f"blend weights must be non-negative and sum to 1, got {w.tolist()}")
    out = np.zeros(images[0].shape, np.float32)
    for image, weight in zip(images, w):
        out += np.float32(weight) * np.asarray(image, np.float32)
    return out


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def hull_mask(points: np.ndarray, width: int, height: int, grow: float = 0.0, sigma: float = 0.0) -> np.ndarray:
    """Float32 mask in [0, 1]: the convex hull of ``points`` grown by ``grow`` px (shrunk if < 0), then blurred."""
    hard = np.zeros((height, width), np.uint8)
    hull = cv2.convexHull(np.rint(np.asarray(points)).astype(np.int32))
    cv2.fillConvexPoly(hard, hull, 255)
    radius = int(round(abs(grow)))
    if radius:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        hard = cv2.dilate(hard, kernel) if grow > 0 else cv2.erode(hard, kernel)
    mask = hard.astype(np.float32) / 255.0
    if sigma > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), sigmaX=sigma)
    return np.clip(mask, 0.0, 1.0)


def face_mask(landmarks: np.ndarray, width: int, height: int | None = None, feather: float | None = None) -> np.ndarray:
    """The face mask: convex hull of the 68 landmarks and the forehead points, feathered; float32 in [0, 1].

    ``feather`` (px) defaults to :data:`MASK_FEATHER` of the outline's height.
    The mask is 1 well inside the outline and falls to 0 at it.
    """
    h = width if height is None else height
    outline = face_outline(landmarks)
    if feather is None:
        feather = MASK_FEATHER * float(np.ptp(outline[:, 1]))
    return hull_mask(outline, width, h, grow=-feather / 2, sigma=feather / 4)
