"""Stage card: ``data/dataset/DATASET_CARD.md``, the document published with the dataset.

Reads the manifest's figures (``metrics/dataset.json``), ``metrics/cast.json``,
``metrics/gates.json`` and ``metrics/utility.json``, the cast identities
(data/cast/identities.parquet), ``clips`` and ``published_ids``
(data/interim: unreadable clips are named by their published id), the donors'
``donors.csv`` and every section of ``params.yaml`` (the recipe, less
``input``). It runs after ``evaluate`` because the card tells how useful the
recast dataset still is; the images and manifests are ``manifest``'s.
"""

from __future__ import annotations

from pathlib import Path

from facecast import tables
from facecast.card.render import render_card
from facecast.errors import InputError
from facecast.io.atomic import write_text
from facecast.io.donors import read_donors_csv
from facecast.metrics import CastMetrics, DatasetMetrics, GateMetrics, UtilityMetrics
from facecast.metrics import read as read_metrics
from facecast.params import Params, load_all


def _published_clips(interim: Path, published_ids: Path):
    """clips.parquet with each clip under the id the dataset publishes it by."""
    clips = tables.read_df("clips", interim)
    ids = tables.read_df("published_ids", published_ids)
    of = dict(zip(ids.loc[ids["kind"] == "clip", "original"], ids.loc[ids["kind"] == "clip", "published"]))
    unknown = sorted(set(clips["clip_id"]) - set(of))
    if unknown:
        raise InputError(
            f"published_ids.parquet does not know clip(s) {', '.join(unknown[:3])} of clips.parquet; run manifest again"
        )
    return clips.assign(clip_id=clips["clip_id"].map(of))


def card(
    recipe: dict, donors_dir: Path, interim: Path, published_ids: Path, cast_dir: Path, metrics_dir: Path, out: Path
) -> dict:
    """Write the card to ``out``; returns what it is made of. ``recipe``: every params section as validated;
    ``metrics_dir``: where dataset.json, cast.json, gates.json and utility.json are."""
    result = read_metrics(DatasetMetrics, metrics_dir / "dataset.json", "manifest").model_dump()
    cast_metrics = read_metrics(CastMetrics, metrics_dir / "cast.json", "cast").model_dump()
    gate_metrics = read_metrics(GateMetrics, metrics_dir / "gates.json", "gate").model_dump()
    utility = read_metrics(UtilityMetrics, metrics_dir / "utility.json", "evaluate").model_dump()
    text = render_card(
        result,
        recipe,
        read_donors_csv(donors_dir),
        tables.read_df("identities", cast_dir),
        _published_clips(interim, published_ids),
        gate_metrics,
        utility,
        tables.DATASET_MANIFESTS,
        cast_metrics,
    )
    write_text(out, text)
    return {"card": str(out), "bytes": len(text.encode("utf-8")), "utility": utility["status"]}


SECTIONS = ("input",)  # the sections of params.yaml this stage reads (and seed); the card prints every section


def run(p: Params) -> dict:
    """The stage as ``dvc repro`` runs it: the project's own folders (:mod:`facecast.tables`)."""
    recipe = {
        name: section.model_dump(mode="json") if hasattr(section, "model_dump") else section
        for name, section in load_all().items()
    }
    return card(
        recipe,
        donors_dir=Path(p.input.donors),
        interim=tables.INTERIM,
        published_ids=tables.INTERIM,
        cast_dir=tables.CAST,
        metrics_dir=tables.METRICS,
        out=tables.DATASET / "DATASET_CARD.md",
    )
