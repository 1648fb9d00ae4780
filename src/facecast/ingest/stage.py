"""The ingest stage: check the input, index every clip and frame, write the tables and the metrics."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from facecast import tables
from facecast.errors import InputError
from facecast.ingest.assign import label_clip, route_rows
from facecast.ingest.catalog import Clip, catalog
from facecast.ingest.discover import discover
from facecast.ingest.issues import KINDS, LABELS, Issue
from facecast.ingest.labels import read_labels
from facecast.ingest.subjects import assign_subjects, read_subjects
from facecast.io.atomic import write_json
from facecast.io.folders import require_folder
from facecast.params import IngestParams, Params

STATUSES = ("ok", "unreadable", "empty")


def _check_outputs_outside(root: Path, *outputs: Path) -> None:
    for out in outputs:
        if out.resolve().is_relative_to(root.resolve()):
            raise InputError(f"{out}: ingest never writes under input.root ({root}); choose an output outside it")


def _strict_stop(path: Path, issues: list[Issue]) -> None:
    rows = [i for i in issues if i.source == LABELS and i.row is not None]
    if rows:
        raise InputError(
            f"{path}: {len(rows)} label row problem(s) and ingest.strict_labels is true:\n  "
            + "\n  ".join(f"{i.kind}: {i.reason}" for i in rows)
        )


def _metrics(clips: list[Clip], frames: pa.Table, conflicting: int, label_rows: int, issues: list[Issue]) -> dict:
    """metrics/ingest.json: clips by status, frames by label state (unlabelled: no row covers it;
    conflicting: rows disagree), label rows, issues by kind (every kind, zeros included)."""
    statuses = Counter(c.probe.status for c in clips)
    kinds = Counter(i.kind for i in issues)
    labelled = frames.num_rows - frames.column("label").null_count
    return {
        "clips": {"total": len(clips), **{s: statuses[s] for s in STATUSES}},
        "frames": {
            "total": frames.num_rows,
            "labelled": labelled,
            "unlabelled": frames.num_rows - labelled - conflicting,
            "conflicting": conflicting,
        },
        "label_rows": label_rows,
        "issues": {"total": len(issues), **{k: kinds[k] for k in KINDS}},
    }


def _frames(clip: Clip, labels: np.ndarray) -> pa.Table:
    n = clip.probe.n_frames
    idx = np.arange(n, dtype=np.int32)
    if clip.fps is None:
        raise ValueError(f"{clip.source.clip_id}: no frame rate")  # catalog gives every usable clip one
    return pa.table(
        {
            "clip_id": pa.array([clip.source.clip_id] * n, pa.string()),
            "frame_idx": idx,
            "timestamp_s": idx / clip.fps,
            "label": pa.array(labels, pa.string()),
        },
        schema=tables.spec("frames").schema,
    )


def ingest(root: Path, params: IngestParams, interim: Path, metrics: Path) -> dict:
    """Index the footage under root into interim/{clips,frames,ingest_issues}.parquet; return the metrics.

    Reads root/clips/, root/labels.csv and root/subjects.csv and never writes under root.
    """
    root, interim, metrics = Path(root), Path(interim), Path(metrics)
    require_folder(root, "input.root (a folder with clips/, labels.csv, subjects.csv)")
    _check_outputs_outside(root, interim, metrics)
    labels = read_labels(root / "labels.csv")
    subject_rows, subject_issues = read_subjects(root / "subjects.csv")
    found = discover(root / "clips")

    clips = [
        catalog(source, params.image_fps, params.stills)
        for source in tqdm(found.clips, desc="ingest", unit="clip", disable=None)
    ]
    issues = found.issues + [i for c in clips for i in c.issues]
    subjects, assigned = assign_subjects(subject_rows, [c.source.clip_id for c in clips])
    issues += subject_issues + assigned + list(labels.issues)
    by_clip, routed = route_rows(labels.rows, {c.source.clip_id: (c.probe.status, c.probe.reason) for c in clips})
    issues += routed

    frames, conflicting = [], 0
    for clip in clips:
        if clip.probe.ok:
            labelled = label_clip(clip.source.clip_id, clip.probe.n_frames, by_clip.get(clip.source.clip_id, []))
            issues += labelled.issues
            conflicting += labelled.n_conflicting
            frames.append(_frames(clip, labelled.labels))
    if params.strict_labels:
        _strict_stop(root / "labels.csv", issues)

    frame_table = pa.concat_tables(frames) if frames else tables.empty("frames")
    rows = [(c, subjects[c.source.clip_id]) for c in clips]
    tables.write("clips", [c.row(*((s.subject_id, s.age, s.sex) if s else (None,))) for c, s in rows], interim)
    tables.write("frames", frame_table, interim)
    tables.write("ingest_issues", [i.record() for i in issues], interim)
    result = _metrics(clips, frame_table, conflicting, len(labels.rows), issues)
    write_json(metrics, result)
    return result


SECTIONS = ("input", "ingest")  # the sections of params.yaml this stage reads (and seed)


def run(p: Params) -> dict:
    """The stage as ``dvc repro`` runs it: the project's own folders (:mod:`facecast.tables`)."""
    return ingest(Path(p.input.root), p.ingest, interim=tables.INTERIM, metrics=tables.METRICS / "ingest.json")
