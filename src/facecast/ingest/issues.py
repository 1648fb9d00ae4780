"""A problem ingest found and did not stop for: one row of ingest_issues.parquet."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from pathlib import PurePath

# Every kind of issue, so that metrics report each one (zero included).
KINDS = (
    "not_a_clip",  # clips/: a hidden entry, or a file or folder that is not a clip
    "not_a_frame",  # clips/<folder>/: an entry that is not an image of the clip
    "alpha_dropped",  # clips/<folder>/: frames with an alpha channel (or a transparent colour), read without it
    "unreadable",  # clips/: a clip that could not be decoded (also its status in clips.parquet)
    "empty",  # clips/: a clip with no frames (also its status in clips.parquet)
    "no_fps",  # clips/: a video whose container reports no frame rate
    "unknown_column",  # a CSV column ingest does not use
    "unknown_clip",  # a CSV row naming a clip that is not in clips/
    "unusable_clip",  # a label row for a clip whose status is not ok
    "out_of_range",  # a label row reaching past the clip's last frame
    "overlap",  # frames given different labels by two rows: they get no label
    "duplicate",  # rows repeating the same label (labels.csv) or subject (subjects.csv): merged
    "unlabelled",  # a run of frames that no label row covers
    "subject_conflict",  # a clip given different subjects: it gets none
)

CLIPS = "clips"
LABELS = "labels.csv"
SUBJECTS = "subjects.csv"


@dataclass(frozen=True)
class Issue:
    source: str  # clips | labels.csv | subjects.csv
    kind: str
    reason: str
    clip_id: str | None = None
    row: int | None = None  # 1-based data row of the CSV, header excluded
    frame_start: int | None = None
    frame_end: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown issue kind '{self.kind}' (known: {', '.join(KINDS)})")

    def record(self) -> dict:
        """The row for ingest_issues.parquet."""
        return asdict(self)


def span(start: int, end: int) -> str:
    """'frame 7' or 'frames 3..9'."""
    return f"frame {start}" if start == end else f"frames {start}..{end}"


def no_such_clip(name: str, clip_ids: Collection[str]) -> str:
    """Why a CSV row's clip is unknown, with the likely id when the row names a file instead."""
    stem = PurePath(name).stem
    hint = f" (clip ids are file stems: did you mean '{stem}'?)" if stem != name and stem in clip_ids else ""
    return f"no clip '{name}' in clips/{hint}"
