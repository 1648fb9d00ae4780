"""Parquet contracts: schema checks, version metadata, atomic writes."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from facecast import tables
from facecast.errors import TableError


def frames_rows():
    return [
        {"clip_id": "a", "frame_idx": 0, "timestamp_s": 0.0, "label": "neutral"},
        {"clip_id": "a", "frame_idx": 1, "timestamp_s": 0.04, "label": None},
    ]


def test_round_trip_keeps_schema_and_version(tmp_path):
    path = tables.write("frames", frames_rows(), tmp_path / "frames.parquet")
    meta = pq.read_schema(path).metadata
    assert meta[b"facecast.table"] == b"frames"
    assert meta[b"facecast.schema_version"] == str(tables.spec("frames").version).encode()
    df = tables.read_df("frames", path)
    assert df.loc[0, "label"] == "neutral" and pd.isna(df.loc[1, "label"])
    assert str(df["frame_idx"].dtype) == "int32"


def test_fixed_size_vectors(tmp_path):
    row = {c: None for c in tables.spec("faces").schema.names}
    row.update(
        clip_id="a",
        frame_idx=0,
        track_id=0,
        bbox_x0=1.0,
        bbox_y0=2.0,
        bbox_x1=30.0,
        bbox_y1=40.0,
        source="detected",
        det_score=0.99,
        status="ok",
        interpolated=False,
        landmarks=np.arange(136, dtype=np.float32).tolist(),
        embedding=np.zeros(128).tolist(),
    )
    path = tables.write("faces", [row], tmp_path / "faces.parquet")
    df = tables.read_df("faces", path)
    assert len(df.loc[0, "landmarks"]) == 136 and len(df.loc[0, "embedding"]) == 128
    row["landmarks"] = [0.0] * 10
    with pytest.raises(TableError, match="faces"):
        tables.write("faces", [row], tmp_path / "bad.parquet")


def test_wrong_columns_are_named(tmp_path):
    df = pd.DataFrame(frames_rows()).drop(columns=["label"]).assign(extra=1)
    with pytest.raises(TableError, match=r"missing \['label'\], unexpected \['extra'\]"):
        tables.write("frames", df, tmp_path / "f.parquet")


def test_nulls_in_required_columns_are_refused(tmp_path):
    rows = frames_rows()
    rows[0]["clip_id"] = None
    with pytest.raises(TableError, match="clip_id"):
        tables.write("frames", rows, tmp_path / "f.parquet")


def test_read_checks_name_and_version(tmp_path):
    path = tables.write("frames", frames_rows(), tmp_path / "frames.parquet")
    with pytest.raises(TableError, match="expected table 'clips', file holds 'frames'"):
        tables.read("clips", path)
    old = pq.read_table(path)
    old = old.replace_schema_metadata({b"facecast.table": b"frames", b"facecast.schema_version": b"0"})
    pq.write_table(old, tmp_path / "old.parquet")
    with pytest.raises(TableError, match="schema version 0"):
        tables.read("frames", tmp_path / "old.parquet")
    pq.write_table(pa.table({"x": [1]}), tmp_path / "foreign.parquet")
    with pytest.raises(TableError, match="no facecast table"):
        tables.read("frames", tmp_path / "foreign.parquet")
    with pytest.raises(TableError, match="not found"):
        tables.read("frames", tmp_path / "missing.parquet")


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    path = tables.write("frames", frames_rows(), tmp_path / "frames.parquet")
    before = path.read_bytes()
    bad = frames_rows()
    bad[1]["frame_idx"] = "one"
    with pytest.raises(TableError):
        tables.write("frames", bad, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames.parquet"]


def test_every_schema_can_be_written_empty(tmp_path):
    for name in tables.SPECS:
        path = tables.write(name, [], tmp_path / f"{name}.parquet")
        assert tables.read(name, path).num_rows == 0


def test_atomic_folders_get_the_mode_mkdir_gives(tmp_path):
    from facecast.io.atomic import atomic_dir

    plain = tmp_path / "plain"
    plain.mkdir()
    with atomic_dir(tmp_path / "out") as tmp:
        (tmp / "a.txt").write_text("x")
    assert (tmp_path / "out" / "a.txt").read_text() == "x"
    assert (tmp_path / "out").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def swaps_row(**values) -> dict:
    row = {c: None for c in tables.spec("swaps").schema.names}
    row.update(clip_id="a", variant=0, frame_idx=0, track_id=0, status="obscured", **values)
    return row


def test_a_reason_kind_outside_the_tables_closed_set_is_refused(tmp_path):
    ok = swaps_row(reason_kind="too_small", reason_detail="face 28 px high, under 40 px")
    assert tables.read_df("swaps", tables.write("swaps", [ok], tmp_path)).loc[0, "reason_kind"] == "too_small"
    bad = swaps_row(reason_kind="tiny", reason_detail="face 28 px high, under 40 px")
    with pytest.raises(TableError, match=r"^swaps: column 'reason_kind' holds the reason kind 'tiny', not one of "):
        tables.write("swaps", [ok, bad], tmp_path / "bad.parquet")
    assert not (tmp_path / "bad.parquet").exists()
    # a list of kinds: each one is checked; a kind of another stage is not this table's
    row = {c: None for c in tables.spec("dataset_rejects").schema.names}
    row.update(clip_id="a", variant=0, frame_idx=0, stage="gate", reason_kinds=["leak", "too_small"])
    row["reason_details"] = ["1 face(s) the detector found match no face row", "face 28 px high"]
    with pytest.raises(TableError, match="dataset_rejects: column 'reason_kinds' holds the reason kind 'too_small'"):
        tables.write("dataset_rejects", [row], tmp_path)


def test_reason_kinds_and_details_run_in_parallel(tmp_path):
    row = {c: None for c in tables.spec("dataset_rejects").schema.names}
    row.update(clip_id="a", variant=0, frame_idx=0, stage="augment", reason_kinds=["flip"], reason_details=[])
    with pytest.raises(TableError, match="'reason_kinds' and 'reason_details' must have the same length"):
        tables.write("dataset_rejects", [row], tmp_path)
    row["reason_details"] = [None]  # a kind without a detail is allowed
    assert len(tables.read_df("dataset_rejects", tables.write("dataset_rejects", [row], tmp_path))) == 1


def test_every_table_with_reasons_names_its_closed_set():
    for s in tables.SPECS.values():
        columns = set(s.schema.names) & set(tables.REASON_KIND_COLUMNS)
        assert bool(columns) == (s.reason_kinds is not None), s.name
    for name in ("swaps", "gates", "augment", "dataset_rejects"):  # typed: no prose column left to parse
        assert not {"reason", "reasons"} & set(tables.spec(name).schema.names), name


def test_each_spec_checks_the_kinds_of_its_stage():
    from facecast.reasons import AugmentReason, GateReason, ManifestReason, SwapReason

    assert tables.spec("swaps").reason_kinds == tables.SWAP_REASON_KINDS == set(SwapReason)
    assert tables.spec("gates").reason_kinds == tables.GATE_REASON_KINDS == set(GateReason)
    assert tables.spec("augment").reason_kinds == tables.AUGMENT_REASON_KINDS == set(AugmentReason)
    assert tables.MANIFEST_REASON_KINDS == set(ManifestReason)
    assert tables.spec("dataset_rejects").reason_kinds == set(GateReason) | set(AugmentReason) | set(ManifestReason)


def test_a_reason_reads_as_the_prose_it_replaces():
    assert tables.reason_text(*tables.Reason("too_small", "face 28 px")) == "too_small: face 28 px"
    assert tables.reason_text(*tables.Reason("no_landmarks")) == "no_landmarks"
