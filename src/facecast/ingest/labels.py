"""labels.csv: segment rows (clip, start_frame, end_frame, label) or frame rows (clip, frame, label).

Frame numbers are 0-based positions in the clip's decoded frames (for an
image folder: the position in numeric order of the file names, not the number
in the name). A frame row is read as a one-frame segment. Everything about
the file's *format* is checked here and stops ingest (InputError); whether the
rows fit the clips is decided later (:mod:`facecast.ingest.assign`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facecast.errors import InputError
from facecast.ingest.csvfile import fail, frame_number, non_empty, plain_text, read_csv, require_columns, unused_columns
from facecast.ingest.issues import LABELS, Issue

SEGMENT_COLUMNS = ("clip", "start_frame", "end_frame", "label")
FRAME_COLUMNS = ("clip", "frame", "label")


@dataclass(frozen=True)
class LabelRow:
    row: int  # 1-based data row of labels.csv
    clip: str
    start: int
    end: int  # inclusive
    label: str


@dataclass(frozen=True)
class Labels:
    format: str  # segments | frames
    rows: tuple[LabelRow, ...]
    issues: tuple[Issue, ...]  # columns that are not used


def _format(columns: tuple[str, ...], path: Path) -> tuple[str, tuple[str, ...]]:
    segment = [c for c in ("start_frame", "end_frame") if c in columns]
    if segment and "frame" in columns:
        raise InputError(
            f"{path}: mixes both formats (columns {', '.join(segment)} and frame); use either "
            f"{', '.join(SEGMENT_COLUMNS)} or {', '.join(FRAME_COLUMNS)}"
        )
    if segment:
        return "segments", SEGMENT_COLUMNS
    if "frame" in columns:
        return "frames", FRAME_COLUMNS
    raise InputError(
        f"{path}: no frame columns; expected {', '.join(SEGMENT_COLUMNS)} (segments) "
        f"or {', '.join(FRAME_COLUMNS)} (frames), found {', '.join(columns)}"
    )


def read_labels(path: Path) -> Labels:
    """Read and check labels.csv; a missing or malformed file raises InputError."""
    if not path.is_file():
        raise InputError(
            f"{path}: labels file not found (required: {', '.join(SEGMENT_COLUMNS)} or {', '.join(FRAME_COLUMNS)})"
        )
    table = read_csv(path)
    fmt, columns = _format(table.columns, path)
    require_columns(table, columns, f"the {fmt} format")
    problems: list[str] = []
    rows = []
    for number, values in table.rows:
        clip = non_empty(values, "clip", number, problems)
        label = non_empty(values, "label", number, problems)
        plain_text(table, number, values, ("clip", "label"), problems)
        if fmt == "segments":
            start = frame_number(values, "start_frame", number, problems)
            end = frame_number(values, "end_frame", number, problems)
            if end < start:
                problems.append(f"row {number}: end_frame {end} is before start_frame {start}")
        else:
            start = end = frame_number(values, "frame", number, problems)
        rows.append(LabelRow(number, clip, start, end, label))
    fail(path, problems)
    return Labels(fmt, tuple(rows), tuple(unused_columns(table, columns, LABELS)))
