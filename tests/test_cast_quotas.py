"""Quotas: gallery cells, IPF, largest remainder, shortfall policies and the frame-balanced casting plan."""

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from facecast import tables
from facecast.cast import quotas as q
from facecast.cast.donor_pool import unusable_donors
from facecast.errors import InputError
from facecast.params import CastParams

REPO = Path(__file__).resolve().parents[1]

# The embedded default's donors as openpeople declares them (P001..P010).
SEX = ["female", "female", "female", "female", "male", "female", "male", "male", "female", "female"]
SKIN = ["II", "II", "III", "V", "III", "II", "V", "IV", "IV", "II"]
AGE = ["35-45", "35-45", "25-35", "25-35", "55-65", "35-45", "25-35", "35-45", "18-25", "25-35"]
SEX_SKIN = {"sex": {"female": 0.5, "male": 0.5}, "skin_tone": {"I-III": 0.5, "IV-VI": 0.5}}


def default_params(**patch) -> CastParams:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())["cast"]
    return CastParams.model_validate({**raw, **patch})


def sex_skin_params(female: float, light: float, **patch) -> CastParams:
    """Quotas on sex and skin tone over a gallery binned II -> I-III, V -> IV-VI, 2 donors per identity."""
    quotas = {"sex": {"female": female, "male": 1 - female}, "skin_tone": {"I-III": light, "IV-VI": 1 - light}}
    raw = {"quotas": quotas, "bins": {"skin_tone": {"II": "I-III", "V": "IV-VI"}}, "donors_per_identity": 2}
    return CastParams.model_validate({**raw, **patch})


@pytest.fixture
def donors() -> pd.DataFrame:
    ids = [f"P{i:03d}" for i in range(1, 11)]
    return pd.DataFrame({"donor_id": ids, "sex": SEX, "skin_tone": SKIN, "age_range": AGE, "ethnicity": "declared"})


def synthetic_gallery(per_cell: int) -> pd.DataFrame:
    """``per_cell`` donors in each of the four sex x skin tone cells."""
    rows = [
        {"donor_id": f"D{s}{k}{i}", "sex": s, "skin_tone": k}
        for s in ("female", "male")
        for k in ("II", "V")
        for i in range(per_cell)
    ]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- gallery


def test_default_gallery_cells(donors):
    g = q.gallery(donors, default_params())
    assert g.cells == (("female",), ("male",))
    assert g.donor_counts.tolist() == [7, 3] and g.populatable.all()
    p004 = g.donors.set_index("donor_id").loc["P004"]
    assert (p004["skin_tone"], p004["age_range"], p004["status"]) == ("IV-VI", "18-34", "ok")
    assert g.donors_of(("male",)) == ["P005", "P007", "P008"]


def test_bad_donors_are_reported_by_name(donors):
    donors.loc[1, "skin_tone"] = ""
    donors.loc[5, "age_range"] = pd.NA
    donors.loc[2, "skin_tone"] = "VII"
    donors.loc[3, "sex"] = "other"
    params = default_params()
    g = q.gallery(donors, params, unusable={"P005": "no frontal face"})
    status = g.donors.set_index("donor_id")["status"]
    assert status[["P002", "P003", "P004", "P005"]].tolist() == [
        "missing_attribute",
        "unbinned_value",
        "unbinned_value",
        "no_usable_face",
    ]
    assert status["P006"] == "missing_attribute"
    assert g.donor_counts.tolist() == [3, 2]  # the five bad donors populate no cell
    with pytest.raises(InputError) as err:
        q.check_gallery(g)
    text = str(err.value)
    for line in [
        "donor P002: skin_tone is empty",
        "donor P003: skin_tone 'VII' is not in cast.bins.skin_tone",
        "donor P004: sex 'other' is not a category of cast.quotas.sex",
        "donor P005: no frontal face",
        "donor P006: age_range is empty",
    ]:
        assert line in text
    with pytest.raises(InputError, match="no column skin_tone"):
        q.gallery(donors.drop(columns="skin_tone"), params)
    with pytest.raises(InputError, match="donor_id P001 listed more than once"):
        q.gallery(pd.concat([donors, donors.head(1)]), params)


