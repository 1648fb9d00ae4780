"""The sections of the report: each gathers what it shows from the checked inputs and renders its template."""

from __future__ import annotations

import pandas as pd
from markupsafe import Markup

from facecast.errors import InputError
from facecast.report.html import pct, render
from facecast.report.images import Pictures, data_uri
from facecast.report.inputs import DISTANCE_COLUMNS, Inputs
from facecast.report.select import (
    ShareRow,
    SheetRow,
    reject_counts,
    reject_counts_by_clip,
    reject_kinds,
    reject_samples,
)
from facecast.report.svg import Series, bar_chart, distribution_chart

SAME_PERSON = 0.6  # dlib's documented threshold: two faces nearer than this are the same person
FRAME_WIDTH = 400  # px of the frames embedded on contact sheets
FACE_SIDE = 300  # px of a cast identity's face on a contact sheet (the frame's height at 4:3)
REJECT_WIDTH = 320
GALLERY_SIDE = 200
DISTANCE_NAMES = {
    "original_vs_original": "original face vs its own person",
    "original_vs_cast": "original face vs its cast identity",
    "swapped_vs_original": "swapped face vs the original person",
    "swapped_vs_cast": "swapped face vs its cast identity",
}
REASON_NOTES = {
    "deid": "the swapped face stays within dlib's same-person distance of the person it replaced, or could not be measured",
    "reid": "among every original and donor, the person replaced is still the nearest to the swapped face",
    "identity": "the swapped face is too far from the identity cast to play it",
    "landmarks": "the swapped face's landmarks stray from the driving ones (its track's percentile or the absolute cap)",
    "expression": "this face's expression series, original vs swapped, correlate too weakly: its track is held back",
    "leak": "the independent detector found a face no face row covers, or a face still recognisable as its own person",
    "resembles_other": "the swapped face lies within dlib's same-person distance of another original person "
    "(rejected only with gate.leaks.reject_resembling_others)",
    "audit": "a second scan (dlib HOG, MTCNN) found a face region left as it was in the original frame",
    "dropped": "swap did not write the frame",
}


def summary(inp: Inputs) -> Markup:
    frames = inp.frames
    splits = []
    for split, f in frames.groupby("split", sort=True):
        ids = inp.identities[inp.identities["split"] == split]
        clips = inp.clips[inp.clips["split"] == split]
        splits.append([split, f"{len(f):,}", f"{len(clips):,}", f"{clips['subject'].nunique():,}", f"{len(ids):,}"])
    return render(
        "summary.html.j2",
        g=inp.gate_metrics,
        source_frames=int(inp.clips["source_frames"].sum()),
        clips=len(inp.clips),
        images=len(frames),
        augmented=int((frames["copy"] > 0).sum()),
        rejects=len(inp.rejects),
        same_person=SAME_PERSON,
        splits=splits,
    )


def clip_table(inp: Inputs) -> Markup:
    clips = [
        {**r._asdict(), "size": f"{r.width}×{r.height}" if not pd.isna(r.width) and not pd.isna(r.height) else "n/a"}
        for r in inp.clips.sort_values("clip_id").itertuples(index=False)
    ]
    return render("clips.html.j2", clips=clips, held=reject_counts_by_clip(inp.rejects))


def _declared_and_measured(r) -> tuple[str, str]:
    """An identity's declared attributes and what was measured on its face, as text."""
    declared = ", ".join(f"{k}: {v}" for k, v in sorted(dict(r.declared).items()))
    measured = ", ".join(
        x
        for x in [
            f"age {r.measured_age:.0f}" if not pd.isna(r.measured_age) else "",
            f"{r.measured_age_group}" if isinstance(getattr(r, "measured_age_group", None), str) else "",
            str(r.measured_sex) if isinstance(r.measured_sex, str) else "",
            f"ITA {r.ita_category}" if isinstance(r.ita_category, str) else "",
            f"Fitzpatrick ≈ {r.fitzpatrick_approx}" if isinstance(r.fitzpatrick_approx, str) else "",
        ]
        if x
    )
    return declared, measured


def demographics(inp: Inputs, shares: list[ShareRow], pictures: Pictures) -> Markup:
    by = inp.cast_metrics["balance_by"]
    chart = bar_chart(
        [f"{s.attribute}: {s.category}" for s in shares],
        [
            ("target (params.yaml quota)", [s.target for s in shares]),
            (f"cast plan (by {by})", [s.cast for s in shares]),
            ("published, declared", [s.published for s in shares]),
            ("published, measured", [s.measured for s in shares]),
        ],
        "Demographic shares: target, cast plan, published",
        "share of faces",
        pct,
        x_max=1.0,
    )
    identities = []
    for r in inp.identities.sort_values("identity_id").itertuples(index=False):
        declared, measured = _declared_and_measured(r)
        made = pictures.identity_made(r.identity_id)  # a failed synthesis (on_shortfall: relax) has no face
        face = data_uri(pictures.identity((r.identity_id,), GALLERY_SIDE), GALLERY_SIDE) if made else None
        identities.append(
            {
                "identity_id": r.identity_id,
                "face": face,
                "declared": declared,
                "measured": measured,
                "split": r.split,
                "images": r.images,
                "donors": len(r.donor_ids),
            }
        )
    return render(
        "demographics.html.j2",
        by=by,
        chart=chart,
        shares=shares,
        identities=identities,
        fit=inp.cast_metrics["fit"],
        quota=inp.quota,
    )


