"""Shared fixtures: paths to the real test clips and the repository, and the tiny DVC project that the pipeline
and sharing tests both start from (built and reproduced once per pytest run)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
VIDEOS = REPO.parent / "shared" / "data" / "videos"

# P001-P004 are female and P005 male; the five subjects are also the whole donor gallery.
# One identity per sex, each from a single donor (the male cell has only P005). An identity
# never plays the track of its own donor, so of the five tracks, all of one length, 3/2 is
# the nearest a 50/50 sex quota can come, and 80/20 is met exactly as 4/1.
TINY_SAMPLE = {"people": 5, "donor_only": [], "expressions": 1, "hold_frames": 3, "morph_frames": 1}
TINY_CAST = {
    "identities": 2,
    "donors_per_identity": 1,
    "quotas": {"sex": {"female": 0.5, "male": 0.5}},
    "on_shortfall": "relax",
    "max_attempts": 30,
    # one donor per identity and 30 attempts: searched cast.atlas_margin further from its single donor, an
    # identity fails or changes which tracks it may play, and the quota figures below no longer hold. The
    # atlas is still built and used by swap; what the margin does is measured on the embedded default
    "atlas_margin": 0.0,
}
CAST_FIT = {  # metrics/cast.json's fit report, as card, report and the metrics contract read it
    "tracks_by_age_group": {"adult": {"tracks": 2, "frames": 10}},
    "tracks_by_sex": {"female": {"tracks": 1, "frames": 5}, "male": {"tracks": 1, "frames": 5}},
    "no_compatible_identity": {"tracks": 0, "frames": 0},
    "across_presentation": {
        "sex": {"tracks": 0, "frames": 0},
        "sex_no_choice": {"tracks": 0, "frames": 0},
        "sex_uncertain": {"tracks": 0, "frames": 0},
        "age_group": {"tracks": 0, "frames": 0},
    },
    "cells_impossible_under_match": [],
}
GIT_IDENTITY = {"user.name": "facecast test", "user.email": "test@facecast.invalid", "commit.gpgsign": "false"}


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def videos() -> Path:
    if not (VIDEOS / "party_640x480.mp4").is_file():
        pytest.fail(f"the shared test clips are missing: expected them in {VIDEOS}")
    return VIDEOS


def environ() -> dict:
    """This interpreter's bin first on PATH (dvc, python), and a git identity for the commits."""
    return dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        GIT_AUTHOR_NAME="facecast test",
        GIT_AUTHOR_EMAIL="test@facecast.invalid",
        GIT_COMMITTER_NAME="facecast test",
        GIT_COMMITTER_EMAIL="test@facecast.invalid",
    )


def run(cmd: list[str], cwd: Path, ok: bool = True, **env: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env={**environ(), **env}, capture_output=True, text=True)
    if ok:
        assert proc.returncode == 0, (
            f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def lock_outputs(root: Path) -> dict[str, list[str]]:
    """Every output path per stage of ``root/dvc.lock`` (metrics and plots included)."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    return {stage: [o["path"] for o in entry.get("outs", [])] for stage, entry in lock["stages"].items()}


@dataclass(frozen=True)
class TinyProject:
    root: Path  # reproduced, outputs not committed; copy it (copy_to) before changing anything
    base: str  # the commit of the project before `dvc repro`
    repro: str  # what the first `dvc repro` printed

    def copy_to(self, dst: Path) -> Path:
        """An independent copy, git history, DVC cache and outputs included (file times kept)."""
        shutil.copytree(self.root, dst, symlinks=True)
        return dst


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory, repo) -> TinyProject:
    """A copy of the repository's files (what a clone holds, plus files not yet committed) with the tiny
    sample's parameters and no outputs, committed as a git repository of one commit, then `dvc repro`-ed."""
    dst = tmp_path_factory.mktemp("tiny") / "project"
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=repo, capture_output=True, text=True, check=True
    )
    for rel in files.stdout.split("\n"):
        if rel and (repo / rel).is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / rel, dst / rel)
    # the outputs of the repository's own run (metrics and plots are committed) are not the tiny sample's
    stale = [out for outs in lock_outputs(dst).values() for out in outs] if (dst / "dvc.lock").is_file() else []
    for rel in [*stale, "data", "metrics", "dvc.lock"]:
        path = dst / rel
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    params = yaml.safe_load((dst / "params.yaml").read_text())
    params["sample"].update(TINY_SAMPLE)
    params["cast"].update(TINY_CAST)
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q", "-b", "main"], dst)
    for key, value in GIT_IDENTITY.items():
        run(["git", "config", key, value], dst)  # dvc exp run commits too, through its own git library
    run(["git", "add", "-A"], dst)
    run(["git", "commit", "-q", "-m", "tiny facecast project"], dst)
    base = run(["git", "rev-parse", "HEAD"], dst).stdout.strip()
    repro = run(["dvc", "repro"], dst)
    return TinyProject(dst, base, repro.stdout + repro.stderr)


# Modules that run a stage, or real detectors over clips, to build what they check (seconds each, not milliseconds):
# `make test-fast` leaves them out with the DVC pipeline tests (marked slow).
STAGE_MODULES = {
    "test_augment.py",
    "test_cast_stage.py",
    "test_faces.py",
    "test_gate_stage.py",
    "test_quality_leaks.py",
    "test_swap_fallback.py",
    "test_swap_occlusion.py",
    "test_swap_stage.py",
}


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if item.path.name in STAGE_MODULES:
            item.add_marker(pytest.mark.stage)
