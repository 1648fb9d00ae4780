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
move when the original moves) and the RMSE (by how much they differ). A series is one face
over time (one track of one clip and variant), never the different faces of a frame.

:func:`min_frames` is how long a series must be before a correlation can be held against
``gate.expression.min_pcc``: the fewest frames at which a Pearson r equal to that threshold is
significantly above zero (one-sided t-test, 5 %), and never fewer than :data:`MIN_PCC_ROWS`. On
a shorter series a correlation at the threshold cannot be told from no correlation at all, so
a low value says nothing about the swap: the series is ``not_measurable`` and rejects nothing
(at ``min_pcc`` 0.5 that is 12 frames; a still or a 3-frame clip is never judged on expression).

A feature is judged only where the original face's expression moves enough for a landmark fit
on the output image to follow it: the standard deviation of the original series, in pixels of
the face (:func:`pixel_scales`: the feature's unit, inter-ocular distance or eye width, in
pixels), must reach ``gate.expression.min_signal_px`` (1 px). A small face that barely changes
expression moves its landmarks by a fraction of a pixel; the correlation of two such series is
the correlation of two fits' noise, whatever the swap did (on a 43 px face at a party, every
feature of a face that kept its expression moved by 0.2-0.6 px and correlated -0.05 to 0.37).
Such a feature is ``not_measurable``; a track none of whose features is measurable is too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import t as student_t

from facecast.gate.fidelity import eye_span
from facecast.geometry.landmarks import BROWS, LEFT_EYE, RIGHT_EYE, checked_landmarks, indices, mouth_gap

FEATURES = ("eye_open_left", "eye_open_right", "mouth_open", "mouth_width", "mouth_corners", "brow_height")
MIN_PCC_ROWS = 3  # a correlation over fewer rows says nothing (two points always correlate perfectly)
SIGNIFICANCE = 0.05  # one-sided level at which a correlation at min_pcc must differ from none (min_frames)
MAX_SERIES = 100_000  # min_frames searches no further
MEASURED, NOT_MEASURABLE = "measured", "not_measurable"  # gate_clips.status
MIN_SIGNAL_PX = 1.0  # default gate.expression.min_signal_px
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


def pixel_scales(landmarks: np.ndarray) -> np.ndarray:
    """(6,) pixels per unit of each feature of :data:`FEATURES` on this face's (68, 2) landmarks in the image: the
    eye widths (36-39, 42-45) for the eye aspect ratios, the inter-ocular distance for the others."""
    pts = checked_landmarks(landmarks, "landmarks")
    iod = eye_span(pts, "landmarks")
    widths = [float(np.linalg.norm(pts[eye[3]] - pts[eye[0]])) for eye in EYE_POINTS]
    return np.array([*widths, iod, iod, iod, iod], dtype=np.float64)


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


def min_frames(min_pcc: float) -> int:
    """The fewest rows a series needs before its correlation is judged against ``min_pcc`` (see the module)."""
    if not np.isfinite(min_pcc) or not -1.0 <= min_pcc <= 1.0:
        raise ValueError(f"min_pcc must be a correlation in [-1, 1], got {min_pcc}")
    if min_pcc <= 0.0 or min_pcc >= 1.0:  # nothing to tell apart from zero (<= 0), or any r < 1 fails anyway
        return MIN_PCC_ROWS
    for n in range(max(MIN_PCC_ROWS, 3), MAX_SERIES):
        statistic = min_pcc * np.sqrt(n - 2) / np.sqrt(1.0 - min_pcc**2)
        if statistic >= student_t.ppf(1.0 - SIGNIFICANCE, n - 2):
            return n
    return MAX_SERIES


def _pcc(x: np.ndarray, y: np.ndarray, min_rows: int = MIN_PCC_ROWS) -> float | None:
    """Pearson's r, or None with fewer than ``min_rows`` rows or a constant side."""
    if len(x) < max(min_rows, MIN_PCC_ROWS) or np.all(x == x[0]) or np.all(y == y[0]):
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


def agreement(
    original: np.ndarray,
    swapped: np.ndarray,
    min_rows: int = MIN_PCC_ROWS,
    scales: np.ndarray | None = None,
    min_signal_px: float = 0.0,
) -> list[dict]:
    """Per feature, how the swapped series follows the original one: ``{"feature", "pcc", "rmse", "frames",
    "signal_px", "status"}``, then ``{"feature": "mean", ...}`` with the mean of the features' finite PCCs and
    RMSEs.

    ``frames`` is the number of rows. A row where either side is NaN is left out of that feature only.
    ``scales``: (n, 6) pixels per feature unit of each row's original face (:func:`pixel_scales`); with it,
    ``signal_px`` is the original series' standard deviation times its median scale, and a feature whose
    ``signal_px`` is below ``min_signal_px`` gets no ``pcc`` (see the module). ``pcc`` is also None with fewer
    than ``min_rows`` (at least 3) rows left or a constant side; ``rmse`` is None with no row left.
    ``status`` is ``measured`` where ``pcc`` is a number, else ``not_measurable``."""
    a, b = _series(original, "original"), _series(swapped, "swapped")
    if a.shape != b.shape:
        raise ValueError(f"original and swapped series differ in shape: {a.shape} vs {b.shape}")
    px = None if scales is None else _series(scales, "scales")
    if px is not None and px.shape != a.shape:
        raise ValueError(f"scales and the series differ in shape: {px.shape} vs {a.shape}")
    frames = len(a)
    out: list[dict[str, Any]] = []
    for j, name in enumerate(FEATURES):
        keep = np.isfinite(a[:, j]) & np.isfinite(b[:, j])
        x, y = a[keep, j], b[keep, j]
        rmse = float(np.sqrt(np.mean((x - y) ** 2))) if len(x) else None
        signal = None
        if px is not None:
            scale = px[keep, j][np.isfinite(px[keep, j])]
            signal = float(x.std() * np.median(scale)) if len(x) and len(scale) else None
        resolved = signal is None if px is None else signal is not None and signal >= min_signal_px
        pcc = _pcc(x, y, min_rows) if resolved else None
        out.append({"feature": name, "pcc": pcc, "rmse": rmse, "frames": frames, "signal_px": signal})
    out.append(
        {
            "feature": "mean",
            "pcc": _mean([r["pcc"] for r in out]),
            "rmse": _mean([r["rmse"] for r in out]),
            "frames": frames,
            "signal_px": None,
        }
    )
    for r in out:
        r["status"] = MEASURED if r["pcc"] is not None else NOT_MEASURABLE
    return out
