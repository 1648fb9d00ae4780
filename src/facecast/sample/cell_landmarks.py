"""The 68 dlib landmarks of the one face in a sheet cell.

Cells are studio photos of one frontal face, so dlib's HOG detector is
enough (and about twenty times faster than MTCNN on a CPU). When several
faces are found the largest is taken.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from facecast.models.loaders import shape_predictor68


class NoFaceError(ValueError):
    """No face was found in an image that must hold one."""


@cache
def _hog_detector():
    import dlib

    return dlib.get_frontal_face_detector()


def face_landmarks(rgb: np.ndarray) -> np.ndarray:
    """(68, 2) float32 landmark positions, in pixels, of the largest face in an RGB uint8 image."""
    import dlib

    rgb = np.ascontiguousarray(rgb)
    detector = _hog_detector()
    faces = detector(rgb, 0)
    if not faces:
        faces = detector(rgb, 1)  # small faces: search the image upsampled once
    if not faces:
        raise NoFaceError(f"no face found in a {rgb.shape[1]}x{rgb.shape[0]} image")
    face = max(faces, key=lambda r: r.width() * r.height())
    shape = shape_predictor68()(rgb, dlib.rectangle(face.left(), face.top(), face.right(), face.bottom()))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
