"""Measuring one swapped clip (one variant): every face of every written frame, and a leak scan of the frame.

Per face row of ``swaps.parquet`` whose frame was written:

* dlib's 68 landmarks are re-fitted on the output frame inside the face's
  original detection box (:func:`facecast.gate.fidelity.refit`), the
  same box the faces stage fitted the original in;
* from them, dlib's 128-D descriptor of the output face: its distance to the
  face's own original track centroid (``deid_distance``), to the nearest
  original track centroid of the run (``nearest_original_distance``) and to
  the nearest one that is not its own (``nearest_other_distance``: another
  person of the footage it resembles, recorded, not a leak by itself), the
  rank of the true original among all track and donor centroids
  (``reid_rank``), and, when it was swapped, to the cast identity;
* an obscured face is measured the same way when dlib's CNN detector still
  finds a face in its region (:func:`facecast.gate.obscured.find_face`), in
  the box it found; when it finds none, ``deid_status`` is
  ``not_measurable`` and nothing else is measured;
* for a swapped face, the re-fitted landmarks against the landmarks the
  render was driven with (``landmark_error``, ``landmark_score``), and the
  expression features of the original landmarks and of the re-fitted ones.

A swapped face that ``swap.verify`` measured (``swaps.parquet``:
``measured_landmarks``, ``measured_descriptor``) on the very JPEG read here
(its sha256 is ``image_sha256``) keeps that measure: the same re-fit and
descriptor (:mod:`facecast.models.recognition`) on the same pixels, which
dlib's ResNet would only repeat (``gate.reuse_swap_measures``; a file that
changed since, or a face swap did not measure, is measured here).

Per written frame, CenterFace (:class:`facecast.models.centerface.LeakScanner`)
looks for faces; those matching no face row of the frame are counted
(``leak_faces``) and embedded, and the nearest original track centroid to
any of them is recorded for the verdict. Measures only: :mod:`facecast.gate.verdicts`
decides.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from facecast.errors import InputError
from facecast.gate.expression import FEATURES, features, pixel_scales
from facecast.gate.fidelity import landmark_error, study_score
from facecast.gate.leaks import unmatched
from facecast.gate.obscured import find_face
from facecast.io.clips import ClipError, read_image
from facecast.models.centerface import LeakScanner
from facecast.models.recognition import ReferenceGallery, descriptor, distances, ranks, refit

MIN_BOX_PX = 8.0  # a detection smaller than this cannot be embedded meaningfully
MEASURED, NOT_MEASURABLE = "measured", "not_measurable"  # gates.deid_status


@dataclass(frozen=True)
class FaceRow:
    track_id: int | None
    identity_id: str | None
    swap_status: str
    box: tuple[float, float, float, float] | None  # the face's detection box (faces.parquet); None on no_face
    original: np.ndarray | None  # (68, 2) original landmarks, None where faces had none
    driven: np.ndarray | None  # (68, 2) landmarks the render was driven with
    # swap.verify's measure of this face on the written JPEG: (dlib's re-fitted (68, 2) landmarks, descriptor)
    measured: tuple[np.ndarray, np.ndarray] | None = None


@dataclass(frozen=True)
class MeasureJob:
    clip_id: str
    variant: int
    frames: dict[int, tuple[str | None, list[FaceRow]]]  # frame_idx -> (image relative to swapped_dir, its rows)
    swapped_dir: Path
    gallery: ReferenceGallery
    identities: dict[str, np.ndarray]
    detector_threshold: float
    digests: dict[int, str] = field(default_factory=dict)  # frame_idx -> sha256 of the JPEG swap measured


@dataclass
class FrameLeaks:
    count: int = 0
    nearest_distance: float | None = None  # of the unmatched faces, to the nearest original centroid
    nearest_name: str | None = None


@dataclass
class Measured:
    rows: list[dict] = field(default_factory=list)
    leaks: dict[int, FrameLeaks] = field(default_factory=dict)


_SCANNER: dict[float, LeakScanner] = {}


def _scanner(threshold: float) -> LeakScanner:
    """One CenterFace per process and threshold."""
    if threshold not in _SCANNER:
        _SCANNER[threshold] = LeakScanner(threshold)
    return _SCANNER[threshold]


def read_swapped(path: Path) -> np.ndarray:
    """A frame swap wrote, as RGB uint8; a one-line error naming it when it is missing or unreadable."""
    try:
        return read_image(path)
    except ClipError as exc:
        raise InputError(f"{path}: swapped frame missing or unreadable; run swap again") from exc


def read_bytes(path: Path) -> bytes:
    """A frame swap wrote, as its file's bytes; a one-line error naming it when it is missing."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: swapped frame missing or unreadable; run swap again") from exc


