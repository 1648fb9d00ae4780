"""Everything the report reads, checked on the way in: a missing or malformed input is named, never skipped.

Tables are read through :mod:`facecast.tables` and the metrics files through
:mod:`facecast.metrics` (their contracts are checked there); the gate's plot
CSVs are checked here for the columns the report uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from facecast import tables
from facecast.errors import InputError
from facecast.metrics import CastMetrics, DatasetQuota, GateMetrics, UtilityMetrics
from facecast.metrics import read as read_metrics

DISTANCE_COLUMNS = ("original_vs_original", "original_vs_cast", "swapped_vs_original", "swapped_vs_cast")


@dataclass(frozen=True)
class Inputs:
    frames: pd.DataFrame  # dataset_frames: the published images
    rejects: pd.DataFrame  # dataset_rejects, with ``reasons``: each reason as one line of prose (with_reason_texts)
    identities: pd.DataFrame  # dataset_identities
    clips: pd.DataFrame  # dataset_clips
    gates: pd.DataFrame
    gate_clips: pd.DataFrame
    sources: pd.DataFrame  # clips.parquet: where each original clip is
    cast_metrics: dict
    quota: dict  # metrics/dataset.json's quota: target vs published, the images left out, the gap and its causes
    gate_metrics: dict
    distances: pd.DataFrame  # plots/distances.csv
    landmark_scores: dict[str, pd.DataFrame]  # plots/landmark_score/<clip>__v<variant>.csv, by file stem
    utility: dict  # metrics/utility.json
    predictions: pd.DataFrame  # utility_frames: the evaluate stage's held-out predictions


def read_plot_csv(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"{path}: plot data not found (run stage gate)")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable CSV: {exc}") from exc
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)} (has {', '.join(map(str, df.columns))})")
    for c in columns:
        values = pd.to_numeric(df[c], errors="coerce")
        bad = values.isna() & df[c].notna()
        if bad.any():
            raise InputError(
                f"{path}: column '{c}' holds a non-number at data row {int(bad.idxmax()) + 1}: {df[c][bad].iloc[0]!r}"
            )
        df[c] = values
    return df[list(columns)]


def with_reason_texts(rejects: pd.DataFrame) -> pd.DataFrame:
    """``dataset_rejects`` with a ``reasons`` column added: per row, each (kind, detail) as ``"kind: detail"``, the
    full reason the page lists under each sample."""
    texts = [
        [tables.reason_text(str(k), d if isinstance(d, str) else None) for k, d in zip(kinds, details, strict=True)]
        for kinds, details in zip(rejects["reason_kinds"], rejects["reason_details"], strict=True)
    ]
    return rejects.assign(reasons=pd.Series(texts, index=rejects.index, dtype=object))


def _original_clip_ids(published: pd.Series, ids: pd.DataFrame) -> list[str]:
    clips = ids[ids["kind"] == "clip"]
    original = dict(zip(clips["published"], clips["original"]))
    unknown = sorted(set(published) - set(original))
    if unknown:
        raise InputError(
            f"published_ids.parquet does not know clip(s) {', '.join(unknown[:3])} of the dataset; run manifest again"
        )
    return [original[c] for c in published]


def load(dataset: Path, interim: Path, metrics: Path, plots: Path) -> Inputs:
    """Read and check every input of the report."""
    manifest = dataset / "manifest"
    read = {key: tables.read_df(name, manifest) for key, name in tables.DATASET_MANIFESTS.items()}
    published_ids = tables.read_df("published_ids", interim)
    for key in ("frames", "rejects", "clips"):  # the report is private: it shows clips under their own ids
        read[key]["clip_id"] = _original_clip_ids(read[key]["clip_id"], published_ids)
    read["rejects"] = with_reason_texts(read["rejects"])
    cast_metrics = read_metrics(CastMetrics, metrics / "cast.json", "cast").model_dump()
    folder = plots / "landmark_score"
    if not folder.is_dir():
        raise InputError(f"{folder}: plot folder not found (run stage gate)")
    return Inputs(
        **read,
        gates=tables.read_df("gates", interim),
        gate_clips=tables.read_df("gate_clips", interim),
        sources=tables.read_df("clips", interim),
        cast_metrics=cast_metrics,
        quota=read_metrics(DatasetQuota, metrics / "dataset.json", "manifest").quota,
        gate_metrics=read_metrics(GateMetrics, metrics / "gates.json", "gate").model_dump(),
        distances=read_plot_csv(plots / "distances.csv", ("share", *DISTANCE_COLUMNS)),
        landmark_scores={p.stem: read_plot_csv(p, ("share", "landmark_score")) for p in sorted(folder.glob("*.csv"))},
        utility=read_metrics(UtilityMetrics, metrics / "utility.json", "evaluate").model_dump(),
        predictions=tables.read_df("utility_frames", interim),
    )
