"""The independent audit: the frames the gate passed, scanned for faces left as they were in the original.

The gate decides with CenterFace (the leak scan), dlib's CNN detector (obscured regions), dlib's
shape predictor and dlib's descriptor. The audit uses detectors that decide nothing else in the
gate (:data:`DETECTORS`, chosen by ``gate.audit.detectors``):

* ``dlib_hog``: dlib's HOG frontal face detector, the frame upsampled :data:`HOG_UPSAMPLE` time
  (faces down to about 40 px);
* ``mtcnn``: MTCNN (facenet-pytorch) at thresholds :data:`MTCNN_THRESHOLDS`, below the faces stage's
  (0.6, 0.7, 0.7), looking for faces down to :data:`MTCNN_MIN_FACE` px.

Every region either finds is compared with the same region of the original frame: the mean
absolute difference of its pixels (all three channels, grey levels 0-255). Below
:data:`UNCHANGED_MAD` the region is unchanged. It is a face that reaches the dataset as it was
filmed, whatever the gate's other measures said, when the audit is sure it is a face: dlib's
HOG found it (HOG's false detections are rare), or MTCNN gave it at least :data:`MTCNN_SURE`, or
dlib's CNN detector finds a face in it on a second look (:func:`facecast.gate.obscured.find_face`).
At its low thresholds MTCNN also calls hands, glasses and folds of cloth faces, with scores up
to 0.95 (on ``party_short.webm``, three such regions of a hand holding a glass, untouched
because they are no face); a region none of the three vouches for is counted as
``unconfirmed``, never silently dropped, and its frames are the ones to look at. A frame with a
confirmed unchanged region is rejected (reason ``audit``); the counts go to
``metrics/gates.json`` (``audit``) and the dataset card.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from facecast.errors import InputError
from facecast.gate.measure import read_swapped
from facecast.gate.obscured import find_face
from facecast.io.clips import ClipError, iter_frames

DETECTORS = {"dlib_hog": "dlib HOG (upsampled once)", "mtcnn": "MTCNN (thresholds 0.5/0.6/0.6, faces from 12 px)"}
# grey levels. Re-encoding an untouched face region as JPEG moves it by 1.8-2.6 at swap's default quality (92)
# and by up to 4.8 at the lowest quality swap accepts (50), measured on the faces of party_640x480.mp4; obscuring
# moves the same faces by 11-18 (pixelate) and 17-30 (blur), a swap replaces the face. A region closer than this
# to the original was not touched.
UNCHANGED_MAD = 6.0
HOG_UPSAMPLE = 1
MTCNN_MIN_FACE = 12
MTCNN_THRESHOLDS = (0.5, 0.6, 0.6)
MTCNN_SURE = 0.99  # an MTCNN probability from which the audit needs no second look to call a region a face
MIN_REGION_PX = 4  # a detection narrower or shorter than this, once clipped to the frame, has no region to compare


@dataclass(frozen=True)
class AuditJob:
    clip_id: str
    variant: int
    clip_path: str  # the original clip (clips.path) and its kind (video | images)
    clip_kind: str
    frames: dict[int, str]  # frame_idx -> swapped image, relative to swapped_dir: the frames the gate passed
    swapped_dir: Path
    detectors: tuple[str, ...]


@dataclass
class FrameAudit:
    regions: int = 0
    unchanged: int = 0  # unchanged regions that are faces: leaks
    unconfirmed: int = 0  # unchanged regions no second look calls a face (not leaks; the frames to look at)
    mads: list[float] = field(default_factory=list)  # per region, its mean absolute difference to the original


@dataclass
class Audited:
    clip_id: str
    variant: int
    frames: dict[int, FrameAudit] = field(default_factory=dict)


@cache
def _hog():
    import dlib

    return dlib.get_frontal_face_detector()


def detect(image: np.ndarray, detectors: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(k, 4) float64 boxes (x0, y0, x1, y1) of the faces the named ``detectors`` find in the RGB uint8 ``image``
    (each detector's own boxes, not merged: a face both find is compared twice), and (k,) bool: whether the
    detector is sure of it (HOG's, and MTCNN's from :data:`MTCNN_SURE`)."""
    boxes: list[list[float]] = []
    sure: list[bool] = []
    for name in detectors:
        if name == "dlib_hog":
            for r in _hog()(image, HOG_UPSAMPLE):
                boxes.append([r.left(), r.top(), r.right() + 1, r.bottom() + 1])
                sure.append(True)
        elif name == "mtcnn":
            from facecast.models.loaders import mtcnn

            found, probs = mtcnn(MTCNN_MIN_FACE, MTCNN_THRESHOLDS).detect(image)
            if found is not None:
                boxes.extend(np.asarray(found, np.float64).tolist())
                sure.extend(bool(p >= MTCNN_SURE) for p in probs)
        else:
            raise ValueError(f"unknown audit detector {name!r}: allowed are {', '.join(DETECTORS)}")
    return np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(sure, bool)


def region_mad(original: np.ndarray, output: np.ndarray, box) -> float | None:
    """Mean absolute difference (grey levels) of ``box`` between two frames of one size; None when the box,
    clipped to the frame, is smaller than :data:`MIN_REGION_PX` on a side."""
    if original.shape != output.shape:
        raise ValueError(f"frames differ in size: {original.shape} vs {output.shape}")
    h, w = original.shape[:2]
    x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x1, y1 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x1 - x0 < MIN_REGION_PX or y1 - y0 < MIN_REGION_PX:
        return None
    a = original[y0:y1, x0:x1].astype(np.int16)
    b = output[y0:y1, x0:x1].astype(np.int16)
    return float(np.abs(a - b).mean())


def audit_frame(original: np.ndarray, output: np.ndarray, detectors: tuple[str, ...]) -> FrameAudit:
    """Every face region the ``detectors`` find in ``output``, and how many are unchanged from ``original``."""
    result = FrameAudit()
    boxes, sure = detect(output, detectors)
    for box, certain in zip(boxes, sure):
        mad = region_mad(original, output, box)
        if mad is None:
            continue
        result.regions += 1
        result.mads.append(mad)
        if mad >= UNCHANGED_MAD:
            continue
        x0, y0, x1, y1 = (float(v) for v in box)
        height, width = output.shape[:2]
        clipped = (max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1))
        if certain or find_face(output, clipped) is not None:
            result.unchanged += 1
        else:
            result.unconfirmed += 1
    return result


def audit_clip(job: AuditJob) -> Audited:
    """Audit the passed frames of one (clip, variant) against the original clip's frames."""
    out = Audited(job.clip_id, job.variant)
    wanted = set(job.frames)
    if not wanted:
        return out
    first, last = min(wanted), max(wanted)
    try:
        for frame_idx, original in enumerate(iter_frames(job.clip_path, job.clip_kind, first), first):
            if frame_idx in wanted:
                output = read_swapped(job.swapped_dir / job.frames[frame_idx])
                if output.shape != original.shape:
                    raise InputError(
                        f"{job.swapped_dir / job.frames[frame_idx]}: {output.shape[1]}x{output.shape[0]} px, the "
                        f"original frame {frame_idx} of {job.clip_path} is {original.shape[1]}x{original.shape[0]}; "
                        "run swap again"
                    )
                out.frames[frame_idx] = audit_frame(original, output, job.detectors)
            if frame_idx >= last:
                break
    except ClipError as exc:
        raise InputError(f"the audit cannot read the original clip: {exc}") from exc
    missing = sorted(wanted - set(out.frames))
    if missing:
        raise InputError(f"{job.clip_path}: has no frame {missing[0]} that gate passed; run ingest and swap again")
    return out
