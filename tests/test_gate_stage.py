"""Stage gate end to end on a small real swap: a correct swap passes, a tampered one is caught.

The embedded sample (3 people, 2 expressions, 11 frames each) is built and only P001's clip is kept, so
cast's two identities (blends of P002 and P003) can play it; ingest, faces, cast and swap run for real.
Gate then runs twice:

* on swap's own output: the swapped faces are de-identified, nothing leaks, the plots are written;
* on a tampered copy: in frames 0-2 the original frame is put back in place of the swap (a deliberately
  bad swap), and in frames 5-6 a second, unswapped face (P002's, from its own clip) is pasted beside the
  swapped one. Both must be rejected, for the right reasons, and the untouched frames must not be.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from facecast import tables
from facecast.cast.stage import cast
from facecast.faces.stage import analyse
from facecast.gate.stage import gate
from facecast.ingest.stage import ingest
from facecast.io.clips import iter_frames
from facecast.params import CastParams, FacesParams, GateParams, IngestParams, SampleParams, SwapParams
from facecast.reasons import GateReason
from facecast.sample.stage import build_sample
from facecast.swap.stage import swap

SEED = 7
SAMPLE = SampleParams(people=3, expressions=2, hold_frames=5, morph_frames=3)  # 13 frames: min_frames(0.5) is 12
KEEP_IMAGE = "studio_portrait.jpg"
CAST = CastParams(
    identities=2,
    donors_per_identity=2,
    quotas={"sex": {"female": 1.0}},
    on_shortfall="relax",
    min_identity_distance=0.4,  # two identities of 2 of the same 3 donors cannot keep 0.6 from each other
    max_attempts=30,
)
CLIP = "P001_expressions"
BAD = (0, 1, 2)  # the original frame put back
EXTRA = (5, 6)  # an unswapped face pasted beside the swapped one
PARAMS = GateParams(workers=1)


def rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def write_jpeg(path: Path, image: np.ndarray) -> None:
    assert cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gate")
    sample = root / "sample"
    build_sample(SAMPLE, SEED, sample)
    for image in (sample / "donors").glob("*/*.jpg"):
        if image.name != KEEP_IMAGE:
            image.unlink()
    spare = root / "spare"
    spare.mkdir()
    for clip in ("P002_expressions", "P003_expressions"):
        shutil.move(sample / "clips" / f"{clip}.mp4", spare / f"{clip}.mp4")
    interim = root / "interim"
    ingest(sample, IngestParams(), interim, root / "metrics" / "ingest.json")
    analyse(sample / "donors", FacesParams(workers=1), interim, root / "metrics" / "faces.json")
    cast(sample / "donors", CAST, SEED, interim, root / "cast", root / "metrics" / "cast.json")
    swap(SwapParams(workers=1, preview=False), interim, root / "cast", root / "swapped", root / "metrics" / "swap.json")
    return root


def run_gate(
    root: Path, name: str, interim: Path, swapped: Path, params: GateParams = PARAMS
) -> tuple[pd.DataFrame, dict, Path]:
    metrics = gate(params, interim, root / "cast", swapped, root / "metrics" / f"{name}.json", root / f"plots_{name}")
    rows = tables.read_df("gates", interim / "gates.parquet")
    check_reasons(rows, metrics)
    return (rows, metrics, root / f"plots_{name}")


def check_reasons(rows: pd.DataFrame, metrics: dict) -> None:
    """Every reason is a kind of gate's closed set with a detail beside it; a row rejects exactly when it has one;
    the metrics count the kinds."""
    kinds = [k for ks in rows.reason_kinds for k in ks]
    assert set(kinds) <= set(GateReason), set(kinds) - set(GateReason)
    assert (rows.reason_kinds.map(len) == rows.reason_details.map(len)).all()
    assert all(isinstance(d, str) and d for ds in rows.reason_details for d in ds)
    assert ((rows.reason_kinds.map(len) > 0) == (rows.status == "reject")).all()
    assert metrics["reject_reasons"] == dict(sorted(Counter(kinds).items()))


def reasons_of(rows: pd.DataFrame) -> list[list[tuple[str, str]]]:
    """Per row, its (kind, detail) pairs."""
    return [list(zip(ks, ds, strict=True)) for ks, ds in zip(rows.reason_kinds, rows.reason_details, strict=True)]


@pytest.fixture(scope="module")
def clean(built):
    return run_gate(built, "clean", built / "interim", built / "swapped")


@pytest.fixture(scope="module")
def tampered(built):
    interim, swapped = built / "interim_tampered", built / "swapped_tampered"
    shutil.copytree(built / "interim", interim)
    shutil.copytree(built / "swapped", swapped)
    originals = list(iter_frames(built / "sample" / "clips" / f"{CLIP}.mp4", "video"))
    for n in BAD:
        write_jpeg(swapped / f"{CLIP}__v0" / f"{n:06d}.jpg", originals[n])
    # P002's own face, halved, pasted into the grey margin beside the swapped face
    other = next(iter(iter_frames(built / "spare" / "P002_expressions.mp4", "video")))
    faces = tables.read_df("faces", built / "interim" / "faces.parquet")
    box = faces[(faces.clip_id == CLIP) & (faces.frame_idx == 0)].iloc[0]
    x0, y0, x1, y1 = (int(round(v)) for v in (box.bbox_x0, box.bbox_y0, box.bbox_x1, box.bbox_y1))
    pad = (x1 - x0) // 4
    crop = other[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad]
    small = cv2.resize(crop, (crop.shape[1] // 2, crop.shape[0] // 2), interpolation=cv2.INTER_AREA)
    for n in EXTRA:
        path = swapped / f"{CLIP}__v0" / f"{n:06d}.jpg"
        image = rgb(path)
        top = (image.shape[0] - small.shape[0]) // 2
        image[top : top + small.shape[0], 2 : 2 + small.shape[1]] = small
        write_jpeg(path, image)
    return run_gate(built, "tampered", interim, swapped)


def test_a_correct_swap_passes(built, clean):
    rows, metrics, plots = clean
    assert tables.read("gates", built / "interim" / "gates.parquet").num_rows == len(rows)
    swaps = tables.read_df("swaps", built / "interim" / "swaps.parquet")
    assert len(rows) == len(swaps)
    swapped = rows[rows.swap_status == "swapped"]
    assert len(swapped) == 13
    print("deid", swapped.deid_distance.round(3).tolist(), "rank", swapped.reid_rank.tolist())
    assert (swapped.deid_distance >= PARAMS.deid.min_distance).all()
    assert (swapped.reid_rank > 1).all() and (swapped.leak_faces == 0).all()
    # the only rejects a correct swap can get are the clip's own worst landmark fits (the percentile gate)
    for kinds in swapped.reason_kinds:
        assert set(kinds) <= {GateReason.LANDMARKS}, kinds
    assert (swapped.status == "pass").mean() >= PARAMS.landmarks.percentile / 100 - 1 / len(swapped)
    assert metrics["leaks_in_passed_frames"] == 0
    assert metrics["reid_rank1_rate"] == 0.0
    # the audit scanned every frame the other checks passed, found the swapped faces, none left as filmed
    audit = metrics["audit"]
    print("audit", audit)
    assert audit["frames_scanned"] == metrics["frames"]["passed"] >= 1
    assert audit["regions"] >= audit["frames_scanned"] and audit["unchanged_regions"] == 0
    assert (rows[rows.status == "pass"].audit_unchanged == 0).all()
    assert metrics["expression_series"]["measured"] == 1 and metrics["resembles_other"]["faces"] == 0
    assert metrics["faces"]["passed"] == int(
        (rows[rows.swap_status.isin(["swapped", "obscured"])].status == "pass").sum()
    )
    assert json.loads((built / "metrics" / "clean.json").read_text()) == metrics
    clips = tables.read_df("gate_clips", built / "interim" / "gate_clips.parquet")
    assert set(clips.feature) >= {"mouth_open", "mean"} and (clips.frames == 13).all()
    assert (clips[clips.feature == "mean"].status == "measured").all()
    # a feature is judged where the original's expression moves by at least min_signal_px, and only there
    features = clips[(clips.feature != "mean") & clips.track_id.notna()]
    resolved = features.signal_px >= GateParams().expression.min_signal_px
    assert resolved.any() and ((features.status == "measured") == resolved).all()
    distances = pd.read_csv(plots / "distances.csv")
    assert list(distances.columns) == [
        "share",
        "original_vs_original",
        "original_vs_cast",
        "swapped_vs_original",
        "swapped_vs_cast",
    ]
    # the study's four distributions in the order a recast should give them
    median = distances.set_index("share").loc[0.5]
    assert median.original_vs_original < 0.6 <= median.swapped_vs_original
    assert median.swapped_vs_cast < median.swapped_vs_original
    assert (plots / "landmark_score" / f"{CLIP}__v0.csv").is_file()


def test_a_bad_swap_is_rejected_for_deid_and_found_by_the_leak_scan(tampered):
    rows, metrics, _ = tampered
    bad = rows[rows.frame_idx.isin(BAD) & (rows.swap_status == "swapped")]
    print("bad deid", bad.deid_distance.round(3).tolist(), reasons_of(bad))
    assert len(bad) == len(BAD) and (bad.status == "reject").all()
    assert (bad.deid_distance < PARAMS.deid.min_distance).all() and (bad.reid_rank == 1).all()
    for kinds in bad.reason_kinds:
        assert {GateReason.DEID, GateReason.REID, GateReason.LEAK} <= set(kinds), kinds
    assert metrics["reject_reasons"]["deid"] >= len(BAD)


def test_an_extra_unswapped_face_rejects_its_frame(tampered):
    rows, metrics, _ = tampered
    extra = rows[rows.frame_idx.isin(EXTRA)]
    print("extra", extra.leak_faces.tolist(), reasons_of(extra))
    assert (extra.status == "reject").all() and (extra.leak_faces >= 1).all()
    assert all(any(k == GateReason.LEAK and "match no face row" in d for k, d in rs) for rs in reasons_of(extra))
    # the swapped face itself is still de-identified: only the pasted face is the problem
    assert (extra.deid_distance >= PARAMS.deid.min_distance).all()
    untouched = rows[~rows.frame_idx.isin(BAD + EXTRA)]
    assert not any(
        k in (GateReason.DEID, GateReason.REID, GateReason.LEAK) for ks in untouched.reason_kinds for k in ks
    )
    assert metrics["leaks_in_passed_frames"] == 0


def test_the_gate_keeps_swaps_measure_of_the_same_bytes_and_measures_changed_ones_again(built, clean):
    """swap.verify measured every swapped face on the JPEG it wrote (swaps.parquet: dlib's landmarks, descriptor,
    the file's sha256); the gate takes that measure and gets what measuring again gives. The tampered frames
    (another image under the same name) were measured again: test_a_bad_swap_is_rejected_* sees their deid."""
    import hashlib

    swaps = tables.read_df("swaps", built / "interim" / "swaps.parquet")
    done = swaps[swaps.status == "swapped"]
    assert len(done) and done.measured_descriptor.notna().all() and done.measured_landmarks.notna().all()
    for image, sha in zip(swaps.image, swaps.image_sha256):
        assert hashlib.sha256((built / "swapped" / image).read_bytes()).hexdigest() == sha
    rows, metrics, _ = clean
    interim = built / "interim_measured_again"
    shutil.copytree(built / "interim", interim)
    again, metrics_again, _ = run_gate(
        built, "again", interim, built / "swapped", PARAMS.model_copy(update={"reuse_swap_measures": False})
    )
    key = ["frame_idx", "track_id"]
    a, b = rows.sort_values(key).reset_index(drop=True), again.sort_values(key).reset_index(drop=True)
    assert a.status.tolist() == b.status.tolist()
    assert [list(k) for k in a.reason_kinds] == [list(k) for k in b.reason_kinds]
    for column in ("deid_distance", "nearest_original_distance", "identity_distance", "landmark_error"):
        np.testing.assert_allclose(a[column].astype(float), b[column].astype(float), atol=1e-5, equal_nan=True)
    assert a.reid_rank.tolist() == b.reid_rank.tolist()


def test_a_stricter_identity_gate_rejects_more(built, clean):
    rows, _, _ = clean
    swapped = rows[rows.swap_status == "swapped"]
    limit = float(swapped.identity_distance.median())
    strict = GateParams(workers=1, identity={"max_distance": limit})
    interim = built / "interim_strict"
    shutil.copytree(built / "interim", interim)
    stricter, _, _ = run_gate(built, "strict", interim, built / "swapped", strict)
    far = stricter[(stricter.swap_status == "swapped") & (stricter.identity_distance > limit)]
    assert len(far) >= 1
    assert all(any(k == GateReason.IDENTITY and "cast identity" in d for k, d in rs) for rs in reasons_of(far))


def test_a_clip_cut_into_segments_gives_the_same_table(built, clean):
    """Segments of 4 frames, measured and audited in two processes (the audit of a later segment starts decoding
    the original clip part-way): gates.parquet is byte-identical to the clip measured whole."""
    rows, metrics, _ = clean
    interim = built / "interim_segments"
    shutil.copytree(built / "interim", interim)
    params = PARAMS.model_copy(update={"segment_frames": 4, "workers": 2})
    cut, metrics_cut, _ = run_gate(built, "segments", interim, built / "swapped", params)
    assert metrics["frames"]["total"] > 2 * 4  # more than two segments
    assert (interim / "gates.parquet").read_bytes() == (built / "interim" / "gates.parquet").read_bytes()
    assert metrics_cut["audit"] == metrics["audit"] and metrics_cut["audit"]["frames_scanned"] > 4
