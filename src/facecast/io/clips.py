"""Open a clip, whichever form it takes, and iterate its frames as RGB arrays.

A clip is either a video file (mp4, avi, mov, mkv, webm) or a folder of
numbered images (one clip per folder, frames in numeric order of the digits
in their names).

Frames are read as OpenCV reads them in colour: an image's alpha channel (or a
PNG's transparent colour) is dropped, not composited on any background, so a
transparent pixel shows the colour stored under it. :func:`has_alpha` says
which images lose one (ingest records them).
"""

from __future__ import annotations

import re
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class ClipError(RuntimeError):
    """A clip could not be opened or decoded."""


@dataclass(frozen=True)
class ClipSource:
    clip_id: str
    path: Path
    kind: str  # video | images


def clip_kind(path: Path) -> str | None:
    """'video', 'images' or None when the entry is not a clip."""
    if path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS:
        return "video"
    if path.is_dir() and any(p.suffix.lower() in IMAGE_EXTENSIONS for p in path.iterdir()):
        return "images"
    return None


def _frame_number(path: Path) -> int:
    digits = re.findall(r"\d+", path.stem)
    if not digits:
        raise ClipError(f"{path}: image name has no frame number")
    return int(digits[-1])


def image_files(folder: Path) -> list[Path]:
    """The folder's images in frame order; duplicate numbers are an error."""
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    numbered = sorted(files, key=lambda p: (_frame_number(p), p.name))
    numbers = [_frame_number(p) for p in numbered]
    dup = sorted({n for n in numbers if numbers.count(n) > 1})
    if dup:
        raise ClipError(f"{folder}: more than one image for frame number(s) {dup[:5]}")
    return numbered


def has_alpha(path: Path) -> bool:
    """Whether the image has an alpha channel or a transparent colour (read from its header; False if unknown)."""
    try:
        with Image.open(path) as image:
            return bool({"A", "a"} & set(image.getbands())) or "transparency" in image.info
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def video_fps(path: Path) -> float | None:
    cap = cv2.VideoCapture(str(path))
    try:
        fps = cap.get(cv2.CAP_PROP_FPS) if cap.isOpened() else 0.0
    finally:
        cap.release()
    return float(fps) if fps and np.isfinite(fps) and fps > 0 else None


def iter_frames(path: str | Path, kind: str, start: int = 0) -> Generator[np.ndarray, None, None]:
    """Yield every frame of the clip as an RGB uint8 array (from frame ``start``: the frames before it are decoded
    in order, as a video must be, but not converted)."""
    path = Path(path)
    if kind == "video":
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            raise ClipError(f"{path}: video could not be opened")
        try:
            for _ in range(start):
                if not cap.grab():
                    return
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()
    elif kind == "images":
        for f in image_files(path)[start:]:
            frame = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if frame is None:
                raise ClipError(f"{f}: image could not be decoded")
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    else:
        raise ClipError(f"{path}: unknown clip kind '{kind}'")


def read_image(path: str | Path) -> np.ndarray:
    """One image as RGB uint8."""
    frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if frame is None:
        raise ClipError(f"{path}: image could not be decoded")
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def check_rgb(image: np.ndarray) -> np.ndarray:
    """The image as a C-contiguous RGB uint8 array; ValueError naming what is wrong with it otherwise."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        got = f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"image: expected an RGB uint8 array of shape (height, width, 3), got {got}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image: empty ({image.shape[1]}x{image.shape[0]} px)")
    return np.ascontiguousarray(image)
