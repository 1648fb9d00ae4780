"""Face detection with MTCNN (facenet-pytorch): every face in a frame, as boxes and scores.

MTCNN looks for faces down to ``min_face_size`` pixels with its P-, R- and
O-net ``thresholds``; detections scoring below ``min_det_score`` are dropped.
Boxes are clipped to the frame, and a box left with no area is dropped with
them (it lies outside the picture).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from facecast.models.loaders import mtcnn
from facecast.params import FacesParams


@dataclass(frozen=True)
class Detections:
    """``boxes``: (n, 4) float32 x0, y0, x1, y1 in pixels; ``scores``: (n,) float32; ordered left to right."""

    boxes: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Boxes limited to the frame (float32, same shape)."""
    out = np.asarray(boxes, dtype=np.float32).reshape(-1, 4).copy()
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
    return out


@cache
def detector(min_face_size: int, thresholds: tuple[float, float, float]):
    """MTCNN with its three networks in channels-last memory format: the same detections (to float
    rounding), about 1.5 times faster on CPU, mostly in P-net's max pooling."""
    import torch

    model = mtcnn(min_face_size, thresholds)
    for net in (model.pnet, model.rnet, model.onet):
        net.to(memory_format=torch.channels_last)
    return model


def detect_faces(frame: np.ndarray, params: FacesParams) -> Detections:
    """All faces MTCNN finds in one RGB uint8 frame with a score of at least ``params.min_det_score``."""
    model = detector(params.min_face_size, tuple(params.thresholds))
    boxes, scores = model.detect(frame)
    if boxes is None:
        return Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))
    # facenet-pytorch hands back object arrays with numpy >= 2: make them numeric.
    boxes = clip_boxes(np.asarray(boxes, dtype=np.float64), frame.shape[1], frame.shape[0])
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    keep = (scores >= params.min_det_score) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, scores = boxes[keep], scores[keep]
    order = np.lexsort((boxes[:, 1], boxes[:, 0]))
    return Detections(boxes[order], scores[order])
