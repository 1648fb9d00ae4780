"""Hair over the forehead: the frame's own pixels kept in front of the new face.

dlib's landmarks stop at the brows; the swapped area reaches above them to an
extrapolated hairline (:func:`facecast.geometry.outline.forehead_points`), the
same for everyone. On a person with a fringe, or a hairline lower than that,
the new face's forehead was painted over their hair: a bald band with hair
above and beside it. :func:`forehead_hair` finds the hair in the frame: in
the swapped area above the brows, pixels whose
colour lies far from the person's own skin (CIE Lab, each channel's distance
from the skin's mean in units of its spread, measured on the cheeks and nose
of the same frame, with a floor on the spread) and that reach the forehead's
upper or outer edge (the swapped area's edge, beyond which the frame's own
hair goes on), where hair comes from (a dark wrinkle or a mole in the
middle of the forehead does not). The renderer keeps those pixels from the
frame, feathered, in front of the new face.

What it misses: hair the colour of the skin (blond hair on fair skin, black
hair on dark skin within :data:`MIN_DISTANCE` spreads), and hair below the
brows. What it may keep that is not hair: a hat's brim, a shadow across the
forehead, heavy make-up: the frame's own forehead, which the gate's checks
judge like any other part of the frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from facecast.geometry.landmarks import LEFT_BROW, RIGHT_BROW, inter_ocular
from facecast.geometry.outline import forehead_points
from facecast.swap.colour import lab_stats, skin_mask

MIN_DISTANCE = 3.0  # spreads of the skin's colour (Lab, Euclidean over the three z-scores) from which a pixel is hair
SPREAD_FLOOR = (6.0, 3.0, 3.0)  # Lab units: the skin's spread is taken as at least this per channel
EDGE_BAND = 0.12  # share of the inter-ocular distance: hair must reach this close to the forehead's outer edge
BROW_CLEARANCE = 0.15  # share of the inter-ocular distance above the brows that does not count as the outer edge
FEATHER = 0.03  # share of the inter-ocular distance: soft edge of the kept hair
MIN_AREA = 0.02  # share of the forehead: smaller patches of hair are not kept


REACH = 1.5  # the forehead is looked at up to this share of the jaw's depth above the temples (the hairline: 0.6)


def forehead(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 (height, width): everything above the brows up to well beyond the extrapolated hairline."""
    pts = np.asarray(landmarks, np.float64)
    brows = np.vstack([pts[LEFT_BROW], pts[RIGHT_BROW]])[::-1]  # right to left, closing the hairline's arc
    polygon = np.vstack([forehead_points(pts, REACH), brows])
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [np.rint(polygon).astype(np.int32)], 1)
    return mask


def forehead_hair(image: np.ndarray, landmarks: np.ndarray, swapped: np.ndarray) -> np.ndarray:
    """float32 (h, w) in 0..1: where ``image`` (RGB uint8, the frame's crop) shows hair over the forehead of the
    face with these ``landmarks`` (68, 2, crop px), within ``swapped`` (the area the new face covers, nonzero);
    zeros when none is found or the skin cannot be measured."""
    h, w = image.shape[:2]
    pts = np.asarray(landmarks, np.float64)
    iod = inter_ocular(pts)
    region = forehead(pts, w, h) & (np.asarray(swapped) > 0).astype(np.uint8)
    empty = np.zeros((h, w), np.float32)
    area = int(region.sum())
    if area < 50 or iod < 4:
        return empty
    cheeks = skin_mask(pts, w, h, beard_free=True) & (region == 0)
    stats = lab_stats(image, cheeks)
    if stats is None:
        return empty
    lab = cv2.cvtColor(image.astype(np.float32) * np.float32(1 / 255), cv2.COLOR_RGB2Lab)
    spread = np.maximum(stats[3:], SPREAD_FLOOR).astype(np.float32)
    z = np.sqrt((((lab - stats[:3].astype(np.float32)) / spread) ** 2).sum(axis=2))
    hair = ((z >= MIN_DISTANCE) & (region > 0)).astype(np.uint8)
    k = max(1, int(round(0.02 * iod)))
    element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    hair = cv2.morphologyEx(cv2.morphologyEx(hair, cv2.MORPH_OPEN, element), cv2.MORPH_CLOSE, element)
    # the outer edge: the forehead's rim, less a clearance above the brows
    band = max(1, int(round(EDGE_BAND * iod)))
    rim = region & ~cv2.erode(region, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1)))
    brow_side = np.zeros_like(region)
    brows = np.vstack([pts[LEFT_BROW], pts[RIGHT_BROW]])
    cv2.polylines(brow_side, [np.rint(brows).astype(np.int32)], False, 1, 2 * int(round(BROW_CLEARANCE * iod)) + 1)
    rim = rim & (brow_side == 0)
    count, labels, stats_cc, _ = cv2.connectedComponentsWithStats(hair, connectivity=8)
    keep = np.zeros(count, bool)
    touching = np.unique(labels[(rim > 0) & (hair > 0)])
    keep[touching] = True
    keep[0] = False
    keep &= stats_cc[:, cv2.CC_STAT_AREA] >= MIN_AREA * area
    if not keep.any():
        return empty
    mask = keep[labels].astype(np.float32)
    sigma = max(0.5, FEATHER * iod)
    return np.clip(cv2.GaussianBlur(mask, (0, 0), sigmaX=sigma) * (region > 0), 0.0, 1.0)
