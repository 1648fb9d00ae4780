"""Casting that fits the person: which identities may play a track, and which of them fits it best.

Every original track carries what the attribute instrument measured on it
(``tracks.parquet``: age group and sex, each with its probability, apparent
age, skin tone as ITA; :mod:`facecast.faces.apparent`). Every identity
carries what its donors declare (sex, and the age group of their declared
ages) and, with ``cast.check_attributes``, was made so that its own measured
sex and age group agree with that.

* **Hard rules** (``cast.match``): an identity may play a track only when it
  shares the track's category of each listed attribute. A track's age group
  is always known when it was measured (the protected groups, children and
  teenagers, take precedence: :mod:`facecast.models.age_groups`); its sex
  counts only from ``attributes.min_sex_confidence``, below which the track
  is compatible with either. Where ``subjects.csv`` declares the subject's
  age or sex, the declaration goes first (:func:`combined_group`: a
  measured child or teenager younger than declared still counts as one). A track nothing was measured on (no face with
  landmarks) is compatible with every identity: it is obscured anyway, since
  a face without landmarks cannot be swapped.
* **Age gap** (``cast.max_age_gap_years``): an identity may play a track
  only when their apparent ages (the track's, the identity's measured one)
  are that close; the age groups are wide (18 to 60 is one), and a face 30
  years younger than the head, hair and hands around it is not believable.
* **Preference** (``cast.prefer_same``): among the identities the quotas
  leave to choose from, the one with the smallest *presentation distance*:
  ``SEX_COST`` times the probability that the track is the other sex than
  the identity (measured, or 1 and 0 where declared), plus the difference in
  apparent age over ``AGE_SCALE_YEARS``, plus the difference in skin tone
  over ``ITA_SCALE_DEG``, each of these two at most ``SOFT_MAX``. Sex comes
  first: for a track whose sex counts, a cross-sex cast costs more than any
  difference of age and skin tone between two identities can make up, and
  when the quotas need some tracks to cross, the least certain cross first (ITA on real footage moves with the light, by tens of
  degrees, so it must not outweigh a measured sex).
* :func:`contradiction`: why a candidate identity's measured attributes
  contradict its declared ones (sex measured the other way; age group
  measured other than the donors' ages give, where either is a protected
  group or they are not neighbours), or None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from facecast.cast.quotas import largest_remainder
from facecast.errors import InputError
from facecast.models.age_groups import AgeGroups, from_params
from facecast.models.attributes import Apparent
from facecast.params import AttributesParams

SOFT_MAX = 2.0  # the most the age term, and the skin tone term, can add
# times the probability that the track is the other sex: a measured sex that counts (probability 0.8 or more) makes
# a cross-sex cast dearer by 0.6 * SEX_COST, above any difference the two soft terms make between two identities
SEX_COST = 15.0
AGE_SCALE_YEARS = 20.0
ITA_SCALE_DEG = 30.0  # about two ITA categories (light 41-55, intermediate 28-41)
SEXES = ("female", "male")
AGE_COLUMNS = ("age_range", "age")  # donors.csv columns a declared age is read from, in this order


def declared_sex(value: object) -> str | None:
    """female or male from a declared value (any case), else None."""
    text = str(value).strip().lower() if value is not None and not pd.isna(value) else ""
    return text if text in SEXES else None


def donor_age_groups(donors: pd.DataFrame, groups: AgeGroups) -> dict[str, str | None]:
    """Each donor's age group from its declared age (donors.csv ``age_range`` or ``age``), None without one."""
    column = next((c for c in AGE_COLUMNS if c in donors.columns), None)
    ids = donors["donor_id"].astype(str)
    if column is None:
        return dict.fromkeys(ids)
    return {d: groups.of_declared(v) for d, v in zip(ids, donors[column])}


def contradiction(measured: Apparent | None, sex: str | None, group: str | None, groups: AgeGroups) -> str | None:
    """Why an identity measured ``measured`` cannot be declared ``sex`` and age group ``group``; None if it can."""
    if measured is None:
        return "the attribute instrument could not measure the face"
    reasons = []
    if sex is not None and measured.sex != sex:
        reasons.append(f"measured {measured.sex} ({measured.sex_confidence:.0%}), declared {sex}")
    if group is not None:
        found, probability = groups.decide(measured.age_probabilities)
        if found != group and _contradicts(found, group, groups):
            reasons.append(
                f"measured age group {found} ({probability:.0%}; apparent age {measured.age_years:.0f}), "
                f"declared {group}"
            )
    return "; ".join(reasons) or None


