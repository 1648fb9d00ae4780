"""A track's apparent attributes: the attribute instrument's answers over its faces, and what they are taken for.

The tracker measures every face it embeds (:mod:`facecast.faces.tracker`).
:func:`track_attributes` averages those answers over the track: the age
probabilities and the probability of male are means, so a track seen in many
frames is judged on all of them rather than on its likeliest single frame;
skin tone (ITA) is the median. :func:`decide` then reads the age group
(:class:`facecast.models.age_groups.AgeGroups`) and the sex from them, each
with its probability: the confidence casting uses.

:func:`declare` sets beside them what ``subjects.csv`` declares of the
clip's subject (``age``, ``sex``; :mod:`facecast.ingest.subjects`), on the
clip's *subject track*: the one with the most faces with landmarks, then the
largest (the person the clip is about). A declared child or teenager (a
protected group) is declared on every track of the clip as well: a tracker
may split one person into several tracks, and a stills folder makes every
photograph its own track, so a child is kept from an adult's face on all of
them, at the cost of treating an adult beside them as a minor too. Other
declarations stay on the subject track; the clip's other faces keep only
their measurement.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from facecast.faces.track import TrackedFace
from facecast.models.age_groups import from_params
from facecast.models.attributes import AGE_YEARS
from facecast.params import AttributesParams

EMPTY = {
    "attribute_faces": 0,
    "age_probabilities": None,
    "apparent_age": None,
    "male_probability": None,
    "ita_deg": None,
}


def track_attributes(faces: Sequence[TrackedFace]) -> dict:
    """attribute_faces, age_probabilities (81), apparent_age, male_probability and ita_deg of a track (nulls
    when none of its faces was measured)."""
    measured = [f.apparent for f in faces if f.apparent is not None]
    if not measured:
        return dict(EMPTY)
    ages = np.mean([m.age_probabilities for m in measured], axis=0)
    male = float(np.mean([m.male_probability for m in measured]))
    ita = [f.ita_deg for f in faces if f.ita_deg is not None and np.isfinite(f.ita_deg)]
    return {
        "attribute_faces": len(measured),
        "age_probabilities": ages.astype(np.float32).tolist(),
        "apparent_age": float(ages @ AGE_YEARS),
        "male_probability": male,
        "ita_deg": float(np.median(ita)) if ita else None,
    }


def decide(row: dict, params: AttributesParams) -> dict:
    """The row with age_group, age_group_probability, sex and sex_confidence (null when nothing was measured)."""
    if row.get("age_probabilities") is None:
        return {**row, "age_group": None, "age_group_probability": None, "sex": None, "sex_confidence": None}
    group, probability = from_params(params).decide(np.asarray(row["age_probabilities"], float))
    male = float(row["male_probability"])
    return {
        **row,
        "age_group": group,
        "age_group_probability": probability,
        "sex": "male" if male > 0.5 else "female",
        "sex_confidence": max(male, 1.0 - male),
    }


def declare(rows: list[dict], clips: pd.DataFrame, params: AttributesParams) -> list[dict]:
    """The rows with declared_age, declared_age_group and declared_sex (null but on each clip's subject track)."""
    groups = from_params(params)
    declared = {
        r.clip_id: (r.subject_age, r.subject_sex)
        for r in clips.itertuples(index=False)
        if isinstance(r.subject_age, str) or isinstance(r.subject_sex, str)
    }
    subject_track: dict[str, tuple[int, float, int]] = {}
    for r in rows:
        if r["clip_id"] in declared and r["n_landmarks"] > 0:
            key = (r["n_landmarks"], r["median_face_px"] or 0.0, -r["track_id"])
            if r["clip_id"] not in subject_track or key > subject_track[r["clip_id"]]:
                subject_track[r["clip_id"]] = key
    out = []
    for r in rows:
        age, sex = declared.get(r["clip_id"], (None, None))
        group = groups.of_declared(age) if isinstance(age, str) else None
        mine = subject_track.get(r["clip_id"])
        if mine is None or -mine[2] != r["track_id"]:  # not the subject's track: only a protected group holds
            age, sex = None, None
            group = group if group in groups.protect else None
        out.append(
            {
                **r,
                "declared_age": age if isinstance(age, str) else None,
                "declared_age_group": group,
                "declared_sex": sex if isinstance(sex, str) else None,
            }
        )
    return out
