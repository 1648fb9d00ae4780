"""Geometric expression features of a face, and how well a swapped clip keeps them over time.

:func:`features` reads six numbers off the 68 landmarks after a similarity
alignment that removes position, scale and in-plane roll: the midpoint of the
outer eye corners (36, 45) goes to the origin and the line through them to
the x axis (the corners stay put when the lids move), and the inter-ocular
distance (:func:`facecast.geometry.landmarks.inter_ocular`) becomes 1. Image y points down, so after the
alignment "above" is a negative y and heights below are ``-y``. Every feature
is then in units of the inter-ocular distance (or a ratio):

* ``eye_open_left``: the eye aspect ratio of the eye on the image's left
  (points 36-41), mean lid gap over eye width:
  ``(|p37 - p41| + |p38 - p40|) / (2 |p36 - p39|)``;
* ``eye_open_right``: the same for points 42-47:
  ``(|p43 - p47| + |p44 - p46|) / (2 |p42 - p45|)``;
* ``mouth_open``: the mean inner-lip gap
  ``(|p61 - p67| + |p62 - p66| + |p63 - p65|) / 3``;
* ``mouth_width``: the distance between the mouth corners ``|p48 - p54|``;
* ``mouth_corners``: how far the corners sit above the lips' centre line
  (the horizontal line through the midpoint of 51, top of the upper lip, and
  57, bottom of the lower lip): ``(y51 + y57) / 2 - (y48 + y54) / 2``;
  positive when the corners are raised (a smile), negative when they droop.
  An opening jaw lowers 57 and so raises this too; it is read against the
  same face's own series, not as an absolute smile detector;
* ``brow_height``: the mean height of the ten brow points (17-26) above the
  eye line, ``-mean(y17 .. y26)``.

:func:`agreement` compares the per-frame series of the original and the
swapped face: per feature the Pearson correlation (does the swapped face
move when the original moves) and the RMSE (by how much they differ).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from facecast.gate.fidelity import checked_landmarks, eye_span
from facecast.geometry.landmarks import BROWS, LEFT_EYE, RIGHT_EYE, indices, mouth_gap

FEATURES = ("eye_open_left", "eye_open_right", "mouth_open", "mouth_width", "mouth_corners", "brow_height")
MIN_PCC_ROWS = 3  # a correlation over fewer rows says nothing
# each eye: corner, two upper lid points, corner, two lower lid points
EYE_POINTS = (indices(LEFT_EYE), indices(RIGHT_EYE))


def align(landmarks: np.ndarray) -> np.ndarray:
    """(68, 2) landmarks moved, rotated and scaled: the midpoint of the outer eye corners (36, 45) at the origin,
    the line through them on the x axis, the inter-ocular distance 1.

    The corners anchor the frame because they stay put when the lids move: the eye centres (means of the lid
    points too) drop with every blink, which would read as the brows rising."""
    pts = checked_landmarks(landmarks, "landmarks")
    iod = eye_span(pts, "landmarks")
    corners = pts[45] - pts[36]
    span = float(np.linalg.norm(corners))
    if span <= 0:
        raise ValueError("landmarks' outer eye corners (points 36 and 45) coincide: no eye line")
    dx, dy = corners / span
    rotation = np.array([[dx, dy], [-dy, dx]])  # turns the eye line onto +x
    return (pts - (pts[36] + pts[45]) / 2) @ rotation.T / iod


def _eye_aspect(pts: np.ndarray, eye: tuple[int, ...]) -> float:
    c0, u1, u2, c1, l2, l1 = (pts[i] for i in eye)
    width = float(np.linalg.norm(c1 - c0))
    if width <= 0:
        raise ValueError(f"landmarks' eye corners {eye[0]} and {eye[3]} coincide: no eye width")
    return float((np.linalg.norm(u1 - l1) + np.linalg.norm(u2 - l2)) / (2 * width))


def features(landmarks: np.ndarray) -> np.ndarray:
    """The (6,) expression features of one face's (68, 2) landmarks, in :data:`FEATURES` order (see the module)."""
    pts = align(landmarks)
    y = pts[:, 1]
    return np.array(
        [
            _eye_aspect(pts, EYE_POINTS[0]),
            _eye_aspect(pts, EYE_POINTS[1]),
            mouth_gap(pts),  # the aligned inter-ocular distance is 1
            float(np.linalg.norm(pts[54] - pts[48])),
            float((y[51] + y[57]) / 2 - (y[48] + y[54]) / 2),
            float(-y[BROWS].mean()),
        ],
        dtype=np.float64,
    )


def _pcc(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson's r, or None with fewer than :data:`MIN_PCC_ROWS` rows or a constant side."""
    if len(x) < MIN_PCC_ROWS or np.all(x == x[0]) or np.all(y == y[0]):
        return None
    dx, dy = x - x.mean(), y - y.mean()
    denom = float(np.sqrt((dx * dx).sum() * (dy * dy).sum()))
    if denom == 0.0 or not np.isfinite(denom):
        return None
    return float(np.clip((dx * dy).sum() / denom, -1.0, 1.0))


def _series(values: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(values, np.float64)
    if arr.ndim != 2 or arr.shape[1] != len(FEATURES):
        raise ValueError(
            f"{name} must be an (n, {len(FEATURES)}) series of {', '.join(FEATURES)}, got shape {arr.shape}"
        )
    return arr


def _mean(values: list[float | None]) -> float | None:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def agreement(original: np.ndarray, swapped: np.ndarray) -> list[dict]:
    """Per feature, how the swapped series follows the original one: ``{"feature", "pcc", "rmse", "frames"}``,
    then ``{"feature": "mean", ...}`` with the mean of the features' finite PCCs and RMSEs.

    ``frames`` is the number of rows. A row where either side is NaN is left out of that feature only.
    ``pcc`` is None with fewer than 3 rows left or a constant side; ``rmse`` is None with no row left."""
    a, b = _series(original, "original"), _series(swapped, "swapped")
    if a.shape != b.shape:
        raise ValueError(f"original and swapped series differ in shape: {a.shape} vs {b.shape}")
    frames = len(a)
    out: list[dict[str, Any]] = []
    for j, name in enumerate(FEATURES):
        keep = np.isfinite(a[:, j]) & np.isfinite(b[:, j])
        x, y = a[keep, j], b[keep, j]
        rmse = float(np.sqrt(np.mean((x - y) ** 2))) if len(x) else None
        out.append({"feature": name, "pcc": _pcc(x, y), "rmse": rmse, "frames": frames})
    out.append(
        {
            "feature": "mean",
            "pcc": _mean([r["pcc"] for r in out]),
            "rmse": _mean([r["rmse"] for r in out]),
            "frames": frames,
        }
    )
    return out
