"""A cast identity ready to be rendered: its face image, landmarks, warp points, skin colour and expression atlas."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.spatial import Delaunay

from facecast.geometry.landmarks import expression
from facecast.geometry.outline import contour, face_outline
from facecast.swap.colour import lab_stats, skin_mask

RINGS = (1.3, 1.8)  # two outer rings of warp points, as multiples of the face contour's distance from its centre
SKIN_INSET = 0.02  # share of the image side the face is shrunk by before its edge colours are spread outwards
SKIN_SOFTEN = 0.02  # share of the image side: blur of the spread colours


def extend_skin(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The image with everything outside the face replaced by the colour of the nearest face pixel, softened.

    The mask's soft edge lies just outside the rendered outline; there the
    identity's own background or hair would show as a grey or dark halo over
    the frame's neck and hair. Spreading the face's edge colours outwards
    (each outside pixel takes its nearest inside pixel's colour, via OpenCV's
    labelled distance transform) makes that band skin, which fades into the
    frame like a neck or temple does.
    """
    side = image.shape[0]
    inside = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.rint(contour(landmarks)).astype(np.int32)], 1)
    radius = max(1, int(round(SKIN_INSET * side)))
    inside = cv2.erode(inside, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    if not inside.any():
        return image.copy()
    _, labels = cv2.distanceTransformWithLabels(1 - inside, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    sources = np.argwhere(inside == 1)  # zero pixels of (1 - inside), in the row-major order their labels count
    nearest = sources[labels - 1]
    spread = image[nearest[..., 0], nearest[..., 1]]
    spread = cv2.GaussianBlur(spread, (0, 0), sigmaX=SKIN_SOFTEN * side)
    return np.where(inside[..., None] == 1, image, spread)


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
class Expression:
    """One entry of an identity's expression atlas, ready to be warped: the reference face is entry 0."""

    key: str
    image: np.ndarray  # RGB uint8, surroundings filled with its edge colours (extend_skin)
    points: np.ndarray  # warp_points of its landmarks
    stats: np.ndarray  # Lab skin statistics (colour.lab_stats)
    expression: np.ndarray  # geometry.landmarks.expression against the identity's reference landmarks


@dataclass(frozen=True)
class IdentityFace:
    identity_id: str
    image: np.ndarray  # RGB uint8, the canonical face, its surroundings filled with its edge colours (extend_skin)
    landmarks: np.ndarray  # (68, 2) in the image's px
    points: np.ndarray  # warp_points(landmarks)
    triangles: np.ndarray  # one triangulation of the points, shared by every frame this identity is rendered in
    stats: np.ndarray  # Lab skin statistics of the image (colour.lab_stats)
    atlas: tuple[Expression, ...] = ()  # the reference face and every kept entry of atlas.json (cast.atlas)


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
    stats = _stats(identity_id, "face.png", image, landmarks)
    face = extend_skin(image, landmarks)
    atlas = [Expression("reference", face, points, stats, expression(landmarks, landmarks))]
    atlas += _atlas(folder, identity_id, landmarks)
    return IdentityFace(identity_id, face, landmarks, points, Delaunay(points).simplices, stats, tuple(atlas))


def _stats(identity_id: str, name: str, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    stats = lab_stats(image, skin_mask(landmarks, image.shape[1], image.shape[0], beard_free=True))
    if stats is None:
        raise ValueError(f"identity {identity_id}: no skin found under the landmarks of {name}")
    return stats


def _atlas(folder: Path, identity_id: str, reference: np.ndarray) -> list[Expression]:
    """The kept entries of ``<folder>/atlas.json`` (none when the identity has no atlas)."""
    meta = folder / "atlas.json"
    if not meta.is_file():
        return []
    out = []
    for entry in json.loads(meta.read_text())["entries"]:
        if entry["status"] != "ok":
            continue
        path = folder / entry["image"]
        read = cv2.imread(str(path), cv2.IMREAD_COLOR)
        landmarks = np.asarray(entry["landmarks"], np.float64)
        if read is None or landmarks.shape != (68, 2):
            raise FileNotFoundError(f"identity {identity_id}: atlas entry {entry['key']} unreadable ({path})")
        image = cv2.cvtColor(read, cv2.COLOR_BGR2RGB)
        stats = _stats(identity_id, entry["image"], image, landmarks)
        out.append(
            Expression(
                entry["key"],
                extend_skin(image, landmarks),
                warp_points(landmarks),
                stats,
                expression(landmarks, reference),
            )
        )
    return out
