"""Tracking faces through a clip: box overlap, optical flow between detector frames, gap filling.

* :func:`match` links detections to tracks by box IoU (Hungarian assignment,
  scipy's ``linear_sum_assignment``); a pair below ``min_iou`` is not a link.
  :func:`match_centres` then links what is left where each box's centre lies
  inside the other (the same face, boxed at another size).
* :func:`follow` carries points from one frame to the next with pyramidal
  Lucas-Kanade optical flow (OpenCV), checked forwards and backwards, and
  fits a similarity transform (shift, scale, rotation) to each track's points
  with RANSAC; :func:`move_box` applies its shift and scale to the track's box.
* :func:`track_points` chooses the points a track follows: its 68 landmarks
  when it has them, else corners found inside its box (``goodFeaturesToTrack``),
  else a grid over the box's centre.
* :func:`interpolate` fills the frames between two faces of a track linearly;
  :func:`fill_gaps` does so wherever a track skips a frame, so no frame between
  two sightings of a track lacks its box.
* :func:`pad_tracks` gives the ``pad`` frames before a track's first face and
  after its last the nearest box (source 'padded', box only), where no other
  track's face is: a face that appears or leaves between two detector frames
  is still covered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from facecast.geometry.boxes import centre_inside, centres, iou_matrix
from facecast.models.attributes import Apparent

LK_PARAMS = dict(winSize=(21, 21), maxLevel=3, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))
MAX_FB_ERROR = 1.0  # px: a point whose backward flow misses its start by more is not trusted
MIN_FLOW_POINTS = 4
MAX_SCALE_STEP = 1.25  # a box that grows or shrinks more than this between two frames is not the same face
MIN_VISIBLE = 0.5  # share of a tracked box that must stay inside the frame


@dataclass
class TrackedFace:
    """One face of a track in one frame, before smoothing and pose."""

    frame_idx: int
    box: np.ndarray  # float32 x0, y0, x1, y1
    source: str  # detected | tracked | interpolated | padded
    det_score: float | None = None
    detector: str | None = None  # which detector found it (detected faces only)
    confident: bool = False  # from, or followed from, an MTCNN detection >= min_det_score: landmarks may be fitted
    points: np.ndarray | None = None  # (68, 2) float32 landmarks as fitted
    status: str = "ok"  # ok | too_small | no_landmarks
    reason: str | None = None
    embedding: np.ndarray | None = None
    apparent: Apparent | None = None  # the attribute instrument's answer (faces that were embedded)
    ita_deg: float | None = None  # skin tone of the face (ITA, degrees; faces that were embedded)

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])


@dataclass(eq=False)  # compared and hashed by identity: trackers key dictionaries by track
class Track:
    track_id: int
    faces: list[TrackedFace] = field(default_factory=list)
    box: np.ndarray | None = None  # where the face is believed to be in the current frame
    points: np.ndarray | None = None  # points to follow from the current frame into the next
    points_are_landmarks: bool = False
    missing: bool = False  # not seen since its last face; revived by a detection within max_gap
    missed_since: int | None = None  # first detector frame that did not confirm the track since its last detection
    last_embedded: int | None = None
    confident: bool = False  # its latest detection was confident: its followed faces get landmarks
    ended: bool = False  # no face may join it any more (stills: the image it was found in is done)
    size: tuple[int, int] | None = None  # width, height of the frames it was found in

    @property
    def last_frame(self) -> int:
        return self.faces[-1].frame_idx


def match(track_boxes: np.ndarray, det_boxes: np.ndarray, min_iou: float) -> list[tuple[int, int]]:
    """(track index, detection index) pairs maximising total IoU, each pair at least ``min_iou``."""
    if len(track_boxes) == 0 or len(det_boxes) == 0:
        return []
    iou = iou_matrix(track_boxes, det_boxes)
    rows, cols = linear_sum_assignment(-iou)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if iou[r, c] >= min_iou]


def match_centres(
    track_boxes: np.ndarray, det_boxes: np.ndarray, taken: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Second-chance links among the tracks and detections ``taken`` left over: each box's centre inside
    the other box (the same face, boxed at another size), closest centres first."""
    used_t, used_d = {t for t, _ in taken}, {d for _, d in taken}
    if len(track_boxes) == 0 or len(det_boxes) == 0:
        return []
    mutual = centre_inside(centres(track_boxes), det_boxes) & centre_inside(centres(det_boxes), track_boxes).T
    dist = np.linalg.norm(centres(track_boxes)[:, None] - centres(det_boxes)[None], axis=2)
    pairs = []
    for t, d in sorted(zip(*np.nonzero(mutual)), key=lambda td: dist[td]):
        if t not in used_t and d not in used_d:
            pairs.append((int(t), int(d)))
            used_t.add(t)
            used_d.add(d)
    return pairs


