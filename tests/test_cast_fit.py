"""Casting that fits the person: age groups read from the instrument's probabilities, hard rules, preference,
identity checks, and how the casting plan uses them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facecast.cast import fit
from facecast.cast import quotas as q
from facecast.models.age_groups import AgeGroups
from facecast.models.attributes import AGE_YEARS, Apparent
from facecast.params import AttributesParams, CastParams, ParamsError, validate_section

GROUPS = AgeGroups({"child": 0.0, "teen": 13.0, "adult": 18.0, "older": 60.0}, ("child", "teen"), 0.1)


def ages(**mass: float) -> np.ndarray:
    """Age probabilities with the given mass spread evenly over each named group."""
    p = np.zeros(len(AGE_YEARS))
    for group, share in mass.items():
        inside = np.array([GROUPS.of_age(a) == group for a in AGE_YEARS])
        p[inside] = share / inside.sum()
    return p


def test_groups_hold_the_ages_of_their_bounds():
    assert [GROUPS.of_age(a) for a in (0.25, 12.9, 13, 17.9, 18, 59, 60, 80)] == [
        "child",
        "child",
        "teen",
        "teen",
        "adult",
        "adult",
        "older",
        "older",
    ]
    assert GROUPS.probabilities(ages(adult=0.7, older=0.3)) == pytest.approx(
        {"child": 0, "teen": 0, "adult": 0.7, "older": 0.3}
    )


def test_a_protected_group_wins_from_its_threshold():
    assert GROUPS.decide(ages(adult=0.95, child=0.05)) == ("adult", pytest.approx(0.95))
    assert GROUPS.decide(ages(adult=0.85, child=0.15)) == ("child", pytest.approx(0.15))
    # 7 % child and 7 % teenager: together they reach 0.1, so a teenager
    assert GROUPS.decide(ages(adult=0.86, child=0.07, teen=0.07)) == ("teen", pytest.approx(0.14))
    assert GROUPS.decide(ages(adult=0.4, older=0.6)) == ("older", pytest.approx(0.6))


def test_declared_ages_count_as_their_youngest():
    assert [GROUPS.of_declared(v) for v in ("18-25", "55-65", "65+", "10-19", "3-9", 7, "unknown", None)] == [
        "adult",
        "adult",
        "older",
        "child",
        "child",
        "child",
        None,
        None,
    ]


def test_attributes_params_refuse_groups_without_a_start_at_zero_and_unknown_protected():
    with pytest.raises(ParamsError, match="youngest group must start at 0"):
        validate_section("attributes", {"age_groups": {"adult": 18, "older": 60}})
    with pytest.raises(ParamsError, match="toddler not in attributes.age_groups"):
        validate_section("attributes", {"protect": ["toddler"]})
    shuffled = validate_section("attributes", {"age_groups": {"older": 60, "child": 0, "adult": 18}})
    assert isinstance(shuffled, AttributesParams) and list(shuffled.age_groups) == ["child", "adult", "older"]
    with pytest.raises(ParamsError, match="cast.match"):
        validate_section("cast", {"match": ["hair"]})


def test_contradiction_names_what_was_measured():
    woman = Apparent(ages(adult=1.0), 0.05)
    assert fit.contradiction(woman, "female", "adult", GROUPS) is None
    assert "measured female (95%), declared male" in fit.contradiction(woman, "male", "adult", GROUPS)
    young = Apparent(ages(adult=0.8, teen=0.2), 0.05)
    assert "measured age group teen (20%" in fit.contradiction(young, "female", "adult", GROUPS)
    assert fit.contradiction(None, "female", "adult", GROUPS) is not None
    # an older identity measured an adult is let be (the instrument pulls ages down); a teenager's face is not
    older = Apparent(ages(adult=0.7, older=0.3), 0.05)
    assert fit.contradiction(older, "female", "older", GROUPS) is None
    assert fit.contradiction(Apparent(ages(child=1.0), 0.05), "female", "adult", GROUPS) is not None


def track_table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["age_group", "sex", "sex_confidence", "apparent_age", "ita_deg"])


def test_compatibility_is_the_measured_group_and_a_confident_sex():
    tracks = fit.track_presentations(
        track_table(
            [
                {"age_group": "child", "sex": "female", "sex_confidence": 0.95, "apparent_age": 6, "ita_deg": 30},
                {"age_group": "adult", "sex": "male", "sex_confidence": 0.6, "apparent_age": 30, "ita_deg": 20},
                {"age_group": None, "sex": None, "sex_confidence": None, "apparent_age": None, "ita_deg": None},
            ]
        ),
        AttributesParams(min_sex_confidence=0.8),
    )
    assert tracks[1].sex is None  # 0.6 is below min_sex_confidence: either sex
    adults = [fit.Presentation("female", "adult", 30, 30), fit.Presentation("male", "adult", 40, 20)]
    ok = fit.compatible(tracks, adults, ["age_group", "sex"])
    assert ok.tolist() == [[False, False], [True, True], [True, True]]
    assert "age_group child (the identities are adult; cast.match)" in fit.incompatible_reason(
        tracks[0], adults, ["age_group"]
    )


def test_presentation_distance_puts_sex_before_age_and_skin():
    woman = fit.Presentation("female", "adult", 30.0, 40.0)
    far_woman = fit.Presentation("female", "adult", 70.0, -50.0)  # 40 years and 90 degrees away
    man = fit.Presentation("male", "adult", 30.0, 40.0)
    prefer = ["sex", "age", "skin_tone"]
    assert fit.distance(woman, far_woman, prefer) < fit.distance(woman, man, prefer)
    assert fit.distance(woman, fit.Presentation("female", "adult", 50.0, 40.0), prefer) == pytest.approx(1.0)
    assert fit.distance(woman, man, ["age"]) == 0.0
    assert fit.across(woman, man) == {"sex": True, "sex_uncertain": False, "age_group": False}
    # a track measured 55 % male: its sex does not count, the preference barely leans, the report says so
    unsure = fit.Presentation(None, "adult", 30.0, 40.0, male=0.55)
    assert fit.distance(unsure, woman, ["sex"]) - fit.distance(unsure, man, ["sex"]) == pytest.approx(
        0.1 * fit.SEX_COST
    )
    assert fit.across(unsure, woman) == {"sex": False, "sex_uncertain": True, "age_group": False}


def test_slots_go_to_the_age_groups_the_tracks_need():
    cells = [("female",)] * 4 + [("male",)] * 2
    donors = {("female",): {"adult": 5, "child": 3}, ("male",): {"adult": 2, "child": 3}}
    sizes = {("female",): 8, ("male",): 5}
    order = GROUPS.names
    groups = fit.split_slots(cells, donors, sizes, {"adult": 300.0, "child": 100.0}, 3, order)
    assert groups[:4].count("adult") == 3 and groups[:4].count("child") == 1
    # the male adults are 2 donors, fewer than k = 3: only the children can make a male identity
    assert groups[4:] == ["child", "child"]
    assert fit.split_slots([("x",)], {("x",): {"adult": 1}}, {("x",): 1}, {}, 3, order) == ["adult"]  # one donor
    # 2 declared children and 2 declared adults among 10 donors: no group has 3, so no group (all 10 donors make
    # the identity, which is known by the age group measured on it)
    assert fit.split_slots([("x",)], {("x",): {"adult": 2, "child": 2}}, {("x",): 10}, {}, 3, order) == [None]


def two_cell_setup():
    params = CastParams(identities=4, donors_per_identity=1, quotas={"sex": {"female": 0.5, "male": 0.5}})
    donors = pd.DataFrame({"donor_id": ["a", "b", "c", "d"], "sex": ["female", "female", "male", "male"]})
    g = q.gallery(donors, params)
    t = q.joint_targets(g, params)
    slots = q.identity_slots(t, params)
    slots["donors"] = [["a"], ["b"], ["c"], ["d"]]
    return t, slots


def test_the_plan_casts_each_track_on_its_own_sex_when_the_quota_allows_and_never_on_an_incompatible():
    t, slots = two_cell_setup()
    n = 8
    tracks = pd.DataFrame({"clip_id": [f"c{i}" for i in range(n)], "track_id": 0, "n_frames": 10, "subject_id": None})
    sexes = ["female"] * 4 + ["male"] * 4
    looks = [fit.Presentation(s, "adult", 30.0, 30.0) for s in sexes]
    ids = [fit.Presentation(s, "adult", 30.0, 30.0) for s in ("female", "female", "male", "male")]
    ok = fit.compatible(looks, ids, ["age_group"])
    casting = q.cast_tracks(
        tracks,
        slots,
        t,
        variants=1,
        balance_by="frames",
        seed=1,
        compatible=ok,
        cost=fit.distances(looks, ids, ["sex"]),
    )
    played = casting.merge(slots, on="identity_id")
    assert (played.sort_values("clip_id")["sex"].tolist()) == sexes
    assert casting.groupby("identity_id")["frames"].sum().tolist() == [20, 20, 20, 20]
    # 6 women and 2 men under a 50/50 quota: two women must cross, and only two
    looks = [fit.Presentation(s, "adult", 30.0, 30.0) for s in ["female"] * 6 + ["male"] * 2]
    casting = q.cast_tracks(
        tracks, slots, t, variants=1, balance_by="frames", seed=1, cost=fit.distances(looks, ids, ["sex"])
    )
    played = casting.merge(slots, on="identity_id").sort_values("clip_id")
    assert (played["sex"].to_numpy() != np.array(["female"] * 6 + ["male"] * 2)).sum() == 2
    # a child: no identity is compatible, so it is recorded and never cast
    looks[0] = fit.Presentation("female", "child", 5.0, 30.0)
    ok = fit.compatible(looks, ids, ["age_group"])
    reasons = [None if ok[i].any() else fit.incompatible_reason(p, ids, ["age_group"]) for i, p in enumerate(looks)]
    casting = q.cast_tracks(
        tracks, slots, t, variants=1, balance_by="frames", seed=1, compatible=ok, incompatible=reasons
    )
    child = casting[casting.clip_id == "c0"].iloc[0]
    assert child.status == q.NO_COMPATIBLE and pd.isna(child.identity_id) and "age_group child" in child.reason
    assert (casting[casting.clip_id != "c0"].status == "ok").all()


def test_an_identity_plays_only_people_near_its_apparent_age():
    tracks = [fit.Presentation("female", "adult", 57.0, 30.0), fit.Presentation("female", "adult", 30.0, 30.0)]
    identities = [fit.Presentation("female", "adult", 25.0, 30.0), fit.Presentation("female", "adult", 40.0, 30.0)]
    assert fit.compatible(tracks, identities, ["age_group"], max_age_gap=20).tolist() == [[False, True], [True, True]]
    assert fit.compatible(tracks, identities, ["age_group"], max_age_gap=10).tolist() == [
        [False, False],
        [True, True],
    ]  # 10 is within
    assert fit.compatible(tracks, identities, ["age_group"]).all()  # no limit
    reason = fit.incompatible_reason(tracks[0], identities, ["age_group"], 10)
    assert "apparent age 57 (the identities are 25 to 40; cast.max_age_gap_years 10)" in reason


def test_a_declaration_goes_first_unless_the_face_looks_younger_and_protected():
    assert fit.combined_group("adult", "child", GROUPS) == "child"  # declared a child: a child
    assert fit.combined_group("adult", "older", GROUPS) == "older"
    assert fit.combined_group("child", "adult", GROUPS) == "child"  # looks like a child: treated as one
    assert fit.combined_group("older", "adult", GROUPS) == "adult"
    assert fit.combined_group(None, "teen", GROUPS) == "teen" and fit.combined_group("adult", None, GROUPS) == "adult"


def test_the_declaration_lands_on_the_clips_subject_track():
    from facecast.faces.apparent import declare

    rows = [
        {"clip_id": "a", "track_id": 0, "n_landmarks": 5, "median_face_px": 40.0},
        {"clip_id": "a", "track_id": 1, "n_landmarks": 5, "median_face_px": 120.0},  # as often seen, larger
        {"clip_id": "a", "track_id": 2, "n_landmarks": 0, "median_face_px": 300.0},  # no landmarks
        {"clip_id": "b", "track_id": 0, "n_landmarks": 9, "median_face_px": 50.0},
    ]
    clips = pd.DataFrame({"clip_id": ["a", "b"], "subject_age": ["3-9", None], "subject_sex": ["male", None]})
    out = declare(rows, clips, AttributesParams())
    # the subject track gets the whole declaration; a declared child is a child on every track of the clip
    assert [(r["declared_age_group"], r["declared_sex"]) for r in out] == [
        ("child", None),
        ("child", "male"),
        ("child", None),
        (None, None),
    ]
    adult = declare(rows, clips.assign(subject_age=["30-39", None]), AttributesParams())
    assert [r["declared_age_group"] for r in adult] == [None, "adult", None, None]
