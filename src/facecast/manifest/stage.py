"""Stage manifest: the published dataset, its subject-grouped splits and manifests.

Reads ``clips``, ``frames``, ``gates``, ``augment`` (data/interim),
``identities`` and ``casting`` (data/cast) and ``metrics/cast.json``; writes,
each atomically, ``data/dataset/images/<split>/<clip>__v<variant>__c<copy>/<frame>.jpg``,
``data/dataset/manifest/{frames,identities,clips,rejects}.parquet``,
``metrics/dataset.json`` (the figures the dataset card prints: stage ``card``
writes it after ``evaluate``) and the private ``data/interim/published_ids.parquet``
(each subject's and clip's published pseudonym). Clip ids are published as
pseudonyms unless ``manifest.clip_ids`` is ``original``. Copy 0 of a frame is the swapped frame in
data/swapped; the other copies are augment's images in data/augmented.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from facecast import tables
from facecast.errors import InputError
from facecast.io.atomic import atomic_dir, write_json
from facecast.manifest.balance import balance, cell_of, parse_cell, quota_targets
from facecast.manifest.measured import measured_categories
from facecast.manifest.pseudonym import pseudonyms
from facecast.manifest.secret import load_key
from facecast.manifest.select import FRAME, frame_verdicts, reject_order, select
from facecast.manifest.shards import write_dataset_shards
from facecast.manifest.splits import assign, groups
from facecast.manifest.summary import summarise
from facecast.metrics import CastMetrics, check
from facecast.metrics import read as read_metrics
from facecast.params import CastParams, ManifestParams, Params


def _text(value) -> str | None:
    """A string cell as str, a missing one (None or NaN) as None."""
    return value if isinstance(value, str) else None


def _number(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _integer(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _check_coverage(verdicts: pd.DataFrame, frames: pd.DataFrame, casting: pd.DataFrame) -> list[int]:
    """Every source frame must have a verdict for every variant, and no verdict another frame; returns the variants."""
    variants = sorted(int(v) for v in casting["variant"].unique()) or [0]
    expected = {(c, v, int(f)) for c, f in zip(frames["clip_id"], frames["frame_idx"]) for v in variants}
    found = set(verdicts[FRAME].itertuples(index=False, name=None))
    for missing, what, where in (
        (expected - found, "have no verdict in gates.parquet", "run swap and gate again"),
        (
            found - expected,
            "are in gates.parquet but not in frames.parquet x casting variants",
            "run swap and gate again",
        ),
    ):
        if missing:
            shown = ", ".join(f"{c} v{v} frame {f}" for c, v, f in sorted(missing)[:3])
            raise InputError(f"{len(missing)} frame(s) {what} (e.g. {shown}); {where}")
    return variants


def _with_subjects(
    published: pd.DataFrame, frames: pd.DataFrame, clips: pd.DataFrame, subject_of: dict
) -> pd.DataFrame:
    """Add each candidate's timestamp, its subject's key for the splits and its pseudonym.

    A clip without a subject is a group key of its own (``clip:<id>``): nobody is known to be in two such clips.
    """
    out = published.merge(frames[["clip_id", "frame_idx", "timestamp_s"]], on=["clip_id", "frame_idx"], how="left")
    subject_ids = dict(zip(clips["clip_id"], clips["subject_id"]))
    out["subject_key"] = [_text(subject_ids.get(c)) or f"clip:{c}" for c in out["clip_id"]]
    out["subject"] = [subject_of.get(k) for k in out["subject_key"]]
    return out


def _identity_table(identities: pd.DataFrame, bins: dict) -> dict[str, dict]:
    """identity_id -> its declared and measured categories and the rest of its row."""
    declared = {r.identity_id: dict(r.declared) for r in identities.itertuples(index=False)}
    categories: dict[str, list[str]] = {}
    for d in declared.values():
        for attribute, category in d.items():
            categories.setdefault(attribute, [])
            if category not in categories[attribute]:
                categories[attribute].append(category)
    out = {}
    for r in identities.itertuples(index=False):
        out[r.identity_id] = {
            "row": r,
            "declared": declared[r.identity_id],
            "measured": measured_categories(
                declared[r.identity_id],
                _text(r.measured_sex),
                _number(r.measured_age),
                _text(r.fitzpatrick_approx),
                bins,
                categories,
                _text(r.measured_age_group),
            ),
        }
    return out


def _source(row, swapped: Path, augmented: Path) -> Path:
    path = swapped / row.source_image if int(row.copy) == 0 else augmented / row.image
    if not path.is_file():
        stage = "swap" if int(row.copy) == 0 else "augment"
        raise InputError(
            f"{path}: image of {row.clip_id} v{row.variant} copy {row.copy} frame {row.frame_idx} is missing; run {stage} again"
        )
    return path


def _publish(
    published: pd.DataFrame, split_of: dict[str, str], swapped: Path, augmented: Path, images: Path
) -> list[tuple[str, str]]:
    """Copy every published image into ``images`` (the dataset's images folder); returns (path relative to the
    dataset, sha256) per row."""
    out = []
    for row in tqdm(list(published.itertuples(index=False)), desc="manifest", unit="image", disable=None):
        source = _source(row, swapped, augmented)
        within = f"{split_of[row.subject_key]}/{row.clip_id}__v{row.variant}__c{row.copy}/{int(row.frame_idx):06d}{source.suffix.lower()}"
        rel = f"images/{within}"
        data = source.read_bytes()
        target = images / within
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        out.append((rel, hashlib.sha256(data).hexdigest()))
    return out


def _frame_rows(published: pd.DataFrame, files: list[tuple[str, str]], split_of: dict, ids: dict) -> list[dict]:
    rows = []
    for r, (image, sha) in zip(published.itertuples(index=False), files):
        rows.append(
            {
                "image": image,
                "sha256": sha,
                "split": split_of[r.subject_key],
                "clip_id": r.clip_id,
                "variant": int(r.variant),
                "copy": int(r.copy),
                "frame_idx": int(r.frame_idx),
                "timestamp_s": float(r.timestamp_s),
                "label": _text(r.label),
                "subject": _text(r.subject),
                "identity_ids": list(r.identity_ids),
                "declared": [list(ids[i]["declared"].items()) for i in r.identity_ids],
                "measured": [list(ids[i]["measured"].items()) for i in r.identity_ids],
                "faces": None if r.faces is None else list(r.faces),
                "replay": _text(r.replay),
                "flipped": bool(r.flipped),
                "deid_distance_min": _number(r.deid_distance_min),
                "identity_distance_max": _number(r.identity_distance_max),
                "landmark_error_max": _number(r.landmark_error_max),
                "status": "published",
            }
        )
    return rows


def _identity_rows(ids: dict, frames: pd.DataFrame) -> list[dict]:
    appearances = frames[["identity_ids", "split"]].explode("identity_ids").dropna()
    count = appearances.groupby("identity_ids").size()
    split = appearances.drop_duplicates().set_index("identity_ids")["split"]
    rows = []
    for identity_id, info in sorted(ids.items()):
        r = info["row"]
        rows.append(
            {
                "identity_id": identity_id,
                "split": split.get(identity_id),
                "declared": list(info["declared"].items()),
                "measured_age": _number(r.measured_age),
                "measured_sex": _text(r.measured_sex),
                "ita_category": _text(r.ita_category),
                "fitzpatrick_approx": _text(r.fitzpatrick_approx),
                "donor_ids": list(r.donor_ids),
                "images": int(count.get(identity_id, 0)),
            }
        )
    return rows


def _clip_rows(
    clips: pd.DataFrame, source: pd.Series, frames: pd.DataFrame, rejects: list[dict], subject_of: dict
) -> list[dict]:
    published = frames.groupby("clip_id").size()
    split = frames.drop_duplicates("clip_id").set_index("clip_id")["split"]
    rejected = pd.Series([r["clip_id"] for r in rejects], dtype=object).value_counts()
    return [
        {
            "clip_id": c.clip_id,
            "subject": subject_of.get(c.subject_id) if isinstance(c.subject_id, str) else None,
            "split": _text(split.get(c.clip_id)),
            "fps": _number(c.fps),
            "width": _integer(c.width),
            "height": _integer(c.height),
            "source_frames": int(source.get(c.clip_id, 0)),
            "published_images": int(published.get(c.clip_id, 0)),
            "rejected_frames": int(rejected.get(c.clip_id, 0)),
        }
        for c in clips.sort_values("clip_id").itertuples(index=False)
    ]


def _clip_ids(clips: pd.DataFrame, key: bytes, keep: bool) -> dict[str, str]:
    """clip id -> the id it is published under: its pseudonym, or itself (``keep``)."""
    return {c: c for c in clips["clip_id"]} if keep else pseudonyms("clip", clips["clip_id"], key)


def _published_ids(subject_of: dict[str, str], clip_of: dict[str, str]) -> list[dict]:
    """The private map from published ids back to the originals (for the report and the dataset's makers)."""
    return [
        {"kind": kind, "original": original, "published": published}
        for kind, ids in (("subject", subject_of), ("clip", clip_of))
        for original, published in sorted(ids.items())
    ]


def manifest(
    params: ManifestParams,
    seed: int,
    key: bytes,
    cast_params: CastParams,
    interim: Path,
    cast_dir: Path,
    swapped: Path,
    augmented: Path,
    metrics_dir: Path,
    out: Path,
    metrics: Path,
    published_ids: Path,
) -> dict:
    """Run the stage; returns the metrics it wrote. ``key``: the pseudonym key (:mod:`facecast.manifest.secret`);
    ``out``: the dataset folder, whose ``images`` and ``manifest`` it replaces (the card beside them is stage
    card's)."""
    clips = tables.read_df("clips", interim)
    frames = tables.read_df("frames", interim)
    gates = tables.read_df("gates", interim)
    augment = tables.read_df("augment", interim)
    identities = tables.read_df("identities", cast_dir)
    casting = tables.read_df("casting", cast_dir)
    cast_metrics = read_metrics(CastMetrics, metrics_dir / "cast.json", "cast").model_dump()
    clip_of = _clip_ids(clips, key, keep=params.clip_ids == "original")
    unknown_clips = sorted({c for t in (frames, gates, augment, casting) for c in t["clip_id"]} - set(clip_of))
    if unknown_clips:
        raise InputError(
            f"clips {', '.join(unknown_clips[:3])} are in the pipeline's tables but not in clips.parquet; run ingest "
            "and the stages after it again"
        )
    clips, frames, gates, augment, casting = (
        t.assign(clip_id=t["clip_id"].map(clip_of)) for t in (clips, frames, gates, augment, casting)
    )

    verdicts = frame_verdicts(gates)
    variants = _check_coverage(verdicts, frames, casting)
    published, rejects = select(verdicts, augment)
    subject_of = pseudonyms("subject", [s for s in clips["subject_id"] if isinstance(s, str)], key)
    published = _with_subjects(published, frames, clips, subject_of)
    ids = _identity_table(identities, cast_params.bins)
    unknown = sorted({i for row in published["identity_ids"] for i in row} - set(ids))
    if unknown:
        raise InputError(
            f"gates.parquet names identities identities.parquet lacks: {', '.join(unknown[:5])}; run cast, swap and gate again"
        )

    balanced = None
    if cast_params.balance_by == "published":
        targets = quota_targets(cast_metrics)
        cells = {label: parse_cell(label) for label in targets}
        identity_cells = {i: cell_of(info["declared"], cells) for i, info in ids.items()}
        published, left_out, balanced = balance(published, identity_cells, targets, params.quota_tolerance)
        rejects = sorted(rejects + left_out, key=reject_order)

    quota = {f"{c['attribute']}={c['category']}": float(c["target"]) for c in cast_metrics["categories"]}
    quota_attributes = {c["attribute"] for c in cast_metrics["categories"]}
    categories = {
        i: [f"{a}={c}" for a, c in info["declared"].items() if a in quota_attributes] for i, info in ids.items()
    }
    found = groups(list(zip(published["subject_key"], published["identity_ids"])), categories)
    chosen = assign(found, params.splits, seed, quota)
    split_of = {s: split for g, split in zip(found, chosen.splits) for s in g.subjects}

    with (
        atomic_dir(out / "images") as images,
        atomic_dir(out / "shards") as shards,
        atomic_dir(out / "manifest") as manifests,
    ):
        files = _publish(published, split_of, swapped, augmented, images)
        frame_rows = _frame_rows(published, files, split_of, ids)
        if params.shards:
            write_dataset_shards(frame_rows, images, shards, params.shard_images)
        tables.write("dataset_frames", frame_rows, manifests)
        dataset = tables.read_df("dataset_frames", manifests)
        tables.write("dataset_rejects", rejects, manifests)
        tables.write("dataset_identities", _identity_rows(ids, dataset), manifests)
        source = frames.groupby("clip_id").size()
        tables.write("dataset_clips", _clip_rows(clips, source, dataset, rejects, subject_of), manifests)
        result = summarise(
            dataset=dataset,
            rejects=rejects,
            verdicts=verdicts,
            frames=frames,
            clips=clips,
            augment=augment,
            ids=ids,
            casting=casting,
            groups=found,
            assignment=chosen,
            variants=variants,
            params=params,
            cast_metrics=cast_metrics,
            balanced=balanced,
        )
    tables.write("published_ids", _published_ids(subject_of, clip_of), published_ids)
    write_json(metrics, check("dataset", result))
    return result


SECTIONS = ("manifest", "cast")  # the sections of params.yaml this stage reads (and seed)


def run(p: Params) -> dict:
    """The stage as ``dvc repro`` runs it: the project's own folders (:mod:`facecast.tables`)."""
    return manifest(
        p.manifest,
        p.seed,
        load_key(),
        p.cast,
        interim=tables.INTERIM,
        cast_dir=tables.CAST,
        swapped=tables.SWAPPED,
        augmented=tables.AUGMENTED,
        metrics_dir=tables.METRICS,
        out=tables.DATASET,
        metrics=tables.METRICS / "dataset.json",
        published_ids=tables.INTERIM,
    )
