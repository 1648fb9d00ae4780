"""Morphing: piecewise-affine warps on a Delaunay triangulation, convex texture blends, feathered face masks.

A :class:`Warp` is built once for a target point set (the shape every donor
is warped to): the Delaunay triangulation of the target points (scipy) and,
for every output pixel, the triangle it lies in (the triangles rasterised
with OpenCV). Warping an image from any source point set with the same point
order is then one ``cv2.remap``: each output pixel reads the source through
its triangle's affine map, i.e. at the same barycentric position in the
matching source triangle. Landmarks land exactly on the
target landmarks (a triangle's vertices map to vertices), which is what keeps
a blend of several warped donors free of ghosting inside the triangulated
region. Add :func:`facecast.cast.align.frame_points` to both point sets to
cover the whole frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from scipy.spatial import Delaunay

from facecast.cast.align import face_outline

_SHIFT = 4  # fractional bits of the rasterised triangle corners
_SUBPIXEL = 1 << _SHIFT
MASK_FEATHER = 0.06  # feather width of the face mask, as a fraction of the face outline's height


class Warp:
    """Piecewise-affine warps onto one target point set, in a ``width`` x ``height`` output."""

    def __init__(self, target: np.ndarray, width: int, height: int | None = None):
        self.target = np.asarray(target, np.float64)
        self.width = int(width)
        self.height = int(width if height is None else height)
        self.triangles = Delaunay(self.target).simplices
        # Which triangle each output pixel lies in: the triangles rasterised with their index as colour
        # (sub-pixel vertex precision); -1 outside them all.
        self.index = np.full((self.height, self.width), -1, np.int32)
        for n, triangle in enumerate(self.triangles):
            corners = np.rint(self.target[triangle] * _SUBPIXEL).astype(np.int32)
            cv2.fillConvexPoly(self.index, corners, int(n), lineType=cv2.LINE_8, shift=_SHIFT)
        self.inside = self.index >= 0
        corners = np.concatenate([self.target[self.triangles], np.ones((len(self.triangles), 3, 1))], axis=2)
        self._inverse = np.linalg.pinv(corners)  # (t, 3, 3): target corners -> barycentric solve

    def maps(self, source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per output pixel, where to read the source image (``cv2.remap`` maps); -1 outside the triangulation."""
        src = np.asarray(source, np.float64)
        if src.shape != self.target.shape:
            raise ValueError(f"source points {src.shape} do not match target points {self.target.shape}")
        # Per triangle, the affine map target -> source: [x, y, 1] @ coef = source point.
        coef = (self._inverse @ src[self.triangles]).astype(np.float32)  # (t, 3, 2)
        index = np.where(self.inside, self.index, 0)
        ys, xs = np.mgrid[0 : self.height, 0 : self.width].astype(np.float32)
        out = []
        for axis in (0, 1):
            c = coef[:, :, axis]
            m = c[index, 0] * xs + c[index, 1] * ys + c[index, 2]
            m[~self.inside] = -1.0
            out.append(m)
        return out[0], out[1]

    def __call__(self, image: np.ndarray, source: np.ndarray) -> np.ndarray:
        """``image`` warped so that its ``source`` points land on the target points; 0 outside ``inside``."""
        map_x, map_y = self.maps(source)
        out = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out[~self.inside] = 0
        return out


def blend(images: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
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
