"""Every face of a clip, frame by frame: detect on a stride, follow in between, landmark and embed.

:class:`ClipTracker` takes the frames in order. On every ``detect_every``-th
frame (0, n, 2n, ...) the detectors run and their regions are linked to the live
tracks by box IoU, then by mutual box centres; a detection linked to no track
starts a new one (track ids 0, 1, ... in order of first appearance; left to
right among tracks starting in the same frame). On the frames in between,
each visible track is carried by optical flow of its points (its landmarks,
or corners inside a small face's box) and dlib's shape is refitted in the
moved box.

A detector frame that misses a visible track does not end it at once (the
detector misses faces now and then): the track is followed on by flow for up
to ``max_gap`` frames from that first miss, until a detection confirms it
again; a track whose box centre lies inside a detection linked elsewhere is
not followed on (it would double that face). A track goes *missing* when it
is not followed on, or when the flow can no longer carry it (the box leaves
the frame, the flow loses it): it gets no face until a later detection links
to it. A followed face whose refitted landmarks collapse, drift or disagree
with the flow keeps its box without landmarks. If that detection comes within ``max_gap`` frames of the track's
last face, the frames between are filled by linear interpolation (source
'interpolated'); otherwise the track has ended and the detection starts a new
one. Missing tracks keep following the flow so that the detection can find
them where they moved.

A new track is also followed backwards through the frames since the previous
detector frame (the face was most likely there, not yet detected), as far as
the flow carries it.

Detector frames look for every region any detector of ``detectors`` finds
at its low threshold (:func:`facecast.faces.detect.find_regions`); each one
joins or starts a track, so nothing any shipped detector sees is left without
a face row. Only a confident region (MTCNN at or above ``min_det_score``) and
the faces followed from it get landmarks; a track whose latest detection was
not confident is followed box-only (status 'no_landmarks', reason naming the
detector and its score), and so is a face whose refitted landmarks fail (a
head turning away, motion blur): it keeps its track and its box, and swap
obscures it, until a detector confirms it again or ``max_gap`` frames pass.
When the clip is done, every skipped frame inside a track is interpolated and
``pad_frames`` frames before its first face and after its last get its
nearest box (:func:`facecast.faces.track.pad_tracks`).

Stills (``stills=True``: an image folder of separate photographs): every
image is searched by the detectors and no track reaches from one image into
the next (each image's faces are their own tracks), nor is any padded.

Faces whose box is lower than ``min_landmark_size`` get no landmarks (status
'too_small', box only). Embeddings are computed on the first face with
landmarks the tracker meets going forwards (faces found going backwards get
none) and then whenever ``embed_every`` frames have passed since the track's
last embedding, in one batch per frame. The same faces are measured by the
attribute instrument (apparent age and sex, skin tone as ITA:
:mod:`facecast.models.attributes`), so each track's apparent attributes are
the mean over the faces that were embedded.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace

import cv2
import dlib
import numpy as np

from facecast.faces.detect import clip_boxes, find_regions
from facecast.faces.embed import Embedder
from facecast.faces.track import (
    MIN_VISIBLE,
    Track,
    TrackedFace,
    box_only,
    fill_gaps,
    follow,
    interpolate,
    match,
    match_centres,
    move_box,
    pad_tracks,
    track_points,
    visible_share,
)
from facecast.geometry.boxes import centre_inside, centres
from facecast.models.attributes import apparent_many, ita_degrees, skin_mask
from facecast.models.embedding import face_chips
from facecast.models.landmarks import fit_shape, shape_points, shape_problem
from facecast.params import FacesParams

MAX_REFIT_SHIFT = 0.15  # median landmark distance between refit and flow, as a share of the face height


def too_small_reason(height: float, min_size: int) -> str:
    return f"face {height:.0f} px high, under {min_size} px"


def fit_face_landmarks(
    frame: np.ndarray, face: TrackedFace, min_size: int, flow_points: np.ndarray | None = None
) -> dlib.full_object_detection | None:
    """Fit the 68 points in the face's box, set its status and reason (and ``points`` when usable);
    return dlib's shape when usable. ``flow_points``: where optical flow carried the face's previous
    landmarks; a refit far from them is not the same face."""
    if face.height < min_size:
        face.status, face.reason = "too_small", too_small_reason(face.height, min_size)
        return None
    shape = fit_shape(frame, face.box)
    points = shape_points(shape)
    problem = shape_problem(points, face.box, frame.shape[1], frame.shape[0])
    if problem is None and flow_points is not None:
        shift = float(np.median(np.linalg.norm(points - flow_points, axis=1))) / face.height
        if shift > MAX_REFIT_SHIFT:
            problem = f"refitted landmarks lie {shift:.0%} of the face height from where optical flow carried them"
    if problem is not None:
        face.status, face.reason = "no_landmarks", problem
        return None
    face.points = points
    return shape


class ClipTracker:
    """Feed frames in order with :meth:`step`; :meth:`tracks` returns every track with its faces.

    Chips of the faces due for an embedding go to ``embedder`` under the key
    (track_id, frame_idx); :meth:`tracks` waits for their descriptors."""

    def __init__(self, params: FacesParams, embedder: Embedder, stills: bool = False):
        self.params = params
        self.stills = stills
        self.embedder = embedder
        self._tracks: list[Track] = []
        self._prev_gray: np.ndarray | None = None
        self._history: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=params.detect_every - 1)  # (rgb, gray)
        self._frame_idx = -1
        self.frame_size: tuple[int, int] | None = None  # width, height

    @property
    def n_frames(self) -> int:
        return self._frame_idx + 1

    def tracks(self) -> list[Track]:
        """Every track, numbered 0, 1, ... in order of first appearance, with its embeddings."""
        vectors = self.embedder.results()
        for track in self._tracks:
            for face in track.faces:
                face.embedding = vectors.get((track.track_id, face.frame_idx), face.embedding)
            track.faces = fill_gaps(track.faces, self.params.min_landmark_size)
        if not self.stills:
            pad_tracks(self._tracks, self.n_frames, self.params.pad_frames, self.params.min_landmark_size)
        ordered = sorted(self._tracks, key=lambda t: (t.faces[0].frame_idx, t.track_id))
        return [replace(t, track_id=i) for i, t in enumerate(ordered)]

    def _live(self, frame_idx: int) -> list[Track]:
        """Tracks that may still get faces: visible ones, and missing ones a detection could still revive."""
        gap = self.params.max_gap
        return [t for t in self._tracks if not t.ended and (not t.missing or frame_idx - t.last_frame - 1 <= gap)]

    def step(self, frame: np.ndarray) -> None:
        self._frame_idx += 1
        idx = self._frame_idx
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        height, width = gray.shape
        if self.frame_size is not None and self.frame_size != (width, height):
            self.stills = True  # frames that change size are not one sequence: photographs
        self.frame_size = (width, height)
        if self.stills:  # a new photograph: nothing carries over from the one before
            for tr in self._tracks:
                tr.ended = True
            self._prev_gray = None
            self._history.clear()
        live = self._live(idx)
        predicted = self._follow(live, gray)
        if self.stills or idx % self.params.detect_every == 0:
            found, unconfirmed = self._detect(frame, live, idx)
        else:
            found, unconfirmed = [], [t for t in live if not t.missing]
        found += self._carry(unconfirmed, predicted, idx, width, height)
        shapes: dict[int, dlib.full_object_detection] = {}
        kept = []
        for tr, face, flow_points in found:
            shape = self._landmarks(frame, tr, face, flow_points)
            if shape is not None:
                shapes[tr.track_id] = shape
            kept.append((tr, face))
        self._embed(frame, kept, shapes, idx)
        for tr, face in kept:
            new = not tr.faces
            if tr.missing and tr.faces:
                tr.faces.extend(interpolate(tr.faces[-1], face, self.params.min_landmark_size))
            tr.faces.append(face)
            tr.size = tr.size or (width, height)
            tr.missing = False
            tr.box = face.box.copy()
            landmarks = face.points if face.status == "ok" else None
            tr.points = track_points(gray, face.box, landmarks)
            tr.points_are_landmarks = landmarks is not None
            if new:
                self._extend_back(tr, gray)
        self._prev_gray = gray
        self._history.append((frame, gray))

    def _extend_back(self, track: Track, gray: np.ndarray) -> None:
        """Follow a new track backwards by optical flow through the frames since the previous detector
        frame: the face was most likely there already, and the detector missed it. Stops where the flow
        loses it, it leaves the frame, or another track already holds it; a face whose landmarks do not fit
        there is kept box-only."""
        points, landmarks, box = track.points, track.points_are_landmarks, track.box
        later = gray
        height, width = gray.shape
        earlier_faces: list[TrackedFace] = []
        for frame, earlier in reversed(self._history):
            idx = track.faces[0].frame_idx - len(earlier_faces) - 1
            flow = follow(later, earlier, [points], [float(box[3] - box[1])])[0]
            if flow.transform is None:
                break
            box = move_box(box, flow.transform)
            if visible_share(box, width, height) < MIN_VISIBLE or self._held(centres(box)[0], idx):
                break
            face = TrackedFace(idx, clip_boxes(box, width, height)[0], "tracked", confident=track.confident)
            self._landmarks(frame, track, face, flow.points if landmarks else None)
            earlier_faces.append(face)
            landmarks = face.status == "ok"
            points = track_points(earlier, face.box, face.points if landmarks else None)
            later = earlier
        track.faces[:0] = earlier_faces[::-1]

    def _landmarks(
        self, frame: np.ndarray, track: Track, face: TrackedFace, flow_points: np.ndarray | None
    ) -> dlib.full_object_detection | None:
        """Fit the face's landmarks when its track is confident (dlib's shape when usable); otherwise, or when
        they do not fit, the face is kept box-only with the reason."""
        if not track.confident:
            found = (
                f"found only by {face.detector} (score {face.det_score:.2f})"
                if face.detector not in (None, "mtcnn")
                else f"mtcnn score {face.det_score:.2f} under min_det_score {self.params.min_det_score:g}"
                if face.det_score is not None
                else "followed from a detection under min_det_score"
            )
            box_only(face, self.params.min_landmark_size, found)
            return None
        return fit_face_landmarks(frame, face, self.params.min_landmark_size, flow_points)

    def _held(self, centre: np.ndarray, frame_idx: int) -> bool:
        """Whether some track's face at ``frame_idx`` covers the point ``centre``."""
        for tr in self._tracks:
            for face in reversed(tr.faces):
                if face.frame_idx < frame_idx:
                    break
                if face.frame_idx == frame_idx and centre_inside(centre, face.box)[0, 0]:
                    return True
        return False

    def _follow(self, live: list[Track], gray: np.ndarray) -> dict[Track, np.ndarray]:
        """Move every live track's box by optical flow; return the moved points of those the flow kept."""
        if self._prev_gray is None:
            return {}
        movable = [t for t in live if t.points is not None]
        sizes = [float(t.box[3] - t.box[1]) for t in movable]
        moved = {}
        for tr, flow in zip(movable, follow(self._prev_gray, gray, [t.points for t in movable], sizes)):
            if flow.transform is None:
                continue
            tr.box = move_box(tr.box, flow.transform)
            tr.points = flow.points
            moved[tr] = flow.points
        return moved

    def _detect(self, frame: np.ndarray, live: list[Track], idx: int) -> tuple[list, list[Track]]:
        """Faces the detector finds (linked to their tracks, new tracks started), and the visible tracks it
        did not confirm. A track whose box centre lies in another track's detection is not carried on."""
        dets = find_regions(frame, self.params)
        boxes = np.array([t.box for t in live]).reshape(-1, 4)
        pairs = match(boxes, dets.boxes, self.params.track_iou)
        pairs += match_centres(boxes, dets.boxes, pairs)
        det_track = {d: live[t] for t, d in pairs}
        found = []
        for d in range(len(dets)):
            tr = det_track.get(d)
            if tr is None:
                tr = Track(track_id=len(self._tracks))
                self._tracks.append(tr)
            tr.missed_since = None
            tr.confident = bool(dets.confident[d])
            face = TrackedFace(
                idx,
                dets.boxes[d].copy(),
                "detected",
                det_score=float(dets.scores[d]),
                detector=dets.detectors[d],
                confident=tr.confident,
            )
            found.append((tr, face, None))
        unconfirmed = []
        for tr in live:
            if tr in det_track.values() or tr.missing:
                continue
            if tr.missed_since is None:
                tr.missed_since = idx
            if len(dets) and centre_inside(centres(tr.box), dets.boxes).any():
                tr.missing = True
            else:
                unconfirmed.append(tr)
        return found, unconfirmed

    def _carry(self, tracks: list[Track], predicted: dict, idx: int, width: int, height: int) -> list:
        """Faces of visible tracks followed by optical flow into this frame. A track the flow lost, that
        left the frame, or that detectors have not confirmed for ``max_gap`` frames goes missing."""
        found = []
        for tr in tracks:
            stale = tr.missed_since is not None and idx - tr.missed_since >= self.params.max_gap
            if stale or tr not in predicted or visible_share(tr.box, width, height) < MIN_VISIBLE:
                tr.missing = True
                continue
            box = clip_boxes(tr.box, width, height)[0]
            face = TrackedFace(idx, box, "tracked", confident=tr.confident)
            found.append((tr, face, predicted[tr] if tr.points_are_landmarks else None))
        return found

    def _embed(self, frame: np.ndarray, kept: list[tuple[Track, TrackedFace]], shapes: dict, idx: int) -> None:
        due = [
            (tr, face)
            for tr, face in kept
            if tr.track_id in shapes and (tr.last_embedded is None or idx - tr.last_embedded >= self.params.embed_every)
        ]
        chips = face_chips(frame, [shapes[tr.track_id] for tr, _ in due])
        self.embedder.submit([(tr.track_id, idx) for tr, _ in due], chips)
        measured = apparent_many([(frame, face.points) for _, face in due])
        for (tr, face), answer in zip(due, measured):
            tr.last_embedded = idx
            face.apparent = answer
            face.ita_deg = ita_degrees(frame, skin_mask(frame.shape, face.points))
