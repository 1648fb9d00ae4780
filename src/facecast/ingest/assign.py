"""Giving every frame of a readable clip its label, and recording every row that does not fit.

- A row naming a clip that is not in clips/: ``unknown_clip``.
- A row for a clip whose status is not ok: ``unusable_clip`` (the clip has no frame rows).
- A row reaching past the clip's last frame: ``out_of_range``; the frames that exist are labelled.
- Rows giving a frame different labels: ``overlap``; those frames get no label (null).
- Rows repeating a label on the same frames: ``duplicate``; merged.
- Each run of frames no row covers: one ``unlabelled`` issue; the frames' label is null.

Each issue's frame_start..frame_end are the frames it is about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from facecast.ingest.issues import LABELS, Issue, no_such_clip, span
from facecast.ingest.labels import LabelRow

UNLABELLED, CONFLICT = -1, -2


@dataclass(frozen=True)
class ClipLabels:
    labels: np.ndarray  # object array, one label or None per frame
    n_conflicting: int  # frames left without a label because rows disagree
    issues: list[Issue]


def route_rows(
    rows: Iterable[LabelRow], status: Mapping[str, tuple[str, str | None]]
) -> tuple[dict[str, list[LabelRow]], list[Issue]]:
    """Rows grouped by clip, for clips that are ok; an issue for every other row.

    ``status`` maps every clip_id to its (status, reason).
    """
    by_clip: dict[str, list[LabelRow]] = {}
    issues = []
    for r in rows:
        if r.clip not in status:
            reason = f"row {r.row}: {no_such_clip(r.clip, status)}"
            issues.append(Issue(LABELS, "unknown_clip", reason, r.clip, r.row, r.start, r.end))
        elif status[r.clip][0] != "ok":
            state, why = status[r.clip]
            reason = f"row {r.row} ({span(r.start, r.end)}) not applied: clip '{r.clip}' is {state} ({why})"
            issues.append(Issue(LABELS, "unusable_clip", reason, r.clip, r.row, r.start, r.end))
        else:
            by_clip.setdefault(r.clip, []).append(r)
    return by_clip, issues


def _in_range(clip_id: str, n_frames: int, rows: list[LabelRow]) -> tuple[list[LabelRow], list[Issue]]:
    """The rows cut to the clip's frames, and an issue for every row that reached past them."""
    kept, issues = [], []
    for r in rows:
        if r.end < n_frames:
            kept.append(r)
            continue
        first = max(r.start, n_frames)
        applied = f"; '{r.label}' applied to {span(r.start, n_frames - 1)}" if r.start < n_frames else ""
        where = f"past the end of clip '{clip_id}' ({n_frames} frames, 0..{n_frames - 1})"
        reason = f"row {r.row}: {span(first, r.end)} {where}{applied}"
        issues.append(Issue(LABELS, "out_of_range", reason, clip_id, r.row, first, r.end))
        if r.start < n_frames:
            kept.append(LabelRow(r.row, r.clip, r.start, n_frames - 1, r.label))
    return kept, issues


def _overlaps(clip_id: str, rows: list[LabelRow]) -> list[Issue]:
    """One issue per row that covers frames an earlier-starting row covers: overlap if labels differ, else duplicate."""
    issues = []
    active: list[LabelRow] = []
    for r in sorted(rows, key=lambda r: (r.start, r.row)):
        active = [a for a in active if a.end >= r.start]
        for kind in ("overlap", "duplicate"):
            others = [a for a in active if (a.label == r.label) == (kind == "duplicate")]
            if not others:
                continue
            end = max(min(a.end, r.end) for a in others)
            rows_text = ", ".join(f"{a.row} ('{a.label}', {span(a.start, a.end)})" for a in others)
            outcome = "those frames get no label" if kind == "overlap" else "merged"
            this = f"row {r.row} ('{r.label}', {span(r.start, r.end)}) of clip '{clip_id}'"
            reason = f"{this} overlaps row(s) {rows_text} on {span(r.start, end)}; {outcome}"
            issues.append(Issue(LABELS, kind, reason, clip_id, r.row, r.start, end))
        active.append(r)
    return issues


def _unlabelled(clip_id: str, codes: np.ndarray) -> list[Issue]:
    runs, _ = ndimage.label(codes == UNLABELLED)
    issues = []
    for found in ndimage.find_objects(runs):
        start, end = found[0].start, found[0].stop - 1
        reason = f"clip '{clip_id}': no label row covers {span(start, end)}"
        issues.append(Issue(LABELS, "unlabelled", reason, clip_id, None, start, end))
    return issues


def label_clip(clip_id: str, n_frames: int, rows: list[LabelRow]) -> ClipLabels:
    """The label of each of the clip's frames and the issues about its rows."""
    rows, issues = _in_range(clip_id, n_frames, rows)
    issues += _overlaps(clip_id, rows)
    names = sorted({r.label for r in rows})
    index = {name: i for i, name in enumerate(names)}
    codes = np.full(n_frames, UNLABELLED, dtype=np.int64)
    for r in rows:
        view = codes[r.start : r.end + 1]
        clash = (view >= 0) & (view != index[r.label])
        view[view == UNLABELLED] = index[r.label]
        view[clash] = CONFLICT
    issues += _unlabelled(clip_id, codes)
    # codes index names + [None, None]: -1 (unlabelled) and -2 (conflict) pick None
    labels = np.array([*names, None, None], dtype=object)[codes]
    return ClipLabels(labels, int(np.count_nonzero(codes == CONFLICT)), issues)
