"""The 68 iBUG landmarks of a face, fitted by dlib's shape predictor inside a face box.

dlib's predictor was trained on its HOG detector's boxes; MTCNN's boxes reach
higher up the forehead, but the fitted points differ by about a pixel on
close-up faces (measured on openpeople portraits), so boxes are used as they
come. The predictor always returns 68 points, face or not; :func:`shape_problem`
says when they cannot be a face's landmarks.
"""

from __future__ import annotations

import dlib
import numpy as np

from facecast.geometry.boxes import points_box
from facecast.models.loaders import shape_predictor68

# How far the fitted points may stray from the box they were fitted in, as
# shares of the box size: a real face fills most of an MTCNN box.
MIN_EXTENT = 0.35  # the points' bounding box is at least this share of the box, in each axis
MAX_EXTENT = 2.0
MAX_CENTRE_SHIFT = 0.5  # the points' centre lies within this share of the box size from the box centre
MAX_OFF_FRAME = 0.25  # share of the points allowed outside the frame


def to_rect(box: np.ndarray) -> dlib.rectangle:
    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    return dlib.rectangle(x0, y0, max(x1, x0 + 1), max(y1, y0 + 1))


def fit_shape(frame: np.ndarray, box: np.ndarray) -> dlib.full_object_detection:
    """dlib's 68-point shape inside ``box`` (x0, y0, x1, y1) of an RGB uint8 frame."""
    return shape_predictor68()(frame, to_rect(box))


def shape_points(shape: dlib.full_object_detection) -> np.ndarray:
    """(68, 2) float32 pixel coordinates."""
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def shape_problem(points: np.ndarray, box: np.ndarray, width: int, height: int) -> str | None:
    """Why these 68 points cannot be the landmarks of the face in ``box``, or None when they can."""
    size = np.maximum(box[2:] - box[:2], 1.0)
    pbox = points_box(points)
    extent = (pbox[2:] - pbox[:2]) / size
    if extent.min() < MIN_EXTENT:
        return f"landmarks collapsed to {extent.min():.0%} of the face box"
    if extent.max() > MAX_EXTENT:
        return f"landmarks spread to {extent.max():.0%} of the face box"
    shift = np.abs((pbox[:2] + pbox[2:]) / 2 - (box[:2] + box[2:]) / 2) / size
    if shift.max() > MAX_CENTRE_SHIFT:
        return f"landmarks drifted {shift.max():.0%} of the box size off the face box"
    outside = (points[:, 0] < 0) | (points[:, 0] > width) | (points[:, 1] < 0) | (points[:, 1] > height)
    if outside.mean() > MAX_OFF_FRAME:
        return f"{outside.mean():.0%} of the landmarks lie outside the frame"
    return None
