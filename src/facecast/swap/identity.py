"""A cast identity ready to be rendered: its face image, landmarks, warp points and skin colour."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.spatial import Delaunay

from facecast.cast.align import contour, face_outline
from facecast.swap.colour import lab_stats, skin_mask

RINGS = (1.3, 1.8)  # two outer rings of warp points, as multiples of the face contour's distance from its centre


def warp_points(landmarks: np.ndarray) -> np.ndarray:
    """The points a face warp is driven by: 68 landmarks, 15 forehead points, two rings around the face.

    (115, 2). The rings carry the warp smoothly past the face's edge, so the
    soft edge of the mask and the Poisson boundary sit on warped, not torn,
    pixels.
    """
    outline = face_outline(landmarks)
    ring = contour(landmarks)[::2]
    centre = ring.mean(axis=0)
    return np.vstack([outline, *[centre + s * (ring - centre) for s in RINGS]])


@dataclass(frozen=True)
class IdentityFace:
    identity_id: str
    image: np.ndarray  # RGB uint8, the canonical face
    landmarks: np.ndarray  # (68, 2) in the image's px
    points: np.ndarray  # warp_points(landmarks)
    triangles: np.ndarray  # one triangulation of the points, shared by every frame this identity is rendered in
    stats: np.ndarray  # Lab skin statistics of the image (colour.lab_stats)


def load_identity(identities_dir: Path, identity_id: str) -> IdentityFace:
    """Read ``<identities_dir>/<identity_id>/{face.png, landmarks.json}`` as written by stage cast."""
    folder = Path(identities_dir) / identity_id
    face = cv2.imread(str(folder / "face.png"), cv2.IMREAD_COLOR)
    meta = folder / "landmarks.json"
    if face is None or not meta.is_file():
        raise FileNotFoundError(f"identity {identity_id}: face.png or landmarks.json missing or unreadable in {folder}")
    image = cv2.cvtColor(face, cv2.COLOR_BGR2RGB)
    landmarks = np.asarray(json.loads(meta.read_text())["landmarks"], np.float64)
    if landmarks.shape != (68, 2):
        raise ValueError(f"identity {identity_id}: landmarks.json holds {landmarks.shape} points, expected (68, 2)")
    points = warp_points(landmarks)
    stats = lab_stats(image, skin_mask(landmarks, image.shape[1], image.shape[0]))
    if stats is None:
        raise ValueError(f"identity {identity_id}: no skin found under its landmarks")
    return IdentityFace(identity_id, image, landmarks, points, Delaunay(points).simplices, stats)
