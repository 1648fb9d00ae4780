"""Everything the report reads, checked on the way in: a missing or malformed input is named, never skipped.

Tables are read through :mod:`facecast.tables` (their contracts are checked
there); the metrics JSON and the gate's plot CSVs are checked here for the
keys and columns the report uses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from facecast import tables
from facecast.errors import InputError

MANIFESTS = {
    "frames": "dataset_frames",
    "rejects": "dataset_rejects",
    "identities": "dataset_identities",
    "clips": "dataset_clips",
}
DISTANCE_COLUMNS = ("original_vs_original", "original_vs_cast", "swapped_vs_original", "swapped_vs_cast")
GATE_KEYS = (
    "frames",
    "faces",
    "deid_distance",
    "reid_rank1_rate",
    "expression_mean_pcc",
    "landmark_error",
    "leaks_in_passed_frames",
    "reject_reasons",
)
CAST_KEYS = ("categories", "balance_by")
CATEGORY_KEYS = ("attribute", "category", "target", "achieved")


@dataclass(frozen=True)
class Inputs:
    frames: pd.DataFrame  # dataset_frames: the published images
    rejects: pd.DataFrame  # dataset_rejects
    identities: pd.DataFrame  # dataset_identities
    clips: pd.DataFrame  # dataset_clips
    gates: pd.DataFrame
    gate_clips: pd.DataFrame
    sources: pd.DataFrame  # clips.parquet: where each original clip is
    cast_metrics: dict
    gate_metrics: dict
    distances: pd.DataFrame  # plots/distances.csv
    landmark_scores: dict[str, pd.DataFrame]  # plots/landmark_score/<clip>__v<variant>.csv, by file stem


def read_metrics(path: Path, keys: tuple[str, ...], stage: str) -> dict:
    if not path.is_file():
        raise InputError(f"{path}: metrics file not found (run stage {stage})")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object at the top level")
    missing = [k for k in keys if k not in data]
    if missing:
        raise InputError(f"{path}: missing key(s) {', '.join(missing)} (written by stage {stage})")
    return data


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


def _cast_categories(data: dict, path: Path) -> None:
    categories = data["categories"]
    if not isinstance(categories, list):
        raise InputError(f"{path}: 'categories' must be a list of {{attribute, category, target, achieved}}")
    for i, c in enumerate(categories):
        if not isinstance(c, dict) or any(k not in c for k in CATEGORY_KEYS):
            raise InputError(f"{path}: categories[{i}] lacks one of {', '.join(CATEGORY_KEYS)}")


def load(dataset: Path, interim: Path, metrics: Path, plots: Path) -> Inputs:
    """Read and check every input of the report."""
    manifest = dataset / "manifest"
    read = {key: tables.read_df(name, manifest) for key, name in MANIFESTS.items()}
    cast_metrics = read_metrics(metrics / "cast.json", CAST_KEYS, "cast")
    _cast_categories(cast_metrics, metrics / "cast.json")
    folder = plots / "landmark_score"
    if not folder.is_dir():
        raise InputError(f"{folder}: plot folder not found (run stage gate)")
    return Inputs(
        **read,
        gates=tables.read_df("gates", interim),
        gate_clips=tables.read_df("gate_clips", interim),
        sources=tables.read_df("clips", interim),
        cast_metrics=cast_metrics,
        gate_metrics=read_metrics(metrics / "gates.json", GATE_KEYS, "gate"),
        distances=read_plot_csv(plots / "distances.csv", ("share", *DISTANCE_COLUMNS)),
        landmark_scores={p.stem: read_plot_csv(p, ("share", "landmark_score")) for p in sorted(folder.glob("*.csv"))},
    )
