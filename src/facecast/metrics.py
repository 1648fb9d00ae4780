"""The metrics files other stages read, as typed contracts: ``metrics/cast.json`` and ``metrics/gates.json``.

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
from typing import Any, TypeVar

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


class CastMetrics(_Contract):
    """What ``manifest`` and ``report`` read of ``metrics/cast.json``."""

    balance_by: str
    categories: list[CategoryShare]


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


CONTRACTS: dict[str, type[_Contract]] = {"cast": CastMetrics, "gates": GateMetrics}
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
