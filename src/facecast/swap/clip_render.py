"""Swapping one clip: every face of every frame, for every variant, in two passes over the footage.

* **Decide.** From ``faces.parquet`` alone, each face is either swappable or
  gets the fallback, with its reason: no landmarks or too small for them,
  a box shorter than ``swap.min_face_px``, a head turned or tilted beyond
  ``swap.max_yaw_deg`` / ``swap.max_pitch_deg``, a track nobody was cast on.
  Each track's shape (:class:`facecast.swap.shape.TrackShape`) is fitted to
  its swappable faces.
* **Pass 1** decodes the clip once to learn, per track, the frame's skin
  colour in every frame (smoothed over time so the colour does not flicker),
  the face's usual appearance (the occlusion model) and its neutral face
  (the median of its most neutral frames, for expression ratio images); and,
  per track and cast identity, which atlas entries render each frame
  (:mod:`facecast.swap.expressions`). A face whose pixels did not change
  from one frame to the next (a held shot, a duplicated frame: its box's
  99th-percentile grey change at most :data:`STILL_LEVEL`) is still: each
  run of still frames is rendered exactly as its last frame (landmarks,
  atlas entries, colour), so a face that does not move in the footage does
  not move in the output either. Without this the landmark smoothing's lag
  settling over a held shot, and the colour and atlas smoothing, made the
  rendered face creep by a grey level a frame while the original stood still.
* **Pass 2** decodes it again and renders each frame for every variant, on
  ``swap.workers`` threads (OpenCV releases the GIL), writing the JPEGs and
  the mp4 preview in frame order. A face whose render fails is obscured with
  the error as its reason; with ``fallback: drop_frame`` a frame holding any
  face that could not be swapped is not written at all.

No frame is written with a detected face left as it was: every face row ends
swapped, obscured or dropped. Frames without any detected face are written
unchanged and recorded as ``no_face`` rows, for ``gate``'s leak scan.
"""

from __future__ import annotations

import hashlib
import math
import sys
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from facecast.geometry.filters import grey
from facecast.geometry.landmarks import expression
from facecast.io.clips import iter_frames
from facecast.params import SwapParams
from facecast.reasons import SwapReason
from facecast.swap import detail, fallback
from facecast.swap.colour import lab_stats, skin_mask, smooth_stats
from facecast.swap.detail import RestFace
from facecast.swap.expressions import Choice, choose
from facecast.swap.identity import IdentityFace
from facecast.swap.occlusion import OcclusionModel
from facecast.swap.quality import Quality
from facecast.swap.render import Look, RenderError, crop_box, render_face
from facecast.swap.shape import TrackShape
from facecast.swap.verify import Verifier
from facecast.tables import Reason, reason_text

NO_COMPATIBLE_PREFIX = "no_compatible_identity: "  # swap/stage.py marks casting's no_compatible_identity reasons

LANDMARK_PAD = 0.25  # skin statistics are read in a crop this much larger than the landmarks' extent
STILL_LEVEL = (
    1.0  # grey levels: a face whose box changed by at most this (99th percentile) since the last frame is still
)


@dataclass(frozen=True)
class RenderJob:
    clip_id: str
    path: Path
    kind: str
    fps: float
    width: int
    height: int
    n_frames: int
    stills: bool = False  # separate photographs (clips.stills): sizes may differ, consecutive frames are unrelated


@dataclass
class RenderFace:
    """One row of faces.parquet, with what swap decided for it."""

    track_id: int
    box: tuple[float, float, float, float]
    landmarks: np.ndarray | None
    problem: Reason | None  # why it cannot be swapped; None: swappable


@dataclass
class RenderTrack:
    shape: TrackShape
    frames: list[int] = field(default_factory=list)  # the swappable faces' frames, in order
    expressions: np.ndarray | None = None  # (len(frames), p, 2): geometry.landmarks.expression against the neutral
    stats: dict[int, np.ndarray] = field(default_factory=dict)  # frame_idx -> smoothed Lab skin stats
    occlusion: OcclusionModel | None = None
    rest: RestFace | None = None  # its neutral face, for expression ratio images
    rest_frames: set[int] = field(default_factory=set)
    looks: dict[str, dict[int, Choice]] = field(default_factory=dict)  # identity -> frame_idx -> atlas entries
    landmarks: dict[int, np.ndarray] = field(default_factory=dict)  # frame_idx -> the frame's landmarks
    held: dict[int, int] = field(default_factory=dict)  # frame_idx of a still face -> the frame it is rendered as


