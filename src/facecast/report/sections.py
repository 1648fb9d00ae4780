"""The sections of the report, each a function from the checked inputs to its HTML."""

from __future__ import annotations

import re

import pandas as pd

from facecast.errors import InputError
from facecast.report.html import card, chart, e, img, section, table
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
    "landmarks": "the swapped face's landmarks stray from the driving ones (clip percentile or absolute cap)",
    "expression": "the clip's expression series, original vs swapped, correlate too weakly: the whole clip is held back",
    "leak": "the independent detector found a face that is not a swapped one, or some face of the frame is near an original person",
    "dropped": "swap did not write the frame",
}


def pct(value) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{100 * float(value):.1f} %"


def num(value, digits: int = 3) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):.{digits}f}"


def text(value, default: str = "n/a") -> str:
    """A table value as text; null (None or NaN) as ``default``."""
    return default if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def count(value) -> str:
    return text(value) if not isinstance(value, int) else f"{value:,}"


def held_back(kinds: dict[str, int]) -> str:
    """``leak 150, landmarks 14``: a clip's held-back rows by reason kind."""
    return ", ".join(f"{k} {n:,}" for k, n in kinds.items()) or "nothing"


def anchor(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)


def _q(metrics: dict, key: str, stat: str):
    block = metrics.get(key)
    return block.get(stat) if isinstance(block, dict) else None


def summary(inp: Inputs) -> str:
    g, frames = inp.gate_metrics, inp.frames
    augmented = int((frames["copy"] > 0).sum())
    leaks = g["leaks_in_passed_frames"]
    rank1 = g["reid_rank1_rate"]
    deid = _q(g, "deid_distance", "median")
    cards = [
        card("Source frames", f"{int(inp.clips['source_frames'].sum()):,}", f"in {len(inp.clips)} clips"),
        card(
            "Published images",
            f"{len(frames):,}",
            f"{len(frames) - augmented:,} frames + {augmented:,} augmented copies",
        ),
        card(
            "Gate pass rate",
            pct(_q(g, "frames", "pass_rate")),
            f"{count(_q(g, 'frames', 'passed'))} of {count(_q(g, 'frames', 'total'))} swapped frames (each variant counted)",
        ),
        card("Not published", f"{len(inp.rejects):,}", "frames and copies held back, each with its reasons"),
        card(
            "De-identification distance",
            num(deid),
            f"median dlib distance to the original person (p5 {num(_q(g, 'deid_distance', 'p5'))}, "
            f"p95 {num(_q(g, 'deid_distance', 'p95'))}); {SAME_PERSON:g} and above: not the same person",
            "good" if deid is not None and deid >= SAME_PERSON else "bad",
        ),
        card(
            "Re-identified (rank 1)",
            pct(rank1),
            "swapped faces whose nearest original or donor is the person replaced",
            "good" if rank1 == 0 else "bad" if rank1 else "",
        ),
        card(
            "Expression PCC",
            num(g["expression_mean_pcc"], 2),
            "original vs swapped expression series, mean over clips (1: identical)",
        ),
        card(
            "Landmark error",
            num(_q(g, "landmark_error", "median")),
            f"median, in inter-ocular distances (p95 {num(_q(g, 'landmark_error', 'p95'))})",
        ),
        card(
            "Leaks in published frames",
            str(leaks),
            "original faces the leak scan found in passed frames",
            "good" if leaks == 0 else "bad",
        ),
    ]
    splits = []
    for split, f in frames.groupby("split", sort=True):
        ids = inp.identities[inp.identities["split"] == split]
        clips = inp.clips[inp.clips["split"] == split]
        splits.append([e(split), f"{len(f):,}", f"{len(clips):,}", f"{clips['subject'].nunique():,}", f"{len(ids):,}"])
    split_table = (
        "<h3>Splits</h3>"
        + table(["split", "images", "clips", "subjects", "identities"], splits, [False, True, True, True, True])
        if splits
        else "<p class='missing'>No image was published, so there are no splits.</p>"
    )
    return section(
        "summary",
        "Summary",
        "What went in, what came out, and how well the published faces are de-identified. Distances are dlib "
        "face-descriptor distances (unitless; 0.6 is dlib's same-person threshold).",
        f"<div class='cards'>{''.join(cards)}</div>{split_table}",
    )


