"""Colour transfer for the swap stage on real openpeople portraits with dlib's 68 landmarks."""

import cv2
import dlib
import numpy as np
import openpeople
import pytest

from facecast.geometry.landmarks import eye_centres
from facecast.geometry.outline import contour
from facecast.models.loaders import shape_predictor68
from facecast.swap.colour import lab_stats, reinhard, skin_mask, smooth_stats

PEOPLE = ("P002", "P007")  # declared Fitzpatrick II and V: far apart in L and b


def portrait(person_id: str) -> tuple[np.ndarray, np.ndarray]:
    """The studio portrait at a quarter size (512 px, RGB) and its 68 landmarks from dlib's HOG box."""
    path = str(openpeople.curated.get(person_id).asset_path("studio_portrait"))
    image = cv2.cvtColor(cv2.imread(path, cv2.IMREAD_REDUCED_COLOR_4), cv2.COLOR_BGR2RGB)
    found = dlib.get_frontal_face_detector()(image, 1)
    assert len(found) == 1, f"{person_id}: expected one face, found {len(found)}"
    shape = shape_predictor68()(image, found[0])
    return image, np.array([[p.x, p.y] for p in shape.parts()], np.float64)


@pytest.fixture(scope="module")
def faces() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    out = {}
    for person_id in PEOPLE:
        image, landmarks = portrait(person_id)
        out[person_id] = (image, landmarks, skin_mask(landmarks, image.shape[1], image.shape[0]))
    return out


def polygon_pixels(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.rint(points).astype(np.int32)), 1)
    return mask.astype(bool)


@pytest.mark.parametrize("person_id", PEOPLE)
def test_skin_mask_covers_cheeks_and_forehead_but_no_eye_brow_mouth_or_nostril(faces, person_id):
    image, lm, mask = faces[person_id]
    left, right = eye_centres(lm)
    span = np.linalg.norm(right - left)
    cheeks = [(lm[2] + lm[31]) / 2, (lm[14] + lm[35]) / 2]
    forehead = (lm[19] + lm[24]) / 2 - [0, 0.3 * span]
    for x, y in np.rint([*cheeks, forehead]).astype(int):
        assert mask[y, x]
    for features in (lm[36:42], lm[42:48], lm[48:60]):
        assert not (mask & polygon_pixels(features, mask.shape)).any()
    for x, y in np.rint(lm[list(range(17, 27)) + list(range(31, 36))]).astype(int):
        assert not mask[y, x]
    face = polygon_pixels(contour(lm), mask.shape)
    assert not (mask & ~face).any()  # nothing outside the face outline
    assert mask.sum() > 0.5 * face.sum()  # but most of the face inside it


@pytest.mark.parametrize("person_id, onto", [PEOPLE, PEOPLE[::-1]])
def test_reinhard_moves_the_skin_statistics_onto_the_target(faces, person_id, onto):
    image, _, mask = faces[person_id]
    source = lab_stats(image, mask)
    target = lab_stats(*[faces[onto][i] for i in (0, 2)])
    assert abs(target[0] - source[0]) > 10  # the two skins really differ in lightness
    ratio = np.clip(target[3:] / source[3:], 1 / 2.0, 2.0)
    recoloured = reinhard(image, source, target)
    got = lab_stats(recoloured, mask)
    np.testing.assert_allclose(got[:3], target[:3], atol=1.0)  # means within 1 Lab unit
    np.testing.assert_allclose(got[3:], source[3:] * ratio, rtol=0.05)  # spreads as the (clipped) gain makes them


def test_reinhard_gain_is_bounded_by_max_ratio(faces):
    image, _, mask = faces["P002"]
    source = lab_stats(image, mask)
    target = source.copy()
    target[3:] *= 4.0  # asks for 4x the contrast
    got = lab_stats(reinhard(image, source, target, max_ratio=1.5), mask)
    np.testing.assert_allclose(got[3:], source[3:] * 1.5, rtol=0.05)


def test_reinhard_with_equal_statistics_changes_nothing(faces):
    image, _, mask = faces["P007"]
    stats = lab_stats(image, mask)
    out = reinhard(image, stats, stats)
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert np.abs(out.astype(int) - image).max() <= 1  # float Lab round trip, rounded


