"""sha256 of a clip's bytes, streamed: the file of a video, the frame files of an image folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

from facecast.ingest.discover import frame_files
from facecast.io.clips import ClipSource


def file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def folder_sha256(folder: Path) -> str:
    """Over the frame files in name order: each name (length-prefixed) and the sha256 of its content."""
    digest = hashlib.sha256()
    for path in frame_files(folder):
        name = path.name.encode()
        digest.update(len(name).to_bytes(8, "big") + name)
        digest.update(bytes.fromhex(file_sha256(path)))
    return digest.hexdigest()


def clip_sha256(source: ClipSource) -> str:
    return file_sha256(source.path) if source.kind == "video" else folder_sha256(source.path)
