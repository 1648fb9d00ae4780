"""`dvc repro` of the pipeline so far, on a tiny embedded sample, in a temporary copy of the repository."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from facecast import tables

pytestmark = pytest.mark.slow

TINY = {"people": 3, "expressions": 2, "hold_frames": 3, "morph_frames": 3}
# Three female subjects (P001-P003) are also the whole donor gallery: one identity blended
# from two of them; the track of the third subject is the only one it may play.
TINY_CAST = {
    "identities": 1,
    "donors_per_identity": 2,
    "quotas": {"sex": {"female": 1.0}},
    "on_shortfall": "relax",
    "max_attempts": 30,
}


def run(cmd: list[str], cwd: Path) -> str:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory, repo) -> Path:
    """A copy of the repository's tracked files (what a clone holds), as its own git repo."""
    dst = tmp_path_factory.mktemp("clone")
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=repo, capture_output=True, text=True, check=True
    )
    for rel in files.stdout.split("\n"):
        if rel and (repo / rel).is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / rel, dst / rel)
    shutil.rmtree(dst / "data", ignore_errors=True)
    shutil.rmtree(dst / "metrics", ignore_errors=True)
    params = yaml.safe_load((dst / "params.yaml").read_text())
    params["sample"].update(TINY)
    params["cast"].update(TINY_CAST)
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], dst)
    return dst


def test_repro_builds_every_stage(project):
    out = run(["dvc", "repro"], project)
    for stage in ("sample", "ingest", "faces", "cast", "swap", "gate", "augment", "manifest", "report"):
        assert f"Running stage '{stage}'" in out
    clips = tables.read_df("clips", project / "data/interim/clips.parquet")
    assert sorted(clips["clip_id"]) == ["P001_expressions", "P002_expressions", "P003_expressions"]
    assert (clips["status"] == "ok").all()
    expected_frames = TINY["expressions"] * TINY["hold_frames"] + (TINY["expressions"] - 1) * TINY["morph_frames"]
    assert (clips["n_frames"] == expected_frames).all()
    frames = tables.read_df("frames", project / "data/interim/frames.parquet")
    assert len(frames) == 3 * expected_frames and frames["label"].notna().all()
    faces = tables.read_df("faces", project / "data/interim/faces.parquet")
    tracks = tables.read_df("tracks", project / "data/interim/tracks.parquet")
    # one person per clip: one track, a face on every frame
    assert tracks.groupby("clip_id").size().tolist() == [1, 1, 1]
    assert len(faces) == len(frames)
    donors = tables.read_df("donor_tracks", project / "data/interim/donor_tracks.parquet")
    assert set(donors["donor_id"]) == {"P001", "P002", "P003"}
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
    assert len(identities) == 1 and len(identities.loc[0, "donor_ids"]) == 2
    # every track has a row: played by the identity, or uncastable with the reason
    assert (
        len(casting) == 3
        and casting["reason"].where(casting["status"] != "ok").notna().sum() == (casting["status"] != "ok").sum()
    )
    cast_subjects = {c.split("_")[0] for c in casting.loc[casting["status"] == "ok", "clip_id"]}
    assert not cast_subjects & set(identities.loc[0, "donor_ids"])
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
    assert (gates.loc[gates["status"] == "reject", "reasons"].map(len) > 0).all()
    assert (gates.loc[gates["status"] == "pass", "leak_faces"] == 0).all()
    # the dataset: every recast frame is either published (with its copies) or listed as rejected, with reasons
    published = tables.read_df("dataset_frames", project / "data/dataset/manifest/frames.parquet")
    rejects = tables.read_df("dataset_rejects", project / "data/dataset/manifest/rejects.parquet")
    gated = gates.groupby(["clip_id", "variant", "frame_idx"])["status"].agg(lambda s: (s == "pass").all())
    assert (published["copy"] == 0).sum() == int(gated.sum())
    assert (rejects["stage"] == "gate").sum() == int((~gated).sum()) and (rejects["reasons"].map(len) > 0).all()
    assert (project / "data/dataset/DATASET_CARD.md").is_file() and (project / "reports/index.html").is_file()
    for name in ("ingest", "faces", "cast", "swap", "gates", "augment", "dataset"):
        assert (project / f"metrics/{name}.json").is_file()
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
    params["swap"]["fallback"] = "pixelate"  # the tiny cast leaves faces obscured, so this changes swap's frames
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = run(["dvc", "repro"], project)
    assert all(f"Running stage '{s}'" in out for s in ("swap", "gate", "augment", "manifest", "report"))
    assert all(f"Running stage '{s}'" not in out for s in ("sample", "ingest", "faces", "cast"))


def test_changing_a_gate_threshold_reruns_only_gate(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["gate"]["deid"]["min_distance"] = 0.65
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = run(["dvc", "repro"], project)
    assert "Running stage 'gate'" in out
    assert all(f"Running stage '{s}'" not in out for s in ("sample", "ingest", "faces", "cast", "swap"))


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