def _contradicts(measured: str, declared: str, groups: AgeGroups) -> bool:
    """Whether a measured age group contradicts a declared one: always where either is protected (a child's face
    on an adult's identity, or the reverse), otherwise only beyond the neighbouring group (the instrument pulls
    ages towards 20-40, so an older person's face is often measured an adult)."""
    if measured in groups.protect or declared in groups.protect:
        return True
    return abs(groups.names.index(measured) - groups.names.index(declared)) > 1


@dataclass(frozen=True)
class Presentation:
    """What a track or an identity looks like, as casting compares them; None where unknown.

    ``sex`` is the sex that counts for the hard rule and the report: declared, or measured from
    ``attributes.min_sex_confidence``; ``male`` the probability of male the preference weighs (1 or 0 where the
    sex is declared)."""

    sex: str | None
    age_group: str | None
    age: float | None
    ita: float | None
    male: float | None = None

    @property
    def male_probability(self) -> float | None:
        if self.male is not None:
            return self.male
        return None if self.sex is None else float(self.sex == "male")


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _text(row: Any, column: str) -> str | None:
    value = getattr(row, column, None)
    return value if isinstance(value, str) else None


def combined_group(measured: str | None, declared: str | None, groups: AgeGroups) -> str | None:
    """The age group casting goes by: the declared one, unless the measured one is a protected group younger
    than it (a subject declared an adult who looks like a child is treated as a child)."""
    if declared is None or measured is None:
        return declared or measured
    younger = groups.names.index(measured) < groups.names.index(declared)
    return measured if measured in groups.protect and younger else declared


def track_presentations(tracks: pd.DataFrame, params: AttributesParams) -> list[Presentation]:
    """Each track's presentation: the age group by :func:`combined_group`; the declared sex, else the measured
    one where ``sex_confidence`` reaches ``attributes.min_sex_confidence``."""
    groups = from_params(params)
    for column in ("age_group", "declared_age_group"):
        stray = sorted({g for g in tracks.get(column, pd.Series(dtype=object)).dropna()} - set(groups.names))
        if stray:
            raise InputError(
                f"tracks.parquet has {column} {', '.join(stray)}, not in attributes.age_groups "
                f"({', '.join(groups.names)}): they changed since faces ran; run faces again"
            )
    out = []
    for r in tracks.itertuples(index=False):
        confidence = _number(getattr(r, "sex_confidence", None))
        sure = confidence is not None and confidence >= params.min_sex_confidence
        declared = _text(r, "declared_sex")
        out.append(
            Presentation(
                sex=declared or (_text(r, "sex") if sure else None),
                age_group=combined_group(_text(r, "age_group"), _text(r, "declared_age_group"), groups),
                age=_number(getattr(r, "apparent_age", None)),
                ita=_number(getattr(r, "ita_deg", None)),
                male=float(declared == "male") if declared else _number(getattr(r, "male_probability", None)),
            )
        )
    return out


def compatible(
    tracks: Sequence[Presentation],
    identities: Sequence[Presentation],
    match: Sequence[str],
    max_age_gap: float | None = None,
) -> np.ndarray:
    """ok[t, j]: identity j may play track t under the hard rules ``match`` and, where both apparent ages are
    known, within ``max_age_gap`` years of age (unknowns are compatible)."""
    ok = np.ones((len(tracks), len(identities)), dtype=bool)
    if max_age_gap is not None:
        years = np.array([np.nan if i.age is None else i.age for i in identities], float)
        for t, track in enumerate(tracks):
            if track.age is not None:
                ok[t] &= ~(np.abs(years - track.age) > max_age_gap)
    for attribute in match:
        mine = [getattr(t, attribute) for t in tracks]
        theirs = [getattr(i, attribute) for i in identities]
        for t, value in enumerate(mine):
            if value is None:
                continue
            ok[t] &= np.array([other is None or other == value for other in theirs], dtype=bool)
    return ok