@dataclass
class Looks:
    """Per swapped face, what it was rendered from and how it sits in the frame (metrics/swap.json)."""

    from_expression: int = 0  # faces whose heaviest atlas entry is an expression, not the reference face
    with_detail: int = 0  # faces given the frame's expression detail (expression ratio image)
    with_hair: int = 0  # faces with hair over the forehead kept from the frame
    faces: int = 0
    sharpness: list[float] = field(default_factory=list)
    seam: list[float] = field(default_factory=list)
    seam_original: list[float] = field(default_factory=list)

    def add(self, look: Look, quality: Quality | None, hair_share: float = 0.0) -> None:
        self.faces += 1
        self.with_hair += hair_share > 0
        heaviest = max(look.entries, key=lambda e: e[1])[0]
        self.from_expression += heaviest.key != "reference"
        self.with_detail += look.detail > 0
        if quality is not None:
            self.sharpness.append(quality.sharpness)
            self.seam.append(quality.seam)
            self.seam_original.append(quality.seam_original)

    def merge(self, other: Looks) -> None:
        self.from_expression += other.from_expression
        self.with_detail += other.with_detail
        self.with_hair += other.with_hair
        self.faces += other.faces
        self.sharpness += other.sharpness
        self.seam += other.seam
        self.seam_original += other.seam_original


@dataclass
class Flicker:
    """Mean absolute grey-level change between consecutive frames inside swapped faces' boxes."""

    swapped: float = 0.0
    original: float = 0.0
    pairs: int = 0

    def add(self, before: np.ndarray, after: np.ndarray, was: np.ndarray, now: np.ndarray, box) -> None:
        x0, y0, x1, y1 = box
        self.swapped += float(np.abs(grey(after[y0:y1, x0:x1]) - grey(before[y0:y1, x0:x1])).mean())
        self.original += float(np.abs(grey(now[y0:y1, x0:x1]) - grey(was[y0:y1, x0:x1])).mean())
        self.pairs += 1


