"""Where the identity goes and where the frame stays: the face mask and the keep masks.

* **Face mask.** The rendered face, its jaw line pushed out to cover the
  original's by ``swap.mask_margin`` of the inter-ocular distance
  (:func:`cover_jaw`), up to the extrapolated hairline (see
  :func:`facecast.geometry.outline.contour`), so no original brow, beard or jaw
  line survives at the edge, whichever face is the wider. Its soft edge
  (``swap.feather``) is centred on that outline.
* **Keep masks**, at the rendered geometry: the eyeballs (inside the lids) and
  the open mouth's interior (inside the inner lips). The frame's own content
  is moved there (see :mod:`facecast.swap.render`), so gaze, blinks, teeth
  and tongue follow the original while lids and lips are the identity's.
"""

from __future__ import annotations

import cv2
import numpy as np

from facecast.geometry.landmarks import INNER_LIPS, JAW, LEFT_EYE, RIGHT_EYE
from facecast.geometry.outline import contour

KEEP_INSET = 0.028  # keep masks sit this share of the inter-ocular distance inside their outline
KEEP_SOFTNESS = 0.028  # and are blurred by this share of it


def _fill(polygons: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    hard = np.zeros(shape, np.uint8)
    for polygon in polygons:  # one at a time: fillPoly fills overlaps of several polygons even-odd, i.e. not at all
        cv2.fillPoly(hard, [np.rint(polygon * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    return hard


def _grow(hard: np.ndarray, px: float) -> np.ndarray:
    radius = int(round(abs(px)))
    if not radius:
        return hard
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(hard, kernel) if px > 0 else cv2.erode(hard, kernel)


def feather_px(landmarks: np.ndarray, feather: float) -> float:
    """The soft edge's width in px: ``feather`` of the face outline's height."""
    return max(1.0, feather * float(np.ptp(contour(landmarks)[:, 1])))


def cover_jaw(rendered: np.ndarray, original: np.ndarray, extra: float) -> np.ndarray:
    """The rendered landmarks with their jaw line (points 0-16) pushed out to cover the original's by ``extra`` px.

    Each jaw point moves outwards from the face's centre (midway between the
    nose bridge and the chin) until it lies at least ``extra`` beyond the
    original's matching point. An identity with a narrower face than the
    original would otherwise leave the original's cheeks and jaw line
    showing beside it; one with a wider face keeps its own outline. The
    forehead points follow, as they are derived from the jaw.
    """
    out = np.asarray(rendered, np.float64).copy()
    orig = np.asarray(original, np.float64)
    centre = (orig[27] + orig[8]) / 2
    jaw = out[JAW] - centre
    unit = jaw / np.maximum(np.linalg.norm(jaw, axis=1, keepdims=True), 1e-9)
    have = (jaw * unit).sum(axis=1)
    need = ((orig[JAW] - centre) * unit).sum(axis=1) + extra
    out[JAW] += np.maximum(need - have, 0.0)[:, None] * unit
    return out


def face_masks(
    original: np.ndarray, rendered: np.ndarray, shape: tuple[int, int], feather: float
) -> tuple[np.ndarray, np.ndarray]:
    """The hard mask (uint8 0/255) and the soft alpha (float32 in [0, 1]) of the rendered face.

    Landmarks are (68, 2) in the coordinates of an image of ``shape`` (h, w);
    ``rendered`` should already cover the original (:func:`cover_jaw`). The
    alpha falls from 1 to 0 over ``feather`` centred on the union of both
    outlines; outside it the identity's image is its own edge colours spread
    outwards (:func:`facecast.swap.identity.extend_skin`), so the soft edge
    is skin, not the identity's background. The hard mask covers everything
    the alpha touches.
    """
    core = _fill([contour(original), contour(rendered)], shape)
    width = feather_px(original, feather)
    hard = _grow(core, width / 2)
    alpha = cv2.GaussianBlur(core.astype(np.float32) / 255.0, (0, 0), sigmaX=width / 4)
    alpha = np.where(hard > 0, alpha, 0.0).astype(np.float32)
    return hard, alpha


def keep_mask(
    landmarks: np.ndarray, shape: tuple[int, int], eyes: bool, mouth: bool, inter_ocular: float
) -> np.ndarray:
    """Float32 in [0, 1]: the eyeballs and/or the inner mouth of these (rendered) landmarks, softened."""
    pts = np.asarray(landmarks, np.float64)
    polygons = ([pts[LEFT_EYE], pts[RIGHT_EYE]] if eyes else []) + ([pts[INNER_LIPS]] if mouth else [])
    if not polygons:
        return np.zeros(shape, np.float32)
    hard = _grow(_fill(polygons, shape), -KEEP_INSET * inter_ocular)
    sigma = max(0.5, KEEP_SOFTNESS * inter_ocular)
    return cv2.GaussianBlur(hard.astype(np.float32) / 255.0, (0, 0), sigmaX=sigma)