def distance(track: Presentation, identity: Presentation, prefer: Sequence[str]) -> float:
    """The presentation distance (module docstring); an attribute unknown on either side adds nothing."""
    cost = 0.0
    male = track.male_probability
    if "sex" in prefer and male is not None and identity.sex is not None:
        cost += SEX_COST * (1.0 - male if identity.sex == "male" else male)
    if "age" in prefer and track.age is not None and identity.age is not None:
        cost += min(abs(track.age - identity.age) / AGE_SCALE_YEARS, SOFT_MAX)
    if "skin_tone" in prefer and track.ita is not None and identity.ita is not None:
        cost += min(abs(track.ita - identity.ita) / ITA_SCALE_DEG, SOFT_MAX)
    return cost


def distances(tracks: Sequence[Presentation], identities: Sequence[Presentation], prefer: Sequence[str]) -> np.ndarray:
    """cost[t, j]: :func:`distance` of every track to every identity."""
    cost = np.zeros((len(tracks), len(identities)))
    for t, track in enumerate(tracks):
        for j, identity in enumerate(identities):
            cost[t, j] = distance(track, identity, prefer)
    return cost


def incompatible_reason(
    track: Presentation, identities: Sequence[Presentation], match: Sequence[str], max_age_gap: float | None = None
) -> str:
    """Why no identity may play a track: each rule that turns identities away, with the track's value and the
    identities' (unknown where one has none)."""
    parts = []
    for attribute in match:
        value = getattr(track, attribute)
        theirs = [getattr(i, attribute) for i in identities]
        if value is None or all(other is None or other == value for other in theirs):
            continue
        have = sorted({"unknown" if other is None else str(other) for other in theirs})
        parts.append(f"{attribute} {value} (the identities are {', '.join(have)}; cast.match)")
    ages = [i.age for i in identities if i.age is not None]
    if max_age_gap is not None and track.age is not None and any(abs(a - track.age) > max_age_gap for a in ages):
        parts.append(
            f"apparent age {track.age:.0f} (the identities are {min(ages):.0f} to {max(ages):.0f}; "
            f"cast.max_age_gap_years {max_age_gap:g})"
        )
    return "no identity compatible with the track's " + ("; ".join(parts) or "attributes")


def across(track: Presentation, identity: Presentation) -> dict[str, bool]:
    """Which presentations a cast crosses: the sex that counts (declared, or measured from min_sex_confidence),
    the likelier sex of a track measured below it, and the age group."""
    male = track.male_probability
    likelier = None if male is None or male == 0.5 else ("male" if male > 0.5 else "female")
    return {
        "sex": track.sex is not None and identity.sex is not None and track.sex != identity.sex,
        "sex_uncertain": track.sex is None
        and likelier is not None
        and identity.sex is not None
        and likelier != identity.sex,
        "age_group": track.age_group is not None
        and identity.age_group is not None
        and track.age_group != identity.age_group,
    }


def split_slots(
    cells: Sequence[tuple],
    group_donors: Mapping[tuple, Mapping[str, int]],
    cell_donors: Mapping[tuple, int],
    demand: Mapping[str, float],
    k: int,
    order: Sequence[str],
) -> list[str | None]:
    """An age group for each identity slot (in order; ``cells``: each slot's quota cell).

    ``group_donors[cell][group]``: usable donors of the cell in the group, ``cell_donors[cell]`` all its usable
    donors (with a declared age or not); a group can hold an identity of the cell when it has ``k`` of them (or
    the cell has fewer than ``k`` donors in all, and the group has them all). ``demand[group]``: output frames of
    tracks in the group. A cell's slots go to its possible groups (in ``order``, youngest first) in proportion to
    demand (largest remainder, every group with demand one first while slots last); without any demand, in
    proportion to donors. None for a cell with no possible group: its identities are made of all its donors and
    are known by the age group measured on them.
    """
    out: list[str | None] = [None] * len(cells)
    for cell in dict.fromkeys(cells):
        slots = [n for n, c in enumerate(cells) if c == cell]
        counts = dict(group_donors.get(cell, {}))
        need = min(k, int(cell_donors.get(cell, 0)))
        possible = sorted((g for g, n in counts.items() if n >= need and n > 0), key=lambda g: list(order).index(g))
        if not possible:
            continue
        weights = np.array([float(demand.get(g, 0.0)) for g in possible])
        if weights.sum() <= 0:
            weights = np.array([float(counts[g]) for g in possible])
        seats = largest_remainder(weights, len(slots), at_least_one=True)
        names = [g for g, n in zip(possible, seats) for _ in range(int(n))]
        for slot, group in zip(slots, names):
            out[slot] = group
    return out
