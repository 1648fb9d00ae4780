"""The donor gallery: every face of every image under ``donors/<donor_id>/``, and one summary row per donor.

Each image (.jpg, .jpeg, .png, in name order) is one frame: MTCNN finds its
faces, each gets landmarks, pose and an embedding (source 'detected'). An
image with no face gets one row with status 'no_face' (box all zeros, reason
'no face detected'); an image that cannot be decoded gets one row with status
'unreadable' and the decoder's reason. Other files in a donor folder are not
images of the donor and are listed in the metrics, as is anything beside the
folders except donors.csv (a later stage reads it).

donors.csv says who the donors are: a folder it does not list is not read
(no declared attributes, licence or consent to go with it); it is named in a
warning and listed, as ``<folder>/``, with the skipped files in the metrics.
A donor it lists with no folder is named in a warning (cast stops on it).
When donors.csv is missing or has no donor_id column every folder is read
(cast stops on the file).

Images larger than ``donor_max_side`` are searched for faces at that size
(portraits need no more), then landmarks and embeddings use the full image.

One image can show more than one face (a bystander, a poster). The donor is
the largest face of each image (box area): only those faces make the donor's
centroid, spread, mean score and median size. The others are still recorded,
with their own landmarks and embeddings, and the reason "a larger face in the
image is the donor's", so a later check can see them. donor_tracks.n_faces
counts every face found in the donor's images.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from facecast.errors import InputError
from facecast.faces.detect import Detections, detect_faces
from facecast.faces.rows import face_record, summarise
from facecast.faces.track import TrackedFace
from facecast.faces.tracker import fit_face_landmarks
from facecast.io.clips import ClipError, read_image
from facecast.io.donors import read_donors_csv
from facecast.models.embedding import embed_chips, face_chips
from facecast.params import FacesParams

DONOR_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
DONORS_CSV = "donors.csv"
NOT_THE_DONOR = "a larger face in the image is the donor's"

log = logging.getLogger(__name__)


@dataclass
class DonorResult:
    """One donor folder: its donor_faces rows, its donor_tracks row, and what could not be used."""

    faces: list[dict] = field(default_factory=list)
    donor: dict = field(default_factory=dict)
    images: int = 0
    images_no_face: int = 0
    images_unreadable: int = 0
    skipped_files: list[str] = field(default_factory=list)  # paths relative to the gallery


def declared_donors(root: Path) -> set[str] | None:
    """The donor ids donors.csv lists; None when cast would stop on the file (missing, unreadable, no donor_id)."""
    try:
        return set(read_donors_csv(root)["donor_id"])
    except InputError:
        return None


def gallery_entries(root: Path) -> tuple[list[Path], list[str]]:
    """The donor folders donors.csv lists, in name order, and every other entry of the gallery but donors.csv
    (not read; a folder donors.csv does not list as ``<name>/``)."""
    declared = declared_donors(root)
    folders, skipped, unlisted = [], [], []
    for path in sorted(root.iterdir()):
        if path.is_dir() and not path.name.startswith("."):
            if declared is None or path.name in declared:
                folders.append(path)
            else:
                unlisted.append(path.name)
                skipped.append(f"{path.name}/")
        elif path.name != DONORS_CSV:
            skipped.append(path.name)
    if unlisted:
        log.warning("%s: %d folder(s) not in donors.csv, not read: %s", root, len(unlisted), ", ".join(unlisted))
    missing = sorted((declared or set()) - {f.name for f in folders})
    if missing:
        log.warning("%s: donors.csv lists %d donor(s) with no folder: %s", root, len(missing), ", ".join(missing))
    return folders, skipped


def _detect(image: np.ndarray, params: FacesParams) -> Detections:
    side = max(image.shape[:2])
    if side <= params.donor_max_side:
        return detect_faces(image, params)
    scale = params.donor_max_side / side
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    found = detect_faces(small, params)
    return Detections((found.boxes / scale).astype(np.float32), found.scores)


def image_faces(image: np.ndarray, params: FacesParams) -> list[TrackedFace]:
    """Every face of one image with landmarks and embedding where the face allows, largest first."""
    found = _detect(image, params)
    faces, shapes = [], []
    for box, score in zip(found.boxes, found.scores):
        face = TrackedFace(0, box, "detected", det_score=float(score))
        faces.append(face)
        shape = fit_face_landmarks(image, face, params.min_landmark_size)
        if shape is not None:
            shapes.append((face, shape))
    for (face, _), vec in zip(shapes, embed_chips(face_chips(image, [s for _, s in shapes]))):
        face.embedding = vec
    faces.sort(key=lambda f: -float((f.box[2] - f.box[0]) * (f.box[3] - f.box[1])))
    return faces


def _empty_row(donor_id: str, image: str, width: int, height: int, status: str, reason: str) -> dict:
    return {
        "donor_id": donor_id,
        "image": image,
        "width": width,
        "height": height,
        "bbox_x0": 0.0,
        "bbox_y0": 0.0,
        "bbox_x1": 0.0,
        "bbox_y1": 0.0,
        "det_score": None,
        "source": "detected",
        "landmarks": None,
        "yaw_deg": None,
        "pitch_deg": None,
        "roll_deg": None,
        "embedding": None,
        "status": status,
        "reason": reason,
        "bystander": False,
    }


def analyse_donor(folder: Path, root: Path, params: FacesParams) -> DonorResult:
    """donor_faces rows and the donor_tracks row of one donor folder (see the module's docstring)."""
    donor_id = folder.name
    result = DonorResult()
    own: list[dict] = []  # the donor's face of each image
    n_faces = 0
    for path in sorted(folder.iterdir()):
        rel = path.relative_to(root).as_posix()
        if not path.is_file() or path.name.startswith(".") or path.suffix.lower() not in DONOR_IMAGE_EXTENSIONS:
            result.skipped_files.append(rel)
            continue
        result.images += 1
        try:
            image = read_image(path)
        except ClipError as exc:
            result.faces.append(_empty_row(donor_id, rel, 0, 0, "unreadable", str(exc)))
            result.images_unreadable += 1
            continue
        height, width = image.shape[:2]
        faces = image_faces(image, params)
        if not faces:
            result.faces.append(_empty_row(donor_id, rel, width, height, "no_face", "no face detected"))
            result.images_no_face += 1
            continue
        n_faces += len(faces)
        for i, face in enumerate(faces):
            if i > 0 and face.reason is None:
                face.reason = NOT_THE_DONOR
            row = {"donor_id": donor_id, "image": rel, "width": width, "height": height}
            row.update(face_record(face, face.points, width, height))
            row["bystander"] = i > 0
            result.faces.append(row)
            if i == 0:
                own.append(row)
    result.donor = {"donor_id": donor_id, "n_images": result.images, "n_faces": n_faces, **summarise(own)}
    return result
