"""subjects.csv (optional): which subject appears in each clip (clip, subject_id).

A missing file means no clip has a subject. A malformed file (missing
columns, empty values, a control character in a value, bad CSV) stops
ingest. Rows that do not fit the clips are recorded: a clip that is not in
clips/ (unknown_clip), a clip listed again with the same subject (duplicate,
merged) or with a different one (subject_conflict: the clip gets no subject
rather than a guessed one).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from facecast.ingest.csvfile import fail, non_empty, plain_text, read_csv, require_columns, unused_columns
from facecast.ingest.issues import SUBJECTS, Issue, no_such_clip

SUBJECT_COLUMNS = ("clip", "subject_id")


@dataclass(frozen=True)
class SubjectRow:
    row: int
    clip: str
    subject_id: str


def read_subjects(path: Path) -> tuple[list[SubjectRow], list[Issue]]:
    """The rows of subjects.csv (none when the file does not exist) and its unused columns."""
    if not path.exists():
        return [], []
    table = read_csv(path)
    require_columns(table, SUBJECT_COLUMNS, "subjects")
    problems: list[str] = []
    rows = []
    for number, values in table.rows:
        clip = non_empty(values, "clip", number, problems)
        subject_id = non_empty(values, "subject_id", number, problems)
        plain_text(table, number, values, SUBJECT_COLUMNS, problems)
        rows.append(SubjectRow(number, clip, subject_id))
    fail(path, problems)
    return rows, unused_columns(table, SUBJECT_COLUMNS, SUBJECTS)


def assign_subjects(rows: list[SubjectRow], clip_ids: Collection[str]) -> tuple[dict[str, str | None], list[Issue]]:
    """clip_id -> subject_id (None where unknown or contradictory) and the issues found."""
    first: dict[str, SubjectRow] = {}
    subjects: dict[str, str | None] = {clip_id: None for clip_id in clip_ids}
    issues = []
    for r in rows:
        if r.clip not in subjects:
            issues.append(
                Issue(SUBJECTS, "unknown_clip", f"row {r.row}: {no_such_clip(r.clip, subjects)}", r.clip, r.row)
            )
        elif r.clip not in first:
            first[r.clip] = r
            subjects[r.clip] = r.subject_id
        elif r.subject_id == first[r.clip].subject_id:
            again = f"clip '{r.clip}' is listed again with subject '{r.subject_id}'"
            reason = f"row {r.row}: {again} (row {first[r.clip].row}); merged"
            issues.append(Issue(SUBJECTS, "duplicate", reason, r.clip, r.row))
        else:
            reason = (
                f"row {r.row}: clip '{r.clip}' has subject '{r.subject_id}' here and '{first[r.clip].subject_id}' "
                f"in row {first[r.clip].row}; the clip gets no subject"
            )
            issues.append(Issue(SUBJECTS, "subject_conflict", reason, r.clip, r.row))
            subjects[r.clip] = None
    return subjects, issues
