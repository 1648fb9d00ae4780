"""Shared fixtures: paths to the real test clips and the repository."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VIDEOS = REPO.parent / "shared" / "data" / "videos"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def videos() -> Path:
    if not (VIDEOS / "party_640x480.mp4").is_file():
        pytest.fail(f"the shared test clips are missing: expected them in {VIDEOS}")
    return VIDEOS
