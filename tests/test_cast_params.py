"""The cast section of params.yaml: quotas, bins and joint quotas are checked before any work."""

from pathlib import Path

import pytest
import yaml

from facecast.errors import ParamsError
from facecast.params import CastParams, load

REPO = Path(__file__).resolve().parents[1]


def repo_params() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def load_cast(tmp_path: Path, **patch) -> CastParams:
    data = repo_params()
    data["cast"].update(patch)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load("cast", path=path).cast


def test_repo_cast_section_is_valid(tmp_path):
    cast = load_cast(tmp_path)
    assert cast.quotas == {"sex": {"female": 0.5, "male": 0.5}}
    assert cast.bins["skin_tone"]["V"] == "IV-VI"
    assert cast.min_donor_distance == 0.6 and cast.balance_by == "published" and cast.on_shortfall == "error"


SKIN = {"skin_tone": {"I-III": 0.5, "IV-VI": 0.5}}
SEX_SKIN = {"sex": {"female": 0.5, "male": 0.5}, **SKIN}
SKIN_BINS = {"skin_tone": {"II": "I-III", "V": "IV-VI"}}


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"quotas": {"sex": {"female": 0.5, "male": 0.4}}}, r"cast\.quotas\.sex: Value error, shares sum to 0\.9"),
        ({"quotas": {"sex": {"female": 1.5, "male": -0.5}}}, r"cast\.quotas\.sex\.female: .*less than or equal to 1"),
        ({"quotas": {"sex": {"female": "half", "male": 0.5}}}, r"cast\.quotas\.sex\.female: .*a valid number"),
        ({"quotas": {"sex": {}}}, r"cast\.quotas\.sex: .*at least one category"),
        ({"quotas": {"donor_id": {"a": 1.0}}}, r"cast\.quotas: .*'donor_id' is not a declared attribute"),
        (
            {"quotas": SKIN, "bins": {"skin_tone": {"II": "I-III", "V": "IV-VII"}}},
            r"cast\.bins: .*skin_tone\.V maps to 'IV-VII', which is not a category of cast\.quotas\.skin_tone",
        ),
        (
            {"quotas": SKIN, "bins": {"skin_tone": {"II": "I-III"}}},
            r"cast\.bins: .*no value of skin_tone maps to 'IV-VI'",
        ),
        ({"bins": {"skin_tone": {}}}, r"cast\.bins: .*skin_tone: expected at least one"),
        ({"balance_by": "clips"}, r"cast\.balance_by: Input should be 'published', 'frames' or 'identities'"),
        ({"on_shortfall": "ignore"}, r"cast\.on_shortfall: Input should be 'error' or 'relax'"),
        ({"method": "stylegan"}, r"cast\.method: Input should be 'morph'"),
        ({"min_donor_distance": 0}, r"cast\.min_donor_distance: Input should be greater than 0"),
        ({"face_size": 256}, r"cast\.face_size: Input should be greater than or equal to 512"),
        ({"identities": 0}, r"cast\.identities: Input should be greater than or equal to 1"),
        ({"quota": {}}, r"cast\.quota: unknown key"),
    ],
)
def test_bad_cast_values_name_the_key(tmp_path, patch, message):
    with pytest.raises(ParamsError, match=message):
        load_cast(tmp_path, **patch)


def joint(*cells):
    return [{"sex": s, "skin_tone": k, "share": v} for s, k, v in cells]


def test_joint_quotas_accepted_when_they_agree_with_the_marginals(tmp_path):
    cells = joint(("female", "I-III", 0.4), ("female", "IV-VI", 0.1), ("male", "IV-VI", 0.5))
    cast = load_cast(
        tmp_path,
        quotas={"sex": {"female": 0.5, "male": 0.5}, "skin_tone": {"I-III": 0.4, "IV-VI": 0.6}},
        bins=SKIN_BINS,
        joint=cells,
    )
    assert len(cast.joint) == 3


@pytest.mark.parametrize(
    "cells, message",
    [
        (joint(("female", "I-III", 0.5), ("male", "IV-VI", 0.4)), r"cast\.joint: .*shares sum to 0\.9"),
        (joint(("female", "I-III", 0.5), ("female", "I-III", 0.5)), r"cast\.joint: .*entry 2: .* listed twice"),
        (
            joint(("female", "V", 0.5), ("male", "IV-VI", 0.5)),
            r"cast\.joint: .*entry 1: skin_tone 'V' is not a category",
        ),
        ([{"sex": "female", "share": 1.0}], r"cast\.joint: .*entry 1: expected exactly .*\(sex, skin_tone\)"),
        ([{"sex": "female", "skin_tone": "I-III"}], r"cast\.joint: .*entry 1: expected 'share'"),
        (
            joint(("female", "I-III", 0.6), ("male", "IV-VI", 0.4)),
            r"cast\.joint: .*gives sex 'female' a share of 0\.6, but cast\.quotas\.sex\.female is 0\.5",
        ),
    ],
)
def test_bad_joint_quotas_name_the_entry(tmp_path, cells, message):
    with pytest.raises(ParamsError, match=message):
        load_cast(tmp_path, quotas=SEX_SKIN, bins=SKIN_BINS, joint=cells)


def test_joint_quotas_need_quota_attributes(tmp_path):
    with pytest.raises(ParamsError, match=r"cast\.joint: .*needs cast\.quotas"):
        load_cast(tmp_path, quotas={}, joint=[{"sex": "female", "share": 1.0}])
