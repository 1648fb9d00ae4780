"""Geometry shared by the stages that move faces: piecewise-affine warps on a Delaunay triangulation.

A :class:`Warp` is built once for a target point set: the Delaunay
triangulation of the target points (scipy) and, for every output pixel, the
triangle it lies in (the triangles rasterised with OpenCV). Warping an image
from any source point set with the same point order is then one
``cv2.remap``: each output pixel reads the source through its triangle's
affine map, i.e. at the same barycentric position in the matching source
triangle. Landmarks land exactly on the target landmarks (a triangle's
vertices map to vertices), which keeps blends of warped faces free of
ghosting. ``sample`` morphs expressions with it, ``cast`` warps donors onto a
blended shape, and ``swap`` will warp identities onto frames.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay

_SHIFT = 4  # fractional bits of the rasterised triangle corners
_SUBPIXEL = 1 << _SHIFT


class Warp:
    """Piecewise-affine warps onto one target point set, in a ``width`` x ``height`` output."""

    def __init__(self, target: np.ndarray, width: int, height: int | None = None, triangles: np.ndarray | None = None):
        """``triangles`` ((t, 3) point indices) fixes the triangulation, e.g. one shared by every frame of a
        track so the mesh never flips between frames; by default the Delaunay triangulation of ``target``."""
        self.target = np.asarray(target, np.float64)
        self.width = int(width)
        self.height = int(width if height is None else height)
        self.triangles = Delaunay(self.target).simplices if triangles is None else np.asarray(triangles, np.int64)
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
