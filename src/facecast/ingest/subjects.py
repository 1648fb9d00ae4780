"""subjects.csv (optional): which subject appears in each clip (clip, subject_id), and what is declared of them.

Two optional columns declare the subject's attributes, when the dataset's
owner knows them: ``age`` (years, ``3``, or a range, ``3-9``, ``65+``) and
``sex`` (female or male, any case). Casting reads them beside what the
attribute instrument measures (:mod:`facecast.cast.fit`): a subject declared
a child is never given an adult's face, whatever the instrument says. An
empty value declares nothing; any other value that is not an age or a sex
stops ingest, naming the row.

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
from facecast.io.text import escaped
from facecast.models.age_groups import age_span

SUBJECT_COLUMNS = ("clip", "subject_id")
DECLARED_COLUMNS = ("age", "sex")  # optional
SEXES = ("female", "male")


@dataclass(frozen=True)
class SubjectRow:
    row: int
    clip: str
    subject_id: str
    age: str | None = None  # as declared: years or a range
    sex: str | None = None  # female | male


def _declared(values: dict[str, str], number: int, problems: list[str]) -> tuple[str | None, str | None]:
    age = values.get("age", "").strip() or None
    sex = values.get("sex", "").strip().lower() or None
    if age is not None and age_span(age) is None:
        problems.append(f"row {number}: age '{escaped(age)}' is not an age (years, a range such as 3-9, or 65+)")
        age = None
    if sex is not None and sex not in SEXES:
        problems.append(f"row {number}: sex '{escaped(sex)}' is not one of {', '.join(SEXES)}")
        sex = None
    return age, sex


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
        declared = tuple(c for c in DECLARED_COLUMNS if c in table.columns)
        plain_text(table, number, values, SUBJECT_COLUMNS + declared, problems)
        age, sex = _declared(values, number, problems)
        rows.append(SubjectRow(number, clip, subject_id, age, sex))
    fail(path, problems)
    return rows, unused_columns(table, SUBJECT_COLUMNS + DECLARED_COLUMNS, SUBJECTS)


def assign_subjects(
    rows: list[SubjectRow], clip_ids: Collection[str]
) -> tuple[dict[str, SubjectRow | None], list[Issue]]:
    """clip_id -> its subject's row (None where unknown or contradictory) and the issues found. A clip listed
    again with the same subject keeps its first row's declared age and sex."""
    first: dict[str, SubjectRow] = {}
    subjects: dict[str, SubjectRow | None] = {clip_id: None for clip_id in clip_ids}
    issues = []
    for r in rows:
        if r.clip not in subjects:
            issues.append(
                Issue(SUBJECTS, "unknown_clip", f"row {r.row}: {no_such_clip(r.clip, subjects)}", r.clip, r.row)
            )
        elif r.clip not in first:
            first[r.clip] = r
            subjects[r.clip] = r
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
