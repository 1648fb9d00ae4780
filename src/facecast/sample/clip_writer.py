"""Render an expressions clip: hold each expression cell, morph between them along their landmarks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facecast.errors import InputError
from facecast.sample.cell_landmarks import NoFaceError, face_landmarks
from facecast.sample.morph import ease, morph
from facecast.sample.timeline import Segment

FOURCC = "mp4v"


@dataclass(frozen=True)
class Layout:
    """Where the cells go in the frame: every cell is resized to ``size`` and placed at ``offset`` (letterboxed)."""

    frame_width: int
    frame_height: int
    size: tuple[int, int]  # width, height of the resized cell
    offset: tuple[int, int]  # x, y of its top-left corner

    @classmethod
    def fit(cls, cell_width: int, cell_height: int, frame_width: int, frame_height: int) -> Layout:
        scale = min(frame_width / cell_width, frame_height / cell_height)
        w = min(frame_width, max(1, round(cell_width * scale)))
        h = min(frame_height, max(1, round(cell_height * scale)))
        return cls(frame_width, frame_height, (w, h), ((frame_width - w) // 2, (frame_height - h) // 2))

    def place(self, content: np.ndarray) -> np.ndarray:
        frame = np.zeros((self.frame_height, self.frame_width, 3), dtype=np.uint8)
        x, y = self.offset
        frame[y : y + self.size[1], x : x + self.size[0]] = content
        return frame


@dataclass(frozen=True)
class Keyframe:
    """A cell resized to the layout, with its face's 68 landmarks in the resized cell's pixels."""

    image: np.ndarray
    landmarks: np.ndarray


def keyframe(cell: np.ndarray, layout: Layout, name: str) -> Keyframe:
    """Landmarks are found on the full-resolution cell, then scaled with it."""
    try:
        points = face_landmarks(cell)
    except NoFaceError as exc:
        raise InputError(f"{name}: {exc}; the morph needs the face's landmarks") from None
    w, h = layout.size
    scale = np.array([w / cell.shape[1], h / cell.shape[0]], dtype=np.float32)
    resized = cv2.resize(cell, (w, h), interpolation=cv2.INTER_AREA)
    return Keyframe(resized, points * scale)


def frames(keyframes: list[Keyframe], segments: list[Segment], layout: Layout):
    """Yield every frame of the clip (RGB, frame-sized), in order."""
    for seg in segments:
        a = keyframes[seg.src]
        if seg.dst is None:
            held = layout.place(a.image)
            for _ in range(seg.n_frames):
                yield held
        else:
            b = keyframes[seg.dst]
            for t in ease(seg.n_frames):
                yield layout.place(morph(a.image, a.landmarks, b.image, b.landmarks, float(t)))


def write_clip(path: Path, keyframes: list[Keyframe], segments: list[Segment], layout: Layout, fps: float) -> int:
    """Encode the clip to ``path``; returns the number of frames written."""
    size = (layout.frame_width, layout.frame_height)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*FOURCC), fps, size)
    if not writer.isOpened():
        raise OSError(f"{path}: OpenCV could not open a '{FOURCC}' video writer at {size[0]}x{size[1]}, {fps} fps")
    n = 0
    try:
        for frame in frames(keyframes, segments, layout):
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            n += 1
    finally:
        writer.release()
    return n


def decoded_frames(path: Path) -> int:
    """How many frames OpenCV decodes from the file (not the container's claim)."""
    cap = cv2.VideoCapture(str(path))
    n = 0
    try:
        while cap.grab():
            n += 1
    finally:
        cap.release()
    return n
