"""Is there still a face to recognise in an obscured region? dlib's CNN face detector looks.

swap obscures a face (blur, pixelation or a solid fill) when it is too small or turned to be
swapped, or when its render failed. Such a face is measured like a swap: if a face detector
still finds a face there, it is embedded and must keep ``gate.deid.min_distance`` from its own
person and not rank them first; if none is found, nothing recognisable is left to measure and
the face passes the de-identification check with ``deid_status`` ``not_measurable`` recorded
(a swapped face that cannot be measured is still rejected: its pixels are a render, and a render
that no detector recognises as a face is not verified).

The detector is dlib's CNN (``mmod_human_face_detector.dat``, in the face_recognition_models
package): it finds faces down to about 40 px and is more sensitive than dlib's HOG detector to
faces whose edges are softened, so it errs on the side of measuring. The region is the face box
grown by :data:`CONTEXT` on each side, scaled up so that the face box is at least
:data:`MIN_FACE_SIDE` px; a detection counts when its centre lies inside the face box. Neither
HOG nor MTCNN is used here: they are the audit's (:mod:`facecast.gate.audit`).
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

from facecast.models.loaders import dlib_model_path

CONTEXT = 0.5  # share of the face box's size added on each side: a detector needs the face's outline and some around
MIN_FACE_SIDE = 80.0  # px the face box is scaled up to at least: twice the CNN detector's ~40 px smallest face
MAX_SCALE = 8.0  # no face box is scaled up more than this (a 10-px box reaches 80 px)


@cache
def _detector():
    import dlib

    return dlib.cnn_face_detection_model_v1(str(dlib_model_path("cnn_detector")))


def find_face(image: np.ndarray, box: tuple[float, float, float, float]) -> tuple[float, float, float, float] | None:
    """The box (x0, y0, x1, y1, frame px) of the face dlib's CNN finds in the obscured face ``box`` of the RGB
    uint8 ``image``, the most confident one whose centre lies inside ``box``; None when it finds none."""
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = x1 - x0, y1 - y0
    if not (np.isfinite([x0, y0, x1, y1]).all() and w > 0 and h > 0):
        raise ValueError(f"box must be four finite numbers with x1 > x0 and y1 > y0, got {box!r}")
    height, width = image.shape[:2]
    cx0, cy0 = max(0, int(np.floor(x0 - CONTEXT * w))), max(0, int(np.floor(y0 - CONTEXT * h)))
    cx1, cy1 = min(width, int(np.ceil(x1 + CONTEXT * w))), min(height, int(np.ceil(y1 + CONTEXT * h)))
    if cx1 <= cx0 or cy1 <= cy0:
        return None
    crop = np.ascontiguousarray(image[cy0:cy1, cx0:cx1])
    scale = min(MAX_SCALE, max(1.0, MIN_FACE_SIDE / min(w, h)))
    if scale > 1.0:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    best: tuple[float, tuple[float, float, float, float]] | None = None
    for d in _detector()(crop, 0):
        r = d.rect
        found = (
            cx0 + r.left() / scale,
            cy0 + r.top() / scale,
            cx0 + (r.right() + 1) / scale,
            cy0 + (r.bottom() + 1) / scale,
        )
        mx, my = (found[0] + found[2]) / 2, (found[1] + found[3]) / 2
        if x0 <= mx <= x1 and y0 <= my <= y1 and (best is None or d.confidence > best[0]):
            best = (float(d.confidence), found)
    return None if best is None else best[1]
