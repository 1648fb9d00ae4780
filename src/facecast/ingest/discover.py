"""Finding the clips in ``input.root/clips``: video files and folders of numbered images.

clip_id is the file stem of a video and the name of an image folder. Two
entries with the same id stop ingest (InputError naming both), as does a clip
id with a control character (:mod:`facecast.io.text`): ids are published.
Every entry that is not a clip (hidden entries, other files, folders without
images) and every entry of an image folder that is not one of its frames is
recorded as an issue, never skipped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facecast.errors import InputError
from facecast.ingest.issues import CLIPS, Issue
from facecast.io.clips import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, ClipSource, clip_kind
from facecast.io.folders import require_folder
from facecast.io.text import control_characters, escaped


@dataclass(frozen=True)
class Found:
    clips: list[ClipSource]  # in clip_id order
    issues: list[Issue]


def is_frame_file(path: Path) -> bool:
    """Whether an entry of an image folder is one of the clip's frames (as io.clips reads them)."""
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS


def frame_files(folder: Path) -> list[Path]:
    """The frames of an image-folder clip, in name order."""
    return sorted((p for p in folder.iterdir() if is_frame_file(p)), key=lambda p: p.name)


def _why_not_a_clip(path: Path) -> str:
    if path.name.startswith("."):
        return f"{path}: hidden entry, not read"
    if path.is_dir():
        return f"{path}: folder holds no images ({', '.join(IMAGE_EXTENSIONS)})"
    if path.is_file():
        return f"{path}: not a video ({', '.join(VIDEO_EXTENSIONS)}) nor a folder of images"
    return f"{path}: not a regular file or folder"


def _stray_entries(clip_id: str, folder: Path) -> list[Issue]:
    return [
        Issue(CLIPS, "not_a_frame", f"{p}: not an image ({', '.join(IMAGE_EXTENSIONS)}), not read as a frame", clip_id)
        for p in sorted(folder.iterdir(), key=lambda p: p.name)
        if not is_frame_file(p)
    ]


def discover(clips_dir: Path) -> Found:
    """The clips under clips_dir and the issues about its other entries."""
    require_folder(clips_dir, "clips folder (input.root/clips)")
    by_id: dict[str, list[ClipSource]] = {}
    issues = []
    for path in sorted(clips_dir.iterdir(), key=lambda p: p.name):
        try:
            kind = None if path.name.startswith(".") else clip_kind(path)
            if kind is None:
                issues.append(Issue(CLIPS, "not_a_clip", _why_not_a_clip(path)))
                continue
            clip_id = path.stem if kind == "video" else path.name
            if kind == "images":
                issues += _stray_entries(clip_id, path)
        except OSError as exc:
            issues.append(Issue(CLIPS, "not_a_clip", f"{path}: cannot be listed ({exc.strerror})"))
            continue
        by_id.setdefault(clip_id, []).append(ClipSource(clip_id, path, kind))
    clashes = [
        f"clip id '{clip_id}' is used by {' and '.join(str(s.path) for s in same)}"
        for clip_id, same in by_id.items()
        if len(same) > 1
    ]
    if clashes:
        raise InputError(f"{clips_dir}: two clips with the same id (rename one):\n  " + "\n  ".join(clashes))
    unprintable = [
        f"'{escaped(s.path.name)}' has {control_characters(clip_id)}"
        for clip_id, same in by_id.items()
        for s in same
        if control_characters(clip_id)
    ]
    if unprintable:
        raise InputError(f"{clips_dir}: clip ids with control characters (rename them): {'; '.join(unprintable)}")
    if not by_id:
        kinds = f"videos {', '.join(VIDEO_EXTENSIONS)} or folders of images {', '.join(IMAGE_EXTENSIONS)}"
        raise InputError(f"{clips_dir}: no clips ({kinds})")
    return Found([same[0] for _, same in sorted(by_id.items())], issues)
