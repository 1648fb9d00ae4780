"""Which images the evaluation scores: each labelled original frame, and the recast frames made of it.

An original frame is evaluated when it is labelled (and its label is not in
``evaluate.ignore_labels``), its ``frame_idx`` is a multiple of
``evaluate.frame_step`` and, for the face input, it holds a face with
landmarks: its largest one, whose landmarks align the original and every
recast of it alike. Labels too rare to learn across people are left out, each
with its reason. A recast frame is one the swap stage wrote (every variant,
before gate: ``gates.image``); the published ones are the dataset's copy-0
images, read from the dataset itself, what a user gets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from facecast.errors import InputError
from facecast.params import EvaluateParams

ORIGINAL_COLUMNS = ["clip_id", "frame_idx", "label", "subject", "landmarks", "track_id"]
RECAST_COLUMNS = ["clip_id", "frame_idx", "variant", "published", "path", "identity_id"]


@dataclass
class Selection:
    originals: pd.DataFrame  # ORIGINAL_COLUMNS: one row per evaluated original frame
    recasts: pd.DataFrame  # RECAST_COLUMNS: one row per recast frame of an evaluated original frame
    labels: list[str]  # the classes, sorted
    left_out: dict[str, str] = field(default_factory=dict)  # label -> why it is not a class
    counts: dict[str, int] = field(default_factory=dict)  # frames at each step of the selection
    reason: str | None = None  # why this input cannot be evaluated (one line); None: it can


def subject_keys(clips: pd.DataFrame) -> dict[str, str]:
    """clip id -> its subject id; a clip without one is a person of its own (``clip:<id>``)."""
    return {c: s if isinstance(s, str) and s else f"clip:{c}" for c, s in zip(clips["clip_id"], clips["subject_id"])}


def largest_faces(faces: pd.DataFrame) -> dict[tuple[str, int], tuple[np.ndarray, int]]:
    """(clip, frame) -> the 68 landmarks and the track of the frame's largest face that has landmarks."""
    with_points = faces[faces["landmarks"].notna()]
    if with_points.empty:
        return {}
    area = (with_points["bbox_x1"] - with_points["bbox_x0"]) * (with_points["bbox_y1"] - with_points["bbox_y0"])
    ranked = with_points.assign(_area=area).sort_values(
        ["clip_id", "frame_idx", "_area", "track_id"], ascending=[True, True, False, True]
    )
    first = ranked.drop_duplicates(["clip_id", "frame_idx"])
    return {
        (c, int(f)): (np.asarray(p, np.float64).reshape(68, 2), int(t))
        for c, f, p, t in zip(first["clip_id"], first["frame_idx"], first["landmarks"], first["track_id"])
    }


def _rare_labels(originals: pd.DataFrame, min_frames: int) -> dict[str, str]:
    out = {}
    for label, rows in originals.groupby("label"):
        subjects = rows["subject"].nunique()
        if len(rows) < min_frames:
            out[str(label)] = f"{len(rows)} frame(s), fewer than evaluate.min_label_frames ({min_frames})"
        elif subjects < 2:
            out[str(label)] = "shown by one subject only: never both learnt and tested on different people"
    return out


def _recasts(
    originals: pd.DataFrame,
    gates: pd.DataFrame,
    dataset_frames: pd.DataFrame,
    clip_of: dict[str, str],
    dataset: Path,
    swapped: Path,
) -> pd.DataFrame:
    keep = set(zip(originals["clip_id"], originals["frame_idx"]))
    track = {(c, int(f)): t for c, f, t in zip(originals["clip_id"], originals["frame_idx"], originals["track_id"])}
    played = {
        (c, int(v), int(f), int(t)): i
        for c, v, f, t, i in zip(
            gates["clip_id"], gates["variant"], gates["frame_idx"], gates["track_id"], gates["identity_id"]
        )
        if not pd.isna(t) and isinstance(i, str)
    }
    written = gates[gates["image"].notna()].drop_duplicates(["clip_id", "variant", "frame_idx"])
    written = written[[(c, int(f)) in keep for c, f in zip(written["clip_id"], written["frame_idx"])]]
    copy0 = dataset_frames[dataset_frames["copy"] == 0]
    unknown = sorted(set(copy0["clip_id"]) - set(clip_of))
    if unknown:
        raise InputError(
            f"published_ids.parquet does not know clip(s) {', '.join(unknown[:3])} of the dataset; run manifest again"
        )
    published = {
        (clip_of[c], int(v), int(f)): dataset / image
        for c, v, f, image in zip(copy0["clip_id"], copy0["variant"], copy0["frame_idx"], copy0["image"])
    }
    rows = []
    for c, v, f, image in zip(written["clip_id"], written["variant"], written["frame_idx"], written["image"]):
        key = (c, int(v), int(f))
        path = published.get(key, swapped / image)
        t = track.get((c, int(f)))
        identity = None if t is None or pd.isna(t) else played.get((c, int(v), int(f), int(t)))
        rows.append(
            {
                "clip_id": c,
                "frame_idx": int(f),
                "variant": int(v),
                "published": key in published,
                "path": path,
                "identity_id": identity,
            }
        )
    missing = sorted(set(published) - {(r["clip_id"], r["variant"], r["frame_idx"]) for r in rows})
    missing = [m for m in missing if (m[0], m[2]) in keep]
    if missing:
        c, v, f = missing[0]
        raise InputError(
            f"{len(missing)} published frame(s) have no recast frame in gates.parquet (e.g. {c} v{v} frame {f}); "
            "run gate and manifest again"
        )
    return pd.DataFrame(rows, columns=RECAST_COLUMNS)


