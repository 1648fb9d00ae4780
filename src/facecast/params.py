"""Typed, validated parameters: one model per section of ``params.yaml``.

Every stage calls :func:`load` with the name of its own section. The file's
top-level keys are checked against the known sections, then the stage's
section (and the shared ``seed``) is validated. Unknown keys, wrong types and
impossible values raise :class:`ParamsError` before the stage does any work,
with a message naming the key and what it expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class ParamsError(ValueError):
    """params.yaml is missing, malformed or holds a value the stage cannot use."""


class Section(BaseModel):
    """Base of every section: unknown keys and silent type coercion are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SampleParams(Section):
    """The embedded default built from the ``openpeople`` package."""

    people: int = Field(10, ge=1, le=10, description="how many openpeople subjects, in id order")
    expressions: int = Field(16, ge=1, le=16, description="how many of the 16 sheet expressions, in sheet order")
    hold_frames: int = Field(10, ge=1, le=250, description="frames each expression is held")
    morph_frames: int = Field(8, ge=1, le=250, description="frames of landmark-guided morph between expressions")
    fps: float = Field(25.0, gt=0, le=240)
    frame_width: int = Field(480, ge=64, le=4096)
    frame_height: int = Field(360, ge=64, le=4096)


class InputParams(Section):
    """Where the footage and the donor gallery are."""

    root: str = Field("data/sample", min_length=1, description="folder with clips/, labels.csv, subjects.csv")
    donors: str = Field("data/sample/donors", min_length=1, description="folder with one sub-folder per donor and donors.csv")


class IngestParams(Section):
    """How strictly label problems are treated (see README: 'What stops ingest')."""

    strict_labels: bool = Field(
        False,
        description="true: any label row problem (unknown clip, overlap, out of range) stops the stage; "
        "false: the row is recorded in ingest_issues.parquet and the stage goes on",
    )
    image_fps: float = Field(
        25.0,
        gt=0,
        le=1000,
        description="frame rate given to clips that are folders of images (they carry none), and to videos "
        "whose container reports none (recorded as a 'no_fps' issue); frame timestamps are frame_idx / fps",
    )


class FacesParams(Section):
    """Detection, landmarks, tracking and embedding of every face."""

    detector: Literal["mtcnn"] = "mtcnn"
    min_face_size: int = Field(20, ge=8, le=1024, description="smallest face MTCNN looks for, in pixels")
    thresholds: tuple[float, float, float] = Field(
        (0.6, 0.7, 0.7), strict=False, description="MTCNN P-, R-, O-net thresholds, each in (0, 1)"
    )
    min_det_score: float = Field(0.9, ge=0.0, le=1.0, description="detections below this score are discarded")
    detect_every: int = Field(5, ge=1, le=100, description="run the detector on every n-th frame, track in between")
    embed_every: int = Field(5, ge=1, le=100, description="compute the 128-D embedding on every n-th frame of a track")
    min_landmark_size: int = Field(40, ge=8, le=1024, description="faces smaller than this (box height, px) get no landmarks")
    track_iou: float = Field(0.3, gt=0.0, lt=1.0, description="IoU that links a detection to a track")
    max_gap: int = Field(10, ge=0, le=1000, description="longest gap (frames) filled by interpolation")
    smooth_min_cutoff: float = Field(1.0, gt=0.0, description="One-Euro filter cutoff (Hz) for landmark smoothing")
    smooth_beta: float = Field(0.05, ge=0.0, description="One-Euro filter speed coefficient: higher follows fast motion sooner")
    workers: int = Field(2, ge=1, le=64, description="clips processed in parallel")

    @field_validator("thresholds", mode="before")
    @classmethod
    def _three_numbers(cls, value: Any) -> Any:
        # YAML gives a list; accept it, but only of three real numbers (no strings, no booleans).
        if not isinstance(value, (list, tuple)) or len(value) != 3:
            raise ValueError("expected a list of three numbers")
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value):
            raise ValueError("expected a list of three numbers")
        if any(not 0.0 < v < 1.0 for v in value):
            raise ValueError("each threshold must be in (0, 1)")
        return tuple(float(v) for v in value)


SECTIONS: dict[str, type[Section]] = {
    "sample": SampleParams,
    "input": InputParams,
    "ingest": IngestParams,
    "faces": FacesParams,
}
SHARED = ("seed",)


class Params:
    """What one stage sees: ``seed`` and the sections it asked for, as attributes."""

    def __init__(self, seed: int, sections: dict[str, Section]):
        self.seed = seed
        self._sections = dict(sections)

    def __getattr__(self, name: str) -> Section:
        try:
            return self.__dict__["_sections"][name]
        except KeyError:
            raise AttributeError(f"section '{name}' was not loaded by this stage") from None


def _describe(err: dict[str, Any], section: str) -> str:
    key = ".".join([section, *[str(p) for p in err["loc"]]]) if err["loc"] else section
    got = err.get("input")
    if err["type"] == "extra_forbidden":
        allowed = ", ".join(SECTIONS[section].model_fields)
        return f"{key}: unknown key (allowed in '{section}': {allowed})"
    if err["type"] == "missing":
        return f"{key}: required key is missing"
    return f"{key}: {err['msg']} (got {got!r})"


def read_yaml(path: str | Path = "params.yaml") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping of sections at the top level")
    unknown = sorted(set(data) - set(SECTIONS) - set(SHARED))
    if unknown:
        raise ParamsError(
            f"{path}: unknown top-level key(s) {', '.join(unknown)} "
            f"(known: {', '.join([*SHARED, *SECTIONS])})"
        )
    return data


def validate_section(name: str, raw: Any, path: str | Path = "params.yaml") -> Section:
    if name not in SECTIONS:
        raise ParamsError(f"no parameter section named '{name}'")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: {name}: expected a mapping, got {type(raw).__name__}")
    try:
        return SECTIONS[name].model_validate(raw)
    except ValidationError as exc:
        lines = [_describe(e, name) for e in exc.errors()]
        raise ParamsError(f"{path}: invalid parameters:\n  " + "\n  ".join(lines)) from None


def validate_seed(raw: Any, path: str | Path = "params.yaml") -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise ParamsError(f"{path}: seed: expected a non-negative integer (got {raw!r})")
    return raw


def load(*sections: str, path: str | Path = "params.yaml") -> Params:
    """Validate and return the named sections (a stage's own, plus shared ones such as ``input``) and ``seed``."""
    data = read_yaml(path)
    if "seed" not in data:
        raise ParamsError(f"{path}: seed: required key is missing")
    return Params(
        validate_seed(data["seed"], path),
        {name: validate_section(name, data.get(name), path) for name in sections},
    )


def load_all(path: str | Path = "params.yaml") -> dict[str, Any]:
    """Validate every section present (``facecast params``)."""
    data = read_yaml(path)
    out: dict[str, Any] = {"seed": validate_seed(data.get("seed"), path)}
    for name in SECTIONS:
        out[name] = validate_section(name, data.get(name), path)
    return out
