"""Face boxes (x0, y0, x1, y1 in pixels): overlap, centres, containment, and the box around points."""

from __future__ import annotations

import numpy as np


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box of ``a`` (n, 4) with every box of ``b`` (m, 4)."""
    a = np.asarray(a, np.float64).reshape(-1, 1, 4)
    b = np.asarray(b, np.float64).reshape(1, -1, 4)
    w = (np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])).clip(0)
    h = (np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])).clip(0)
    inter = w * h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def centre_inside(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(n, m) bool: whether point i lies inside box j."""
    p = np.asarray(points, np.float64).reshape(-1, 1, 2)
    b = np.asarray(boxes, np.float64).reshape(1, -1, 4)
    return np.all((b[..., :2] <= p) & (p <= b[..., 2:]), axis=2)


def centres(boxes: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return (b[:, :2] + b[:, 2:]) / 2


def points_box(points: np.ndarray) -> np.ndarray:
    """The bounding box of a set of points, x0, y0, x1, y1."""
    return np.concatenate([points.min(axis=0), points.max(axis=0)]).astype(np.float32)