def test_unusable_donors_from_the_donor_faces_table(tmp_path):
    def face(donor, image, yaw, status="ok", landmarks=True):
        return {
            "donor_id": donor,
            "image": image,
            "width": 100,
            "height": 100,
            "bbox_x0": 10.0,
            "bbox_y0": 10.0,
            "bbox_x1": 60.0,
            "bbox_y1": 60.0,
            "det_score": 0.99,
            "source": "detected",
            "landmarks": [1.0] * 136 if landmarks else None,
            "yaw_deg": yaw,
            "pitch_deg": 2.0,
            "roll_deg": 0.0,
            "embedding": [0.1] * 128 if landmarks else None,
            "status": status,
            "reason": None,
            "bystander": False,
        }

    rows = [
        face("A", "A/1.jpg", 40.0),
        face("A", "A/2.jpg", -12.0),  # one frontal image is enough
        face("B", "B/1.jpg", 38.0),
        face("C", "C/1.jpg", None, status="too_small", landmarks=False),
    ]
    path = tables.write("donor_faces", rows, tmp_path / "donor_faces.parquet")
    found = unusable_donors(["A", "B", "C", "D"], tables.read_df("donor_faces", path), max_deg=25.0)
    assert found == {
        "B": "no frontal face: the most frontal is 38 deg off (limit 25)",
        "C": "no face with landmarks and an embedding in its 1 image(s)",
        "D": "no image of this donor was analysed",
    }


# --------------------------------------------------------------------------- IPF and rounding


def test_ipf_keeps_the_seed_odds_ratio():
    # 2x2 seed [[1, 2], [3, 4]] fitted to uniform margins: [[a, 1/2 - a], [1/2 - a, a]] with the
    # seed's odds ratio a^2 / (1/2 - a)^2 = 1*4 / (2*3), so a = sqrt(2/3) / (2 (1 + sqrt(2/3))).
    table, fit = q.ipf(np.array([[1.0, 2.0], [3.0, 4.0]]), [np.array([0.5, 0.5]), np.array([0.5, 0.5])])
    a = math.sqrt(2 / 3) / (2 * (1 + math.sqrt(2 / 3)))
    np.testing.assert_allclose(table, [[a, 0.5 - a], [0.5 - a, a]], atol=1e-9)
    assert fit.converged and fit.max_deviation <= 1e-10 and fit.iterations > 1


def test_ipf_of_marginals_on_a_full_gallery_is_their_product():
    params = sex_skin_params(0.6, 0.7)
    t = q.joint_targets(q.gallery(synthetic_gallery(2), params), params)
    np.testing.assert_allclose(t.shares, [0.42, 0.18, 0.28, 0.12], atol=1e-9)
    assert t.feasible and t.fit.converged
    np.testing.assert_allclose(t.report["gap"], 0.0, atol=1e-9)


def test_ipf_with_a_cell_the_gallery_cannot_populate():
    # male x IV-VI keeps one donor (< 2), so MD = 0 and FL + FD = .6, ML = .4, FL + ML = .7: FL .3, FD .3, ML .4
    params = sex_skin_params(0.6, 0.7)
    donors = synthetic_gallery(2)
    donors = donors[donors["donor_id"] != "DmaleV0"]
    t = q.joint_targets(q.gallery(donors, params), params)
    np.testing.assert_allclose(t.shares, [0.3, 0.3, 0.4, 0.0], atol=1e-9)
    assert t.feasible and t.fit.converged


def test_largest_remainder_known_cases():
    # 12 x [.42 .18 .28 .12] = [5.04 2.16 3.36 1.44]: floors sum to 11, the seat left goes to .44
    assert q.largest_remainder(np.array([0.42, 0.18, 0.28, 0.12]), 12).tolist() == [5, 2, 3, 2]
    # a tie goes to the earlier cell
    assert q.largest_remainder(np.ones(3) / 3, 4).tolist() == [2, 1, 1]
    # 4 x [.9 .05 .05] = [3.6 .2 .2]: [4 0 0]; with at least one each, the seat comes off the first
    assert q.largest_remainder(np.array([0.9, 0.05, 0.05]), 4).tolist() == [4, 0, 0]
    assert q.largest_remainder(np.array([0.9, 0.05, 0.05]), 4, at_least_one=True).tolist() == [2, 1, 1]
    assert q.largest_remainder(np.array([0.5, 0.0, 0.5]), 3).tolist() == [2, 0, 1]


