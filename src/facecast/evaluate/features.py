"""What the classifier sees of an image: HOG of an aligned face crop (or of the whole frame), per person centred.

The face crop is a similarity warp that puts the eye centres of the original
frame's landmarks on fixed anchors (0.42 of the side apart, on the line 0.30
of the side from the top): brows, eyes, nose and mouth fill it. A recast frame
is cropped with its original's landmarks, so the two crops differ only by the
recast. The descriptor is OpenCV's HOG (Dalal and Triggs): 9 orientations,
2x2-cell blocks, one cell stride, on the grey crop.

Centring (``evaluate.normalise: subject``) subtracts each person's own mean
descriptor, over the images of that person in the set being scored (labels
unused): a person-specific baseline, so what is left is how this frame
differs from the person's usual face, the expression or action.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import cv2
import numpy as np

from facecast.geometry.landmarks import eye_centres
from facecast.geometry.transforms import similarity
from facecast.params import EvaluateParams

EYE_SPAN = 0.42  # eye centre to eye centre, as a share of the crop's side
EYE_ROW = 0.30  # the eye line, as a share of the side from the top
ORIENTATIONS = 9


def face_crop(image: np.ndarray, landmarks: np.ndarray, side: int) -> np.ndarray:
    """The grey face crop of side ``side`` aligned by the eye centres of ``landmarks``.

    A face shrunk by more than half is warped at the size nearest its own (a power of two times ``side``) and
    then area-averaged down, so the crop is anti-aliased (``warpAffine`` itself samples, it does not average).
    """
    left, right = eye_centres(landmarks)
    scale = EYE_SPAN * side / max(float(np.linalg.norm(right - left)), 1e-6)
    over = 1
    while scale * over < 0.5 and over < 16:
        over *= 2
    big = side * over
    centre = np.array([0.5 * big, EYE_ROW * big])
    half = EYE_SPAN * big / 2
    matrix = similarity(np.stack([left, right]), np.stack([centre - [half, 0], centre + [half, 0]]))
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    warped = cv2.warpAffine(grey, matrix[:2], (big, big), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return warped if over == 1 else cv2.resize(warped, (side, side), interpolation=cv2.INTER_AREA)


def frame_crop(image: np.ndarray, width: int, cell: int) -> np.ndarray:
    """The whole grey frame resized to ``width``, its height kept in proportion (whole cells, at least two)."""
    h, w = image.shape[:2]
    height = max(2 * cell, round(width * h / w / cell) * cell)
    return cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), (width, height), interpolation=cv2.INTER_AREA)


class Describer:
    """One image (with its original's landmarks, for the face input) -> its HOG descriptor."""

    def __init__(self, params: EvaluateParams):
        self.params = params
        self._hogs: dict[tuple[int, int], cv2.HOGDescriptor] = {}

    def _hog(self, width: int, height: int) -> cv2.HOGDescriptor:
        if (width, height) not in self._hogs:
            c = self.params.hog_cell_px
            self._hogs[width, height] = cv2.HOGDescriptor((width, height), (2 * c, 2 * c), (c, c), (c, c), ORIENTATIONS)
        return self._hogs[width, height]

    def crop(self, image: np.ndarray, landmarks: np.ndarray | None) -> np.ndarray:
        p = self.params
        if p.input == "face":
            if landmarks is None:
                raise ValueError("the face input needs the original frame's landmarks")
            return face_crop(image, landmarks, p.crop_px)
        return frame_crop(image, p.frame_px, p.hog_cell_px)

    def __call__(self, image: np.ndarray, landmarks: np.ndarray | None) -> np.ndarray:
        crop = self.crop(image, landmarks)
        return np.asarray(self._hog(crop.shape[1], crop.shape[0]).compute(crop), np.float32).ravel()


def centred(features: np.ndarray, groups: Sequence[Hashable], normalise: str) -> np.ndarray:
    """``features`` minus the mean of their group's rows (``normalise: subject``), or as they are (``none``)."""
    if normalise == "none" or not len(features):
        return features
    out = np.array(features, np.float32, copy=True)
    index: dict[Hashable, list[int]] = {}
    for i, g in enumerate(groups):
        index.setdefault(g, []).append(i)
    for rows in index.values():
        out[rows] -= out[rows].mean(axis=0)
    return out
