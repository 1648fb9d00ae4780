"""The canonical frontal frame every synthetic identity lives in, and how faces are put into it.

* **Canonical frame.** A square image of side ``size`` (at least 512 px) in
  which a face's eye centres sit on fixed anchors: their midpoint at
  (0.5, 0.42) of the side, 0.25 of the side apart (the inter-ocular distance
  is a quarter of the side), on a horizontal line. The whole face with its
  forehead fits inside with a margin.
* **Mean shape.** The template a group of faces is aligned to is their own
  mean shape: generalised Procrustes analysis (each face's 68 landmarks
  similarity-aligned to the running mean until it stops moving), placed in
  the canonical frame by the eye anchors. It is derived from the faces
  themselves, not a fixed table.
* **Coverage.** A face aligned into the frame need not fill it: where the
  frame reaches past the photo, :func:`align` repeats the photo's edge
  pixels, and :func:`coverage` says which pixels those are.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from facecast.geometry.landmarks import eye_centres
from facecast.geometry.transforms import apply, similarity

MIN_SIZE = 512
EYE_ANCHOR = (0.5, 0.42)  # midpoint of the eye centres, as a fraction of the side
EYE_SPAN = 0.25  # distance between the eye centres, as a fraction of the side


def canonical_matrix(landmarks: np.ndarray, size: int) -> np.ndarray:
    """The similarity that puts these landmarks' eye centres on the canonical anchors of a ``size`` frame."""
    left, right = eye_centres(landmarks)
    anchor = np.array(EYE_ANCHOR) * size
    half = EYE_SPAN * size / 2
    return similarity(np.stack([left, right]), np.stack([anchor - [half, 0], anchor + [half, 0]]))


def mean_shape(shapes: Sequence[np.ndarray], size: int, iterations: int = 10) -> np.ndarray:
    """The Procrustes mean of 68-point shapes, placed in the canonical frame of side ``size``.

    Starts from the first shape; each round aligns every shape to the mean
    and averages, until the mean moves less than 0.001 px.
    """
    if size < MIN_SIZE:
        raise ValueError(f"canonical frame side must be at least {MIN_SIZE} px, got {size}")
    if not shapes:
        raise ValueError("mean_shape needs at least one shape")
    pts = [np.asarray(s, np.float64) for s in shapes]
    mean = apply(canonical_matrix(pts[0], size), pts[0])
    for _ in range(iterations):
        new = np.mean([apply(similarity(p, mean), p) for p in pts], axis=0)
        new = apply(canonical_matrix(new, size), new)
        moved = float(np.abs(new - mean).max())
        mean = new
        if moved < 1e-3:
            break
    return mean


def align(
    image: np.ndarray, landmarks: np.ndarray, template: np.ndarray, size: int, on: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Similarity-align a face onto ``template`` (68 points in a ``size`` frame): the warped image and landmarks.

    ``on``: the indices of the points the similarity is fitted to (default all 68; an expression is aligned on
    the points expressions barely move, :data:`facecast.geometry.landmarks.STABLE`). A face shrunk by more than a third is first downscaled with area
    averaging, so the fine texture does not alias. Where the frame reaches
    past the photo, its edge pixels are repeated; :func:`coverage` marks them.
    """
    matrix = _matrix(landmarks, template, on)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    source = np.asarray(image)
    sampling = matrix
    if scale < 2 / 3:
        h, w = source.shape[:2]
        small = (max(1, round(w * scale)), max(1, round(h * scale)))
        source = cv2.resize(source, small, interpolation=cv2.INTER_AREA)
        sampling = matrix.copy()
        sampling[:, :2] = matrix[:, :2] @ np.diag([w / small[0], h / small[1]])
    out = cv2.warpAffine(source, sampling, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out, apply(matrix, landmarks)


def _matrix(landmarks: np.ndarray, template: np.ndarray, on: np.ndarray | None) -> np.ndarray:
    pts, ref = np.asarray(landmarks, np.float64), np.asarray(template, np.float64)
    return similarity(pts, ref) if on is None else similarity(pts[on], ref[on])


def coverage(
    image_shape: Sequence[int], landmarks: np.ndarray, template: np.ndarray, size: int, on: np.ndarray | None = None
) -> np.ndarray:
    """Float32 (size, size) share of each pixel of :func:`align`'s output that lies inside the source image.

    1 where the aligned image shows the photo, 0 where it only repeats the
    photo's edge pixels, in between along the edge. ``image_shape`` is the
    source image's shape (height, width, ...).
    """
    inside = np.ones(tuple(image_shape[:2]), np.float32)
    matrix = _matrix(landmarks, template, on)
    return cv2.warpAffine(inside, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