def test_reinhard_rejects_bad_input(faces):
    image, _, mask = faces["P002"]
    stats = lab_stats(image, mask)
    with pytest.raises(ValueError, match="uint8"):
        reinhard(image.astype(np.float32), stats, stats)
    with pytest.raises(ValueError, match="source"):
        reinhard(image, stats[:3], stats)
    with pytest.raises(ValueError, match="max_ratio"):
        reinhard(image, stats, stats, max_ratio=0.5)


def test_lab_stats_is_robust_to_specular_highlights(faces):
    image, _, mask = faces["P002"]
    shiny = image.copy()
    ys, xs = np.nonzero(mask)
    pick = np.arange(0, len(ys), 40)  # 2.5 % of the skin turned white, scattered over the face
    shiny[ys[pick], xs[pick]] = 255

    def plain(img: np.ndarray) -> np.ndarray:  # untrimmed mean and spread of L
        lightness = cv2.cvtColor(img[mask][:, None].astype(np.float32) / 255, cv2.COLOR_RGB2Lab)[:, 0, 0]
        return np.array([lightness.mean(), lightness.std()])

    plain_shift = plain(shiny) - plain(image)
    robust_shift = lab_stats(shiny, mask)[[0, 3]] - lab_stats(image, mask)[[0, 3]]
    assert plain_shift[1] > 0.5  # untrimmed, the highlights widen the spread
    assert abs(robust_shift[1]) < plain_shift[1] / 3  # trimmed, they barely do
    assert abs(robust_shift[0]) < plain_shift[0]  # and move the mean less


def test_lab_stats_none_on_a_tiny_mask_and_errors_on_a_wrong_one(faces):
    image, lm, _ = faces["P002"]
    tiny = np.zeros(image.shape[:2], bool)
    x, y = np.rint((lm[2] + lm[31]) / 2).astype(int)
    tiny[y : y + 5, x : x + 6] = True  # 30 pixels of cheek
    assert lab_stats(image, tiny) is None
    assert lab_stats(image, tiny, min_pixels=30).shape == (6,)
    assert lab_stats(image, np.zeros_like(tiny)) is None
    with pytest.raises(ValueError, match="does not match"):
        lab_stats(image, tiny[:-1])


def test_smooth_stats_fills_gaps_removes_a_spike_and_smooths(faces):
    image, _, mask = faces["P007"]
    base = lab_stats(image, mask)
    n = 30
    series = base + np.linspace(0, 6, n)[:, None] * [1, 0.2, -0.2, 0.1, 0.05, 0.05]  # slow lighting drift
    noisy = series.copy()
    noisy[[0, 1, 12, 13, 14]] = np.nan  # missing at the start and for three frames
    noisy[20] = lab_stats(np.full_like(image, 240), mask)  # a bright hand over the face for one frame
    out = smooth_stats(noisy, sigma_frames=0)
    assert not np.isnan(out).any() and out.shape == (n, 6)
    step = np.abs(np.diff(series, axis=0)).max(axis=0)  # the drift over one frame
    # a linear drift survives interpolation and the median; next to the spike the median moves by one frame's drift
    assert (np.abs(out[2:] - series[2:]) <= step + 1e-9).all()
    np.testing.assert_allclose(out[[2, 10, 13, 25]], series[[2, 10, 13, 25]], atol=1e-9)
    np.testing.assert_allclose(out[:2], np.repeat(series[2:3], 2, axis=0), atol=1e-9)  # the first row held
    jitter = series + np.random.default_rng(0).normal(0, 0.5, series.shape)
    smoothed = smooth_stats(jitter, sigma_frames=2)
    assert np.abs(np.diff(smoothed, axis=0)).mean() < 0.5 * np.abs(np.diff(jitter, axis=0)).mean()


def test_smooth_stats_rejects_all_missing_and_bad_shapes():
    with pytest.raises(ValueError, match="all 4 rows are missing"):
        smooth_stats(np.full((4, 6), np.nan), sigma_frames=1)
    with pytest.raises(ValueError, match=r"\(n, 6\)"):
        smooth_stats(np.zeros((4, 5)), sigma_frames=1)
    with pytest.raises(ValueError, match="sigma_frames"):
        smooth_stats(np.zeros((4, 6)), sigma_frames=-1)
