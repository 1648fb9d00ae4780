"""Decoding a clip from end to end: frame count, frame size, and whether it is usable.

status is 'ok', 'unreadable' (will not open, fails mid-way, changes frame size,
or stops before the frame count its container declares) or 'empty' (0-byte
file, or a video that opens and declares and holds no frames). n_frames is
the number of frames decoded before any failure.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass

import cv2

from facecast.io.clips import ClipError, ClipSource, iter_frames


@dataclass(frozen=True)
class Probe:
    n_frames: int
    width: int | None
    height: int | None
    status: str  # ok | unreadable | empty
    reason: str | None

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


def probe(source: ClipSource) -> Probe:
    """Decode every frame of the clip once; never raises for a bad clip."""
    if source.kind == "video" and source.path.stat().st_size == 0:
        return Probe(0, None, None, "empty", "file is empty (0 bytes)")
    decoded, size = 0, None

    def failed(reason: str) -> Probe:
        return Probe(decoded, *(size or (None, None)), "unreadable", reason)

    try:
        with closing(iter_frames(source.path, source.kind)) as frames:
            for frame in frames:
                shape = (frame.shape[1], frame.shape[0])
                if size is not None and shape != size:
                    return failed(
                        f"frame {decoded} is {shape[0]}x{shape[1]}, the frames before it are {size[0]}x{size[1]}"
                    )
                size = shape
                decoded += 1
    except (ClipError, cv2.error, OSError) as exc:
        return failed(f"decode failed at frame {decoded}: {exc}" if decoded else str(exc))
    if source.kind == "video":
        declared = declared_frames(source)
        if decoded < declared:
            return failed(f"decoding stopped after {decoded} frame(s); the container declares {declared}")
    if size is None:
        return Probe(0, None, None, "empty", f"{source.kind} clip holds no frames")
    return Probe(decoded, *size, "ok", None)