def encode(image: np.ndarray, quality: int) -> bytes:
    """The RGB ``image`` as the JPEG swap writes (OpenCV, ``swap.jpeg_quality``)."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise OSError("a swapped frame could not be encoded as JPEG")
    return data.tobytes()


def decode(data: bytes) -> np.ndarray:
    """A JPEG's bytes as RGB, as the gate reads the file (:func:`facecast.io.clips.read_image`: OpenCV)."""
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` as a ``width`` x ``height`` frame: as it is when it has that size, else scaled to fit inside it,
    centred on black (a preview of photographs of different sizes; a video writer drops frames of any other size)."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    out = np.zeros((height, width, 3), image.dtype)
    x, y = (width - nw) // 2, (height - nh) // 2
    out[y : y + nh, x : x + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    return out


def _problem(row, params: SwapParams, cast: dict[int, str | None], why: str | None = None) -> Reason | None:
    """Why the face of this faces.parquet row cannot be swapped (its status there is the kind), or None.
    ``why``: casting's reason when the track has no identity."""
    if row.status != "ok" or row.landmarks is None:
        return Reason(str(row.status), row.reason if isinstance(row.reason, str) else None)
    height = float(row.bbox_y1 - row.bbox_y0)
    if height < params.min_face_px:
        return Reason(SwapReason.TOO_SMALL, f"face {height:.0f} px tall, below swap.min_face_px {params.min_face_px:g}")
    for name, value, limit in (
        ("yaw", row.yaw_deg, params.max_yaw_deg),
        ("pitch", row.pitch_deg, params.max_pitch_deg),
    ):
        if value is not None and not math.isnan(value) and abs(value) > limit:
            return Reason(SwapReason.TOO_TURNED, f"{name} {value:.0f} deg beyond swap.max_{name}_deg {limit:g}")
    if all(identity is None for identity in cast.values()):
        return _uncast(why)
    return None


def _uncast(why: str | None) -> Reason:
    """The reason of a face whose track has no identity: no_compatible_identity when casting said so."""
    if why is not None and why.startswith(NO_COMPATIBLE_PREFIX):
        return Reason(SwapReason.NO_COMPATIBLE_IDENTITY, why[len(NO_COMPATIBLE_PREFIX) :])
    return Reason(SwapReason.UNCASTABLE, why or "no identity was cast on this track")


def _first_line(exc: BaseException) -> str:
    """The error's first line ("" when it has none): a render failure's detail."""
    return next(iter(str(exc).splitlines()), "")


def _reason_columns(reason: Reason | None) -> dict:
    """The swaps row's ``reason_kind`` and ``reason_detail``."""
    kind, detail = (None, None) if reason is None else reason
    return {"reason_kind": kind, "reason_detail": detail}


def _dropped(rows: list[dict]) -> list[dict]:
    """A frame's rows when ``fallback: drop_frame`` drops it: each obscured face keeps its own reason, every
    other face gets :attr:`SwapReason.FRAME_DROPPED` with the reasons of the faces that could not be swapped."""
    failed = [
        f"track {r['track_id']}: {reason_text(r['reason_kind'], r['reason_detail'])}"
        for r in rows
        if r["status"] == "obscured"
    ]
    dropped = Reason(SwapReason.FRAME_DROPPED, "; ".join(failed))
    for r in rows:
        if r["status"] != "obscured":
            r.update(_reason_columns(dropped))
        r.update(
            status="dropped",
            box=None,
            landmarks=None,
            occluded_share=None,
            mouth_kept=None,
            identity_id=None,
            measured_landmarks=None,
            measured_descriptor=None,
        )
    return rows


def _faces_by_frame(faces: pd.DataFrame, params: SwapParams, casting: dict) -> dict[int, list[RenderFace]]:
    out: dict[int, list[RenderFace]] = {}
    by_track: dict[int, dict[int, str | None]] = {}  # track -> variant -> identity, built once per clip
    why: dict[int, str | None] = {}  # track -> casting's reason for its first variant without an identity
    for (t, v), (ident, reason) in sorted(casting.items()):
        by_track.setdefault(t, {})[v] = ident
        if ident is None:
            why.setdefault(t, reason)
    for row in faces.itertuples(index=False):
        track = int(row.track_id)
        problem = _problem(row, params, by_track.get(track, {}), why.get(track))
        lm = None if row.landmarks is None else np.asarray(row.landmarks, np.float64).reshape(68, 2)
        box = (float(row.bbox_x0), float(row.bbox_y0), float(row.bbox_x1), float(row.bbox_y1))
        out.setdefault(int(row.frame_idx), []).append(RenderFace(track, box, lm, problem))
    for frame_faces in out.values():  # far (small) faces first, so nearer ones are drawn over them
        frame_faces.sort(key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
    return out


def _skin_stats(frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray | None:
    span = np.ptp(landmarks, axis=0).max()
    h, w = frame.shape[:2]
    try:
        x0, y0, x1, y1 = crop_box([landmarks], LANDMARK_PAD * span, w, h)
    except RenderError:
        return None
    local = landmarks - [x0, y0]
    return lab_stats(frame[y0:y1, x0:x1], skin_mask(local, x1 - x0, y1 - y0, beard_free=True))


def _still(before: np.ndarray, now: np.ndarray, box: tuple[float, float, float, float]) -> bool:
    """Whether the face in ``box`` is the same in both frames: its grey change's 99th percentile within
    :data:`STILL_LEVEL` (a held or duplicated frame; a blink or a twitch changes a few per cent of the box)."""
    if before.shape != now.shape:
        return False
    h, w = now.shape[:2]
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    x1, y1 = min(w, int(math.ceil(box[2]))), min(h, int(math.ceil(box[3])))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return False
    change = np.abs(grey(now[y0:y1, x0:x1]) - grey(before[y0:y1, x0:x1]))
    return float(np.percentile(change, 99)) <= STILL_LEVEL


def _held(still: list[int], swappable: set[int]) -> dict[int, int]:
    """frame -> the frame it is rendered as: every frame of a run of still frames (and the frame the run holds,
    just before it) is rendered as the run's last frame; frames not in a run are absent."""
    held: dict[int, int] = {}
    runs: list[list[int]] = []
    for n in sorted(still):
        if n - 1 not in swappable:
            continue
        if runs and runs[-1][-1] == n - 1:
            runs[-1].append(n)
        else:
            runs.append([n - 1, n])
    for run in runs:
        held.update({n: run[-1] for n in run})
    return held


def _frames(job: RenderJob, desc: str) -> Iterator[tuple[int, np.ndarray]]:
    bar = tqdm(total=job.n_frames, desc=desc, unit="frame", disable=None if sys.stderr.isatty() else True, leave=False)
    n = -1
    for n, frame in enumerate(iter_frames(job.path, job.kind)):
        yield n, frame
        bar.update()
    bar.close()
    if n + 1 != job.n_frames:
        raise ValueError(f"{job.clip_id}: {n + 1} frames decoded, {job.n_frames} in frames.parquet; run ingest again")


class ClipSwapper:
    """Swaps one clip; :meth:`run` writes ``<out>/<clip_id>__v<variant>/<frame>.jpg`` and returns the swaps rows."""

    def __init__(
        self,
        job: RenderJob,
        faces: pd.DataFrame,
        casting: dict[tuple[int, int], tuple[str | None, str | None]],
        identities: dict[str, IdentityFace],
        variants: list[int],
        params: SwapParams,
        verifier: Verifier | None = None,
    ):
        self.job = job
        self.verifier = verifier  # swap.verify: every swapped face measured as the gate will
        self.casting = casting
        self.identities = identities
        self.variants = variants
        self.params = params
        self.by_frame = _faces_by_frame(faces, params, casting)
        self.tracks: dict[int, RenderTrack] = {}
        self.flicker = {v: Flicker() for v in variants}
        self.looks = Looks()
        self._lock = threading.Lock()
        shapes: dict[int, list[tuple[int, np.ndarray]]] = {}
        for n in sorted(self.by_frame):
            for f in self.by_frame[n]:
                if f.problem is None and f.landmarks is not None:  # a face without landmarks has a problem
                    shapes.setdefault(f.track_id, []).append((n, f.landmarks))
        for track, found in shapes.items():
            shape = TrackShape(np.stack([lm for _, lm in found]))
            occlusion = OcclusionModel(shape.neutral) if params.occlusion else None
            frames = [n for n, _ in found]
            expressions = np.stack([expression(lm, shape.neutral) for _, lm in found])
            rt = RenderTrack(shape, frames, expressions, occlusion=occlusion, landmarks=dict(found))
            if params.expression_detail != "never":
                rt.rest = RestFace(shape.neutral)
                rt.rest_frames = {frames[i] for i in detail.rest_frames(expressions)}
            self.tracks[track] = rt

    # pass 1 -------------------------------------------------------------------------------------------------
    def learn(self) -> None:
        raw: dict[int, dict[int, np.ndarray | None]] = {t: {} for t in self.tracks}
        still: dict[int, list[int]] = {t: [] for t in self.tracks}  # frames whose face equals the previous frame's
        last: np.ndarray | None = None
        for n, frame in _frames(self.job, f"swap {self.job.clip_id} (learn)"):
            for f in self.by_frame.get(n, []):
                if f.problem is None and f.landmarks is not None:
                    track = self.tracks[f.track_id]
                    if last is not None and not self.job.stills and _still(last, frame, f.box):
                        still[f.track_id].append(n)
                    raw[f.track_id][n] = _skin_stats(frame, f.landmarks)
                    if track.occlusion is not None:
                        track.occlusion.add(frame, f.landmarks)
                    if track.rest is not None and n in track.rest_frames:
                        track.rest.add(frame, f.landmarks)
            last = frame
        for track_id, per_frame in raw.items():
            track = self.tracks[track_id]
            track.held = _held(still[track_id], set(track.frames))
            idx = sorted(per_frame)
            stats = np.array([per_frame[i] if per_frame[i] is not None else np.full(6, np.nan) for i in idx])
            if np.isnan(stats).all():  # no skin visible in any frame: keep the identity's own colour
                track.stats = {}
            else:
                smoothed = smooth_stats(stats, self.params.colour_smooth_frames)
                track.stats = {i: s for i, s in zip(idx, smoothed)}
            if track.occlusion is not None:
                track.occlusion.fit()
            if track.rest is not None:
                track.rest.fit()
            for (t, _), (identity_id, _) in self.casting.items():
                if t == track_id and identity_id is not None and identity_id not in track.looks:
                    track.looks[identity_id] = self._choose(track, self.identities[identity_id])

    def _choose(self, track: RenderTrack, identity: IdentityFace) -> dict[int, Choice]:
        """Per frame of the track, the identity's atlas entries that render it (swap.atlas)."""
        atlas = identity.atlas if self.params.atlas else identity.atlas[:1]
        entries = np.stack([e.expression for e in atlas])
        assert track.expressions is not None
        chosen = choose(track.expressions, entries, self.params.atlas_softness, self.params.atlas_smooth_frames)
        return dict(zip(track.frames, chosen))

    def _look(self, track: RenderTrack, identity: IdentityFace, n: int) -> Look:
        choice = track.looks[identity.identity_id][n]
        mode, start = self.params.expression_detail, self.params.detail_from
        strength = {"never": 0.0, "always": 1.0}.get(mode, float(np.clip(choice.distance / start - 1.0, 0.0, 1.0)))
        entries = tuple((identity.atlas[i], w) for i, w in choice.entries)
        return Look(entries, strength, track.rest)

    # pass 2 -------------------------------------------------------------------------------------------------
    def _render_variant(
        self, n: int, frame: np.ndarray, variant: int
    ) -> tuple[np.ndarray | None, list[dict], bytes | None]:
        """The rendered frame (None: dropped), its rows, and its JPEG when verify already encoded it."""
        out = frame.copy()
        rows: list[dict] = []
        for f in self.by_frame.get(n, []):
            identity_id, cast_reason = self.casting.get((f.track_id, variant), (None, "no casting row"))
            row: dict[str, Any] = {
                "track_id": f.track_id,
                "identity_id": None,
                "landmarks": None,
                "occluded_share": None,
                "mouth_kept": None,
            }
            problem = f.problem
            if problem is None and identity_id is None:
                problem = _uncast(cast_reason)
            if problem is None:
                # a face without landmarks has its problem already, an uncast one got it above
                assert identity_id is not None and f.landmarks is not None
                track = self.tracks[f.track_id]
                identity = self.identities[identity_id]
                shown = track.held.get(n, n)  # a still face is rendered as the last frame of its still run
                look = self._look(track, identity, shown)
                try:
                    done = render_face(
                        out,
                        frame,
                        track.landmarks[shown],
                        track.shape,
                        identity,
                        track.stats.get(shown, identity.stats),
                        track.occlusion,
                        self.params,
                        look,
                    )
                except (RenderError, cv2.error, np.linalg.LinAlgError) as exc:
                    problem = Reason(SwapReason.RENDER_FAILED, _first_line(exc))
                else:
                    row.update(
                        _look=(look, done.quality, done.hair_share),  # counted in self.looks once verify has kept it
                        status="swapped",
                        **_reason_columns(None),
                        identity_id=identity_id,
                        box=done.box,
                        landmarks=done.landmarks.astype(np.float32).ravel().tolist(),
                        occluded_share=done.occluded_share,
                        mouth_kept=done.mouth_kept,
                    )
            if problem is not None:
                self._obscure(out, row, f.box, problem)
            rows.append(row)
        data = self._verify(n, out, rows) if self.verifier is not None else None
        drop = self.params.fallback == "drop_frame" and any(r["status"] == "obscured" for r in rows)
        made = [r.pop("_look", None) for r in rows]
        with self._lock:  # the looks of the faces that are written swapped
            for r, look in zip(rows, made):
                if look is not None and r["status"] == "swapped" and not drop:
                    self.looks.add(*look)
        return (None, _dropped(rows), None) if drop else (out, rows, data)

    def _verify(self, n: int, out: np.ndarray, rows: list[dict]) -> bytes:
        """Obscure every swapped face of ``out`` still recognisable as its own person, measured on the JPEG the frame
        will be written as (the pixels the gate reads), again after each change until none is; returns that JPEG
        of the final frame."""
        assert self.verifier is not None
        changed = True
        while changed:
            changed = False
            data = encode(out, self.params.jpeg_quality)
            seen = decode(data)
            for f, row in zip(self.by_frame.get(n, []), rows):
                if row["status"] != "swapped":
                    continue
                check = self.verifier.check(seen, f.box, f.track_id)
                # what was measured on the final image is kept for the gate (a later pass measures again)
                row.update(measured_landmarks=None, measured_descriptor=None)
                if check is None:
                    continue
                if check.problem is not None:
                    row.update(identity_id=None, landmarks=None, occluded_share=None, mouth_kept=None)
                    self._obscure(out, row, f.box, check.problem)
                    changed = True
                else:
                    row.update(
                        measured_landmarks=check.landmarks.astype(np.float32).ravel().tolist(),
                        measured_descriptor=check.descriptor.astype(np.float32).tolist(),
                    )
        return data

    def _obscure(self, out: np.ndarray, row: dict, box, problem: Reason) -> None:
        row.update(status="obscured", **_reason_columns(problem))
        if self.params.fallback != "drop_frame":
            row["box"] = fallback.obscure(out, box, self.params.fallback)
        else:
            row["box"] = None

    def _render(
        self, n: int, frame: np.ndarray, out_dir: Path
    ) -> tuple[int, np.ndarray, dict[int, np.ndarray | None], list[dict]]:
        images: dict[int, np.ndarray | None] = {}
        rows: list[dict] = []
        for variant in self.variants:
            image, face_rows, data = self._render_variant(n, frame, variant)
            name = f"{self.job.clip_id}__v{variant}/{n:06d}.jpg"
            sha = None
            if image is not None:  # the very bytes verify measured
                data = data if data is not None else encode(image, self.params.jpeg_quality)
                (out_dir / name).write_bytes(data)
                sha = hashlib.sha256(data).hexdigest()
            if not face_rows:
                face_rows = [
                    {
                        "track_id": None,
                        "identity_id": None,
                        "status": "no_face",
                        **_reason_columns(None),
                        "box": None,
                        "landmarks": None,
                        "occluded_share": None,
                        "mouth_kept": None,
                    }
                ]
            for r in face_rows:
                r.update(variant=variant, frame_idx=n, image=name if image is not None else None, image_sha256=sha)
            images[variant] = image
            rows.extend(face_rows)
        return n, frame, images, rows

    def run(self, out_dir: Path, previews: Path | None) -> list[dict]:
        self.learn()
        for variant in self.variants:
            (out_dir / f"{self.job.clip_id}__v{variant}").mkdir(parents=True, exist_ok=True)
        writers = {}
        if previews is not None:
            previews.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter.fourcc(*"mp4v")
            for v in self.variants:
                path = previews / f"{self.job.clip_id}__v{v}.mp4"
                writers[v] = cv2.VideoWriter(str(path), fourcc, self.job.fps, (self.job.width, self.job.height))
                if not writers[v].isOpened():
                    raise OSError(f"{path}: the mp4 preview could not be opened for writing")
        rows: list[dict] = []
        previous: tuple[np.ndarray, dict[int, np.ndarray | None]] | None = None
        pending: deque[Future] = deque()

        def collect(result) -> None:
            nonlocal previous
            n, frame, images, frame_rows = result
            for r in frame_rows:
                r["clip_id"] = self.job.clip_id
            rows.extend(frame_rows)
            for v, image in images.items():
                if image is not None and v in writers:
                    writers[v].write(cv2.cvtColor(fit(image, self.job.width, self.job.height), cv2.COLOR_RGB2BGR))
                before = previous[1].get(v) if previous is not None and not self.job.stills else None
                if previous is not None and image is not None and before is not None:
                    for r in frame_rows:
                        if r["variant"] == v and r["status"] == "swapped":
                            self.flicker[v].add(before, image, previous[0], frame, r["box"])
            previous = (frame, images)

        try:
            with ThreadPoolExecutor(max_workers=self.params.workers) as pool:
                for n, frame in _frames(self.job, f"swap {self.job.clip_id}"):
                    pending.append(pool.submit(self._render, n, frame, out_dir))
                    while len(pending) > 2 * self.params.workers:
                        collect(pending.popleft().result())
                while pending:
                    collect(pending.popleft().result())
        finally:
            for w in writers.values():
                w.release()
        for v in writers:  # a clip whose every frame was dropped has nothing to watch (writers: previews given)
            assert previews is not None
            if all(r["image"] is None for r in rows if r["variant"] == v):
                (previews / f"{self.job.clip_id}__v{v}.mp4").unlink()
        return rows
