"""Images for the page: original frames decoded from their clips, swapped frames, identity faces, as JPEG data URIs.

A data URI is :class:`~markupsafe.Markup`: base64 text the report built itself, printed by the templates as it is.
"""

from __future__ import annotations

import base64
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from markupsafe import Markup

from facecast.errors import InputError
from facecast.io.clips import ClipError, iter_frames, read_image

JPEG_QUALITY = 82


def resize_to_width(rgb: np.ndarray, width: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if w <= width:
        return rgb
    return cv2.resize(rgb, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)


def data_uri(rgb: np.ndarray, width: int) -> Markup:
    """The image, no wider than ``width`` px, as an embedded JPEG."""
    small = resize_to_width(rgb, width)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError(f"JPEG encoding of a {small.shape} image failed")
    return Markup("data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii"))


def read_rgb(path: Path, what: str) -> np.ndarray:
    """An image the report needs; missing or undecodable, it stops the report with ``what`` it was."""
    if not path.is_file():
        raise InputError(f"{path}: {what} not found")
    try:
        return read_image(path)
    except ClipError as exc:
        raise InputError(f"{path}: {what} could not be decoded") from exc


def original_frames(clip_id: str, path: Path, kind: str, wanted: set[int]) -> dict[int, np.ndarray]:
    """The wanted frames of an original clip, decoding it once from the start."""
    if not wanted:
        return {}
    if not path.exists():
        raise InputError(f"{path}: original clip '{clip_id}' not found (clips.parquet points there)")
    out: dict[int, np.ndarray] = {}
    last = max(wanted)
    try:
        for i, frame in enumerate(iter_frames(path, kind)):
            if i in wanted:
                out[i] = frame
            if i >= last:
                break
    except ClipError as exc:
        raise InputError(f"original clip '{clip_id}': {exc}") from exc
    missing = sorted(wanted - set(out))
    if missing:
        raise InputError(
            f"{path}: original clip '{clip_id}' ends before frame {missing[0]}, which the dataset publishes"
        )
    return out


def identity_faces(cast_dir: Path, identity_ids: tuple[str, ...], side: int) -> np.ndarray:
    """The cast identities' faces side by side, each ``side`` px square."""
    faces = []
    for identity in identity_ids:
        face = read_rgb(cast_dir / "identities" / identity / "face.png", f"face of cast identity '{identity}'")
        faces.append(cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA))
    return np.hstack(faces)


class Pictures:
    """Where each picture of the page comes from: the original clips, data/swapped (via gates), the cast faces."""

    def __init__(self, sources: pd.DataFrame, gates: pd.DataFrame, swapped: Path, cast_dir: Path):
        self.sources = {r.clip_id: r for r in sources.itertuples(index=False)}
        self.swapped_dir, self.cast_dir = swapped, cast_dir
        self.images: dict[tuple[str, int, int], str | None] = {}
        for r in gates[["clip_id", "variant", "frame_idx", "image"]].itertuples(index=False):
            key = (r.clip_id, int(r.variant), int(r.frame_idx))
            if self.images.get(key) is None:
                self.images[key] = r.image if isinstance(r.image, str) else None
        self.originals: dict[tuple[str, int], np.ndarray] = {}

    def load_originals(self, wanted: dict[str, set[int]]) -> None:
        """Decode the wanted frames of each clip (every clip once)."""
        for clip_id, frames in sorted(wanted.items()):
            source = self.sources.get(clip_id)
            if source is None:
                raise InputError(f"clips.parquet has no clip '{clip_id}', which the dataset manifest names")
            if source.status != "ok":
                raise InputError(
                    f"clip '{clip_id}' is '{source.status}' in clips.parquet, yet the dataset publishes frames of it"
                )
            for i, frame in original_frames(clip_id, Path(source.path), source.kind, frames).items():
                self.originals[(clip_id, i)] = frame

    def original(self, clip_id: str, frame_idx: int) -> np.ndarray:
        return self.originals[(clip_id, frame_idx)]

    def swapped(self, clip_id: str, variant: int, frame_idx: int) -> np.ndarray | None:
        """The swapped frame; None where swap dropped it (gates records no image)."""
        key = (clip_id, variant, frame_idx)
        if key not in self.images:
            raise InputError(
                f"gates.parquet has no row for {clip_id} variant {variant} frame {frame_idx}, which the dataset manifest names"
            )
        image = self.images[key]
        if image is None:
            return None
        return read_rgb(self.swapped_dir / image, f"swapped frame of {clip_id} variant {variant} frame {frame_idx}")

    def identity_made(self, identity_id: str) -> bool:
        """Whether cast made this identity's face (a synthesis that failed under on_shortfall: relax did not)."""
        return (self.cast_dir / "identities" / identity_id / "face.png").is_file()

    def identity(self, identity_ids: tuple[str, ...], side: int) -> np.ndarray:
        return identity_faces(self.cast_dir, identity_ids, side)