def quality(inp: Inputs) -> Markup:
    d = inp.distances
    distances = distribution_chart(
        [Series(DISTANCE_NAMES[c], d[c].tolist(), d["share"].tolist()) for c in DISTANCE_COLUMNS],
        "The four distance distributions",
        "dlib distance (unitless)",
        "share of faces at or below",
        marks=[(SAME_PERSON, f"{SAME_PERSON:g}: same person")],
    )
    landmark = distribution_chart(
        [Series(stem, df["landmark_score"].tolist(), df["share"].tolist()) for stem, df in inp.landmark_scores.items()],
        "Landmark score per clip",
        "landmark score (summed distances of min-max normalised landmarks)",
        "share of swapped faces at or below",
    )
    return render("quality.html.j2", distances=distances, landmark=landmark, same_person=SAME_PERSON)


def expression(inp: Inputs) -> Markup:
    gc = inp.gate_clips
    gc = gc[gc["track_id"].isna()]  # the clip's rows: per feature, the mean over its faces' series
    if gc.empty:
        return render("expression.html.j2", features=[], rows=[])
    features = [f for f in dict.fromkeys(gc["feature"]) if f != "mean"] + (
        ["mean"] if (gc["feature"] == "mean").any() else []
    )
    rejects = inp.rejects.assign(kinds=reject_kinds(inp.rejects))
    # astype(bool): an empty map is of dtype object, and a frame indexed by it selects columns, not rows
    expression_held = rejects["kinds"].map(lambda ks: "expression" in ks).astype(bool)
    held = rejects[expression_held].groupby(["clip_id", "variant"]).size()
    rows = []
    for (clip_id, variant), g in gc.groupby(["clip_id", "variant"], sort=True):
        by_feature = {r.feature: r for r in g.itertuples(index=False)}
        cells: list[dict | None] = []
        for f in features:
            r = by_feature.get(f)
            if r is None or pd.isna(r.pcc):
                cells.append(None)
                continue
            pcc = float(r.pcc)
            cells.append({"pcc": pcc, "rmse": r.rmse, "hue": 120 * max(0.0, min(1.0, pcc))})
        rows.append(
            {
                "clip_id": clip_id,
                "variant": int(variant),
                "frames": int(g["frames"].max()),
                "cells": cells,
                "held": int(held.get((clip_id, variant), 0)),
            }
        )
    return render("expression.html.j2", features=features, rows=rows)


def _reject_card(r, pictures: Pictures) -> dict:
    variant, frame = int(r.variant), int(r.frame_idx)
    swapped = pictures.swapped(r.clip_id, variant, frame)
    return {
        "image": None if swapped is None else data_uri(swapped, REJECT_WIDTH),
        "clip_id": r.clip_id,
        "variant": variant,
        "frame": frame,
        "copy": None if pd.isna(r.copy) else int(r.copy),
        "stage": r.stage,
        "reasons": list(r.reasons),
    }


def rejects(inp: Inputs, pictures: Pictures, per_reason: int) -> Markup:
    counts = reject_counts(inp.rejects)
    if not counts:
        return render("rejects.html.j2", groups=[])
    chart = bar_chart(
        [k for k, _ in counts],
        [("rejected", [v for _, v in counts])],
        "Held back, by reason",
        "frames and copies (one with several reasons counts under each)",
        lambda v: f"{v:,.0f}",
    )
    groups = [
        {
            "kind": kind,
            "total": dict(counts)[kind],
            "note": REASON_NOTES.get(kind, ""),
            "cards": [_reject_card(r, pictures) for r in sample.itertuples(index=False)],
        }
        for kind, sample in reject_samples(inp.rejects, per_reason).items()
    ]
    return render("rejects.html.j2", chart=chart, groups=groups, per_reason=per_reason)


def _sheet_row(clip_id: str, r: SheetRow, pictures: Pictures) -> dict:
    """One row of a contact sheet: the original frame, the swapped one and the cast faces, as data URIs."""
    swapped = pictures.swapped(clip_id, r.variant, r.frame_idx)
    if swapped is None:
        raise InputError(
            f"{clip_id} frame {r.frame_idx} variant {r.variant} is published, but gates.parquet records no swapped image for it"
        )
    identity = None
    if r.identity_ids:
        faces = pictures.identity(r.identity_ids, FACE_SIDE)
        identity = data_uri(faces, faces.shape[1])
    return {
        "row": r,
        "original": data_uri(pictures.original(clip_id, r.frame_idx), FRAME_WIDTH),
        "swapped": data_uri(swapped, FRAME_WIDTH),
        "identity": identity,
    }


def sheets(inp: Inputs, rows: dict[str, list[SheetRow]], pictures: Pictures, per_clip: int) -> Markup:
    clips = inp.clips.set_index("clip_id")
    kinds = reject_counts_by_clip(inp.rejects)
    found = []
    for clip_id, sheet in rows.items():
        c = clips.loc[clip_id]
        clip: dict[str, object] = {"clip_id": clip_id, "subject": c["subject"], "split": c["split"]}
        clip.update({k: int(c[k]) for k in ("source_frames", "published_images", "rejected_frames")})
        found.append(
            {"clip": clip, "held": kinds.get(clip_id, {}), "rows": [_sheet_row(clip_id, r, pictures) for r in sheet]}
        )
    return render("sheets.html.j2", sheets=found, per_clip=per_clip)
