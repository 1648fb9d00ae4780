"""Hair over the forehead is found in the frame (and kept in front of the new face); skin and marks are not.

A real face: the neutral photograph of openpeople's P002 (dark curly hair around a bare forehead),
dlib's 68 landmarks. A fringe is painted over it: the person's own hair, copied from beside their head,
over the upper forehead from the hairline down, the way a fringe falls.
"""

from __future__ import annotations

import numpy as np
import pytest

from facecast.geometry.landmarks import LEFT_BROW, RIGHT_BROW, inter_ocular
from facecast.geometry.outline import contour
from facecast.sample.cell_landmarks import face_landmarks
from facecast.sample.people import subjects
from facecast.swap.hair import forehead, forehead_hair


@pytest.fixture(scope="module")
def face() -> tuple[np.ndarray, np.ndarray]:
    person = {s.person_id: s for s in subjects(10)}["P002"]
    image = np.ascontiguousarray(person.expression_cells[0])
    return image, face_landmarks(image).astype(np.float64)


def swapped_area(landmarks: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    import cv2

    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.rint(contour(landmarks)).astype(np.int32)], 1)
    return mask


def fringe(image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The image with a fringe of the person's own hair (from beside their head, tiled) over the upper forehead,
    from the top of the swapped area down to a quarter of the eye distance above the brows, and where it lies."""
    iod = inter_ocular(landmarks)
    brow_top = float(np.vstack([landmarks[LEFT_BROW], landmarks[RIGHT_BROW]])[:, 1].min())
    x0, x1 = int(landmarks[17, 0]), int(landmarks[26, 0])
    y0, y1 = int(contour(landmarks)[:, 1].min()), int(brow_top - 0.25 * iod)
    eye_y, side = int(landmarks[36, 1]), int(landmarks[0, 0])
    hair = image[eye_y - int(0.4 * iod) : eye_y + int(0.4 * iod), side - int(0.7 * iod) : side - int(0.15 * iod)]
    reps = (-(-(y1 - y0) // hair.shape[0]), -(-(x1 - x0) // hair.shape[1]), 1)
    out = image.copy()
    out[y0:y1, x0:x1] = np.tile(hair, reps)[: y1 - y0, : x1 - x0]
    where = np.zeros(image.shape[:2], bool)
    where[y0:y1, x0:x1] = True
    return out, where


def test_a_fringe_is_kept_and_the_bare_forehead_is_not(face):
    image, landmarks = face
    area = swapped_area(landmarks, image.shape)
    region = (forehead(landmarks, image.shape[1], image.shape[0]) > 0) & (area > 0)
    bare = forehead_hair(image, landmarks, area)
    assert (bare[region] > 0.5).mean() < 0.05, "the bare forehead is skin"

    painted, where = fringe(image, landmarks)
    hair = forehead_hair(painted, landmarks, area)
    on_fringe = where & region
    assert on_fringe.sum() > 500
    assert (hair[on_fringe] > 0.5).mean() > 0.8
    below = np.zeros_like(where)  # the bare forehead between the fringe and the brows stays the new face's
    rows, cols = np.nonzero(where)
    below[rows.max() + 4 :, cols.min() : cols.max() + 1] = True
    assert (hair[below & region] > 0.5).mean() < 0.05
    assert hair[~region].max() == 0.0  # never outside the forehead of the swapped area


def test_a_dark_mark_in_the_middle_of_the_forehead_is_not_hair(face):
    image, landmarks = face
    area = swapped_area(landmarks, image.shape)
    iod = inter_ocular(landmarks)
    marked = image.copy()
    cx = int((landmarks[21, 0] + landmarks[22, 0]) / 2)
    cy = int(min(landmarks[21, 1], landmarks[22, 1]) - 0.35 * iod)
    r = int(0.08 * iod)
    marked[cy - r : cy + r, cx - r : cx + r] = (40, 30, 25)  # a dark mole or a shadow, far from any edge
    assert forehead_hair(marked, landmarks, area)[cy - r : cy + r, cx - r : cx + r].max() < 0.5
