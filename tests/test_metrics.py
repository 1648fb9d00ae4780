"""The metrics files other stages read are contracts: checked when written, validated when read."""

from __future__ import annotations

import json

import pytest

from facecast import metrics
from facecast.errors import InputError

from conftest import CAST_FIT

CAST = {
    "balance_by": "frames",
    "categories": [{"attribute": "sex", "category": "female", "target": 0.5, "achieved": 0.5, "gap": 0.0}],
    "fit": CAST_FIT,
    "refused_by_attributes": {"syn001": 2},
    "tracks": 10,  # keys nobody else reads are allowed
}
DIST = {"n": 3, "mean": 0.7, "median": 0.7, "p5": 0.65, "p95": 0.8}
GATES = {
    "frames": {"total": 10, "passed": 8, "pass_rate": 0.8},
    "faces": {"total": 12, "passed": 9, "pass_rate": 0.75},
    "deid_distance": DIST,
    "identity_distance": DIST,
    "landmark_error": DIST,
    "reid_rank1_rate": 0.0,
    "expression_mean_pcc": 0.6,
    "leaks_in_passed_frames": 0,
    "reject_reasons": {"leak": 2},
}


def test_a_complete_file_reads_as_typed_figures(tmp_path):
    path = tmp_path / "gates.json"
    path.write_text(json.dumps(GATES))
    read = metrics.read(metrics.GateMetrics, path, "gate")
    assert read.frames.passed == 8 and read.deid_distance.median == 0.7 and read.reject_reasons == {"leak": 2}
    cast_path = tmp_path / "cast.json"
    cast_path.write_text(json.dumps(CAST))
    cast = metrics.read(metrics.CastMetrics, cast_path, "cast")
    assert cast.balance_by == "frames" and cast.categories[0].target == 0.5


def test_a_renamed_key_is_one_error_naming_file_and_key(tmp_path):
    path = tmp_path / "gates.json"
    renamed = {("leaks_in_passed" if k == "leaks_in_passed_frames" else k): v for k, v in GATES.items()}
    path.write_text(json.dumps(renamed))
    with pytest.raises(InputError, match=r"gates\.json: leaks_in_passed_frames: Field required \(run stage gate"):
        metrics.read(metrics.GateMetrics, path, "gate")


def test_missing_and_broken_files_name_the_stage(tmp_path):
    with pytest.raises(InputError, match="metrics file not found \\(run stage cast\\)"):
        metrics.read(metrics.CastMetrics, tmp_path / "cast.json", "cast")
    (tmp_path / "cast.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        metrics.read(metrics.CastMetrics, tmp_path / "cast.json", "cast")


def test_the_writer_is_checked_too():
    assert metrics.check("cast", CAST) is CAST
    with pytest.raises(ValueError, match=r"categories\.0\.target"):
        metrics.check("cast", {**CAST, "categories": [{"attribute": "sex", "category": "female", "achieved": 0.5}]})
