"""One draw (or the replay of one) on one frame and its faces.

The faces travel as albumentations targets: every face's 68 landmarks as keypoints and its
box as a ``pascal_voc`` box whose fifth column is the face's index. Three probe points
around the frame's centre travel with them; a draw mirrored the frame when the probes'
triangle changed orientation (a horizontal or vertical flip, a transpose, any combination
that does not cancel out), whatever transform did it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import albumentations as A
import numpy as np

from facecast.augment.labels import mirror_order

N_POINTS = 68


@dataclass(frozen=True)
class PlacedFace:
    track_id: int
    identity_id: str | None
    bbox: np.ndarray  # x0, y0, x1, y1 px, inside the frame
    landmarks: np.ndarray | None  # (68, 2) px, or None


@dataclass(frozen=True)
class Result:
    image: np.ndarray  # RGB uint8
    faces: list[PlacedFace]
    mirrored: bool
    lost: list[int]  # track ids whose box left the frame


def clip_box(box: np.ndarray, width: int, height: int) -> np.ndarray:
    """The box's part inside the frame (what albumentations' ``clip`` gives)."""
    return np.clip(np.asarray(box, np.float64), 0, [width, height, width, height]).astype(np.float32)


def _probes(width: int, height: int) -> np.ndarray:
    cx, cy, s = width / 2.0, height / 2.0, min(width, height) / 4.0
    return np.array([[cx, cy], [cx + s, cy], [cx, cy + s]], np.float64)


def _orientation(points: np.ndarray) -> float:
    a, b = points[1] - points[0], points[2] - points[0]
    return float(a[0] * b[1] - a[1] * b[0])


def targets(image: np.ndarray, faces: list[PlacedFace]) -> dict:
    """What albumentations is given: the image, every face's landmarks and the probes, every face's box."""
    h, w = image.shape[:2]
    points = [f.landmarks for f in faces if f.landmarks is not None]
    keypoints = np.concatenate([*points, _probes(w, h)]).astype(np.float64)
    boxes = np.array([[*f.bbox, i] for i, f in enumerate(faces)], np.float64).reshape(-1, 5)
    return {"image": image, "keypoints": keypoints, "bboxes": boxes}


def unpack(out: dict, faces: list[PlacedFace]) -> Result:
    """The augmented image and faces from albumentations' output."""
    keypoints = np.asarray(out["keypoints"], np.float64)
    mirrored = _orientation(keypoints[-3:, :2]) < 0  # the probes start with a positive orientation
    boxes = {int(round(b[4])): np.asarray(b[:4], np.float32) for b in np.asarray(out["bboxes"]).reshape(-1, 5)}
    moved, lost, at = [], [], 0
    for i, face in enumerate(faces):
        points = None
        if face.landmarks is not None:
            points = keypoints[at : at + N_POINTS, :2].astype(np.float32)
            at += N_POINTS
            if mirrored:
                points = mirror_order(points)
        box = boxes.get(i)
        if box is None or box[2] <= box[0] or box[3] <= box[1]:
            lost.append(face.track_id)
            continue
        moved.append(replace(face, bbox=box, landmarks=points))
    return Result(out["image"], moved, mirrored, lost)


def draw(compose: A.ReplayCompose, seed: int, image: np.ndarray, faces: list[PlacedFace]) -> tuple[dict, Result]:
    """A new draw of the policy from ``seed`` on this frame: its replay record and the result."""
    compose.set_random_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # albumentations' notes on params that depend on the targets
        out = compose(**targets(image, faces))
    return out["replay"], unpack(out, faces)


def replay(record: dict, image: np.ndarray, faces: list[PlacedFace]) -> Result:
    """The recorded draw applied to this frame."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = A.ReplayCompose.replay(record, **targets(image, faces))
    return unpack(out, faces)