def track_points(gray: np.ndarray, box: np.ndarray, landmarks: np.ndarray | None) -> np.ndarray:
    """(n, 2) float32 points that carry the face in ``box`` into the next frame."""
    if landmarks is not None:
        return np.asarray(landmarks, np.float32).reshape(-1, 2)
    h, w = gray.shape
    x0, y0, x1, y1 = box
    mx, my = (0.15 * (x1 - x0), 0.15 * (y1 - y0))  # stay off the background around the face
    ix0, iy0 = int(max(0, np.floor(x0 + mx))), int(max(0, np.floor(y0 + my)))
    ix1, iy1 = int(min(w, np.ceil(x1 - mx))), int(min(h, np.ceil(y1 - my)))
    if ix1 - ix0 >= 4 and iy1 - iy0 >= 4:
        side = min(ix1 - ix0, iy1 - iy0)
        corners = cv2.goodFeaturesToTrack(
            gray[iy0:iy1, ix0:ix1], maxCorners=30, qualityLevel=0.01, minDistance=max(2.0, side / 8.0), blockSize=3
        )
        if corners is not None and len(corners) >= MIN_FLOW_POINTS:
            return corners.reshape(-1, 2) + np.array([ix0, iy0], np.float32)
    gx, gy = np.meshgrid(np.linspace(x0 + mx, x1 - mx, 4), np.linspace(y0 + my, y1 - my, 4))
    return np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)


@dataclass(frozen=True)
class Flow:
    """Where a track's points went: ``transform`` (2x3 similarity) and the moved points, or None if lost."""

    transform: np.ndarray | None
    points: np.ndarray | None
    reason: str | None = None


def _fit(p0: np.ndarray, p1: np.ndarray, good: np.ndarray, size: float) -> Flow:
    if good.sum() < MIN_FLOW_POINTS:
        return Flow(None, None, f"optical flow kept {int(good.sum())} of {len(good)} points")
    m, _ = cv2.estimateAffinePartial2D(
        p0[good], p1[good], method=cv2.RANSAC, ransacReprojThreshold=max(1.0, 0.03 * size)
    )
    if m is None or not np.all(np.isfinite(m)):
        return Flow(None, None, "no motion fits the optical flow")
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    if not 1.0 / MAX_SCALE_STEP <= scale <= MAX_SCALE_STEP:
        return Flow(None, None, f"optical flow scaled the face by {scale:.2f} in one frame")
    moved = p1.copy()
    # points the flow lost follow the fitted motion, so the set stays whole
    if not good.all():
        moved[~good] = cv2.transform(p0[~good].reshape(-1, 1, 2), m).reshape(-1, 2)
    return Flow(m, moved)


def follow(
    prev_gray: np.ndarray, gray: np.ndarray, point_sets: Sequence[np.ndarray], sizes: Sequence[float]
) -> list[Flow]:
    """Carry each set of points from ``prev_gray`` to ``gray`` (one flow computation for all sets)."""
    if not point_sets:
        return []
    p0 = np.concatenate(point_sets).astype(np.float32).reshape(-1, 1, 2)
    p1, st, _ = cv2.calcOpticalFlowPyrLK(prev_gray, gray, p0, None, **LK_PARAMS)  # type: ignore[call-overload]
    back, st_back, _ = cv2.calcOpticalFlowPyrLK(gray, prev_gray, p1, None, **LK_PARAMS)  # type: ignore[call-overload]
    fb = np.linalg.norm(back - p0, axis=2).reshape(-1)
    good = (st.reshape(-1) == 1) & (st_back.reshape(-1) == 1) & (fb < MAX_FB_ERROR)
    p0, p1 = p0.reshape(-1, 2), p1.reshape(-1, 2)  # type: ignore[assignment]
    flows, start = [], 0
    for pts, size in zip(point_sets, sizes):
        sl = slice(start, start + len(pts))
        flows.append(_fit(p0[sl], p1[sl], good[sl], size))
        start += len(pts)
    return flows


