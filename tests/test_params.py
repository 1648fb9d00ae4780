"""params.yaml validation: unknown keys, wrong types and impossible values stop before any work."""

import math
import re
from pathlib import Path
from typing import get_args

import pytest
import yaml
from click.testing import CliRunner, Result

from facecast import tables
from facecast.cli import main
from facecast.errors import ParamsError
from facecast.params import SECTIONS, FacesParams, Section, load, load_all

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


# --- duplicate keys: PyYAML keeps the last silently, DVC refuses the file; so does facecast ---


@pytest.mark.parametrize(
    "text, key, lines",
    [
        ("seed: 1\ngate:\n  workers: 2\nfaces: {}\ngate:\n  workers: 1\n", "gate", "lines 2 and 5"),
        (
            "seed: 1\ngate:\n  deid:\n    min_distance: 0.6\n    min_distance: 0.7\n",
            "gate.deid.min_distance",
            "lines 4 and 5",
        ),
        (
            "seed: 1\ncast:\n  quotas:\n    sex: {female: 0.5, male: 0.5}\n    sex: {female: 0.3, male: 0.7}\n",
            "cast.quotas.sex",
            "lines 4 and 5",
        ),
        (
            "seed: 1\naugment:\n  policy:\n    transform:\n      transforms:\n"
            "        - {__class_fullname__: HorizontalFlip, p: 0.5}\n        - {__class_fullname__: Blur, p: 0.5, p: 1}\n",
            "augment.policy.transform.transforms[1].p",
            "line 7, twice",
        ),
        ("seed: 1\nseed: 2\n", "seed", "lines 1 and 2"),
    ],
    ids=["section", "nested", "mapping", "in-a-list", "seed"],
)
def test_a_key_given_twice_is_refused_naming_it_and_both_lines(tmp_path, text, key, lines):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    for call in (lambda: load("gate", path=path), lambda: load_all(path)):
        with pytest.raises(ParamsError) as info:
            call()
        assert str(info.value) == f"{path}: key '{key}' is given twice ({lines}); YAML would keep only the last"


