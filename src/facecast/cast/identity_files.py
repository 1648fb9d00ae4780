"""One synthetic identity on disk (face.png, mask.png, landmarks.json) and as an ``identities`` table row."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from facecast.cast.atlas import Entry
from facecast.cast.synthesis import Identity
from facecast.models.age_groups import AgeGroups
from facecast.models.attributes import FaceAudit


def _png(path: Path, image: np.ndarray) -> None:
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), image):
        raise OSError(f"{path}: could not be written")


def write_identity(folder: Path, identity_id: str, identity: Identity) -> str:
    """Write ``<folder>/<identity_id>/`` and return face.png's path relative to ``folder``."""
    own = folder / identity_id
    own.mkdir(parents=True)
    _png(own / "face.png", identity.face)
    _png(own / "mask.png", identity.mask)
    size = identity.face.shape[0]
    points = [[round(float(x), 4), round(float(y), 4)] for x, y in identity.landmarks]
    (own / "landmarks.json").write_text(json.dumps({"identity_id": identity_id, "size_px": size, "landmarks": points}))
    return f"{identity_id}/face.png"


def write_atlas(folder: Path, identity_id: str, entries: Sequence[Entry]) -> dict:
    """Write ``<folder>/<identity_id>/atlas/<key>.png`` for every kept entry and ``atlas.json`` describing every
    entry (kept or dropped, with its sources and nearest donor); returns the atlas' summary for metrics."""
    own = folder / identity_id
    kept = [e for e in entries if e.status == "ok"]
    if kept:
        (own / "atlas").mkdir()
    described = []
    for e in entries:
        row: dict[str, object] = {
            "key": e.key,
            "method": e.method,
            "status": e.status,
            "reason": e.reason,
            "sources": e.sources,
            "nearest_donor": e.nearest_donor,
            "nearest_donor_distance": round(e.nearest_donor_distance, 4),
        }
        if e.status == "ok":
            _png(own / "atlas" / f"{e.key}.png", e.face)
            row["image"] = f"atlas/{e.key}.png"
            row["landmarks"] = [[round(float(x), 4), round(float(y), 4)] for x, y in e.landmarks]
        described.append(row)
    (own / "atlas.json").write_text(json.dumps({"identity_id": identity_id, "entries": described}, indent=1))
    return {"kept": [e.key for e in kept], "dropped": {e.key: e.reason for e in entries if e.status != "ok"}}


def declared_categories(
    slot: Mapping[str, str],
    donor_ids: Sequence[str],
    weights: Sequence[float],
    donor_categories: Mapping[str, Mapping[str, str]],
) -> dict[str, str]:
    """The identity's declared category per attribute.

    Quota attributes: its slot's cell (all its donors share it). Binned
    attributes outside the quotas: the category carrying the largest summed
    donor weight (ties: the first in sorted order), since donors of one cell
    may differ there.
    """
    out = dict(slot)
    attributes = {a for d in donor_ids for a in donor_categories[d]} - set(out)
    for attribute in sorted(attributes):
        mass: dict[str, float] = {}
        for donor, weight in zip(donor_ids, weights):
            category = donor_categories[donor].get(attribute)
            if category is not None:
                mass[category] = mass.get(category, 0.0) + float(weight)
        if mass:
            out[attribute] = max(sorted(mass), key=lambda c: mass[c])
    return out


def _nan_to_none(value: float | None) -> float | None:
    return None if value is None or np.isnan(value) else float(value)


def identity_row(
    identity_id: str,
    method: str,
    declared: Mapping[str, str],
    identity: Identity,
    audit: FaceAudit | None,
    face_path: str | None,
    status: str,
    reason: str | None,
    groups: AgeGroups | None = None,
) -> dict:
    """The ``identities`` row of an identity (``identity`` is the best candidate when it failed); ``groups``
    reads its measured age group."""
    group = None
    if audit is not None and audit.apparent is not None and groups is not None:
        group = groups.decide(audit.apparent.age_probabilities)
    return {
        "identity_id": identity_id,
        "method": method,
        "donor_ids": list(identity.donor_ids),
        "donor_weights": [float(w) for w in identity.weights],
        "declared": dict(declared),
        "measured_age": None if audit is None or audit.age_years is None else float(audit.age_years),
        "measured_sex": None if audit is None else audit.sex,
        "measured_sex_confidence": None
        if audit is None or audit.sex_confidence is None
        else float(audit.sex_confidence),
        "measured_age_group": None if group is None else group[0],
        "measured_age_group_probability": None if group is None else float(group[1]),
        "ita_deg": None if audit is None else _nan_to_none(audit.ita_deg),
        "ita_category": None if audit is None else audit.ita_category,
        "fitzpatrick_approx": None if audit is None else audit.fitzpatrick_approx,
        "nearest_donor_id": identity.nearest_donor,
        "nearest_donor_distance": identity.nearest_donor_distance,
        "nearest_identity_id": identity.nearest_identity,
        "nearest_identity_distance": identity.nearest_identity_distance,
        "attempts": len(identity.attempts),
        "embedding": [float(v) for v in identity.embedding],
        "landmarks": [float(v) for v in np.asarray(identity.landmarks, np.float64).ravel()],
        "recipe": json.dumps(identity.recipe.describe(), sort_keys=True),
        "face_path": face_path,
        "status": status,
        "reason": reason,
    }
