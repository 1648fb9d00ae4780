"""params.yaml validation: unknown keys, wrong types and impossible values stop before any work."""

from pathlib import Path

import pytest
import yaml

from facecast.errors import ParamsError
from facecast.params import FacesParams, load, load_all

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def repo_params() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_repo_params_are_valid():
    sections = load_all(REPO / "params.yaml")
    assert sections["faces"].detect_every >= 1
    assert sections["input"].root == "data/sample"


def test_stage_sees_only_what_it_loads(tmp_path):
    p = load("faces", path=write(tmp_path, repo_params()))
    assert isinstance(p.faces, FacesParams)
    assert p.seed == repo_params()["seed"]
    with pytest.raises(AttributeError, match="not loaded"):
        _ = p.sample


@pytest.mark.parametrize(
    "section, patch, message",
    [
        ("faces", {"min_face_sise": 20}, r"faces\.min_face_sise: unknown key"),
        ("faces", {"min_face_size": "20"}, r"faces\.min_face_size: Input should be a valid integer"),
        ("faces", {"min_face_size": 20.5}, r"faces\.min_face_size"),
        ("faces", {"detect_every": 0}, r"faces\.detect_every: Input should be greater than or equal to 1"),
        ("faces", {"thresholds": [0.6, 0.7]}, r"faces\.thresholds: .*three numbers"),
        ("faces", {"thresholds": [0.6, 1.2, 0.7]}, r"faces\.thresholds: .*in \(0, 1\)"),
        ("faces", {"thresholds": ["0.6", 0.7, 0.7]}, r"faces\.thresholds: .*three numbers"),
        ("faces", {"detector": "yolo"}, r"faces\.detector: Input should be 'mtcnn'"),
        ("sample", {"people": 11}, r"sample\.people: Input should be less than or equal to 10"),
        ("ingest", {"strict_labels": "yes"}, r"ingest\.strict_labels: Input should be a valid boolean"),
    ],
)
def test_bad_values_name_the_key(tmp_path, section, patch, message):
    data = repo_params()
    data[section].update(patch)
    with pytest.raises(ParamsError, match=message):
        load(section, path=write(tmp_path, data))


def test_unknown_section_is_an_error(tmp_path):
    data = repo_params()
    data["facez"] = {}
    with pytest.raises(ParamsError, match="unknown top-level key.*facez"):
        load("faces", path=write(tmp_path, data))


def test_missing_or_bad_seed(tmp_path):
    data = repo_params()
    data["seed"] = -1
    with pytest.raises(ParamsError, match="seed: expected a non-negative integer"):
        load("faces", path=write(tmp_path, data))
    del data["seed"]
    with pytest.raises(ParamsError, match="seed: required"):
        load("faces", path=write(tmp_path, data))


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ParamsError, match="file not found"):
        load("faces", path=tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("faces: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load("faces", path=bad)


def test_every_error_is_reported_at_once(tmp_path):
    data = repo_params()
    data["faces"].update({"workers": 0, "track_iou": 2.0})
    with pytest.raises(ParamsError) as info:
        load("faces", path=write(tmp_path, data))
    assert "faces.workers" in str(info.value) and "faces.track_iou" in str(info.value)
