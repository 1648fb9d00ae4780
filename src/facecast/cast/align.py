"""The canonical frontal frame every synthetic identity lives in, and how faces are put into it.

* **Canonical frame.** A square image of side ``size`` (at least 512 px) in
  which a face's eye centres sit on fixed anchors: their midpoint at
  (0.5, 0.42) of the side, 0.25 of the side apart, on a horizontal line. The
  whole face with its forehead fits inside with a margin.
* **Mean shape.** The template a group of faces is aligned to is their own
  mean shape: generalised Procrustes analysis (each face's 68 landmarks
  similarity-aligned to the running mean until it stops moving), placed in
  the canonical frame by the eye anchors. It is derived from the donors
  themselves, not a fixed table.
* **Forehead points.** dlib's 68 landmarks stop at the brows. The forehead is
  extrapolated from the jaw line: the jaw points 1-15 are mirrored across
  the temple line (jaw point 0 to jaw point 16), their distance from that
  line scaled by ``FOREHEAD_RATIO`` (0.6), which gives a rounded brow-to-hairline
  outline that follows the face's roll and width. The swap stage needs the
  same points on the target faces, so it is a public function, as is
  :func:`contour`, the closed outline of jaw and forehead.
* **Frame points.** The four corners and four edge midpoints of an image,
  so a piecewise-affine warp covers the whole frame.

All landmark arrays are (68, 2) float in pixels, x then y (iBUG order: jaw
0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

MIN_SIZE = 512
EYE_ANCHOR = (0.5, 0.42)  # midpoint of the eye centres, as a fraction of the side
EYE_SPAN = 0.25  # distance between the eye centres, as a fraction of the side
FOREHEAD_RATIO = 0.6
LEFT_EYE = slice(36, 42)  # the eye on the image's left
RIGHT_EYE = slice(42, 48)
JAW = slice(0, 17)


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pts = np.asarray(landmarks, np.float64)
    return pts[LEFT_EYE].mean(axis=0), pts[RIGHT_EYE].mean(axis=0)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 similarity (rotation, uniform scale, translation) mapping ``src`` onto ``dst`` in least squares.

    Umeyama's closed form; no reflection.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s = src.mean(axis=0)
    mu_d = dst.mean(axis=0)
    s = src - mu_s
    d = dst - mu_d
    u, sig, vt = np.linalg.svd(d.T @ s / len(src))
    fix = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rot = u @ fix @ vt
    var = float((s**2).sum(axis=1).mean())
    scale = float(np.trace(np.diag(sig) @ fix) / var)
    t = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, t[:, None]])


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to (n, 2) points."""
    pts = np.asarray(points, np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


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


def align(image: np.ndarray, landmarks: np.ndarray, template: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Similarity-align a face onto ``template`` (68 points in a ``size`` frame): the warped image and landmarks.

    A face shrunk by more than a third is first downscaled with area
    averaging, so the fine texture does not alias.
    """
    matrix = similarity(landmarks, template)
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


def forehead_points(landmarks: np.ndarray, ratio: float = FOREHEAD_RATIO) -> np.ndarray:
    """15 points outlining the forehead above the brows: jaw points 1-15 mirrored across the temple line.

    Each jaw point's distance below the line from jaw point 0 to jaw point 16
    is scaled by ``ratio`` and laid off above it, so the outline follows the
    face's width and roll. Returns (15, 2) float, ordered from the image's
    left temple to its right one.
    """
    pts = np.asarray(landmarks, np.float64)
    a, b = pts[0], pts[16]
    axis = (b - a) / np.linalg.norm(b - a)
    normal = np.array([-axis[1], axis[0]])  # points towards the chin for an upright face
    jaw = pts[1:16]
    along = (jaw - a) @ axis
    below = (jaw - a) @ normal
    foot = a + along[:, None] * axis
    return foot - ratio * below[:, None] * normal


def face_outline(landmarks: np.ndarray, ratio: float = FOREHEAD_RATIO) -> np.ndarray:
    """The 68 landmarks followed by the forehead points: (83, 2)."""
    return np.vstack([np.asarray(landmarks, np.float64), forehead_points(landmarks, ratio)])


def contour(landmarks: np.ndarray, ratio: float = FOREHEAD_RATIO, jaw_margin: float = 0.0) -> np.ndarray:
    """The face's closed outline, (32, 2): the jaw line (points 0-16) then the forehead back over the brows.

    ``jaw_margin`` pushes the jaw points outwards from the face's centre (the
    nose bridge, point 27, to the chin, point 8: its midpoint) by that share
    of the inter-ocular distance, so a mask drawn from the contour covers the
    jaw's edge. Fill it with ``cv2.fillPoly``.
    """
    pts = np.asarray(landmarks, np.float64)
    jaw = pts[JAW].copy()
    if jaw_margin:
        left, right = eye_centres(pts)
        centre = (pts[27] + pts[8]) / 2
        out = jaw - centre
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
        jaw += jaw_margin * float(np.linalg.norm(right - left)) * out
    return np.vstack([jaw, forehead_points(pts, ratio)[::-1]])


def frame_points(width: int, height: int | None = None) -> np.ndarray:
    """The four corners and four edge midpoints of a ``width`` x ``height`` image: (8, 2)."""
    h = width if height is None else height
    x1, y1 = width - 1.0, h - 1.0
    return np.array(
        [[0, 0], [x1 / 2, 0], [x1, 0], [x1, y1 / 2], [x1, y1], [x1 / 2, y1], [0, y1], [0, y1 / 2]], np.float64
    )


def frontality(landmarks: np.ndarray) -> float:
    """How far a face is from frontal and neutral, 0 for a perfect one (lower is better).

    The sum of the nose's horizontal offset from the midpoint between the jaw
    ends, the tilt of the eye line, and the opening of the mouth (inner lips),
    each relative to the inter-ocular distance.
    """
    pts = np.asarray(landmarks, np.float64)
    left, right = eye_centres(pts)
    span = float(np.linalg.norm(right - left))
    yaw = abs(pts[30, 0] - (pts[0, 0] + pts[16, 0]) / 2) / span
    roll = abs(right[1] - left[1]) / span
    mouth = float(np.linalg.norm(pts[66] - pts[62])) / span
    return yaw + roll + mouth
