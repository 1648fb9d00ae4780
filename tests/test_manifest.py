"""Stage manifest on a small, hand-built but schema-valid world with real JPEG files.

Five readable clips of four frames and one unreadable clip; two casting variants; one augmented copy per frame.
Subjects P1 and P2 are played by the same identity (syn1) in variant 0, so they must land in the same split.
Gate rejects some frames (a leak, a bad second face, a frame swap dropped); augment skips one copy; clip E has no
subject; clip D's frame 0 has no face at all (and passes). The stage runs twice into separate folders.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import cv2
import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest
import webdataset

from facecast import tables
from facecast.card.stage import card
from facecast.errors import InputError
from facecast.evaluate.samples import ORIGINAL_COLUMNS, RECAST_COLUMNS, Selection
from facecast.evaluate.stage import not_evaluated
from facecast.manifest.measured import measured_categories
from facecast.manifest.pseudonym import pseudonyms
from facecast.manifest.select import frame_verdicts, select
from facecast.manifest.splits import Group, assign, groups
from facecast.manifest.stage import manifest
from facecast.params import CastParams, EvaluateParams, ManifestParams
from facecast.reasons import ManifestReason
from held_out import held_out

from conftest import CAST_FIT

SEED = 918273
FRAMES = 4
COPIES = 1
SUBJECTS = {"A": "P1", "B": "P2", "C": "P3", "D": "P4", "E": None}
QUANTILES = {"n": 37, "mean": 0.78, "median": 0.78, "p5": 0.69, "p95": 0.87}
CAST = {
    0: {"A": "syn1", "B": "syn1", "C": "syn2", "D": "syn3", "E": "syn4"},
    1: {"A": "syn5", "B": "syn6", "C": "syn7", "D": "syn8", "E": "syn4"},
}
SEX = {
    "syn1": "female",
    "syn2": "male",
    "syn3": "female",
    "syn4": "male",
    "syn5": "female",
    "syn6": "male",
    "syn7": "female",
    "syn8": "male",
}
LABELS = ["happy", "happy", "sad", None]
LEAK = ("B", 0, 2)
SECOND_FACE = ("C", 0, 1)  # a second face, rejected for its landmarks: the whole frame goes
DROPPED = ("A", 1, 3)
NO_FACE = ("D", 0, 0)
SKIPPED = ("A", 0, 1, 1)  # (clip, variant, frame, copy) augment skipped
CAST_PARAMS = CastParams(
    balance_by="frames",  # the published images as the gate left them; test_published_balance_* balances them
    quotas={"sex": {"female": 0.5, "male": 0.5}},
    bins={"age_range": {"18-25": "18-34", "25-35": "18-34", "35-45": "35+", "45-55": "35+"}},
)
# the tests name clips (the default, pseudonyms, has its own test); three images a shard, so splits take several
PARAMS = ManifestParams(clip_ids="original", shard_images=3)
KEY = bytes(range(32))  # the pseudonym key (facecast.manifest.secret)


def jpeg(path: Path, seed: int) -> None:
    img = np.random.default_rng(seed).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    path.write_bytes(buf.tobytes())


def face(track: int, identity: str | None) -> dict:
    return {
        "track_id": track,
        "identity_id": identity,
        "bbox": [4.0, 3.0, 20.0, 19.0],
        "landmarks": [float(v) for v in np.linspace(4, 19, 136)],
    }


def gate_row(
    clip, variant, frame, track, identity, status="pass", reasons=(), swap_status="swapped", image=True
) -> dict:
    row = {name: None for name in tables.spec("gates").schema.names}
    row.update(
        clip_id=clip,
        variant=variant,
        frame_idx=frame,
        track_id=track,
        identity_id=identity,
        swap_status=swap_status,
        image=f"{clip}__v{variant}/{frame:06d}.jpg" if image else None,
        deid_distance=0.7 + 0.01 * frame,
        identity_distance=0.4,
        landmark_error=0.03 + 0.001 * frame,
        leak_faces=0,
        status=status,
        reason_kinds=[k for k, _ in reasons],
        reason_details=[d for _, d in reasons],
    )
    if swap_status != "swapped":
        row.update(deid_distance=None, identity_distance=None, landmark_error=None, identity_id=None)
    return row


def build_world(root: Path) -> dict:
    interim, cast_dir, swapped, augmented, metrics = (
        root / n for n in ("interim", "cast", "swapped", "augmented", "metrics")
    )
    clips = [
        {
            "clip_id": c,
            "path": f"clips/{c}.mp4",
            "kind": "video",
            "n_frames": FRAMES,
            "fps": 25.0,
            "width": 32,
            "height": 24,
            "sha256": "0" * 64,
            "subject_id": s,
            "status": "ok",
            "reason": None,
        }
        for c, s in SUBJECTS.items()
    ]
    clips.append(
        {
            "clip_id": "F",
            "path": "clips/F.mp4",
            "kind": "video",
            "n_frames": 0,
            "fps": None,
            "width": None,
            "height": None,
            "sha256": "0" * 64,
            "subject_id": "P9",
            "status": "unreadable",
            "reason": "cannot open",
        }
    )
    tables.write("clips", clips, interim / "clips.parquet")
    tables.write(
        "frames",
        [
            {"clip_id": c, "frame_idx": f, "timestamp_s": f / 25.0, "label": LABELS[f]}
            for c in SUBJECTS
            for f in range(FRAMES)
        ],
        interim / "frames.parquet",
    )
    tables.write(
        "casting",
        [
            {
                "clip_id": c,
                "track_id": 0,
                "variant": v,
                "identity_id": CAST[v][c],
                "frames": FRAMES,
                "status": "ok",
                "reason": None,
            }
            for v in CAST
            for c in SUBJECTS
        ],
        cast_dir / "casting.parquet",
    )
    identities = []
    for n, (identity, sex) in enumerate(sorted(SEX.items())):
        row = {name: None for name in tables.spec("identities").schema.names}
        row.update(
            identity_id=identity,
            method="morph",
            donor_ids=["D1", "D2"] if sex == "female" else ["D3", "D9"],
            donor_weights=[0.5, 0.5],
            declared=[("sex", sex), ("age_range", "18-34")],
            measured_age=24.0 + 3 * n,
            measured_sex=sex if n != 0 else "male",
            ita_category="tan",
            fitzpatrick_approx="IV",
            attempts=1,
            recipe="{}",
            face_path=f"{identity}/face.png",
            status="ok",
        )
        identities.append(row)
    tables.write("identities", identities, cast_dir / "identities.parquet")

    gates, augment = [], []
    for variant, cast in CAST.items():
        for clip in SUBJECTS:
            for frame in range(FRAMES):
                key = (clip, variant, frame)
                if key == DROPPED:
                    gates.append(
                        gate_row(
                            clip,
                            variant,
                            frame,
                            0,
                            None,
                            "reject",
                            [("dropped", "swap did not write this frame")],
                            swap_status="dropped",
                            image=False,
                        )
                    )
                    continue
                jpeg(swapped / f"{clip}__v{variant}/{frame:06d}.jpg", len(gates))
                faces = [face(0, cast[clip])]
                if key == NO_FACE:
                    gates.append(gate_row(clip, variant, frame, None, None, swap_status="no_face"))
                    faces = []
                elif key == LEAK:
                    gates.append(
                        gate_row(
                            clip,
                            variant,
                            frame,
                            0,
                            cast[clip],
                            "reject",
                            [("leak", "1 face(s) the detector found match no face row")],
                        )
                    )
                elif key == SECOND_FACE:
                    gates.append(gate_row(clip, variant, frame, 0, cast[clip]))
                    gates.append(
                        gate_row(
                            clip, variant, frame, 1, "syn8", "reject", [("landmarks", "error 0.200 above the cap 0.15")]
                        )
                    )
                else:
                    gates.append(gate_row(clip, variant, frame, 0, cast[clip]))
                if gates[-1]["status"] == "reject":
                    continue
                for copy in range(COPIES + 1):
                    skipped = (clip, variant, frame, copy) == SKIPPED
                    image = None if copy == 0 or skipped else f"{clip}__v{variant}__c{copy}/{frame:06d}.jpg"
                    if image:
                        jpeg(augmented / image, 1000 + len(augment))
                    augment.append(
                        {
                            "clip_id": clip,
                            "variant": variant,
                            "copy": copy,
                            "frame_idx": frame,
                            "source_image": f"{clip}__v{variant}/{frame:06d}.jpg",
                            "image": image,
                            "label_original": LABELS[frame],
                            "label": LABELS[frame],
                            "flipped": copy == 1,
                            "replay": None if copy == 0 else json.dumps({"transforms": [{"applied": copy == 1}]}),
                            "faces": faces,
                            "status": "skipped" if skipped else "ok",
                            "reason_kind": "flip" if skipped else None,
                            "reason_detail": "label 'happy' has no mirror in augment.label_flip_map"
                            if skipped
                            else None,
                        }
                    )
    tables.write("gates", gates, interim / "gates.parquet")
    tables.write("augment", augment, interim / "augment.parquet")
    metrics.mkdir(parents=True, exist_ok=True)
    (metrics / "cast.json").write_text(
        json.dumps(
            {
                "balance_by": "frames",
                "categories": [
                    {"attribute": "sex", "category": "female", "target": 0.5, "achieved": 0.5},
                    {"attribute": "sex", "category": "male", "target": 0.5, "achieved": 0.5},
                ],
                "fit": CAST_FIT,
                "refused_by_attributes": {},
            }
        )
    )
    (metrics / "gates.json").write_text(
        json.dumps(
            {
                "frames": {"total": len(SUBJECTS) * FRAMES * 2, "passed": 36, "pass_rate": 0.9},
                "faces": {"total": len(SUBJECTS) * FRAMES * 2, "passed": 37, "pass_rate": 0.925},
                "deid_distance": QUANTILES,
                "identity_distance": QUANTILES,
                "landmark_error": {"n": 37, "mean": 0.03, "median": 0.03, "p5": 0.01, "p95": 0.06},
                "reid_rank1_rate": 0.0,
                "expression_mean_pcc": 0.64,
                "reject_reasons": {"leak": 1, "landmarks": 1, "dropped": 1},
                "leaks_in_passed_frames": 0,
            }
        )
    )
    donors = root / "donors"
    donors.mkdir()
    (donors / "donors.csv").write_text(
        "donor_id,sex,licence,attribution\nD1,female,CC-BY-4.0,Photo by Ann Example\n"
        "D2,female,MIT,openpeople\nD3,male,CC0-1.0,\nD9,male,,unknown origin\n"
    )
    return {
        "interim": interim,
        "cast_dir": cast_dir,
        "swapped": swapped,
        "augmented": augmented,
        "metrics_dir": metrics,
        "donors_dir": donors,
    }


NOT_EVALUATED = "4 subject(s) have evaluated frames; evaluate.folds (5) needs at least 5, one held out in each fold"


def run(
    world: dict,
    out: Path,
    params: ManifestParams = PARAMS,
    key: bytes = KEY,
    utility: dict | None = None,
    cast: CastParams = CAST_PARAMS,
) -> dict:
    """Stage manifest, then stage card on its output (with ``utility`` as metrics/utility.json: by default the
    evaluate stage's record of a dataset it could not evaluate)."""
    recipe = {
        "seed": SEED,
        "input": {"root": "/home/maker/footage", "donors": "/home/maker/donors"},
        "cast": cast.model_dump(mode="json"),
        "manifest": params.model_dump(mode="json"),
    }
    metrics = out / "metrics"
    result = manifest(
        params,
        SEED,
        key,
        cast,
        out=out / "dataset",
        metrics=metrics / "dataset.json",
        published_ids=out / "published_ids.parquet",
        **{k: v for k, v in world.items() if k != "donors_dir"},
    )
    for name in ("cast.json", "gates.json"):
        shutil.copy(world["metrics_dir"] / name, metrics / name)
    if utility is None:
        empty = Selection(pd.DataFrame(columns=ORIGINAL_COLUMNS), pd.DataFrame(columns=RECAST_COLUMNS), [])
        utility = not_evaluated(EvaluateParams(), empty, NOT_EVALUATED)
    (metrics / "utility.json").write_text(json.dumps(utility))
    card(
        recipe,
        world["donors_dir"],
        interim=world["interim"],
        published_ids=out / "published_ids.parquet",
        cast_dir=world["cast_dir"],
        metrics_dir=metrics,
        out=out / "dataset" / "DATASET_CARD.md",
    )
    return result


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    return build_world(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="module")
def built(world, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("run1")
    return out / "dataset", run(world, out)


def manifests(dataset: Path) -> dict[str, pd.DataFrame]:
    names = {
        "frames": "dataset_frames",
        "rejects": "dataset_rejects",
        "identities": "dataset_identities",
        "clips": "dataset_clips",
    }
    return {f: tables.read_df(t, dataset / "manifest" / f"{f}.parquet") for f, t in names.items()}


def test_only_passing_frames_are_published_and_every_other_is_a_reject(built, world):
    dataset, metrics = built
    m = manifests(dataset)
    frames, rejects = m["frames"], m["rejects"]
    gates = tables.read_df("gates", world["interim"] / "gates.parquet")
    failed = {(r.clip_id, r.variant, r.frame_idx) for r in gates.itertuples() if r.status == "reject"}
    published = set(zip(frames["clip_id"], frames["variant"], frames["frame_idx"]))
    assert failed == {LEAK, SECOND_FACE, DROPPED}
    assert not published & failed
    gate_rejects = rejects[rejects["stage"] == "gate"]
    assert set(zip(gate_rejects["clip_id"], gate_rejects["variant"], gate_rejects["frame_idx"])) == failed
    assert gate_rejects["copy"].isna().all()
    by_frame = {
        (r.clip_id, r.variant, r.frame_idx): list(zip(r.reason_kinds, r.reason_details, strict=True))
        for r in gate_rejects.itertuples()
    }
    assert by_frame[SECOND_FACE] == [("landmarks", "error 0.200 above the cap 0.15")]
    assert by_frame[DROPPED] == [("dropped", "swap did not write this frame")]
    skipped = rejects[rejects["stage"] == "augment"]
    assert list(zip(skipped["clip_id"], skipped["variant"], skipped["frame_idx"], skipped["copy"])) == [SKIPPED]
    assert list(skipped["reason_kinds"].iloc[0]) == ["flip"]
    assert list(skipped["reason_details"].iloc[0]) == ["label 'happy' has no mirror in augment.label_flip_map"]
    # every kind is gate's or augment's, as they wrote it; the metrics count them
    assert set(rejects["reason_kinds"].explode()) <= tables.spec("dataset_rejects").reason_kinds
    assert metrics["rejects"]["by_reason"] == {"dropped": 1, "flip": 1, "landmarks": 1, "leak": 1}
    # every candidate image is either published or a reject: source frames x variants x (1 + copies)
    total = len(SUBJECTS) * FRAMES * len(CAST) * (1 + COPIES)
    assert len(frames) + len(skipped) + len(gate_rejects) * (1 + COPIES) == total
    assert metrics["images"]["published"] == len(frames) == total - 1 - 3 * (1 + COPIES)
    assert metrics["frames"] == {"source": 20, "variants": 2, "gated": 40, "passed": 37, "rejected": 3}
    assert metrics["rejects"]["by_stage"] == {"augment": 1, "gate": 3}
    no_face = frames[(frames["clip_id"] == "D") & (frames["variant"] == 0) & (frames["frame_idx"] == 0)]
    assert len(no_face) == 2 and all(len(ids) == 0 for ids in no_face["identity_ids"])
    clips = m["clips"].set_index("clip_id")
    assert (
        clips.loc["F", "published_images"] == 0
        and clips.loc["F", "source_frames"] == 0
        and pd.isna(clips.loc["F", "split"])
    )
    assert clips.loc["B", "rejected_frames"] == 1 and clips.loc["A", "rejected_frames"] == 2
    assert clips["published_images"].sum() == len(frames)


def test_no_subject_and_no_identity_in_two_splits(built):
    dataset, metrics = built
    frames = manifests(dataset)["frames"]
    key = frames["subject"].fillna("clip:" + frames["clip_id"])
    assert (frames.groupby(key)["split"].nunique() == 1).all()
    appearances = frames[["identity_ids", "split"]].explode("identity_ids").dropna()
    assert (appearances.groupby("identity_ids")["split"].nunique() == 1).all()
    # P1 (clip A) and P2 (clip B) share syn1, so they are in one split
    split_of = frames.groupby("clip_id")["split"].first()
    assert split_of["A"] == split_of["B"]
    identities = manifests(dataset)["identities"].set_index("identity_id")
    assert identities.loc["syn1", "split"] == split_of["A"]
    assert identities.loc["syn1", "images"] == len(frames[frames["identity_ids"].map(lambda ids: "syn1" in ids)])
    # the subjects are pseudonyms, never the original ids
    assert not set(frames["subject"].dropna()) & set(SUBJECTS.values())
    assert all(s.startswith("S") and len(s) == 13 for s in frames["subject"].dropna())
    assert frames.loc[frames["clip_id"] == "E", "subject"].isna().all()


def test_shares_reported_per_split(built):
    dataset, metrics = built
    frames = manifests(dataset)["frames"]
    s = metrics["splits"]
    assert s["groups"] == 4 and s["method"] == "exhaustive"
    for name, target in PARAMS.splits.items():
        d = s["per_split"][name]
        assert d["target"] == target
        assert d["images"] == (frames["split"] == name).sum()
        assert d["achieved"] == pytest.approx(d["images"] / len(frames), abs=1e-4)
        published = metrics["labels"]["published"][name]
        counts = frames.loc[frames["split"] == name, "label"].fillna("(unlabelled)").value_counts()
        assert {k: v["count"] for k, v in published.items()} == counts.to_dict()
        sex = metrics["categories"]["declared"]["sex"][name]
        assert sum(v["count"] for v in sex.values()) == sum(
            max(len(i), 1) for i in frames.loc[frames["split"] == name, "identity_ids"]
        )
    assert metrics["labels"]["source_frames"]["happy"]["count"] == 10
    # syn1 is declared female but measured male: the two columns differ where it appears
    syn1 = frames[frames["identity_ids"].map(lambda ids: list(ids) == ["syn1"])]
    assert dict(syn1["declared"].iloc[0][0])["sex"] == "female" and dict(syn1["measured"].iloc[0][0])["sex"] == "male"
    assert dict(syn1["measured"].iloc[0][0])["age_range"] == "18-34"  # measured 24 years -> 18-25 -> 18-34
    sex_rows = {d["category"]: d for d in metrics["demographics"] if d["attribute"] == "sex"}
    assert sex_rows["female"]["target"] == 0.5 and sex_rows["female"]["published_declared"] is not None
    # four groups, one of them (P1+P2) over a third of the images: 70/15/15 cannot be met within 5 points
    assert s["largest_group_share"] > 0.3 and s["largest_gap"] > PARAMS.share_tolerance and s["met"] is False


def test_images_match_their_sha256(built, world):
    dataset, _ = built
    frames = manifests(dataset)["frames"]
    files = sorted(p.relative_to(dataset).as_posix() for p in (dataset / "images").rglob("*.jpg"))
    assert files == sorted(frames["image"])
    for image, sha in zip(frames["image"], frames["sha256"]):
        assert hashlib.sha256((dataset / image).read_bytes()).hexdigest() == sha
        split = image.split("/")[1]
        assert split in PARAMS.splits
    originals = frames[frames["copy"] == 0]
    for r in originals.itertuples():
        source = world["swapped"] / f"{r.clip_id}__v{r.variant}/{r.frame_idx:06d}.jpg"
        assert hashlib.sha256(source.read_bytes()).hexdigest() == r.sha256
    copies = frames[frames["copy"] == 1]
    assert all("__c1/" in i for i in copies["image"]) and copies["replay"].notna().all()
    assert frames["faces"].map(len).sum() == frames["identity_ids"].map(len).sum()


def test_manifests_readable_with_pandas_polars_duckdb(built):
    dataset, _ = built
    for name in ("frames", "identities", "clips", "rejects"):
        path = dataset / "manifest" / f"{name}.parquet"
        meta = pq.read_schema(path).metadata
        version = str(tables.spec(f"dataset_{name}").version).encode()
        assert meta[b"facecast.table"] == f"dataset_{name}".encode() and meta[b"facecast.schema_version"] == version
        df = pd.read_parquet(path)
        pl_df = pl.read_parquet(path)
        n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()[0][0]
        assert len(df) == pl_df.height == n > 0
        assert pl_df.columns == list(df.columns)
    frames = dataset / "manifest" / "frames.parquet"
    by_split = dict(duckdb.sql(f"SELECT split, count(*) FROM read_parquet('{frames}') GROUP BY split").fetchall())
    assert by_split == pd.read_parquet(frames)["split"].value_counts().to_dict()
    boxes = pl.read_parquet(frames).select(pl.col("faces").list.len().sum()).item()
    assert boxes == pd.read_parquet(frames)["faces"].map(len).sum()
    sexes = duckdb.sql(
        f"SELECT count(*) FROM (SELECT unnest(declared) AS d FROM read_parquet('{frames}')) WHERE d['sex'] = 'female'"
    ).fetchall()[0][0]
    assert sexes > 0


def shown(card: str) -> str:
    """The card's text as a reader sees it: Markdown's backslash escapes and the HTML entities undone."""
    return html.unescape(re.sub(r"\\([\\`*_{}\[\]()#+\-!|])", r"\1", card))


def test_card_tells_counts_params_licences_and_hides_the_input_paths(built):
    dataset, metrics = built
    card = (dataset / "DATASET_CARD.md").read_text()
    assert "| D1 | syn1, syn3, syn5, syn7 | CC\\-BY\\-4.0 | Photo by Ann Example |" in card  # values escaped
    card = shown(card)
    for text in (
        "## Counts",
        f"Published: {metrics['images']['published']} image(s)",
        "1 copy(ies) augment skipped",
        "share_tolerance",
        "splits:",
        "CC-BY-4.0",
        "Photo by Ann Example",
        "**not declared**",
        "D9",
        "## Known limitations",
        "clip(s) have no subject",
        "F (unreadable)",
        "## Gate figures",
        "happy",
        f"**Not evaluated**: {NOT_EVALUATED}.",
    ):
        assert text in card, text
    recipe = card.split("```yaml")[1].split("```")[0]
    assert f"seed: {SEED}" in recipe and "input" not in recipe and "/home/maker" not in card
    assert "cannot open" not in card  # an unreadable clip's reason may name its file: it stays in the maker's report
    assert "The target shares are not met: the groups are too few or too coarse" in card
    assert json.loads((dataset.parent / "metrics" / "dataset.json").read_text()) == metrics


def test_card_tells_how_useful_the_dataset_is(world, tmp_path):
    """An evaluated dataset: the card prints the utility ratio with its interval, the four regimes and the
    labels the recast changes most first."""
    # five subjects, two labels; the recast of each subject's last 'sad' frame reads as 'happy'
    frames = [
        (subject, frame, fold, label, "happy" if frame == 3 else label)
        for fold, subject in enumerate(("P1", "P2", "P3", "P4", "P5"), start=1)
        for frame, label in enumerate(("happy", "happy", "sad", "sad"))
    ]
    utility, _ = held_out(frames, {}, SEED)
    run(world, tmp_path, utility=utility)
    card = shown((tmp_path / "dataset" / "DATASET_CARD.md").read_text())
    ratio = utility["utility_ratio"]
    assert 0 < ratio["value"] < 1 and ratio["ci95_low"] <= ratio["value"] <= ratio["ci95_high"]
    assert f"**{ratio['value']:.3f}** (95 % interval {ratio['ci95_low']:.3f} to" in card.replace("\n", " ")
    for regime in ("real → real |", "recast → real |", "recast → recast |", "real + recast → real |"):
        assert f"| {regime}" in card, regime
    assert "| sad | 1.000 |" in card and card.index("| sad | 1.000 |") < card.index("| happy | 1.000 |")
    assert "Usefulness was measured with one compact classifier" in card


HOSTILE = "<script>alert(1)</script> [x](javascript:alert(1)) a|b\n# not a heading"


def _tables(card: str) -> list[list[str]]:
    """The card's tables, each as its lines."""
    blocks: list[list[str]] = [[]]
    for line in card.splitlines():
        if line.startswith("|"):
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def test_card_prints_hostile_text_as_text(world, tmp_path):
    """A label and a donor's attribution that look like markup stay plain text on one line."""
    hostile = dict(world, interim=tmp_path / "interim", donors_dir=tmp_path / "donors")
    shutil.copytree(world["interim"], hostile["interim"])
    shutil.copytree(world["donors_dir"], hostile["donors_dir"])
    for name in ("frames", "augment"):
        path = hostile["interim"] / f"{name}.parquet"
        rows = tables.read_df(name, path)
        for column in {"label", "label_original"} & set(rows.columns):
            rows[column] = rows[column].replace("sad", HOSTILE)
        tables.write(name, rows, path)
    clips = tables.read_df("clips", hostile["interim"] / "clips.parquet")
    tables.write(
        "clips", clips.assign(reason=clips["reason"].map(lambda r: r and HOSTILE)), hostile["interim"] / "clips.parquet"
    )
    donors = pd.read_csv(hostile["donors_dir"] / "donors.csv")
    donors.loc[donors["donor_id"] == "D9", "attribution"] = HOSTILE.replace("\n", " ")  # donors.csv refuses a newline
    donors.to_csv(hostile["donors_dir"] / "donors.csv", index=False)
    run(hostile, tmp_path / "out")
    card = (tmp_path / "out" / "dataset" / "DATASET_CARD.md").read_text()
    assert "<script" not in card and "](javascript" not in card and "\n# not a heading" not in card
    escaped = r"&lt;script&gt;alert\(1\)&lt;/script&gt; \[x\]\(javascript:alert\(1\)\) a\|b \# not a heading"
    assert card.count(escaped) == 2  # the label's row, D9's attribution (clip F's reason is not printed)
    assert shown(card).count(HOSTILE.replace("\n", " ")) == 2
    for lines in _tables(card):  # no cell added or lost: every row has its header's unescaped pipes
        assert len({len(re.findall(r"(?<!\\)\|", line)) for line in lines}) == 1, lines
    markdown_it = pytest.importorskip("markdown_it")
    page = markdown_it.MarkdownIt("commonmark").enable("table").render(card)
    assert "<script" not in page and "<a " not in page and page.count("<h1>") == 1
    assert html.unescape(page).count(HOSTILE.replace("\n", " ")) == 2


def test_deterministic_across_runs(built, world, tmp_path):
    dataset, metrics = built
    again = run(world, tmp_path)
    assert again == metrics
    for f in (
        "manifest/frames.parquet",
        "manifest/identities.parquet",
        "manifest/clips.parquet",
        "manifest/rejects.parquet",
        "DATASET_CARD.md",
        *(p.relative_to(dataset).as_posix() for p in (dataset / "shards").glob("*.tar")),
    ):
        assert (tmp_path / "dataset" / f).read_bytes() == (dataset / f).read_bytes(), f


def test_the_dataset_is_also_published_as_webdataset_shards(built):
    dataset, _ = built
    frames = manifests(dataset)["frames"]
    shards = sorted((dataset / "shards").glob("*.tar"))
    assert {p.name.rsplit("-", 1)[0] for p in shards} == set(frames["split"])  # each split its own shards
    assert sorted(f"shards/{p.name}" for p in shards) == sorted(frames["shard"].unique())
    row_of = {(r.shard, r.shard_key): r for r in frames.itertuples()}
    seen = 0
    for path in shards:  # read as a training loop does, without unpacking
        samples = list(webdataset.WebDataset(str(path), shardshuffle=False))
        assert 1 <= len(samples) <= PARAMS.shard_images
        for sample in samples:
            row = row_of[f"shards/{path.name}", sample["__key__"]]
            assert sample["jpg"] == (dataset / row.image).read_bytes()
            meta = json.loads(sample["json"])
            assert (meta["clip_id"], meta["frame_idx"], meta["label"], meta["split"]) == (
                row.clip_id,
                row.frame_idx,
                None if pd.isna(row.label) else row.label,  # a frame without a label: null in both
                row.split,
            )
            assert meta["identity_ids"] == list(row.identity_ids) and meta["sha256"] == row.sha256
            seen += 1
    assert seen == len(frames)


def test_without_shards_only_the_loose_images(world, tmp_path):
    run(world, tmp_path, params=ManifestParams(clip_ids="original", shards=False))
    frames = manifests(tmp_path / "dataset")["frames"]
    assert frames["shard"].isna().all() and frames["shard_key"].isna().all()
    assert not list((tmp_path / "dataset" / "shards").iterdir())


def test_clip_ids_are_published_as_keyed_pseudonyms_by_default(built, world, tmp_path):
    dataset, _ = built
    originals = manifests(dataset)
    run(world, tmp_path / "a", ManifestParams())
    run(world, tmp_path / "b", ManifestParams(), key=KEY[::-1])
    a, b = manifests(tmp_path / "a" / "dataset"), manifests(tmp_path / "b" / "dataset")
    of = pseudonyms("clip", originals["clips"]["clip_id"], KEY)
    for name in ("frames", "clips", "rejects"):
        assert set(a[name]["clip_id"]) == {of[c] for c in originals[name]["clip_id"]}, name
        assert not set(a[name]["clip_id"]) & set(b[name]["clip_id"])  # another key: unlinkable ids
    # the same rows as with the original ids, and the image folders carry the pseudonym
    for name in ("frames", "rejects"):
        renamed = originals[name].assign(clip_id=originals[name]["clip_id"].map(of))
        assert a[name].groupby("clip_id").size().to_dict() == renamed.groupby("clip_id").size().to_dict(), name
    assert all(image.split("/")[2].split("__")[0] in of.values() for image in a["frames"]["image"])
    card = (tmp_path / "a" / "dataset" / "DATASET_CARD.md").read_text()
    assert of["F"] in card and "Subject ids and clip ids are" in shown(card).replace("\n", " ")


def test_a_reject_without_a_reason_gets_the_manifests_own_kind(tmp_path):
    frame = ("A", 0, 0)
    gates = pd.DataFrame(
        [
            gate_row(*frame, 0, "syn1", "reject", [("leak", "1 face(s) the detector found match no face row")]),
            gate_row(*frame, 1, "syn2", "reject", [("leak", "1 face(s) the detector found match no face row")]),
            gate_row("A", 0, 1, 0, "syn1", "reject"),
            gate_row("A", 0, 2, 0, "syn1"),
        ]
    )
    augment = pd.DataFrame(
        [
            {"clip_id": "A", "variant": 0, "copy": c, "frame_idx": 2, "source_image": "A__v0/000002.jpg"}
            | {"image": None, "status": "ok" if c == 0 else "skipped", "reason_kind": None, "reason_detail": None}
            for c in (0, 1)
        ]
    )
    _, rejects = select(frame_verdicts(gates), augment)
    assert [(r["frame_idx"], r["stage"], r["reason_kinds"], r["reason_details"]) for r in rejects] == [
        (0, "gate", ["leak"], ["1 face(s) the detector found match no face row"]),  # one per distinct reason
        (1, "gate", [ManifestReason.GATE], ["rejected without a reason"]),
        (2, "augment", [ManifestReason.SKIPPED], ["augment gave no reason"]),
    ]
    tables.write("dataset_rejects", rejects, tmp_path)  # every kind is in the table's closed set


def test_groups_tie_subjects_through_identities_and_assignment_is_seeded():
    found = groups([("P1", ["x"]), ("P2", ["x", "y"]), ("P3", ["y"]), ("P4", []), ("P5", ["z"]), ("P5", ["z"])])
    assert [g.subjects for g in found] == [("P1", "P2", "P3"), ("P4",), ("P5",)]
    assert [g.images for g in found] == [3, 1, 2]
    targets = {"train": 0.5, "val": 0.25, "test": 0.25}
    equal = [Group((f"P{i}",), (), 10) for i in range(4)]
    a, b = assign(equal, targets, 1), assign(equal, targets, 1)
    assert a == b and a.counts == {"train": 20, "val": 10, "test": 10}
    assert {assign(equal, targets, s).splits for s in range(12)} != {a.splits}  # the seed picks among equal optima
    coarse = assign([Group(("P1",), (), 90), Group(("P2",), (), 10)], {"train": 0.7, "val": 0.15, "test": 0.15}, 1)
    assert coarse.counts["train"] == 90 and max(abs(g) for g in coarse.gaps.values()) == pytest.approx(0.2)
    many = [Group((f"P{i:02d}",), (), 5 + i % 7) for i in range(40)]
    greedy = assign(many, {"train": 0.7, "val": 0.15, "test": 0.15}, 3)
    assert greedy.method == "greedy" and max(abs(g) for g in greedy.gaps.values()) < 0.02


def test_published_balance_meets_the_quotas_over_what_is_published(world, tmp_path):
    """cast.balance_by: published, quotas 70 % female / 30 % male: the gate passed about as many men as women, so
    passing images of men are left out, evenly over their clips, until women are within the tolerance of 70 %."""
    metrics_dir = tmp_path / "world_metrics"
    shutil.copytree(world["metrics_dir"], metrics_dir)
    cast_json = json.loads((metrics_dir / "cast.json").read_text())
    for c in cast_json["categories"]:
        c["target"] = 0.7 if c["category"] == "female" else 0.3
    cast_json["cells"] = [{"cell": "sex=female", "target": 0.7}, {"cell": "sex=male", "target": 0.3}]
    cast_json["balance_by"] = "published"
    (metrics_dir / "cast.json").write_text(json.dumps(cast_json))
    cast = CAST_PARAMS.model_copy(update={"balance_by": "published", "quotas": {"sex": {"female": 0.7, "male": 0.3}}})
    out = tmp_path / "run"
    result = run(world | {"metrics_dir": metrics_dir}, out, cast=cast)
    d = manifests(out / "dataset")
    sexes = Counter(SEX[i] for ids in d["frames"]["identity_ids"] for i in ids)
    female = sexes["female"] / (sexes["female"] + sexes["male"])
    assert 0.7 - 1e-9 <= female <= 0.7 + PARAMS.quota_tolerance + 1e-9
    left = d["rejects"][d["rejects"]["stage"] == "manifest"]
    assert len(left) == result["quota"]["left_out_images"] > 0
    assert all(list(k) == [ManifestReason.QUOTA_BALANCE] for k in left["reason_kinds"])
    assert all("target 70.0 %" in detail[0] for detail in left["reason_details"])
    # only men were left out, from every clip where men passed, not from the end of one
    men = {(c, v) for v, cast_of in CAST.items() for c, ident in cast_of.items() if SEX[ident] == "male"}
    assert {(c, v) for c, v in zip(left["clip_id"], left["variant"])} <= men
    assert left.groupby(["clip_id", "variant"]).size().max() < FRAMES * (COPIES + 1)
    cells = {c["cell"]: c for c in result["quota"]["cells"]}
    assert cells["sex=male"]["published_appearances"] < cells["sex=male"]["passing_appearances"]
    assert cells["sex=female"]["published_appearances"] == cells["sex=female"]["passing_appearances"]
    assert result["quota"]["largest_gap_declared"] <= PARAMS.quota_tolerance + 1e-9
    card_text = (out / "dataset" / "DATASET_CARD.md").read_text()
    assert f"{len(left)} were left out" in card_text


def test_splits_prefer_the_assignment_whose_every_split_meets_the_quotas():
    """Six people of equal footage, three played by women and three by men, into three equal splits: on image
    shares alone any two per split would do; with the quotas each split gets one of each."""
    people = [Group((f"P{i}",), (f"syn{i}",), 10, ((f"sex={'female' if i < 3 else 'male'}", 10),)) for i in range(6)]
    targets = {"train": 1 / 3, "val": 1 / 3, "test": 1 / 3}
    quota = {"sex=female": 0.5, "sex=male": 0.5}
    for seed in range(5):
        chosen = assign(people, targets, seed, quota)
        for split in targets:
            members = [g for g, s in zip(people, chosen.splits) if s == split]
            assert sorted(g.categories for g in members) == [(("sex=female", 10),), (("sex=male", 10),)]
    blind = {assign(people, targets, seed).splits for seed in range(12)}
    assert any(
        len({s for g, s in zip(people, splits) if "sex=female" in dict(g.categories)}) < 3 for splits in blind
    )  # without the quotas some optima put two women in one split
    # tied through identities: the group of a woman and a man goes whole, and its counts add up
    found = groups(
        [("P1", ["a"]), ("P2", ["a", "b"]), ("P3", ["c"])], {"a": ["sex=female"], "b": ["sex=male"], "c": ["sex=male"]}
    )
    assert [dict(g.categories) for g in found] == [{"sex=female": 2, "sex=male": 1}, {"sex=male": 1}]
    # many groups: greedy, then improved move by move
    many = [
        Group((f"P{i:02d}",), (), 5 + i % 7, ((f"sex={'female' if i % 2 else 'male'}", 5 + i % 7),)) for i in range(40)
    ]
    improved = assign(many, {"train": 0.7, "val": 0.15, "test": 0.15}, 3, quota)
    assert improved.method == "greedy, improved" and max(abs(g) for g in improved.gaps.values()) < 0.03


def test_pseudonyms_and_measured_categories():
    a, b = pseudonyms("subject", ["P1", "P2"], KEY), pseudonyms("subject", ["P2", "P1"], KEY)
    assert a == b and a["P1"] != a["P2"] and pseudonyms("subject", ["P1"], KEY[::-1])["P1"] != a["P1"]
    assert pseudonyms("clip", ["P1"], KEY)["P1"] != a["P1"].replace("S", "C", 1)  # kinds do not share hashes
    bins = {"skin_tone": {"I": "I-III", "IV": "IV-VI"}, "age_range": {"18-25": "18-34", "65+": "35+"}}
    got = measured_categories(
        {"sex": "female", "skin_tone": "I-III", "age_range": "35+", "ethnicity": "x"}, "male", 70.0, "IV", bins, {}
    )
    assert got == {"sex": "male", "skin_tone": "IV-VI", "age_range": "35+"}
    assert measured_categories({"age_range": "30-40"}, None, 33.0, None, {}, {"age_range": ["20-30", "30-40"]}) == {
        "age_range": "30-40"
    }


def test_bad_input_stops_with_a_named_reason(world, tmp_path):
    augment = tables.read_df("augment", world["interim"] / "augment.parquet")
    leaked = augment.iloc[[0]].assign(
        clip_id=LEAK[0],
        variant=LEAK[1],
        frame_idx=LEAK[2],
        copy=0,
        source_image=f"{LEAK[0]}__v{LEAK[1]}/{LEAK[2]:06d}.jpg",
    )
    bad = dict(world, interim=tmp_path / "interim")
    for name in ("clips", "frames", "gates"):
        (tmp_path / "interim").mkdir(exist_ok=True)
        (tmp_path / "interim" / f"{name}.parquet").write_bytes((world["interim"] / f"{name}.parquet").read_bytes())
    tables.write("augment", pd.concat([augment, leaked], ignore_index=True), tmp_path / "interim" / "augment.parquet")
    with pytest.raises(InputError, match="gate did not pass.*1 frame.*B v0 frame 2"):
        run(bad, tmp_path / "a")
    tables.write(
        "augment",
        augment[~((augment["clip_id"] == "C") & (augment["copy"] == 0))],
        tmp_path / "interim" / "augment.parquet",
    )
    with pytest.raises(InputError, match="lacks the copy 0 row"):
        run(bad, tmp_path / "b")
    missing = dict(world, swapped=tmp_path / "nowhere")
    with pytest.raises(InputError, match="is missing; run swap again"):
        run(missing, tmp_path / "c")
    assert not any((tmp_path / "c" / "dataset").iterdir())  # neither images nor manifests


def test_a_metrics_file_without_a_promised_key_stops_with_its_name(world, tmp_path):
    """The card prints gate figures: a gates.json whose key was renamed is one clear error, never an 'n/a', and no
    card is written."""
    metrics_dir = tmp_path / "metrics"
    shutil.copytree(world["metrics_dir"], metrics_dir)
    gates = json.loads((metrics_dir / "gates.json").read_text())
    gates["leaks_in_frames"] = gates.pop("leaks_in_passed_frames")
    (metrics_dir / "gates.json").write_text(json.dumps(gates))
    with pytest.raises(InputError, match=r"gates\.json: leaks_in_passed_frames: Field required"):
        run(dict(world, metrics_dir=metrics_dir), tmp_path / "out")
    assert not (tmp_path / "out" / "dataset" / "DATASET_CARD.md").exists()
