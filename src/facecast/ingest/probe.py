"""Decoding a clip from end to end: frame count, frame size, whether it is usable, and whether its frames
form a sequence.

status is 'ok', 'unreadable' (will not open, fails mid-way, changes frame size
unless ``mixed_sizes`` allows it, or stops before the frame count its container
declares) or 'empty' (0-byte file, or a video that opens and declares and holds
no frames). n_frames is the number of frames decoded before any failure;
width and height are the first frame's.

For an image folder the probe also measures whether consecutive images are
frames of one sequence: corners found in each image (downscaled to
:data:`WORK_SIDE` px) are carried into the next by pyramidal Lucas-Kanade
optical flow, checked forwards and backwards as the faces stage's tracker
checks its points (:data:`MAX_FB_ERROR`); ``followed`` is the median, over
consecutive pairs, of the share of corners that come back. Frames of one
sequence keep most of their points; separate photographs lose most.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass

import cv2
import numpy as np

from facecast.io.clips import ClipError, ClipSource, iter_frames


@dataclass(frozen=True)
class Probe:
    n_frames: int
    width: int | None
    height: int | None
    status: str  # ok | unreadable | empty
    reason: str | None
    sizes_differ: bool = False  # (image folders, mixed_sizes) not every frame has the first frame's size
    followed: float | None = None  # (image folders) median share of points optical flow carries between frames

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def declared_frames(source: ClipSource) -> int:
    """The frame count a video's container declares (0 when it declares none)."""
    cap = cv2.VideoCapture(str(source.path))
    try:
        count = cap.get(cv2.CAP_PROP_FRAME_COUNT) if cap.isOpened() else 0.0
    finally:
        cap.release()
    return int(count) if count > 0 else 0


WORK_SIDE = 256  # px: longer side of the grey copy the sequence check works on
MAX_FB_ERROR = 1.0  # px there: a point whose backward flow misses its start by more was not followed
MIN_CORNERS = 8  # fewer corners than this in an image: the pair says nothing
LK = dict(winSize=(21, 21), maxLevel=3, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))


def _work_grey(frame: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    scale = WORK_SIDE / max(grey.shape)
    return cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else grey


def followed_share(before: np.ndarray, after: np.ndarray) -> float | None:
    """Share of the corners of grey image ``before`` that optical flow carries into ``after`` and back to
    within :data:`MAX_FB_ERROR` px; None when the images differ in size or ``before`` has too few corners."""
    if before.shape != after.shape:
        return None
    corners = cv2.goodFeaturesToTrack(before, maxCorners=100, qualityLevel=0.01, minDistance=4)
    if corners is None or len(corners) < MIN_CORNERS:
        return None
    ahead, st, _ = cv2.calcOpticalFlowPyrLK(before, after, corners, None, **LK)  # type: ignore[call-overload]
    back, st_back, _ = cv2.calcOpticalFlowPyrLK(after, before, ahead, None, **LK)  # type: ignore[call-overload]
    good = (st.reshape(-1) == 1) & (st_back.reshape(-1) == 1)
    good &= np.linalg.norm((back - corners).reshape(-1, 2), axis=1) < MAX_FB_ERROR
    return float(good.mean())


def probe(source: ClipSource, mixed_sizes: bool = False) -> Probe:
    """Decode every frame of the clip once; never raises for a bad clip. ``mixed_sizes``: an image folder whose
    images differ in size is usable (separate photographs), not unreadable."""
    if source.kind == "video" and source.path.stat().st_size == 0:
        return Probe(0, None, None, "empty", "file is empty (0 bytes)")
    decoded, size, first = 0, None, None
    differ = False
    previous: np.ndarray | None = None
    shares: list[float] = []

    def failed(reason: str) -> Probe:
        return Probe(decoded, *(size or (None, None)), "unreadable", reason)

    try:
        with closing(iter_frames(source.path, source.kind)) as frames:
            for frame in frames:
                shape = (frame.shape[1], frame.shape[0])
                if size is not None and shape != size:
                    if not (mixed_sizes and source.kind == "images"):
                        return failed(
                            f"frame {decoded} is {shape[0]}x{shape[1]}, the frames before it are {size[0]}x{size[1]}"
                        )
                    differ = True
                size = shape
                first = first or shape
                if source.kind == "images":
                    grey = _work_grey(frame)
                    share = None if previous is None else followed_share(previous, grey)
                    if share is not None:
                        shares.append(share)
                    previous = grey
                decoded += 1
    except (ClipError, cv2.error, OSError) as exc:
        return failed(f"decode failed at frame {decoded}: {exc}" if decoded else str(exc))
    if source.kind == "video":
        declared = declared_frames(source)
        if decoded < declared:
            return failed(f"decoding stopped after {decoded} frame(s); the container declares {declared}")
    if size is None or first is None:
        return Probe(0, None, None, "empty", f"{source.kind} clip holds no frames")
    return Probe(decoded, *first, "ok", None, differ, float(np.median(shares)) if shares else None)
