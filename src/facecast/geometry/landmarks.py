"""The 68-point iBUG landmark vocabulary and the measures every stage takes from it.

All landmark arrays are (68, 2) float in pixels, x then y. "Left" and "right"
are the image's left and right (the person's right eye is the image's left
eye). The parts:

=========== ======= =====================================================
part        points  note
=========== ======= =====================================================
JAW         0-16    temple to temple through the chin (8)
LEFT_BROW   17-21
RIGHT_BROW  22-26
NOSE_BRIDGE 27-30   30 is the nose tip
NOSE_BASE   31-35   nostrils
LEFT_EYE    36-41   corner 36 (outer), 37-38 upper lid, 39 (inner), 40-41 lower lid
RIGHT_EYE   42-47   corner 42 (inner), 43-44 upper lid, 45 (outer), 46-47 lower lid
OUTER_LIPS  48-59   48 and 54 are the mouth corners, 51 the top, 57 the bottom
INNER_LIPS  60-67   61-63 upper inner lip, 65-67 lower inner lip
=========== ======= =====================================================

**The inter-ocular distance** is the distance between the two eye centres
(each the mean of its six eye points). Every length facecast states "as a
share of the inter-ocular distance" (parameters, gate figures, masks) is a
share of :func:`inter_ocular`. (The outer eye corners, 36 to 45, lie about
1.38 inter-ocular distances apart on the embedded default's faces: p1-p99
1.36-1.41.)
"""

from __future__ import annotations

import numpy as np

from facecast.geometry.transforms import apply, similarity

N_POINTS = 68
JAW = slice(0, 17)
LEFT_BROW = slice(17, 22)
RIGHT_BROW = slice(22, 27)
BROWS = slice(17, 27)
NOSE_BRIDGE = slice(27, 31)
NOSE_BASE = slice(31, 36)
NOSE = slice(27, 36)
LEFT_EYE = slice(36, 42)  # the eye on the image's left
RIGHT_EYE = slice(42, 48)
EYES = slice(36, 48)
OUTER_LIPS = slice(48, 60)
INNER_LIPS = slice(60, 68)
MOUTH = slice(48, 68)
INNER_LIPS_TOP = (61, 62, 63)
INNER_LIPS_BOTTOM = (67, 66, 65)  # each below the upper point at the same position
CHIN = 8
NOSE_TIP = 30
# Points expressions barely move: jaw ends at the temples, nose bridge and nose, eye corners. Faces are aligned on
# them when their expressions are compared (swap's pose, cast's expression atlas).
STABLE = np.array([0, 16, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45])
# Points an expression moves: the lower jaw (a dropped chin), brows, eyes and lips.
EXPRESSIVE = np.array([*range(4, 13), *range(17, 27), *range(36, 68)])


def indices(part: slice) -> tuple[int, ...]:
    """The point indices of a part, e.g. ``indices(LEFT_EYE) == (36, ..., 41)``."""
    return tuple(range(part.start, part.stop))


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The centres of the image's left and right eye (each the mean of its six points)."""
    pts = np.asarray(landmarks, np.float64)
    return pts[LEFT_EYE].mean(axis=0), pts[RIGHT_EYE].mean(axis=0)


def inter_ocular(landmarks: np.ndarray) -> float:
    """The inter-ocular distance: eye centre to eye centre, px. The one facecast uses everywhere."""
    left, right = eye_centres(landmarks)
    return float(np.linalg.norm(right - left))


def mouth_gap(landmarks: np.ndarray) -> float:
    """Mean gap between the inner lips, as a share of the inter-ocular distance."""
    pts = np.asarray(landmarks, np.float64)
    gap = np.linalg.norm(pts[list(INNER_LIPS_TOP)] - pts[list(INNER_LIPS_BOTTOM)], axis=1).mean()
    return float(gap / max(inter_ocular(pts), 1e-9))


def frontality(landmarks: np.ndarray) -> float:
    """How far a face is from frontal and neutral, 0 for a perfect one (lower is better).

    The sum of the nose's horizontal offset from the midpoint between the jaw
    ends, the tilt of the eye line, and the opening of the mouth (inner lips),
    each relative to the inter-ocular distance.
    """
    pts = np.asarray(landmarks, np.float64)
    left, right = eye_centres(pts)
    span = inter_ocular(pts)
    yaw = abs(pts[30, 0] - (pts[0, 0] + pts[16, 0]) / 2) / span
    roll = abs(right[1] - left[1]) / span
    mouth = float(np.linalg.norm(pts[66] - pts[62])) / span
    return yaw + roll + mouth


def checked_landmarks(points: np.ndarray, name: str) -> np.ndarray:
    """``points`` as (68, 2) float64; ValueError naming ``name`` when the shape is wrong or a value is not finite."""
    pts = np.asarray(points, np.float64)
    if pts.shape != (N_POINTS, 2):
        raise ValueError(f"{name} must be ({N_POINTS}, 2) landmarks, got shape {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError(f"{name} holds non-finite coordinates")
    return pts


def expression(landmarks: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """How far a face's expression is from ``neutral`` (the same person at rest): (len(EXPRESSIVE), 2).

    The face is similarity-aligned onto the neutral shape on its :data:`STABLE` points; the result is the
    :data:`EXPRESSIVE` points' offsets from the neutral ones, in shares of the neutral's inter-ocular distance,
    so expressions of faces of any size and position compare.
    """
    pts, rest = np.asarray(landmarks, np.float64), np.asarray(neutral, np.float64)
    aligned = apply(similarity(pts[STABLE], rest[STABLE]), pts)
    return (aligned - rest)[EXPRESSIVE] / max(inter_ocular(rest), 1e-9)
