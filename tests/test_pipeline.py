"""`dvc repro` of the pipeline so far, on a tiny embedded sample, in a temporary copy of the repository."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from facecast import tables

from conftest import TINY_CAST, TINY_SAMPLE
from conftest import run as run_in

pytestmark = pytest.mark.slow

PEOPLE = [f"P{n:03d}" for n in range(1, TINY_SAMPLE["people"] + 1)]


def run(cmd: list[str], cwd: Path) -> str:
    proc = run_in(cmd, cwd)
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def project(tiny_project, tmp_path_factory) -> Path:
    """The tiny project as `dvc repro` left it (conftest), copied so these tests may change its parameters."""
    return tiny_project.copy_to(tmp_path_factory.mktemp("pipeline") / "project")


def test_repro_builds_every_stage(project, tiny_project):
    out = tiny_project.repro
    for stage in (
        "sample",
        "ingest",
        "faces",
        "cast",
        "swap",
        "gate",
        "augment",
        "manifest",
        "evaluate",
        "card",
        "report",
    ):
        assert f"Running stage '{stage}'" in out
    clips = tables.read_df("clips", project / "data/interim/clips.parquet")
    assert sorted(clips["clip_id"]) == [f"{p}_expressions" for p in PEOPLE]
    assert (clips["status"] == "ok").all()
    expected_frames = (
        TINY_SAMPLE["expressions"] * TINY_SAMPLE["hold_frames"]
        + (TINY_SAMPLE["expressions"] - 1) * TINY_SAMPLE["morph_frames"]
    )
    assert (clips["n_frames"] == expected_frames).all()
    frames = tables.read_df("frames", project / "data/interim/frames.parquet")
    assert len(frames) == len(PEOPLE) * expected_frames and frames["label"].notna().all()
    faces = tables.read_df("faces", project / "data/interim/faces.parquet")
    tracks = tables.read_df("tracks", project / "data/interim/tracks.parquet")
    # one person per clip: one track, a face on every frame
    assert tracks.groupby("clip_id").size().tolist() == [1] * len(PEOPLE)
    assert len(faces) == len(frames)
    donors = tables.read_df("donor_tracks", project / "data/interim/donor_tracks.parquet")
    assert set(donors["donor_id"]) == set(PEOPLE)
    # every face of the sample clips has its 68 landmarks, and each clip's track is its own
    # person: under dlib's 0.6 from the same person's donor centroid, and nearer to it than to any other
    assert faces["landmarks"].map(len).eq(136).all()
    centroid = {d: np.asarray(c) for d, c in zip(donors["donor_id"], donors["embedding_centroid"])}
    for clip_id, c in zip(tracks["clip_id"], tracks["embedding_centroid"]):
        dist = {d: float(np.linalg.norm(np.asarray(c) - v)) for d, v in centroid.items()}
        subject = clip_id.split("_")[0]
        assert dist[subject] < 0.6 and min(dist, key=dist.get) == subject, dist
    identities = tables.read_df("identities", project / "data/cast/identities.parquet")
    casting = tables.read_df("casting", project / "data/cast/casting.parquet")
    assert len(identities) == TINY_CAST["identities"]
    assert identities["donor_ids"].map(len).eq(TINY_CAST["donors_per_identity"]).all()
    # every track has a row: played by the identity, or uncastable with the reason
    assert (
        len(casting) == len(PEOPLE)
        and casting["reason"].where(casting["status"] != "ok").notna().sum() == (casting["status"] != "ok").sum()
    )
    donors_of = dict(zip(identities["identity_id"], identities["donor_ids"]))
    for clip_id, identity in zip(casting["clip_id"], casting["identity_id"]):
        assert identity is None or clip_id.split("_")[0] not in donors_of[identity]  # nobody plays themself
    # every face of every frame leaves swap recast or obscured, one JPEG per frame and variant
    swaps = tables.read_df("swaps", project / "data/interim/swaps.parquet")
    assert len(swaps) == len(faces) and swaps["status"].isin(["swapped", "obscured"]).all()
    played = casting.loc[casting["status"] == "ok", "clip_id"]
    assert (swaps.loc[swaps["clip_id"].isin(played), "status"] == "swapped").all()
    assert sorted(
        p.relative_to(project / "data/swapped").as_posix() for p in (project / "data/swapped").glob("*/*.jpg")
    ) == sorted(swaps["image"])
    # every row swap wrote has its verdict, and no frame that passed holds a face the leak scan could not account for
    gates = tables.read_df("gates", project / "data/interim/gates.parquet")
    assert len(gates) == len(swaps) and gates["status"].isin(["pass", "reject"]).all()
    assert (gates.loc[gates["status"] == "reject", "reason_kinds"].map(len) > 0).all()
    assert (gates.loc[gates["status"] == "pass", "leak_faces"] == 0).all()
    # the dataset: every recast frame is either published (with its copies) or listed as rejected, with reasons
    published = tables.read_df("dataset_frames", project / "data/dataset/manifest/frames.parquet")
    rejects = tables.read_df("dataset_rejects", project / "data/dataset/manifest/rejects.parquet")
    gated = gates.groupby(["clip_id", "variant", "frame_idx"])["status"].agg(lambda s: (s == "pass").all())
    # (cast.balance_by: published: a passing frame may be left out to meet the quotas, with its reason)
    balanced = (rejects["stage"] == "manifest") & (rejects["copy"] == 0)
    assert (published["copy"] == 0).sum() + int(balanced.sum()) == int(gated.sum())
    assert all(list(k) == ["quota_balance"] for k in rejects.loc[rejects["stage"] == "manifest", "reason_kinds"])
    assert (rejects["stage"] == "gate").sum() == int((~gated).sum()) and (rejects["reason_kinds"].map(len) > 0).all()
    assert (project / "data/dataset/DATASET_CARD.md").is_file() and (project / "reports/index.html").is_file()
    for name in ("ingest", "faces", "cast", "swap", "gates", "augment", "dataset"):
        assert (project / f"metrics/{name}.json").is_file()
    # one expression: nothing to tell apart, recorded with the reason, in the card too
    utility = json.loads((project / "metrics/utility.json").read_text())
    reason = "a single label (neutral): nothing to tell apart"
    assert utility["status"] == "not_evaluated" and utility["reason"] == reason and utility["regimes"] is None
    assert utility["labels"] == ["neutral"] and utility["frames"]["original"] == len(frames)
    card = (project / "data/dataset/DATASET_CARD.md").read_text()
    assert "**Not evaluated**: a single label \\(neutral\\): nothing to tell apart." in card
    assert (project / "plots/distances.csv").is_file()
    shown = run(["dvc", "plots", "show", "--json"], project)
    assert "plots/distances.csv" in shown
    # one landmark-score curve per clip with a swapped face
    swapped_clips = sorted(swaps.loc[swaps["status"] == "swapped", "clip_id"].unique())
    assert all(f"plots/landmark_score/{c}__v0.csv" in shown for c in swapped_clips)


def test_repro_again_does_nothing(project):
    out = run(["dvc", "repro"], project)
    assert "Running stage" not in out


def test_changing_a_swap_param_reruns_only_swap_and_what_follows(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["swap"]["jpeg_quality"] = 90  # every recast frame is written again, with other bytes
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = run(["dvc", "repro"], project)
    assert all(
        f"Running stage '{s}'" in out for s in ("swap", "gate", "augment", "manifest", "evaluate", "card", "report")
    )
    assert all(f"Running stage '{s}'" not in out for s in ("sample", "ingest", "faces", "cast"))


def test_an_evaluation_that_is_required_stops_with_its_reason(project, tmp_path):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["evaluate"]["required"] = True
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    before = (project / "metrics/utility.json").read_bytes()
    proc = run_in(["python", "stages/evaluate.py", "--params", str(tmp_path / "params.yaml")], project, ok=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "facecast evaluate: not evaluated: a single label (neutral): nothing to tell apart (evaluate.required is true)"
    )
    assert (project / "metrics/utility.json").read_bytes() == before


def test_changing_a_gate_threshold_reruns_only_gate(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["gate"]["landmarks"]["max_error"] = 0.25
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = run(["dvc", "repro"], project)
    assert "Running stage 'gate'" in out
    assert all(f"Running stage '{s}'" not in out for s in ("sample", "ingest", "faces", "cast", "swap"))
    # the de-identification threshold is also swap's (swap.verify obscures a face the gate would reject)
    params["gate"]["deid"]["min_distance"] = 0.65
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = run(["dvc", "repro"], project)
    assert "Running stage 'swap'" in out and "Running stage 'gate'" in out
    assert all(f"Running stage '{s}'" not in out for s in ("sample", "ingest", "faces", "cast"))


def test_changing_a_faces_param_reruns_only_faces(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["faces"]["embed_every"] = 3
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = run(["dvc", "repro"], project)
    assert "Running stage 'faces'" in out
    assert "Running stage 'sample'" not in out and "Running stage 'ingest'" not in out


def test_bad_params_stop_before_any_work(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["faces"]["min_face_size"] = "big"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(["dvc", "repro"], cwd=project, env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "faces.min_face_size" in proc.stdout + proc.stderr
    # putting the value back restores the earlier outputs from DVC's run cache, without a re-run
    params["faces"]["min_face_size"] = 20
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = run(["dvc", "repro"], project)
    assert "Running stage 'faces'" not in out
    assert tables.read("faces", project / "data/interim/faces.parquet").num_rows > 0
