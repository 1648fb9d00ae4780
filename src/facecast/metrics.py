"""The metrics files other stages read, as typed contracts: ``metrics/cast.json``, ``metrics/gates.json``,
``metrics/dataset.json`` and ``metrics/utility.json``.

A stage's metrics are written for people and ``dvc metrics diff``; most keys
are read by nobody else. The few that ``manifest`` and ``report`` print are
declared here, checked when the producing stage writes the file (so a renamed
key fails the stage that renamed it, in the tests) and when a consumer reads
it (so an old or hand-edited file is one clear error naming the file and the
key, never an ``n/a`` in the dataset card). Extra keys are allowed: only what
is declared is a contract.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from facecast.errors import InputError


class _Contract(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Distribution(_Contract):
    """Quantiles of one measure over the faces it was taken on."""

    n: int = Field(ge=0)
    mean: float | None
    median: float | None
    p5: float | None
    p95: float | None


class PassCount(_Contract):
    total: int = Field(ge=0)
    passed: int = Field(ge=0)
    pass_rate: float | None


class CategoryShare(_Contract):
    """One quota category: the target share and what the casting plan achieved."""

    attribute: str
    category: str
    target: float
    achieved: float


class CellShare(_Contract):
    """One joint quota cell (``sex=female, skin_tone=I-III``): its target share."""

    cell: str
    target: float


class Crossed(_Contract):
    tracks: int = Field(ge=0)
    frames: int = Field(ge=0)


class CastFit(_Contract):
    """How casting fitted the people it recast (:func:`facecast.cast.stage._fit_report`)."""

    tracks_by_age_group: dict[str, Crossed]
    tracks_by_sex: dict[str, Crossed]
    no_compatible_identity: Crossed
    # sex, sex_no_choice (of those, no identity of their sex allowed), sex_uncertain (the likelier sex, below
    # attributes.min_sex_confidence), age_group
    across_presentation: dict[str, Crossed]
    cells_impossible_under_match: list[str]


class CastMetrics(_Contract):
    """What ``manifest``, ``card`` and ``report`` read of ``metrics/cast.json``."""

    balance_by: str
    categories: list[CategoryShare]
    cells: list[CellShare] = Field(default_factory=list)  # the joint cells; empty in files written before them
    fit: CastFit
    refused_by_attributes: dict[str, int]  # candidates per identity refused for contradicting their declaration


class GateAudit(_Contract):
    """The independent audit of the frames the gate passed (:mod:`facecast.gate.audit`)."""

    detectors: list[str] = Field(min_length=1)
    frames_scanned: int = Field(ge=0)
    regions: int = Field(ge=0)  # face regions the detectors found in them
    unchanged_regions: int = Field(ge=0)  # of those, left as they were in the original frame: leaks
    frames_with_unchanged: int = Field(ge=0)  # frames holding one: rejected (reason ``audit``)
    # unchanged regions no second look calls a face (MTCNN unsure, dlib's CNN finds none): not leaks, published;
    # gates.parquet's audit_unconfirmed names their frames, the ones to look at by eye
    unconfirmed_regions: int = Field(0, ge=0)
    frames_with_unconfirmed: int = Field(0, ge=0)


class GateMetrics(_Contract):
    """What ``manifest`` and ``report`` read of ``metrics/gates.json``."""

    frames: PassCount
    faces: PassCount
    deid_distance: Distribution
    identity_distance: Distribution
    landmark_error: Distribution
    reid_rank1_rate: float | None
    expression_mean_pcc: float | None
    leaks_in_passed_frames: int = Field(ge=0)
    reject_reasons: dict[str, int]
    audit: GateAudit | None = None  # the stage always writes it; None only in files written before the audit


WHOLE_DATASET = "all"  # metrics/dataset.json's per-split tables: the key of the whole dataset beside the splits


class DatasetMetrics(_Contract):
    """What the dataset card reads of ``metrics/dataset.json`` (stage manifest): its blocks, each as the
    manifest's summary writes it (:mod:`facecast.manifest.summary`)."""

    frames: dict[str, int]
    candidates: dict[str, int]
    images: dict[str, Any]
    rejects: dict[str, Any]
    splits: dict[str, Any]
    labels: dict[str, Any]
    categories: dict[str, Any]
    published_gate: dict[str, Any]
    clips: dict[str, int]
    identities: dict[str, int]
    identity_images: dict[str, int]  # published images each identity appears in
    tracks_uncastable: int = Field(ge=0)
    quota: dict[str, Any] = Field(default_factory=dict)  # target vs published, the gap and its causes


