"""dlib's 128-D face descriptors (ResNet, "dlib_face_recognition_resnet_model_v1").

A face is aligned by its 68-point shape into a 150x150 chip (``dlib.get_face_chips``,
padding 0.25: exactly what ``compute_face_descriptor(image, shape)`` does
inside, so the descriptors are identical), and chips go through the network
in batches. Two descriptors of the same person lie within a Euclidean distance
of about 0.6 (dlib's own threshold); descriptors are not normalised.
"""

from __future__ import annotations

from collections.abc import Sequence

import dlib
import numpy as np

from facecast.models.loaders import face_encoder
from facecast.tables import EMBEDDING_DIM

CHIP_SIZE = 150
CHIP_PADDING = 0.25


def face_chips(frame: np.ndarray, shapes: Sequence[dlib.full_object_detection]) -> list[np.ndarray]:
    """Aligned 150x150 RGB chips of the faces whose shapes were fitted in this RGB uint8 frame."""
    if not shapes:
        return []
    batch = dlib.full_object_detections()
    for shape in shapes:
        batch.append(shape)
    return list(dlib.get_face_chips(frame, batch, size=CHIP_SIZE, padding=CHIP_PADDING))


def load_encoder() -> None:
    face_encoder()


def embed_chips(chips: Sequence[np.ndarray]) -> np.ndarray:
    """(n, 128) float32 descriptors of aligned chips."""
    if not chips:
        return np.zeros((0, EMBEDDING_DIM), np.float32)
    vectors = face_encoder().compute_face_descriptor([np.ascontiguousarray(c) for c in chips])
    return np.array(vectors, dtype=np.float32).reshape(-1, EMBEDDING_DIM)


def embedding_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two descriptors (same person: under about 0.6)."""
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))
