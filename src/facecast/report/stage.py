"""Stage report: ``reports/index.html``, one self-contained page a person reads, and the dataset's plot data.

Reads the dataset manifests (data/dataset/manifest/{frames,rejects,identities,clips}.parquet),
``gates``, ``gate_clips`` and ``clips`` (data/interim), the original clips, the
swapped frames (data/swapped), the cast faces (data/cast/identities/<id>/face.png),
metrics/cast.json, metrics/gates.json, metrics/utility.json, the evaluate stage's
held-out predictions (utility_frames) and the gate's plot CSVs. Writes:

* ``<out>/index.html``: summary, demographic shares, the gate's plots, expression
  per clip, usefulness (the utility regimes, per-label agreement, confusion
  matrices and frames whose label the recast changed), rejects by reason and a
  contact sheet per clip (original | swapped | cast identity). It shows ORIGINAL faces: internal, never published.
* ``<plot_out>/shares.csv`` (one bar per category and series: target, cast
  plan, published declared, published measured) and ``<plot_out>/rejects.csv``
  (reason, rejected), for ``dvc plots show`` / ``dvc plots diff``: how the
  dataset's composition moves between revisions.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from facecast import tables
from facecast.errors import InputError
from facecast.io.atomic import atomic_dir
from facecast.params import Params, ReportParams
from facecast.report import sections
from facecast.report.html import render
from facecast.report.images import Pictures
from facecast.report.inputs import Inputs, load
from facecast.report.select import ShareRow, reject_counts, shares, sheet_rows
from facecast.report.usefulness import changed, usefulness

REJECTS_PER_REASON = 6  # sample of each reject reason on the page


def _check_clips(inp: Inputs) -> None:
    unknown = sorted(set(inp.frames["clip_id"]) - set(inp.clips["clip_id"]))
    if unknown:
        raise InputError(
            f"dataset manifest frames.parquet names clip(s) {', '.join(unknown[:5])} that clips.parquet of the manifest lacks"
        )


SERIES = {
    "target": "target",
    "cast": "cast plan",
    "published": "published, declared",
    "measured": "published, measured",
}


def _write_plots(share_rows: list[ShareRow], counts: list[tuple[str, int]], folder: Path) -> None:
    """One bar per (category, series) in shares.csv, so DVC's bar templates draw them apart and ``plots diff`` by revision."""
    rows = [
        {
            "bar": f"{s.attribute}: {s.category} ({label})",
            "attribute": s.attribute,
            "category": s.category,
            "series": label,
            "share": round(getattr(s, series), 4),
        }
        for s in share_rows
        for series, label in SERIES.items()
        if getattr(s, series) is not None
    ]
    with atomic_dir(folder) as tmp:
        pd.DataFrame(rows, columns=["bar", "attribute", "category", "series", "share"]).to_csv(
            tmp / "shares.csv", index=False
        )
        pd.DataFrame(counts, columns=["reason", "rejected"]).to_csv(tmp / "rejects.csv", index=False)


def report(
    params: ReportParams,
    dataset: Path,
    interim: Path,
    cast_dir: Path,
    swapped: Path,
    metrics: Path,
    plots: Path,
    out: Path,
    plot_out: Path,
) -> dict:
    """Write the report and its plot data; returns what it showed."""
    inp = load(dataset, interim, metrics, plots)
    _check_clips(inp)
    rows = {clip: sheet_rows(inp.frames, clip, params.frames_per_clip) for clip in sorted(inp.clips["clip_id"])}
    pictures = Pictures(inp.sources, inp.gates, swapped, cast_dir)
    examples = changed(inp.predictions, inp.utility)
    wanted = {clip: {r.frame_idx for r in sheet} for clip, sheet in rows.items() if sheet}
    for e in examples:
        wanted.setdefault(e["clip_id"], set()).add(e["frame_idx"])
    pictures.load_originals(wanted)
    share_rows = shares(inp.cast_metrics, inp.frames)
    parts = [
        ("summary", "Summary", sections.summary(inp)),
        ("demographics", "Demographics", sections.demographics(inp, share_rows, pictures)),
        ("quality", "Gate plots", sections.quality(inp)),
        ("expression", "Expression", sections.expression(inp)),
        ("usefulness", "Usefulness", usefulness(inp.utility, inp.predictions, examples, pictures)),
        ("clips", "Clips", sections.clip_table(inp)),
        ("rejects", "Rejects", sections.rejects(inp, pictures, REJECTS_PER_REASON)),
        ("sheets", "Contact sheets", sections.sheets(inp, rows, pictures, params.frames_per_clip)),
    ]
    html = render(
        "page.html.j2",
        images=len(inp.frames),
        clips=len(inp.clips),
        identities=len(inp.identities),
        sections=parts,
        sources={
            "manifest": dataset / "manifest",
            "interim": interim,
            "cast": cast_dir,
            "swapped": swapped,
            "metrics": metrics,
            "plots": plots,
        },
    )
    with atomic_dir(out) as tmp:
        (tmp / "index.html").write_text(html, encoding="utf-8")
    counts = reject_counts(inp.rejects)
    _write_plots(share_rows, counts, plot_out)
    return {
        "html": str(out / "index.html"),
        "bytes": len(html.encode("utf-8")),
        "clips": len(rows),
        "sheet_rows": sum(len(s) for s in rows.values()),
        "rejects": len(inp.rejects),
        "reject_reasons": dict(counts),
    }


SECTIONS = ("report",)  # the sections of params.yaml this stage reads (and seed)


def run(p: Params) -> dict:
    """The stage as ``dvc repro`` runs it: the project's own folders (:mod:`facecast.tables`)."""
    return report(
        p.report,
        dataset=tables.DATASET,
        interim=tables.INTERIM,
        cast_dir=tables.CAST,
        swapped=tables.SWAPPED,
        metrics=tables.METRICS,
        plots=tables.PLOTS,
        out=tables.REPORTS,
        plot_out=tables.PLOTS / "dataset",
    )