def test_default_identity_slots(donors):
    params = default_params()
    slots = q.identity_slots(q.joint_targets(q.gallery(donors, params), params), params)
    assert slots["identity_id"].tolist() == [f"syn{i:03d}" for i in range(1, 5)]  # params.yaml: 4 identities
    assert slots["sex"].tolist() == ["female"] * 2 + ["male"] * 2


# --------------------------------------------------------------------------- shortfall


def test_infeasible_quotas_stop_with_the_table(donors):
    params = default_params(quotas=SEX_SKIN)
    with pytest.raises(q.ShortfallError) as err:
        q.joint_targets(q.gallery(donors, params), params)
    text = str(err.value)
    assert "cannot meet the quotas with 3 donors per identity" in text
    assert "sex=male                           0.500    0.000  -0.500" in text
    assert "skin_tone=I-III                    0.500    1.000  +0.500" in text
    assert "cells with at least 3 usable donors: sex=female, skin_tone=I-III (5)" in text
    assert "sex=male, skin_tone=I-III (1: P005)" in text


def test_relax_goes_as_close_as_the_gallery_allows(donors):
    # with 2 donors per identity the male x I-III cell (P005 alone) is out, yet every marginal can be met
    params = default_params(quotas=SEX_SKIN, donors_per_identity=2, on_shortfall="relax")
    t = q.joint_targets(q.gallery(donors, params), params)
    assert t.feasible
    np.testing.assert_allclose(t.shares, [0.5, 0.0, 0.0, 0.5], atol=1e-9)  # F x I-III and M x IV-VI
    # with 3 only female x I-III is left: every marginal misses by 0.5
    params = default_params(quotas=SEX_SKIN, on_shortfall="relax")
    t = q.joint_targets(q.gallery(donors, params), params)
    assert not t.feasible
    np.testing.assert_allclose(t.shares, [1.0, 0.0, 0.0, 0.0])
    gaps = dict(zip(t.report["quota"], t.report["gap"]))
    assert gaps == pytest.approx({"sex=female": 0.5, "sex=male": -0.5, "skin_tone=I-III": 0.5, "skin_tone=IV-VI": -0.5})
    slots = q.identity_slots(t, params)
    slots["donors"] = [["P001", "P002", "P003"]] * len(slots)
    tracks = pd.DataFrame({"clip_id": ["a", "b"], "track_id": [0, 0], "n_frames": [30, 10], "subject_id": [None, None]})
    casting = q.cast_tracks(tracks, slots, t, variants=1, balance_by="frames", seed=1)
    report = q.share_report(casting, slots, t, "frames")
    assert report["quotas_feasible"] is False
    assert abs(report["largest_gap"]["gap"]) == pytest.approx(0.5)


def test_explicit_joint_quotas_override(donors):
    cells = [
        {"sex": "female", "skin_tone": "I-III", "share": 0.3},
        {"sex": "female", "skin_tone": "IV-VI", "share": 0.2},
        {"sex": "male", "skin_tone": "IV-VI", "share": 0.5},
    ]
    params = default_params(
        quotas={"sex": {"female": 0.5, "male": 0.5}, "skin_tone": {"I-III": 0.3, "IV-VI": 0.7}},
        joint=cells,
        donors_per_identity=2,
    )
    t = q.joint_targets(q.gallery(donors, params), params)
    assert t.feasible and t.fit is None
    np.testing.assert_allclose(t.shares, [0.3, 0.2, 0.0, 0.5])
    # the same shares on male x I-III, which one donor cannot populate: relax moves it elsewhere, error stops
    cells[2]["skin_tone"] = "I-III"
    params = default_params(
        quotas={"sex": {"female": 0.5, "male": 0.5}, "skin_tone": {"I-III": 0.8, "IV-VI": 0.2}},
        joint=cells,
        donors_per_identity=2,
        on_shortfall="relax",
    )
    t = q.joint_targets(q.gallery(donors, params), params)
    assert not t.feasible and t.shares[2] == 0.0 and t.shares.sum() == pytest.approx(1.0)
    with pytest.raises(q.ShortfallError, match=r"sex=male, skin_tone=I-III\s+0\.500\s+0\.000"):
        q.joint_targets(q.gallery(donors, params), params.model_copy(update={"on_shortfall": "error"}))