def select(
    params: EvaluateParams,
    clips: pd.DataFrame,
    frames: pd.DataFrame,
    faces: pd.DataFrame,
    gates: pd.DataFrame,
    dataset_frames: pd.DataFrame,
    published_ids: pd.DataFrame,
    dataset: Path,
    swapped: Path,
) -> Selection:
    """The evaluated frames, or (``reason``) why too little is left to evaluate."""
    ok = clips[clips["status"] == "ok"]
    subject_of = subject_keys(ok)
    labelled = frames[frames["clip_id"].isin(subject_of) & frames["label"].notna()]
    counts = {"labelled": int(len(labelled))}
    labelled = labelled[labelled["frame_idx"] % params.frame_step == 0]
    counts["after_frame_step"] = int(len(labelled))
    left_out = {
        str(label): "in evaluate.ignore_labels" for label in sorted(set(labelled["label"]) & set(params.ignore_labels))
    }
    labelled = labelled[~labelled["label"].isin(params.ignore_labels)]
    originals = pd.DataFrame(
        {
            "clip_id": labelled["clip_id"].to_numpy(),
            "frame_idx": labelled["frame_idx"].astype(int).to_numpy(),
            "label": labelled["label"].astype(str).to_numpy(),
            "subject": [subject_of[c] for c in labelled["clip_id"]],
        }
    )
    counts["checked"] = int(len(originals))
    found = largest_faces(faces) if params.input == "face" else {}
    face = [found.get((c, f)) for c, f in zip(originals["clip_id"], originals["frame_idx"])]
    originals["landmarks"] = [x[0] if x else None for x in face]
    originals["track_id"] = [x[1] if x else None for x in face]
    if params.input == "face":
        has_face = originals["landmarks"].notna()
        counts["without_landmarks"] = int((~has_face).sum())
        originals = originals[has_face]
    else:
        counts["without_landmarks"] = 0
    if originals.empty:
        return Selection(originals, _no_recasts(), [], left_out, counts, _none_left(counts, left_out))
    shown = sorted(set(originals["label"]))
    counts["original"] = int(len(originals))
    if len(shown) < 2:
        reason = f"a single label ({shown[0]}): nothing to tell apart"
        return Selection(originals, _no_recasts(), shown, left_out, counts, reason)
    rare = _rare_labels(originals, params.min_label_frames)
    left_out.update(rare)
    originals = originals[~originals["label"].isin(rare)].reset_index(drop=True)
    labels = sorted(set(originals["label"]))
    counts["original"] = int(len(originals))
    selection = Selection(originals, _no_recasts(), labels, left_out, counts)
    if len(labels) < 2:
        scored = f"only {labels[0]} is" if labels else "none is"
        named = [f"{label}: {rare[label]}" for label in sorted(rare)]
        more = f"; and {len(named) - 3} more (labels_left_out lists each)" if len(named) > 3 else ""
        selection.reason = f"fewer than two labels can be scored ({scored} left): {'; '.join(named[:3])}{more}"
        return selection
    subjects = originals["subject"].nunique()
    if subjects < params.folds:
        selection.reason = (
            f"{subjects} subject(s) have evaluated frames; evaluate.folds ({params.folds}) needs at least "
            f"{params.folds}, one held out in each fold"
        )
        return selection
    clip_of = dict(
        zip(
            published_ids.loc[published_ids["kind"] == "clip", "published"],
            published_ids.loc[published_ids["kind"] == "clip", "original"],
        )
    )
    selection.recasts = _recasts(originals, gates, dataset_frames, clip_of, dataset, swapped)
    selection.counts.update(recast=int(len(selection.recasts)), published=int(selection.recasts["published"].sum()))
    if not selection.counts["published"]:
        selection.reason = "no recast frame of an evaluated label was published"
    return selection


def _no_recasts() -> pd.DataFrame:
    return pd.DataFrame(columns=RECAST_COLUMNS)


def _none_left(counts: dict[str, int], left_out: dict[str, str]) -> str:
    if not counts["labelled"]:
        return "no labelled frame in the readable clips"
    if not counts["after_frame_step"]:
        return "no labelled frame is left at evaluate.frame_step"
    if counts["without_landmarks"]:
        return (
            f"none of the {counts['checked']} labelled frame(s) holds a face with landmarks "
            "(evaluate.input: frame evaluates whole frames)"
        )
    return f"every labelled frame's label is in evaluate.ignore_labels ({', '.join(left_out)})"
