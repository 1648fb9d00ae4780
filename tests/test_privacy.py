"""What an attacker holding the published dataset, `params.yaml` and `dvc.lock` of the tiny project can learn:
not the subjects behind the pseudonyms (the brute-force search of the seed that once reversed them finds
nothing), not the clips' file names, and no path, user or host of the machine that made the dataset."""

from __future__ import annotations

import getpass
import hashlib
import hmac
import re
import socket
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from facecast.manifest.pseudonym import pseudonym
from facecast.manifest.secret import KEY_FILE

from conftest import TINY_SAMPLE, run

pytestmark = pytest.mark.slow

SUBJECTS = [f"P{n:03d}" for n in range(1, TINY_SAMPLE["people"] + 1)]
CLIPS = [f"{s}_expressions" for s in SUBJECTS]
SEEDS = (
    20_000  # the search that reversed the old pseudonyms tried 220,779 seeds in 12.6 s; every one is tried up to here
)


def published_text(dataset: Path) -> str:
    """Every string a reader of the dataset gets: the text files, the manifests' cells and metadata, folder names."""
    parts = [str(p.relative_to(dataset)) for p in dataset.rglob("*")]
    for path in dataset.rglob("*"):
        if path.suffix in {".md", ".txt", ".json", ".csv"}:
            parts.append(path.read_text(encoding="utf-8"))
        elif path.suffix == ".parquet":
            table = pq.read_table(path)
            parts.append(str(table.schema.metadata))
            parts.append(table.to_pandas().astype(str).to_csv())
    return "\n".join(parts)


def candidate_keys(root: Path) -> list[bytes]:
    """Keys an attacker would try: what the seed used to give, and every number and token of params.yaml and dvc.lock."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    seeds = {*range(SEEDS), params["seed"]}
    tokens = set(re.findall(r"[0-9A-Za-z_]+", (root / "params.yaml").read_text() + (root / "dvc.lock").read_text()))
    keys = [hashlib.sha256(f"facecast.manifest.subject:{s}".encode()).digest() for s in seeds]
    keys += [str(s).encode() for s in seeds]
    keys += [t.encode() for t in tokens]
    keys += [bytes.fromhex(t) for t in tokens if len(t) % 2 == 0 and re.fullmatch(r"[0-9a-f]+", t)]
    return keys


@pytest.fixture(scope="module")
def published(tiny_project) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    manifest = tiny_project.root / "data" / "dataset" / "manifest"
    return tiny_project.root, pd.read_parquet(manifest / "frames.parquet"), pd.read_parquet(manifest / "clips.parquet")


def test_brute_force_of_the_seed_and_the_lock_file_finds_no_subject(published):
    root, frames, clips = published
    targets = set(frames["subject"].dropna()) | set(clips["subject"].dropna())
    assert len(targets) >= 2 and all(re.fullmatch(r"S[0-9a-f]{12}", t) for t in targets)
    found = []
    for key in candidate_keys(root):
        for subject in SUBJECTS:
            old = "S" + hmac.new(key, subject.encode(), hashlib.sha256).hexdigest()[:12]
            if old in targets or pseudonym("subject", subject, key) in targets:
                found.append((key, subject))
    assert not found


def test_the_key_is_a_private_file_outside_git_and_dvc(published):
    root, _, _ = published
    key_file = root / KEY_FILE
    assert key_file.is_file() and (key_file.stat().st_mode & 0o077) == 0
    key_text = key_file.read_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", key_text)
    for shared in ("params.yaml", "dvc.lock", "dvc.yaml"):
        assert key_text not in (root / shared).read_text()
    run(["git", "check-ignore", "-q", str(KEY_FILE)], root)  # exit 0: git ignores it
    assert str(KEY_FILE) not in run(["git", "ls-files"], root).stdout
    assert key_text not in published_text(root / "data" / "dataset")


def test_nothing_private_is_published(published):
    root, frames, clips = published
    dataset = root / "data" / "dataset"
    text = published_text(dataset)
    params = yaml.safe_load((root / "params.yaml").read_text())
    private = [str(root), str(Path.home()), params["input"]["root"], params["input"]["donors"], *CLIPS]
    private += [f"/{getpass.getuser()}/", f"{getpass.getuser()}@", socket.gethostname()]
    for value in private:
        assert value not in text, value
    # (the subjects' own ids are also the donors' ids in the embedded sample, so they may be published as donors)
    assert not set(frames["subject"].dropna()) & set(SUBJECTS) and not set(clips["subject"].dropna()) & set(SUBJECTS)
    raw = b"".join(p.read_bytes() for p in dataset.rglob("*") if p.is_file())
    for value in (str(root), str(Path.home()) + "/", params["input"]["root"]):
        assert value.encode() not in raw, value
    # clip ids are pseudonyms: one per clip, consistent across the manifests and the image folders
    assert set(frames["clip_id"]) <= set(clips["clip_id"]) and all(
        re.fullmatch(r"C[0-9a-f]{12}", c) for c in clips["clip_id"]
    )
    folders = {p.parent.name.split("__")[0] for p in (dataset / "images").rglob("*.jpg")}
    assert folders == set(frames["clip_id"])