def clip_table(inp: Inputs) -> str:
    rows = []
    kinds = reject_counts_by_clip(inp.rejects)
    for r in inp.clips.sort_values("clip_id").itertuples(index=False):
        size = f"{r.width}×{r.height}" if not pd.isna(r.width) and not pd.isna(r.height) else "n/a"
        rows.append(
            [
                f"<a href='#clip-{anchor(r.clip_id)}'><code>{e(r.clip_id)}</code></a>",
                e(text(r.subject)),
                e(text(r.split, "none")),
                num(r.fps, 1),
                size,
                f"{r.source_frames:,}",
                f"{r.published_images:,}",
                f"{r.rejected_frames:,}",
                e(held_back(kinds.get(r.clip_id, {}))),
            ]
        )
    return section(
        "clips",
        "Clips",
        "Every source clip: its pseudonymous subject and split, frames in, images published (with augmented copies) and "
        "frames held back, with their reasons (a frame with several counts under each). The clip name links to its "
        "contact sheet.",
        table(
            [
                "clip",
                "subject",
                "split",
                "fps",
                "size (px)",
                "source frames",
                "published images",
                "rejected frames",
                "held back for",
            ],
            rows,
            [False, False, False, True, True, True, True, True, False],
        ),
    )


def demographics(inp: Inputs, shares: list[ShareRow], pictures: Pictures) -> str:
    by = inp.cast_metrics["balance_by"]
    groups = [f"{s.attribute}: {s.category}" for s in shares]
    svg = bar_chart(
        groups,
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
    rows = [
        [
            e(s.attribute),
            e(s.category),
            pct(s.target),
            pct(s.cast),
            pct(s.published),
            pct(s.measured),
            "n/a" if s.target is None or s.published is None else f"{100 * (s.published - s.target):+.1f} pp",
        ]
        for s in shares
    ]
    gallery = []
    for r in inp.identities.sort_values("identity_id").itertuples(index=False):
        declared = ", ".join(f"{k}: {v}" for k, v in sorted(dict(r.declared).items()))
        measured = ", ".join(
            x
            for x in [
                f"age {r.measured_age:.0f}" if not pd.isna(r.measured_age) else "",
                str(r.measured_sex) if isinstance(r.measured_sex, str) else "",
                f"ITA {r.ita_category}" if isinstance(r.ita_category, str) else "",
                f"Fitzpatrick ≈ {r.fitzpatrick_approx}" if isinstance(r.fitzpatrick_approx, str) else "",
            ]
            if x
        )
        face = img(
            data_uri(pictures.identity((r.identity_id,), GALLERY_SIDE), GALLERY_SIDE), f"cast identity {r.identity_id}"
        )
        gallery.append(
            f"<div class='identity'>{face}<div class='name'>{e(r.identity_id)}</div>"
            f"<div>declared: {e(declared or 'none')}</div><div>measured: {e(measured or 'n/a')}</div>"
            f"<div>split <span class='pill'>{e(text(r.split, 'none'))}</span> · {r.images:,} images · "
            f"{len(r.donor_ids)} donors</div></div>"
        )
    return section(
        "demographics",
        "Demographics and the cast",
        f"Quota shares as set in params.yaml, as cast planned them (counted by {by}, metrics/cast.json) and as "
        "published: each face in a published image counts once (augmented copies included), by the category its "
        "identity was declared (from its donors) and by the category measured on the identity's face. Below, every "
        "synthetic identity with its declared and measured attributes.",
        chart(svg, "Share of faces per category; pp: percentage points of published (declared) minus target.")
        + table(
            [
                "attribute",
                "category",
                "target",
                f"cast plan ({by})",
                "published, declared",
                "published, measured",
                "published − target",
            ],
            rows,
            [False, False, True, True, True, True, True],
        )
        + f"<h3>Identities</h3><div class='grid'>{''.join(gallery)}</div>",
    )


def quality(inp: Inputs) -> str:
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
    return section(
        "quality",
        "Gate plots",
        "Distribution functions from plots/ (the data dvc plots show draws): for each value on the x axis, the share of "
        "faces at or below it. A curve further right means larger values.",
        chart(
            distances,
            "Well recast data keeps 'original vs its own person' and 'swapped vs its cast identity' left of "
            f"{SAME_PERSON:g}, and 'swapped vs the original person' right of it.",
        )
        + chart(
            landmark,
            "One curve per clip and variant: re-fitted vs driving landmarks of each swapped face; lower is "
            "more faithful to the original's pose and expression.",
        ),
    )


def expression(inp: Inputs) -> str:
    gc = inp.gate_clips
    if gc.empty:
        return section("expression", "Expression per clip", "No clip had swapped faces to compare.", "")
    features = [f for f in dict.fromkeys(gc["feature"]) if f != "mean"] + (
        ["mean"] if (gc["feature"] == "mean").any() else []
    )
    rejects = inp.rejects.assign(kinds=reject_kinds(inp.rejects))
    held = rejects[rejects["kinds"].map(lambda ks: "expression" in ks)].groupby(["clip_id", "variant"]).size()
    rows = []
    for (clip_id, variant), g in gc.groupby(["clip_id", "variant"], sort=True):
        cells = {r.feature: r for r in g.itertuples(index=False)}
        row = [f"<code>{e(clip_id)}</code>", str(int(variant)), f"{int(g['frames'].max()):,}"]
        for f in features:
            r = cells.get(f)
            if r is None or pd.isna(r.pcc):
                row.append("<span class='missing'>n/a</span>")
                continue
            hue = 120 * max(0.0, min(1.0, float(r.pcc)))
            row.append(
                f"<span title='RMSE {num(r.rmse)}' style='display:block;background:hsl({hue:.0f},60%,86%);"
                f"padding:0 4px'>{float(r.pcc):.2f}</span>"
            )
        row.append(f"{int(held.get((clip_id, variant), 0)):,}")
        rows.append(row)
    headers = ["clip", "variant", "frames", *[f.replace("_", " ") for f in features], "frames held back (expression)"]
    return section(
        "expression",
        "Expression per clip",
        "Pearson correlation of each expression feature's time series, original vs swapped face (gate_clips): 1 means "
        "the swapped face moves exactly as the original did; hover a value for its RMSE (in inter-ocular distances).",
        table(headers, rows, [False, True, True, *[True] * len(features), True]),
    )


def _reject_card(r, pictures: Pictures) -> str:
    variant, frame = int(r.variant), int(r.frame_idx)
    swapped = pictures.swapped(r.clip_id, variant, frame)
    what = f"swapped frame of {r.clip_id} variant {variant} frame {frame}"
    picture = (
        img(data_uri(swapped, REJECT_WIDTH), what)
        if swapped is not None
        else "<p class='missing'>no image: swap did not write this frame</p>"
    )
    copy = "" if pd.isna(r.copy) else f" · copy {int(r.copy)}"
    reasons = "".join(f"<li>{e(x)}</li>" for x in r.reasons) or "<li class='missing'>no reason recorded</li>"
    return (
        f"<div class='reject'>{picture}<div class='where'><code>{e(r.clip_id)}</code> · variant {variant} · frame {frame}"
        f"{copy}</div><div class='meta'>held back by {e(r.stage)}</div><ul>{reasons}</ul></div>"
    )


def rejects(inp: Inputs, pictures: Pictures, per_reason: int) -> str:
    counts = reject_counts(inp.rejects)
    if not counts:
        return section("rejects", "Rejects", "Nothing was held back: every swapped frame passed the gate.", "")
    svg = bar_chart(
        [k for k, _ in counts],
        [("rejected", [v for _, v in counts])],
        "Held back, by reason",
        "frames and copies (one with several reasons counts under each)",
        lambda v: f"{v:,.0f}",
    )
    body = [
        chart(svg, "Reasons are the gate's (and augment's) kinds; the full reason of each sample is listed under it.")
    ]
    for kind, sample in reject_samples(inp.rejects, per_reason).items():
        total = dict(counts)[kind]
        note = REASON_NOTES.get(kind, "")
        cards = "".join(_reject_card(r, pictures) for r in sample.itertuples(index=False))
        body.append(
            f"<h3 id='reject-{anchor(kind)}'>{e(kind)} <span class='pill'>{total:,} held back · {len(sample)} shown</span></h3>"
            + (f"<p class='meta'>{e(note)}</p>" if note else "")
            + f"<div class='grid'>{cards}</div>"
        )
    return section(
        "rejects",
        "Rejects",
        f"Frames (and augmented copies) not in the dataset, grouped by reason: up to {per_reason} per reason, spread "
        "evenly over clips and time, each with every reason that applied. The images are the swapped frames that were "
        "held back.",
        "".join(body),
    )


def _sheet_caption(r: SheetRow) -> str:
    parts = [
        f"frame {r.frame_idx}",
        f"{r.timestamp_s:.2f} s",
        f"variant {r.variant}",
        f"label {text(r.label, 'none')}",
        "identity " + (", ".join(r.identity_ids) or "none (no face)"),
        f"de-identification distance {num(r.deid_distance_min)}",
        f"landmark error {num(r.landmark_error_max)}",
        f"{r.copies} published image{'s' if r.copies != 1 else ''}",
    ]
    return " · ".join(e(p) for p in parts)


def sheets(inp: Inputs, rows: dict[str, list[SheetRow]], pictures: Pictures, per_clip: int) -> str:
    out = []
    clips = inp.clips.set_index("clip_id")
    kinds = reject_counts_by_clip(inp.rejects)
    for clip_id, sheet in rows.items():
        c = clips.loc[clip_id]
        meta = (
            f"subject {e(text(c['subject']))} · split {e(text(c['split'], 'none'))} · {int(c['source_frames']):,} source "
            f"frames · {int(c['published_images']):,} published images · {int(c['rejected_frames']):,} rejected frames "
            f"(held back for {e(held_back(kinds.get(clip_id, {})))})"
        )
        head = f"<h3 id='clip-{anchor(clip_id)}'><code>{e(clip_id)}</code></h3><p class='meta'>{meta}</p>"
        if not sheet:
            out.append(
                head + "<p class='missing'>No frame of this clip was published; see Rejects for its samples.</p>"
            )
            continue
        cells = [
            "<div class='head'>Original (source footage)</div><div class='head'>Swapped (published)</div>"
            "<div class='head'>Cast identity</div>"
        ]
        for r in sheet:
            where = f"{clip_id} frame {r.frame_idx}"
            swapped = pictures.swapped(clip_id, r.variant, r.frame_idx)
            if swapped is None:
                raise InputError(
                    f"{where} variant {r.variant} is published, but gates.parquet records no swapped image for it"
                )
            if r.identity_ids:
                faces = pictures.identity(r.identity_ids, FACE_SIDE)
                identity = img(data_uri(faces, faces.shape[1]), "cast identity " + ", ".join(r.identity_ids))
            else:
                identity = "<div class='noface'>no face in this frame</div>"
            cells.append(
                f"<figure>{img(data_uri(pictures.original(clip_id, r.frame_idx), FRAME_WIDTH), f'original {where}')}</figure>"
                f"<figure>{img(data_uri(swapped, FRAME_WIDTH), f'swapped {where} variant {r.variant}')}</figure>"
                f"<figure class='id'>{identity}</figure><div class='cap'>{_sheet_caption(r)}</div>"
            )
        out.append(head + f"<div class='sheet'>{''.join(cells)}</div>")
    return section(
        "sheets",
        "Contact sheets",
        f"Per clip, {per_clip} published frames evenly spaced in time: the original frame, the frame as published (before "
        "augmentation), and the synthetic identity cast in it. The original column is why this report is internal.",
        "".join(out),
    )
