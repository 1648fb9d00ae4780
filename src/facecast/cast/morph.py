"""Morphing donors into an identity: convex texture blends, filled uncovered parts, and feathered face masks.

The piecewise-affine warp itself is :class:`facecast.geometry.warp.Warp`
(re-exported here): donors are warped onto the blended shape with it. Add
:func:`facecast.geometry.outline.frame_points` to both point sets to cover the
whole frame.

A donor photo need not fill the frame; where it does not, the warped texture
holds only repeated edge pixels (streaks). :func:`fill_uncovered` replaces
them before textures are blended: by the other textures' real pixels where
they have them, else by a plain background colour taken from the texture's
own real pixels near the image border, feathered into the real pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from facecast.geometry.outline import face_outline
from facecast.geometry.warp import Warp

__all__ = [
    "Warp",
    "blend",
    "over",
    "to_uint8",
    "hull_mask",
    "face_mask",
    "real_alpha",
    "background_colour",
    "fill_uncovered",
]

MASK_FEATHER = 0.06  # feather width of the face mask, as a fraction of the face outline's height
COVERED = 0.999  # a pixel is real where a texture's coverage reaches this
FILL_FEATHER = 0.03  # a texture's real pixels fade into its fill over this fraction of the image side
BORDER_BAND = 0.05  # the background colour is read from real pixels this near the image border (fraction of the side)


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


def over(top: np.ndarray, alpha: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """``top`` laid over ``bottom`` with weight ``alpha``; exactly ``top`` where ``alpha`` is 1."""
    return alpha * top + (1.0 - alpha) * bottom


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


def real_alpha(coverage: np.ndarray, feather: float) -> np.ndarray:
    """Float32 (h, w, 1) weight of a texture's own pixels given its coverage (h, w) in [0, 1].

    0 wherever the texture is not fully covered by its photo, rising smoothly
    to exactly 1 at ``feather`` px inside the covered part.
    """
    covered = (coverage >= COVERED).astype(np.uint8)
    if covered.all():
        return np.ones((*covered.shape, 1), np.float32)
    ramp = np.clip(cv2.distanceTransform(covered, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) / max(feather, 1.0), 0.0, 1.0)
    return (ramp * ramp * (3.0 - 2.0 * ramp))[..., None].astype(np.float32)


def background_colour(texture: np.ndarray, alpha: np.ndarray, band: int) -> np.ndarray:
    """Median colour (float32, one value per channel) of the texture's real pixels within ``band`` px of its border.

    Falls back to all its real pixels, then to all its pixels, when there are none there.
    """
    real = alpha[..., 0] > 0
    near = np.ones(real.shape, bool)
    near[band:-band, band:-band] = False
    for pick in (real & near, real):
        if pick.any():
            return np.median(texture[pick], axis=0).astype(np.float32)
    return np.median(texture.reshape(-1, texture.shape[-1]), axis=0).astype(np.float32)


def fill_uncovered(
    textures: Sequence[np.ndarray], coverages: Sequence[np.ndarray], priority: Sequence[float] | np.ndarray
) -> list[np.ndarray]:
    """Float32 textures (h, w, c) with the pixels their photos do not cover (``coverages``, (h, w)) filled.

    Each texture's uncovered part shows the other textures' real pixels, the
    one of higher ``priority`` on top, over the texture's own
    :func:`background_colour`; its real pixels fade into that fill over
    :data:`FILL_FEATHER` of the side and are kept exactly where they are
    further inside. A fully covered texture is returned as it is.
    """
    side = max(textures[0].shape[:2])
    alphas = [real_alpha(c, FILL_FEATHER * side) for c in coverages]
    band = max(1, round(BORDER_BAND * side))
    lowest_first = np.argsort(np.asarray(priority), kind="stable")
    out = []
    for i, (texture, alpha) in enumerate(zip(textures, alphas)):
        if alpha.min() >= 1.0:
            out.append(texture)
            continue
        fill = np.broadcast_to(background_colour(texture, alpha, band), texture.shape)
        for j in lowest_first:
            if j != i:
                fill = over(textures[j], alphas[j], fill)
        out.append(over(texture, alpha, fill))
    return out
