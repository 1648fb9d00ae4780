"""Stage augment on small real inputs: sample frames, real landmarks, hand-written swap and gate verdicts.

The embedded sample (2 people, 2 expressions, 8 frames each) is built and its labels.csv rewritten
before ingest, so frames.parquet carries labels a mirror changes:

* ``P001_expressions``: frames 0-3 ``look_left`` (mirror: ``look_right``), 4-7 ``happy`` (symmetric);
* ``P002_expressions``: frames 0-3 ``wave_left`` (no mirror declared), 4-6 ``neutral``, frame 7 unlabelled.

The real faces stage finds the faces and their 68 landmarks. swaps.parquet is written here with each
frame's own face as 'swapped' (driving landmarks = the faces stage's), except P002 frame 6, obscured
(no landmarks); the "swapped" images are the decoded frames. gates.parquet passes every face except
P001 frame 2. Augment then runs with a flip-only policy, with an affine policy (per clip and per
frame), twice with the default policy (determinism), and once with P002 changed.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from facecast import tables
from facecast.augment import policy as policy_mod
from facecast.augment.frame import PlacedFace, draw, replay
from facecast.augment.labels import IBUG_MIRROR, mirror_order
from facecast.augment.policy import build, check, leaves
from facecast.augment.replay import MAX_BYTES, dumps, loads
from facecast.augment.stage import augment
from facecast.errors import InputError
from facecast.faces.stage import analyse
from facecast.ingest.stage import ingest
from facecast.io.clips import iter_frames
from facecast.models.landmarks import fit_shape, shape_points
from facecast.params import DEFAULT_POLICY, AugmentParams, FacesParams, IngestParams, SampleParams
from facecast.reasons import AugmentReason
from facecast.sample.stage import build_sample

SEED = 11
SAMPLE = SampleParams(people=2, expressions=2, hold_frames=3, morph_frames=2)
A1, A2 = "P001_expressions", "P002_expressions"
LABELS = [(A1, 0, 3, "look_left"), (A1, 4, 7, "happy"), (A2, 0, 3, "wave_left"), (A2, 4, 6, "neutral")]
REJECTED = (A1, 2)
OBSCURED = (A2, 6)
FLIP_MAP = {"look_left": "look_right", "look_right": "look_left"}
SYMMETRIC = ["happy", "neutral"]


def policy(*transforms: dict) -> dict:
    return {
        "__version__": A.__version__,
        "transform": {"__class_fullname__": "ReplayCompose", "p": 1.0, "transforms": list(transforms)},
    }


FLIP = policy({"__class_fullname__": "HorizontalFlip", "p": 1.0})
AFFINE = policy(
    {
        "__class_fullname__": "Affine",
        "p": 1.0,
        "rotate": [-12, 12],
        "scale": [0.9, 1.1],
        "translate_percent": [-0.05, 0.05],
    },
    {"__class_fullname__": "RandomBrightnessContrast", "p": 1.0},
)


def rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("augment")
    sample = root / "sample"
    build_sample(SAMPLE, SEED, sample)
    for image in (sample / "donors").glob("*/*.jpg"):
        if image.name != "studio_portrait.jpg":
            image.unlink()
    pd.DataFrame(LABELS, columns=["clip", "start_frame", "end_frame", "label"]).to_csv(
        sample / "labels.csv", index=False
    )
    interim = root / "interim"
    ingest(sample, IngestParams(), interim, root / "metrics" / "ingest.json")
    analyse(sample / "donors", FacesParams(workers=1), interim, root / "metrics" / "faces.json")
    faces = tables.read_df("faces", interim / "faces.parquet")
    assert len(faces) == 16 and faces["landmarks"].notna().all() and set(faces["track_id"]) == {0}
    swapped = root / "swapped"
    swaps, gates = [], []
    for clip in (A1, A2):
        (swapped / f"{clip}__v0").mkdir(parents=True)
        for n, frame in enumerate(iter_frames(sample / "clips" / f"{clip}.mp4", "video")):
            assert cv2.imwrite(str(swapped / f"{clip}__v0" / f"{n:06d}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    for r in faces.itertuples(index=False):
        obscured = (r.clip_id, r.frame_idx) == OBSCURED
        image = f"{r.clip_id}__v0/{r.frame_idx:06d}.jpg"
        swaps.append(
            {
                "clip_id": r.clip_id,
                "variant": 0,
                "frame_idx": r.frame_idx,
                "track_id": r.track_id,
                "identity_id": None if obscured else f"syn_{r.clip_id[:4]}",
                "status": "obscured" if obscured else "swapped",
                "reason_kind": "too_small" if obscured else None,
                "reason_detail": "test" if obscured else None,
                "bbox_x0": r.bbox_x0,
                "bbox_y0": r.bbox_y0,
                "bbox_x1": r.bbox_x1,
                "bbox_y1": r.bbox_y1,
                "landmarks": None if obscured else r.landmarks,
                "occluded_share": 0.0,
                "mouth_kept": False,
                "image": image,
            }
        )
        rejected = (r.clip_id, r.frame_idx) == REJECTED
        gates.append(
            {
                "clip_id": r.clip_id,
                "variant": 0,
                "frame_idx": r.frame_idx,
                "track_id": r.track_id,
                "identity_id": swaps[-1]["identity_id"],
                "swap_status": swaps[-1]["status"],
                "image": image,
                "status": "reject" if rejected else "pass",
                "reason_kinds": ["deid"] if rejected else [],
                "reason_details": ["test"] if rejected else [],
            }
        )
    tables.write("swaps", swaps, interim / "swaps.parquet")
    gate_rows = pd.DataFrame(gates)
    for f in tables.spec("gates").schema:
        if f.name not in gate_rows:
            gate_rows[f.name] = None
    tables.write("gates", gate_rows, interim / "gates.parquet")
    return root


def run(
    root: Path, name: str, params: AugmentParams, interim: Path | None = None, swapped: Path | None = None
) -> tuple[pd.DataFrame, dict, Path]:
    interim = interim or root / "interim"
    out_interim = root / f"interim_{name}"
    out_interim.mkdir(exist_ok=True)
    for table in ("gates", "swaps", "faces", "frames"):
        shutil.copy(interim / f"{table}.parquet", out_interim / f"{table}.parquet")
    out = root / f"augmented_{name}"
    metrics = augment(params, SEED, out_interim, swapped or root / "swapped", out, root / "metrics" / f"{name}.json")
    rows = tables.read_df("augment", out_interim / "augment.parquet")
    check_reasons(rows, metrics)
    return rows, metrics, out


def check_reasons(rows: pd.DataFrame, metrics: dict) -> None:
    """A skipped row, and only a skipped row, has a kind of augment's closed set and a detail; the metrics count
    the kinds."""
    skipped = rows.status == "skipped"
    assert (rows.reason_kind.notna() == skipped).all() and (rows.reason_detail.notna() == skipped).all()
    assert set(rows.reason_kind.dropna()) <= set(AugmentReason)
    assert metrics["skipped_reasons"] == dict(sorted(Counter(rows.reason_kind.dropna()).items()))


@pytest.fixture(scope="module")
def flipped(built):
    return run(built, "flip", AugmentParams(copies=2, policy=FLIP, label_flip_map=FLIP_MAP, symmetric_labels=SYMMETRIC))


@pytest.fixture(scope="module")
def affine(built):
    return run(built, "affine", AugmentParams(copies=1, policy=AFFINE))


@pytest.fixture(scope="module")
def affine_per_frame(built):
    return run(built, "affine_pf", AugmentParams(copies=1, policy=AFFINE, per_frame=True))


@pytest.fixture(scope="module")
def faces(built) -> pd.DataFrame:
    return tables.read_df("faces", built / "interim" / "faces.parquet").set_index(["clip_id", "frame_idx"])


def points(value) -> np.ndarray:
    return np.asarray(value, np.float64).reshape(68, 2)


def inter_ocular(lm: np.ndarray) -> float:
    return float(np.linalg.norm(lm[36:42].mean(axis=0) - lm[42:48].mean(axis=0)))


def refit(image: np.ndarray, box) -> np.ndarray:
    return shape_points(fit_shape(image, np.asarray(box, np.float64))).astype(np.float64)


def test_copies_and_copy_zero(built, flipped, faces):
    rows, metrics, out = flipped
    assert tables.read("augment", built / "interim_flip" / "augment.parquet").num_rows == len(rows)
    # 16 frames, one rejected by gate, each with copy 0 and two copies
    assert len(rows) == 15 * 3 and set(rows["copy"]) == {0, 1, 2}
    assert REJECTED[1] not in set(rows[rows.clip_id == REJECTED[0]].frame_idx)
    assert metrics["frames"] == {"gated": 16, "published": 15, "rejected_by_gate": 1}
    zero = rows[rows["copy"] == 0]
    assert zero["image"].isna().all() and zero["replay"].isna().all() and not zero["flipped"].any()
    assert (zero["status"] == "ok").all() and zero["label"].equals(zero["label_original"])
    swaps = tables.read_df("swaps", built / "interim" / "swaps.parquet").set_index(["clip_id", "frame_idx"])
    for r in zero.itertuples(index=False):
        (face,) = r.faces
        f, s = faces.loc[(r.clip_id, r.frame_idx)], swaps.loc[(r.clip_id, r.frame_idx)]
        assert np.allclose(face["bbox"], [f.bbox_x0, f.bbox_y0, f.bbox_x1, f.bbox_y1])  # inside the frame already
        assert face["identity_id"] == (None if (r.clip_id, r.frame_idx) == OBSCURED else s.identity_id)
        if (r.clip_id, r.frame_idx) == OBSCURED:
            assert face["landmarks"] is None
        else:
            assert np.array_equal(face["landmarks"], s.landmarks)
        assert r.source_image == f"{r.clip_id}__v0/{r.frame_idx:06d}.jpg"
    ok = rows[(rows["copy"] > 0) & (rows["status"] == "ok")]
    for r in ok.itertuples(index=False):
        assert r.image == f"{r.clip_id}__v0__c{r.copy}/{r.frame_idx:06d}.jpg" and (out / r.image).is_file()
    assert metrics["images_written"] == len(ok) == sum(1 for _ in out.rglob("*.jpg"))


def test_a_flip_mirrors_boxes_landmark_order_and_labels(built, flipped, faces):
    rows, metrics, out = flipped
    aug = rows[rows["copy"] > 0]
    assert aug["flipped"].all()
    width = rgb(built / "swapped" / aug.iloc[0].source_image).shape[1]
    one = aug[(aug.clip_id == A1) & (aug.frame_idx == 0) & (aug["copy"] == 1)].iloc[0]
    (face,) = one.faces
    f = faces.loc[(A1, 0)]
    # albumentations flips boxes in continuous coordinates (x -> W - x) and points in pixel indices (x -> W - 1 - x)
    assert np.allclose(face["bbox"], [width - f.bbox_x1, f.bbox_y0, width - f.bbox_x0, f.bbox_y1], atol=1e-3)
    before, after = points(f.landmarks), points(face["landmarks"])
    expected = before[list(IBUG_MIRROR)] * [-1, 1] + [width - 1, 0]
    assert np.allclose(after, expected, atol=1e-3)
    # anatomically consistent: the subject's right eye (36-41) stays on the image's left, chin point 8 is itself
    assert after[36:42, 0].mean() < after[42:48, 0].mean() and after[0, 0] < after[16, 0]
    assert np.allclose(after[8], [width - 1 - before[8, 0], before[8, 1]], atol=1e-3)
    # and it is what dlib fits on the flipped image, point by point; the flipped points in the old order are not
    image = rgb(out / one.image)
    fitted = refit(image, face["bbox"])
    iod = inter_ocular(after)
    good = np.linalg.norm(fitted - after, axis=1).mean() / iod
    unordered = np.linalg.norm(fitted - mirror_order(after), axis=1).mean() / iod
    print("flip: refit vs moved", round(good, 4), "vs moved in the old order", round(unordered, 4))
    assert good < unordered / 5
    # labels: mapped, symmetric, unmapped (skipped, counted), unlabelled (kept)
    label = aug.set_index(["clip_id", "frame_idx", "copy"])
    assert set(label.loc[A1].query("frame_idx < 4").label) == {"look_right"}
    assert set(label.loc[A1].query("frame_idx >= 4").label) == {"happy"}
    wave = aug[aug.label_original == "wave_left"]
    assert len(wave) == 8 and (wave.status == "skipped").all() and wave.image.isna().all() and wave.label.isna().all()
    assert wave.reason_kind.eq(AugmentReason.FLIP).all() and metrics["skipped_reasons"] == {"flip": 8}
    assert (
        wave.reason_detail
        == "label 'wave_left' has no mirror in augment.label_flip_map and is not in augment.symmetric_labels"
    ).all()
    assert not any((out / f"{A2}__v0__c1" / f"{n:06d}.jpg").exists() for n in range(4))
    assert set(label.loc[A2].query("frame_idx in [4, 5, 6]").label) == {"neutral"}
    unlabelled = aug[(aug.clip_id == A2) & (aug.frame_idx == 7)]
    assert (unlabelled.status == "ok").all() and unlabelled.label.isna().all()
    assert metrics["skipped_flips_by_label"] == {"wave_left": 8}
    assert metrics["flipped"] == {"written": len(aug) - 8, "skipped": 8}
    assert metrics["rows"]["by_status"] == {"ok": len(rows) - 8, "skipped": 8}
    assert metrics["label_changed"] == 6  # look_left frames 0, 1, 3 in two copies
    assert json.loads((built / "metrics" / "flip.json").read_text()) == metrics
    # the obscured face keeps no landmarks but its box moves
    obscured = aug[(aug.clip_id == A2) & (aug.frame_idx == 6)].iloc[0].faces[0]
    assert obscured["landmarks"] is None and obscured["bbox"][0] == pytest.approx(
        width - faces.loc[OBSCURED].bbox_x1, abs=1e-3
    )


def test_an_affine_moves_landmarks_and_boxes_with_the_image(built, affine, faces):
    rows, _, out = affine
    aug = rows[(rows["copy"] == 1) & (rows.faces.map(lambda f: f is not None and f[0]["landmarks"] is not None))]
    assert (aug.status == "ok").all() and len(aug) == 14
    moved_err, still_err, base_err = [], [], []
    for r in aug.itertuples(index=False):
        f = faces.loc[(r.clip_id, r.frame_idx)]
        (face,) = r.faces
        before, after = points(f.landmarks), points(face["landmarks"])
        # the recorded affine applied to the driving landmarks gives the stored ones
        record = loads(r.replay)
        (t,) = [t for t in record["transforms"] if t["__class_fullname__"] == "Affine"]
        m = t["params"]["matrix"]
        assert np.allclose(before @ m[:2, :2].T + m[:2, 2], after, atol=1e-3)
        assert abs(t["params"]["rotate"]) > 0.5
        # and they land on the same image content: dlib re-fitted on the augmented image, in the moved box
        image, source = rgb(out / r.image), rgb(built / "swapped" / r.source_image)
        iod = inter_ocular(after)
        fitted = refit(image, face["bbox"])
        moved_err.append(np.linalg.norm(fitted - after, axis=1).mean() / iod)
        still_err.append(np.linalg.norm(fitted - before, axis=1).mean() / iod)
        base_err.append(
            np.linalg.norm(refit(source, [f.bbox_x0, f.bbox_y0, f.bbox_x1, f.bbox_y1]) - before, axis=1).mean() / iod
        )
    print(
        "affine: refit vs moved",
        np.round(np.median(moved_err), 4),
        "vs unmoved",
        np.round(np.median(still_err), 4),
        "dlib on the source vs its landmarks",
        np.round(np.median(base_err), 4),
    )
    # as close as dlib agrees with the landmarks on the untouched frame, far closer than the unmoved points
    assert np.median(moved_err) < 2 * np.median(base_err) + 0.01
    assert np.median(moved_err) < np.median(still_err) / 3


def test_one_draw_per_clip_unless_per_frame(affine, affine_per_frame):
    for rows, per_frame in ((affine[0], False), (affine_per_frame[0], True)):
        aug = rows[rows["copy"] == 1]
        for clip, g in aug.groupby("clip_id"):
            draws = {json.dumps(loads(text)["transforms"][0]["params"]["matrix"].tolist()) for text in g.replay}
            assert len(draws) == (len(g) if per_frame else 1), (clip, per_frame)
            assert g.replay.nunique() == (len(g) if per_frame else 1)
    # the two clips get different draws
    aug = affine[0][affine[0]["copy"] == 1]
    assert aug.groupby("clip_id").replay.first().nunique() == 2


def test_the_stored_replay_regenerates_the_exact_frame(built, affine, affine_per_frame, flipped):
    for rows, out in ((affine[0], affine[2]), (affine_per_frame[0], affine_per_frame[2]), (flipped[0], flipped[2])):
        for r in rows[(rows["copy"] > 0) & (rows.status == "ok")].head(4).itertuples(index=False):
            source = rgb(built / "swapped" / r.source_image)
            again = A.ReplayCompose.replay(loads(r.replay), image=source)["image"]
            quality = [cv2.IMWRITE_JPEG_QUALITY, AugmentParams().jpeg_quality]
            ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(again, cv2.COLOR_RGB2BGR), quality)
            assert ok and encoded.tobytes() == (out / r.image).read_bytes()
    # before JPEG: a fresh draw and its replay from the stored text are the same array
    compose = build(AFFINE)
    image = rgb(built / "swapped" / f"{A1}__v0/000000.jpg")
    face = PlacedFace(0, "x", np.array([150, 60, 320, 280], np.float32), None)
    for seed in (1, 2, 3):
        record, result = draw(compose, seed, image, [face])
        again = replay(loads(dumps(record)), image, [face])
        assert np.array_equal(result.image, again.image) and np.array_equal(result.faces[0].bbox, again.faces[0].bbox)
        assert not np.array_equal(result.image, image)
    # a frame without faces: only the image (and the mirror probes) travel
    record, result = draw(build(FLIP), 0, image, [])
    assert result.faces == [] and result.mirrored and np.array_equal(result.image, image[:, ::-1])


def test_determinism_and_a_changed_clip_changes_only_its_rows(built):
    params = AugmentParams(copies=2, symmetric_labels=SYMMETRIC + ["look_left", "wave_left"])
    _, m1, out1 = run(built, "default_a", params)
    _, m2, out2 = run(built, "default_b", params)
    first, second = (
        tables.read("augment", built / f"interim_{n}" / "augment.parquet") for n in ("default_a", "default_b")
    )
    assert first.equals(second) and m1["rows"] == m2["rows"] and m1["flipped"]["written"] > 0
    for path in out1.rglob("*.jpg"):
        assert path.read_bytes() == (out2 / path.relative_to(out1)).read_bytes()
    # P002 changed: its frames darkened and its frame 0 rejected by gate; P001's rows and images stay as they were
    swapped, interim = built / "swapped_changed", built / "interim_changed"
    shutil.copytree(built / "swapped", swapped)
    for path in (swapped / f"{A2}__v0").glob("*.jpg"):
        cv2.imwrite(str(path), (cv2.imread(str(path)) * 0.8).astype(np.uint8))
    shutil.copytree(built / "interim", interim)
    gates = tables.read_df("gates", interim / "gates.parquet")
    gates.loc[(gates.clip_id == A2) & (gates.frame_idx == 0), "status"] = "reject"
    tables.write("gates", gates, interim / "gates.parquet")
    _, _, out3 = run(built, "default_c", params, interim=interim, swapped=swapped)
    changed = tables.read("augment", built / "interim_default_c" / "augment.parquet")
    assert rows_of(changed, A1).equals(rows_of(first, A1))
    assert rows_of(changed, A2).num_rows == rows_of(first, A2).num_rows - 3
    for path in out1.glob(f"{A1}__*/*.jpg"):
        assert path.read_bytes() == (out3 / path.relative_to(out1)).read_bytes()
    assert any(
        path.read_bytes() != (out3 / path.relative_to(out1)).read_bytes() for path in out1.glob(f"{A2}__*/*.jpg")
    )


def rows_of(table: pa.Table, clip: str) -> pa.Table:
    return table.filter(pc.equal(table["clip_id"], clip))


@pytest.mark.parametrize(
    "bad, words",
    [
        (policy({"__class_fullname__": "NoSuchTransform", "p": 1.0}), "NoSuchTransform"),
        (policy({"__class_fullname__": "Affine", "p": 1.0, "rotate": "a lot"}), "rotate"),
        (policy({"__class_fullname__": "Affine", "p": 1.0, "rotat": [-5, 5]}), "rotat"),
        ({"transforms": []}, "'transform'"),
        (policy({"__class_fullname__": "GaussNoise", "p": 1.0}), "GaussNoise"),  # a per-pixel draw: too large to store
        (  # refused up front however unlikely its draw
            policy(
                {
                    "__class_fullname__": "OneOf",
                    "p": 0.1,
                    "transforms": [{"__class_fullname__": "ElasticTransform", "p": 0.01}],
                }
            ),
            "ElasticTransform (transform.transforms[0].transforms[0]), applied alone with p=1, on a 480x360 test frame",
        ),
        (  # checked on the real frames' size: the sample's 480x360
            policy({"__class_fullname__": "RandomCrop", "height": 400, "width": 400, "p": 0.5}),
            "RandomCrop (transform.transforms[0]), applied alone with p=1, on a 480x360 test frame",
        ),
        (
            {"transform": {"__class_fullname__": "ReplayCompose", "transforms": [], "bbox_params": {"format": "coco"}}},
            "bbox_params",
        ),
    ],
)
def test_a_bad_policy_names_augment_policy(built, bad, words):
    with pytest.raises(InputError, match="augment.policy") as err:
        run(built, "bad", AugmentParams(policy=bad))
    assert words in str(err.value)
    assert not (built / "augmented_bad").exists()


def test_a_copy_whose_face_left_the_frame_is_skipped(built):
    away = policy({"__class_fullname__": "Affine", "p": 1.0, "translate_percent": {"x": [0.9, 0.9], "y": [0.0, 0.0]}})
    rows, metrics, out = run(built, "away", AugmentParams(policy=away))
    aug = rows[rows["copy"] == 1]
    assert (
        (aug.status == "skipped").all()
        and aug.reason_kind.eq(AugmentReason.FACE_LEFT).all()
        and aug.reason_detail.str.fullmatch(r"the box of track\(s\) 0 is outside the augmented image").all()
        and aug.faces.isna().all()
    )
    assert metrics["skipped_reasons"] == {"face left the frame": 15} and metrics["images_written"] == 0
    assert not list(out.rglob("*.jpg"))


def test_a_label_both_symmetric_and_mapped_is_refused(built):
    with pytest.raises(InputError, match="augment.label_flip_map"):
        run(built, "conflict", AugmentParams(label_flip_map=FLIP_MAP, symmetric_labels=["look_left"]))


def test_a_crop_that_fits_the_real_frames_is_applied(built):
    crop = policy({"__class_fullname__": "RandomCrop", "height": 300, "width": 300, "p": 1.0})
    rows, metrics, out = run(built, "crop", AugmentParams(policy=crop))
    written = rows[(rows["copy"] == 1) & rows["image"].notna()]
    assert len(written) and metrics["images_written"] == len(written)
    assert {rgb(out / name).shape for name in written["image"]} == {(300, 300, 3)}


def test_the_stage_checks_the_policy_as_facecast_params_does(built, monkeypatch):
    seen = []

    def spy(policy, sizes):
        seen.append((policy, set(sizes)))
        raise InputError("augment.policy: refused by the spy")

    monkeypatch.setattr(policy_mod, "check", spy)
    with pytest.raises(InputError, match="refused by the spy"):
        run(built, "spy", AugmentParams(policy=AFFINE))
    assert seen == [(AFFINE, {(480, 360)})]  # the policy as written, on the size of every frame to augment
    assert not (built / "augmented_spy").exists()


# --- the up-front check alone (what `facecast params` and the stage run), no stage ---


def test_leaves_are_found_inside_oneof_someof_and_sequential():
    nested = policy(
        {"__class_fullname__": "HorizontalFlip", "p": 0.5},
        {
            "__class_fullname__": "OneOf",
            "p": 0.5,
            "transforms": [
                {"__class_fullname__": "Blur", "p": 1.0},
                {"__class_fullname__": "Sequential", "p": 1.0, "transforms": [{"__class_fullname__": "Sharpen"}]},
            ],
        },
        {"__class_fullname__": "SomeOf", "n": 1, "p": 1.0, "transforms": [{"__class_fullname__": "ToGray"}]},
    )
    assert [(where, leaf["__class_fullname__"]) for where, leaf in leaves(nested["transform"])] == [
        ("transform.transforms[0]", "HorizontalFlip"),
        ("transform.transforms[1].transforms[0]", "Blur"),
        ("transform.transforms[1].transforms[1].transforms[0]", "Sharpen"),
        ("transform.transforms[2].transforms[0]", "ToGray"),
    ]
    check(nested, [(480, 360)])


@pytest.mark.parametrize(
    "name, wrapper",
    [
        ("GaussNoise", None),
        ("ElasticTransform", None),
        ("GridDistortion", None),
        ("GaussNoise", {"__class_fullname__": "OneOf", "p": 0.01}),
        ("GaussNoise", {"__class_fullname__": "SomeOf", "n": 1, "p": 0.01}),
        ("GaussNoise", {"__class_fullname__": "Sequential", "p": 0.01}),
    ],
)
def test_a_per_pixel_transform_is_refused_up_front_whatever_its_probability(name, wrapper):
    leaf = {"__class_fullname__": name, "p": 0.0 if wrapper is None else 0.01}  # a OneOf of only p=0 cannot be built
    flip = {"__class_fullname__": "HorizontalFlip", "p": 0.5}
    where = "transform.transforms[1]" + ("" if wrapper is None else ".transforms[0]")
    bad = policy(flip, leaf if wrapper is None else {**wrapper, "transforms": [leaf]})
    with pytest.raises(InputError) as err:
        check(bad, [(480, 360)])
    message = str(err.value)
    assert message.startswith(f"augment.policy: {name} ({where}), applied alone with p=1, on a 480x360 test frame")
    assert f"above {MAX_BYTES // 1024} kB" in message and "\n" not in message


def test_a_crop_is_checked_on_every_real_frame_size():
    crop = policy({"__class_fullname__": "RandomCrop", "height": 300, "width": 300, "p": 0.5})
    check(crop, [(480, 360), (300, 300)])  # the old 64x80 test frame refused this
    with pytest.raises(InputError) as err:
        check(crop, [(480, 360), (320, 240)])
    assert str(err.value) == (
        "augment.policy: RandomCrop (transform.transforms[0]), applied alone with p=1, on a 320x240 test frame with "
        "a face box and landmarks: CropSizeError: Crop size (height, width) exceeds image dimensions "
        "(height, width): (300, 300) vs (240, 320)"
    )


def test_the_whole_pipeline_is_checked_too():
    # each crop fits the frame alone; one after the other they do not
    crops = policy(
        {"__class_fullname__": "CenterCrop", "height": 300, "width": 300, "p": 1.0},
        {"__class_fullname__": "RandomCrop", "height": 350, "width": 350, "p": 1.0},
    )
    with pytest.raises(
        InputError, match=r"^augment\.policy: the whole pipeline, on a 480x360 test frame .*CropSizeError"
    ):
        check(crops, [(480, 360)])


def test_the_default_policy_passes_on_any_size():
    check(DEFAULT_POLICY, [(480, 360), (64, 80), (1920, 1080)])