def test_a_merge_key_may_still_be_overridden(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("seed: 1\nfaces: &f {workers: 1, max_gap: 3}\ngate:\n  <<: {workers: 1}\n  workers: 2\n")
    assert load("gate", path=path).gate.workers == 2


def test_bad_yaml_is_one_line_with_its_place(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: 1\nfaces: [unclosed\n")
    with pytest.raises(ParamsError) as info:
        load("faces", path=bad)
    assert "\n" not in str(info.value) and "(line 3, column 1)" in str(info.value)


# --- non-finite numbers (.inf, -.inf, .nan) are refused for every float, nested sections included ---


def float_keys(model: type[Section], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key whose value is a float (or float | None), through nested sections."""
    keys = []
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, Section):
            keys += float_keys(kind, (*prefix, name))
        elif kind is float or set(get_args(kind)) == {float, type(None)}:
            keys.append((*prefix, name))
    return keys


FLOAT_KEYS = [(section, *key) for section, model in SECTIONS.items() for key in float_keys(model)]


def test_the_float_keys_are_found():
    assert len(FLOAT_KEYS) >= 20
    assert {("faces", "smooth_beta"), ("faces", "smooth_min_cutoff"), ("gate", "deid", "min_distance")} <= set(
        FLOAT_KEYS
    )


def put(data: dict, key: tuple[str, ...], value) -> None:
    for part in key[:-1]:
        data = data.setdefault(part, {})
    data[key[-1]] = value


@pytest.mark.parametrize("key", FLOAT_KEYS, ids=".".join)
def test_every_float_refuses_inf_and_nan(tmp_path, key):
    for value in (math.inf, -math.inf, math.nan):
        data = repo_params()
        put(data, key, value)
        path = write(tmp_path, data)
        assert any(token in path.read_text() for token in (".inf", ".nan"))  # what YAML writes
        with pytest.raises(ParamsError, match=rf"{re.escape('.'.join(key))}: Input should be a finite number"):
            load(key[0], path=path)


@pytest.mark.parametrize(
    "section, patch, message",
    [
        ("faces", {"thresholds": [0.6, math.nan, 0.7]}, r"faces\.thresholds: .*in \(0, 1\)"),
        ("faces", {"thresholds": [0.6, 0.7, math.inf]}, r"faces\.thresholds: .*in \(0, 1\)"),
        ("cast", {"quotas": {"sex": {"female": math.nan, "male": 1.0}}}, r"cast\.quotas\.sex\.female: .*finite"),
        ("cast", {"quotas": {"sex": {"female": math.inf, "male": 0.0}}}, r"cast\.quotas\.sex\.female: .*finite"),
        (
            "cast",
            {
                "quotas": {"sex": {"female": 0.5, "male": 0.5}},
                "joint": [{"sex": "female", "share": math.nan}, {"sex": "male", "share": 0.5}],
            },
            r"cast\.joint\.0\.share.*finite",
        ),
        ("manifest", {"splits": {"train": math.nan, "test": 1.0}}, r"manifest\.splits\.train: .*finite"),
    ],
)
def test_non_finite_numbers_inside_lists_and_mappings_are_refused(tmp_path, section, patch, message):
    data = repo_params()
    data[section].update(patch)
    with pytest.raises(ParamsError, match=message):
        load(section, path=write(tmp_path, data))


# --- `facecast params`: every section, and augment.policy checked as stage augment checks it ---


def facecast_params(tmp_path: Path, data: dict, monkeypatch) -> Result:
    monkeypatch.chdir(tmp_path)  # data/interim is looked for where the command runs, as the stages do
    write(tmp_path, data)
    return CliRunner().invoke(main, ["params"])


def with_policy(*transforms: dict, **sample: int) -> dict:
    data = repo_params()
    data["augment"]["policy"]["transform"]["transforms"] = list(transforms)
    data["sample"].update(sample)
    return data


def refused(result: Result) -> str:
    assert result.exit_code == 2 and not result.stdout, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    return line


def test_facecast_params_says_what_it_checked(tmp_path, monkeypatch):
    result = facecast_params(tmp_path, repo_params(), monkeypatch)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "params.yaml: valid (seed, sample, input, ingest, faces, attributes, cast, swap, gate, augment, manifest, evaluate, report, "
        "executor)",
        "augment.policy checked on 480x360 (sample.frame_width x frame_height: no ingested clips in "
        "data/interim/clips.parquet)",
    ]


@pytest.mark.parametrize("name", ["GaussNoise", "ElasticTransform", "GridDistortion"])
def test_facecast_params_refuses_a_per_pixel_transform_whatever_its_probability(tmp_path, monkeypatch, name):
    rare = {"__class_fullname__": "OneOf", "p": 0.05, "transforms": [{"__class_fullname__": name, "p": 0.01}]}
    line = refused(
        facecast_params(tmp_path, with_policy({"__class_fullname__": "HorizontalFlip", "p": 0.5}, rare), monkeypatch)
    )
    assert line.startswith(
        f"params.yaml: augment.policy: {name} (transform.transforms[1].transforms[0]), applied alone"
    )
    assert "on a 480x360 test frame" in line and "above 64 kB" in line


def test_facecast_params_checks_a_crop_on_the_real_frame_size(tmp_path, monkeypatch):
    crop = {"__class_fullname__": "RandomCrop", "height": 300, "width": 300, "p": 0.5}
    assert facecast_params(tmp_path, with_policy(crop), monkeypatch).exit_code == 0  # 480x360 frames
    line = refused(facecast_params(tmp_path, with_policy(crop, frame_width=256, frame_height=400), monkeypatch))
    assert "RandomCrop (transform.transforms[0])" in line and "on a 256x400 test frame" in line
    assert "Crop size (height, width) exceeds image dimensions (height, width): (300, 300) vs (400, 256)" in line


def clip_row(clip_id: str, width: int | None, height: int | None, status: str = "ok") -> dict:
    return {
        "clip_id": clip_id,
        "path": f"clips/{clip_id}.mp4",
        "kind": "video",
        "n_frames": 10 if status == "ok" else 0,
        "fps": 25.0,
        "width": width,
        "height": height,
        "sha256": "0" * 64,
        "subject_id": None,
        "status": status,
        "reason": None if status == "ok" else "test",
    }


def test_facecast_params_checks_on_the_ingested_clips_sizes(tmp_path, monkeypatch):
    clips = [
        clip_row("a", 640, 480),
        clip_row("b", 320, 240),
        clip_row("c", 640, 480),
        clip_row("d", None, None, "empty"),
    ]
    tables.write("clips", clips, tmp_path / tables.INTERIM)
    result = facecast_params(tmp_path, repo_params(), monkeypatch)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == (
        "augment.policy checked on 320x240, 640x480 (the frame sizes of the ingested clips, data/interim/clips.parquet)"
    )
    crop = {"__class_fullname__": "RandomCrop", "height": 300, "width": 300, "p": 0.5}
    line = refused(facecast_params(tmp_path, with_policy(crop), monkeypatch))  # fits 640x480, not 320x240
    assert "RandomCrop" in line and "on a 320x240 test frame" in line


@pytest.mark.parametrize(
    "text, words",
    [
        ("seed: 1\ngate: {}\ngate: {}\n", "params.yaml: key 'gate' is given twice (lines 2 and 3)"),
        ("seed: 1\nfaces: {smooth_beta: .nan}\n", "faces.smooth_beta: Input should be a finite number (got nan)"),
        ("seed: 1\nfaces: {smooth_min_cutoff: .inf}\n", "faces.smooth_min_cutoff: Input should be a finite number"),
        ("seed: 1\naugment: {policy: {transform: {}}}\n", "params.yaml: augment.policy: "),
    ],
    ids=["duplicate", "nan", "inf", "policy"],
)
def test_facecast_params_exits_2_with_the_error(tmp_path, monkeypatch, text, words):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(text)
    result = CliRunner().invoke(main, ["params"])
    assert result.exit_code == 2 and words in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"kind": "ray"}, "kind ray needs address"),
        ({"kind": "local", "address": "127.0.0.1:6379"}, "address is only read with kind ray"),
        ({"kind": "spark"}, "executor.kind"),
    ],
)
def test_executor_section_is_checked(tmp_path, section, message):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"seed": 1, "executor": section}))
    with pytest.raises(ParamsError, match=message):
        load("executor", path=path)