# --------------------------------------------------------------------------- casting


def balanced_setup(n_tracks: int, seed: int, identities: int = 8):
    params = sex_skin_params(0.5, 0.7, identities=identities)
    g = q.gallery(synthetic_gallery(3), params)
    t = q.joint_targets(g, params)
    slots = q.identity_slots(t, params)
    slots["donors"] = [g.donors_of((s, k))[:2] for s, k in zip(slots["sex"], slots["skin_tone"])]
    rng = np.random.default_rng(seed)
    lengths = rng.integers(10, 300, n_tracks)
    tracks = pd.DataFrame(
        {
            "clip_id": [f"clip{i // 2:02d}" for i in range(n_tracks)],
            "track_id": np.arange(n_tracks) % 2,
            "n_frames": lengths,
            "subject_id": None,
        }
    )
    return t, slots, tracks


def test_frame_balancing_meets_targets_within_one_track():
    t, slots, tracks = balanced_setup(40, seed=7)
    casting = q.cast_tracks(tracks, slots, t, variants=1, balance_by="frames", seed=3)
    total = casting["frames"].sum()
    longest = tracks["n_frames"].max()
    report = q.share_report(casting, slots, t, "frames")
    # when no single move of a track between cells lowers the squared deficit, no cell is off
    # its target by more than the longest track (see _local_search)
    for row in report["cells"]:
        assert abs(row["gap"]) <= longest / total
    for row in report["categories"]:  # a category is two cells
        assert abs(row["gap"]) <= 2 * longest / total
    # the identity shares stay those of the slots (3, 1, 3, 1 of 8): frames, not identities, were balanced
    assert {r["cell"]: r["identity_share"] for r in report["cells"]} == pytest.approx(
        {
            "sex=female, skin_tone=I-III": 3 / 8,
            "sex=female, skin_tone=IV-VI": 1 / 8,
            "sex=male, skin_tone=I-III": 3 / 8,
            "sex=male, skin_tone=IV-VI": 1 / 8,
        }
    )
    # the frames of a cell are spread evenly over its identities: each plays its even share of the cell's
    # frames give or take one track (tracks of 10 to 300 frames; an identity takes a track while it stays
    # within half the track of its share, longest tracks first)
    frames = casting.groupby("identity_id")["frames"].sum().rename("played")
    counts = slots.merge(frames, left_on="identity_id", right_index=True, how="left")
    assert counts["played"].notna().all()
    cells = counts.groupby(["sex", "skin_tone"])["played"]
    even = cells.transform("sum") / cells.transform("size")
    assert ((counts["played"] - even).abs() <= longest).all()
    assert counts.groupby(["sex", "skin_tone"])["played"].agg(lambda f: f.max() - f.min()).max() < 2 * longest
    # the plan depends on the tracks' ids and the seed, not on the order they come in
    shuffled = tracks.sample(frac=1.0, random_state=0)
    pd.testing.assert_frame_equal(casting, q.cast_tracks(shuffled, slots, t, variants=1, balance_by="frames", seed=3))


def test_balance_by_identities_follows_the_identity_counts():
    t, slots, tracks = balanced_setup(40, seed=11)
    casting = q.cast_tracks(tracks, slots, t, variants=1, balance_by="identities", seed=3)
    report = q.share_report(casting, slots, t, "identities")
    longest, total = tracks["n_frames"].max(), casting["frames"].sum()
    for row in report["cells"]:
        assert row["achieved"] == row["identity_share"]
        assert abs(row["frame_share"] - row["identity_share"]) <= longest / total