class DatasetQuota(_Contract):
    """What the report reads of ``metrics/dataset.json``: the quotas over what was published."""

    quota: dict[str, Any]


# the training regimes of metrics/utility.json (train -> test), as the card and the report name them
REGIME_NAMES = {
    "real_to_real": "real → real",
    "recast_to_real": "recast → real",
    "recast_to_recast": "recast → recast",
    "real_recast_to_real": "real + recast → real",
}


class Interval(_Contract):
    """A figure and its bootstrap 95 % interval (subjects resampled); all None when it cannot be computed."""

    value: float | None
    ci95_low: float | None
    ci95_high: float | None
    resamples: int = Field(ge=0)  # resamples in which the figure was defined (a ratio is not where its base is 0)


class RegimeScores(_Contract):
    """One training regime scored on held-out subjects (:mod:`facecast.evaluate.scores`)."""

    train_frames: int = Field(ge=0)  # images the folds' models were trained on, summed over folds
    test_frames: int = Field(ge=0)  # held-out images scored (each once)
    macro_f1: Interval  # over the pooled held-out predictions
    macro_f1_folds: Distribution  # per fold (n folds; mean, median, p5, p95) ...
    macro_f1_fold_sd: float | None  # ... and their spread
    accuracy: float | None
    accuracy_fold_mean: float | None
    accuracy_fold_sd: float | None
    per_label_f1: dict[str, float | None]


class Agreement(_Contract):
    """The original-trained classifier on each recast frame and on its original frame: how often they agree."""

    frames: int = Field(ge=0)
    overall: float | None
    per_label: dict[str, float | None]


class RecastScores(_Contract):
    """The recast side of the comparison, for one set of recast frames (the published ones, or all before gate)."""

    recast_frames: int = Field(ge=0)
    utility_ratio: Interval  # F1(recast -> real) / F1(real -> real)
    regimes: dict[str, RegimeScores]  # recast_to_real, recast_to_recast, real_recast_to_real
    agreement: Agreement


class UtilityMetrics(_Contract):
    """What the dataset card and ``report`` read of ``metrics/utility.json`` (stage evaluate)."""

    status: Literal["evaluated", "not_evaluated"]
    reason: str | None  # why not evaluated
    input: str  # face | frame
    classifier: str
    subjects: int = Field(ge=0)
    folds: int = Field(ge=0)
    labels: list[str]  # the classes scored
    labels_left_out: dict[str, str]  # label -> why it is not a class here
    frames: dict[str, int]
    utility_ratio: Interval | None  # the headline, over the published recast frames
    regimes: dict[str, RegimeScores] | None  # the four regimes, recast = published
    agreement: Agreement | None
    before_gate: RecastScores | None  # the same over every recast frame, before gate: a diagnostic


CONTRACTS: dict[str, type[_Contract]] = {
    "cast": CastMetrics,
    "gates": GateMetrics,
    "dataset": DatasetMetrics,
    "utility": UtilityMetrics,
}
M = TypeVar("M", bound=_Contract)


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in exc.errors())


def check(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` unchanged when it holds what metrics file ``name`` promises; ValueError naming the keys otherwise
    (a programming error in the stage that wrote it)."""
    try:
        CONTRACTS[name].model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"metrics/{name}.json does not hold what it promises: {_problems(exc)}") from exc
    return data


def read(kind: type[M], path: Path, stage: str) -> M:
    """The metrics file ``path`` written by ``stage``, validated; InputError naming the file and key otherwise."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: metrics file not found (run stage {stage})")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON: {exc}") from exc
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{path}: {_problems(exc)} (run stage {stage} again)") from exc