def decode_image(data: bytes, path: Path) -> np.ndarray:
    """A JPEG's bytes as RGB uint8, decoded as :func:`facecast.io.clips.read_image` decodes the file."""
    frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if frame is None:
        raise InputError(f"{path}: swapped frame missing or unreadable; run swap again")
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def _empty_row(job: MeasureJob, frame_idx: int, image: str | None, face: FaceRow) -> dict:
    row = {
        "clip_id": job.clip_id,
        "variant": job.variant,
        "frame_idx": frame_idx,
        "track_id": face.track_id,
        "identity_id": face.identity_id,
        "swap_status": face.swap_status,
        "image": image,
        "deid_distance": None,
        "nearest_original_distance": None,
        "nearest_other_distance": None,
        "resembles_other": None,
        "deid_status": None,
        "reid_rank": None,
        "identity_distance": None,
        "landmark_error": None,
        "landmark_score": None,
        "expression_px": None,
        "leak_faces": None,
        "audit_unchanged": None,
        "audit_unconfirmed": None,
    }
    for name in FEATURES:
        row[f"original_{name}"] = None
        row[f"swapped_{name}"] = None
    return row


def _identify(job: MeasureJob, query: np.ndarray, track: tuple[str, int] | None) -> dict:
    near = distances(query[None], job.gallery.embeddings)[0]
    originals = near[: job.gallery.n_tracks]
    truth = job.gallery.track_index.get(track) if track is not None else None
    others = np.delete(originals, truth) if truth is not None else originals
    out = {
        "nearest_original_distance": float(originals.min()) if len(originals) else None,
        "nearest_other_distance": float(others.min()) if len(others) else None,
    }
    if truth is not None:
        out["deid_distance"] = float(near[truth])
        out["reid_rank"] = int(ranks(query[None], job.gallery.embeddings, np.array([truth]))[0])
    return out


def _measure_face(job: MeasureJob, image: np.ndarray, row: dict, face: FaceRow, same_bytes: bool) -> None:
    """``same_bytes``: the frame's file is the JPEG swap measured, so a face swap.verify measured keeps it."""
    row["deid_status"] = NOT_MEASURABLE
    box = face.box
    if box is None or min(box[2] - box[0], box[3] - box[1]) < MIN_BOX_PX:
        return
    if face.swap_status == "obscured":
        found = find_face(image, box)
        if found is None:  # nothing recognisable left in the region
            return
        box = found
    if same_bytes and face.swap_status == "swapped" and face.measured is not None:
        fitted, query = face.measured  # the same computation on the same pixels (models.recognition)
    else:
        fitted = refit(image, box)
        try:
            query = descriptor(image, fitted)
        except ValueError:  # the fitted points have no extent: no face to embed
            return
    row.update(_identify(job, query, None if face.track_id is None else (job.clip_id, face.track_id)))
    if row["deid_distance"] is not None:
        row["deid_status"] = MEASURED
    if face.identity_id is not None and face.identity_id in job.identities:
        row["identity_distance"] = float(np.linalg.norm(query - job.identities[face.identity_id]))
    if face.swap_status == "swapped" and face.driven is not None:
        row["landmark_error"] = landmark_error(fitted, face.driven)
        row["landmark_score"] = study_score(fitted, face.driven)
        if face.original is not None:
            for name, o, s in zip(FEATURES, features(face.original), features(fitted)):
                row[f"original_{name}"] = float(o)
                row[f"swapped_{name}"] = float(s)
            row["expression_px"] = [float(v) for v in pixel_scales(face.original)]


def _scan(job: MeasureJob, image: np.ndarray, faces: list[FaceRow]) -> FrameLeaks:
    found = _scanner(job.detector_threshold).detect(image)
    known = [f.box for f in faces if f.box is not None]
    leaks = FrameLeaks()
    for i in unmatched(found, known):
        leaks.count += 1
        x0, y0, x1, y1 = (float(v) for v in found[i, :4])
        if min(x1 - x0, y1 - y0) < MIN_BOX_PX:
            continue
        if not job.gallery.n_tracks:
            continue
        query = descriptor(image, refit(image, (x0, y0, x1, y1)))
        near = distances(query[None], job.gallery.embeddings[: job.gallery.n_tracks])[0]
        j = int(near.argmin())
        if leaks.nearest_distance is None or near[j] < leaks.nearest_distance:
            leaks.nearest_distance, leaks.nearest_name = (float(near[j]), job.gallery.names[j])
    return leaks


def measure_clip(job: MeasureJob) -> Measured:
    """Measure every face row and scan every written frame of one (clip, variant)."""
    out = Measured()
    for frame_idx in sorted(job.frames):
        image_name, faces = job.frames[frame_idx]
        rows = [_empty_row(job, frame_idx, image_name, f) for f in faces]
        if image_name is not None:
            data = read_bytes(job.swapped_dir / image_name)
            image = decode_image(data, job.swapped_dir / image_name)
            same = job.digests.get(frame_idx) == hashlib.sha256(data).hexdigest()
            for row, face in zip(rows, faces):
                if face.swap_status in ("swapped", "obscured"):
                    _measure_face(job, image, row, face, same)
            leaks = _scan(job, image, faces)
            out.leaks[frame_idx] = leaks
            for row in rows:
                row["leak_faces"] = leaks.count
        out.rows.extend(rows)
    return out