def move_box(box: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """The box shifted and scaled by a similarity transform (it stays upright)."""
    centre = (box[:2] + box[2:]) / 2.0
    half = (box[2:] - box[:2]) / 2.0
    scale = float(np.sqrt(abs(np.linalg.det(transform[:, :2]))))
    c = transform[:, :2] @ centre + transform[:, 2]
    return np.concatenate([c - half * scale, c + half * scale]).astype(np.float32)


def visible_share(box: np.ndarray, width: int, height: int) -> float:
    """Share of the box's area inside the frame."""
    area = float((box[2] - box[0]) * (box[3] - box[1]))
    if area <= 0:
        return 0.0
    w = min(float(box[2]), width) - max(float(box[0]), 0.0)
    h = min(float(box[3]), height) - max(float(box[1]), 0.0)
    return max(w, 0.0) * max(h, 0.0) / area


def interpolate(a: TrackedFace, b: TrackedFace, min_landmark_size: int) -> list[TrackedFace]:
    """Faces for the frames strictly between ``a`` and ``b``: boxes and (where both ends have them) landmarks
    linearly interpolated, source 'interpolated'."""
    n = b.frame_idx - a.frame_idx
    out = []
    for f in range(a.frame_idx + 1, b.frame_idx):
        w = (f - a.frame_idx) / n
        box = ((1 - w) * a.box + w * b.box).astype(np.float32)
        face = TrackedFace(f, box, "interpolated", confident=a.confident and b.confident)
        if a.points is not None and b.points is not None:
            face = replace(face, points=((1 - w) * a.points + w * b.points).astype(np.float32))
        elif face.height < min_landmark_size:
            face = replace(
                face, status="too_small", reason=f"face {face.height:.0f} px high, under {min_landmark_size} px"
            )
        else:
            face = replace(face, status="no_landmarks", reason="interpolated between faces without usable landmarks")
        out.append(face)
    return out


def fill_gaps(faces: list[TrackedFace], min_landmark_size: int) -> list[TrackedFace]:
    """The track's faces in frame order with every skipped frame filled by :func:`interpolate`."""
    faces = sorted(faces, key=lambda f: f.frame_idx)
    out = faces[:1]
    for face in faces[1:]:
        if face.frame_idx > out[-1].frame_idx + 1:
            out.extend(interpolate(out[-1], face, min_landmark_size))
        out.append(face)
    return out


def box_only(face: TrackedFace, min_landmark_size: int, reason: str) -> TrackedFace:
    """The face recorded with its box alone: status 'too_small' under ``min_landmark_size``, else 'no_landmarks'."""
    face.points = None
    if face.height < min_landmark_size:
        face.status, face.reason = "too_small", f"face {face.height:.0f} px high, under {min_landmark_size} px"
    else:
        face.status, face.reason = "no_landmarks", reason
    return face


def _covered(box: np.ndarray, others: list[np.ndarray]) -> bool:
    """Whether ``box`` and one of ``others`` are the same face (either centre inside the other box)."""
    if not others:
        return False
    boxes = np.array(others, np.float64).reshape(-1, 4)
    return bool(centre_inside(centres(box), boxes).any() or centre_inside(centres(boxes), box).any())


def pad_tracks(tracks: Sequence[Track], n_frames: int, pad: int, min_landmark_size: int) -> None:
    """Give each track ``pad`` frames before its first face and after its last (within the clip) its nearest
    box, source 'padded', box only; a frame where another track's face (padded ones included) covers the box
    is left to that track. Tracks' faces must be in frame order."""
    if pad <= 0:
        return
    held: dict[int, list[np.ndarray]] = {}
    for track in tracks:
        for face in track.faces:
            held.setdefault(face.frame_idx, []).append(face.box)
    for track in tracks:
        first, last = track.faces[0], track.faces[-1]
        before = []
        for f in range(first.frame_idx - 1, max(-1, first.frame_idx - 1 - pad), -1):
            if _covered(first.box, held.get(f, [])):
                break
            n = first.frame_idx - f
            before.append(
                box_only(
                    TrackedFace(f, first.box.copy(), "padded"),
                    min_landmark_size,
                    f"padded: the box of the track's first face, {n} frame(s) later",
                )
            )
        after = []
        for f in range(last.frame_idx + 1, min(n_frames, last.frame_idx + 1 + pad)):
            if _covered(last.box, held.get(f, [])):
                break
            n = f - last.frame_idx
            after.append(
                box_only(
                    TrackedFace(f, last.box.copy(), "padded"),
                    min_landmark_size,
                    f"padded: the box of the track's last face, {n} frame(s) earlier",
                )
            )
        for face in before + after:
            held.setdefault(face.frame_idx, []).append(face.box)
        track.faces[:0] = before[::-1]
        track.faces.extend(after)