def test_subjects_are_never_cast_as_themselves_and_variants_differ(donors):
    params = default_params(variants_per_track=2, identities=6)
    g = q.gallery(donors, params)
    t = q.joint_targets(g, params)
    slots = q.identity_slots(t, params)
    female = g.donors_of(("female",))  # P001 P002 P003 P004 P006 P009 P010
    slots["donors"] = [female[0:3], female[2:5], female[4:7], *[g.donors_of(("male",))] * 3]
    lengths = [90, 40, 250, 60, 120, 75, 30, 200, 55, 150]
    tracks = pd.DataFrame(
        {"clip_id": donors["donor_id"] + "_clip", "track_id": 0, "n_frames": lengths, "subject_id": donors["donor_id"]}
    )
    excluded = {"syn001": {("P010_clip", 0)}}
    casting = q.cast_tracks(tracks, slots, t, variants=2, balance_by="frames", seed=5, excluded=excluded)
    assert (casting["status"] == "ok").all() and len(casting) == 20
    joined = casting.merge(tracks, on=["clip_id", "track_id"]).merge(slots, on="identity_id")
    for subject, identity_donors in zip(joined["subject_id"], joined["donors"]):
        assert subject not in identity_donors
    assert not ((joined["identity_id"] == "syn001") & (joined["clip_id"] == "P010_clip")).any()
    assert (casting.groupby(["clip_id", "track_id"])["identity_id"].nunique() == 2).all()


def test_a_track_nobody_may_play_is_recorded_uncastable_not_an_error(donors, caplog):
    params = default_params(quotas={}, bins={}, identities=2, donors_per_identity=3)
    g = q.gallery(donors, params)
    t = q.joint_targets(g, params)
    slots = q.identity_slots(t, params)
    slots["donors"] = [["P001", "P002", "P003"], ["P001", "P004", "P005"]]
    tracks = pd.DataFrame(
        {"clip_id": ["x", "y"], "track_id": [0, 3], "n_frames": [50, 20], "subject_id": ["P001", "P002"]}
    )
    with caplog.at_level(logging.WARNING, logger="facecast.cast.quotas"):
        casting = q.cast_tracks(tracks, slots, t, variants=2, balance_by="frames", seed=1)
    assert "clip x track 0 variant 0: only 0 of 2 identities may play" in caplog.text
    status = dict(zip(zip(casting["clip_id"], casting["variant"]), casting["status"]))
    assert status == {("x", 0): "uncastable", ("x", 1): "uncastable", ("y", 0): "ok", ("y", 1): "uncastable"}
    assert casting.loc[(casting["clip_id"] == "y") & (casting["variant"] == 0), "identity_id"].item() == "syn002"
    assert q.share_report(casting, slots, t, "frames")["uncastable"] == 3


def test_tracks_that_look_like_a_donor_or_identity_are_excluded():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(4, 128))
    base /= np.linalg.norm(base, axis=1, keepdims=True)  # unit vectors: ~1.4 apart
    donor_centroids = {"A": base[0], "B": base[1]}
    identities = pd.DataFrame({"identity_id": ["s1", "s2"], "donors": [["A"], ["B"]], "embedding": [base[2], None]})
    tracks = pd.DataFrame(
        {
            "clip_id": ["c", "c", "c", "d"],
            "track_id": [0, 1, 2, 0],
            "embedding_centroid": [base[0] + 0.01, base[2] + 0.02, base[3], None],
        }
    )
    out = q.excluded_tracks(tracks, identities, donor_centroids, max_distance=0.6)
    assert out == {"s1": {("c", 0), ("c", 1)}, "s2": set()}


def test_share_report_by_frames_and_by_identities(donors):
    params = default_params()
    t = q.joint_targets(q.gallery(donors, params), params)
    identities = pd.DataFrame({"identity_id": ["s1", "s2", "s3"], "sex": ["female", "male", "male"]})
    casting = pd.DataFrame(
        {
            "clip_id": ["a", "b", "c", "d"],
            "track_id": 0,
            "variant": 0,
            "identity_id": ["s1", "s2", "s3", None],
            "frames": [30, 10, 20, 5],
            "status": ["ok", "ok", "ok", "uncastable"],
            "reason": None,
        }
    )
    by_frames = q.share_report(casting, identities, t, "frames")  # female 30 of 60 frames, 1 of 3 identities
    female = by_frames["categories"][0]
    assert (female["category"], female["frame_share"], female["gap"]) == ("female", 0.5, 0.0)
    assert female["identity_share"] == pytest.approx(1 / 3)
    assert by_frames["output_frames"] == 60 and by_frames["uncastable"] == 1
    by_identities = q.share_report(casting, identities, t, "identities")
    assert by_identities["largest_gap"] == {"attribute": "sex", "category": "female", "gap": pytest.approx(-1 / 6)}
    assert [c["cell"] for c in by_identities["cells"]] == ["sex=female", "sex=male"]
