"""Synthesis of identities: canonical alignment, piecewise-affine warps, the morph method and its distance rules.

Real donors: four openpeople studio portraits (downscaled to 512 px), found
by dlib's HOG detector, with dlib's 68 landmarks and 128-D embeddings.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facecast.cast import compose, morph, reshape, synthesis
from facecast.cast.synthesis import DonorFace, SynthesisError, SynthesisFailed, synthesise
from facecast.geometry.canonical import EYE_ANCHOR, EYE_SPAN, align, mean_shape
from facecast.geometry.landmarks import eye_centres
from facecast.geometry.outline import contour, face_outline, forehead_points
from facecast.geometry.transforms import apply, similarity

PEOPLE = ("P001", "P003", "P005", "P007")
SIZE = 512


def _portrait(person: str) -> np.ndarray:
    import openpeople

    bgr = cv2.imread(str(openpeople.curated.get(person).asset_path("studio_portrait")))
    return cv2.cvtColor(cv2.resize(bgr, (512, 512), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def donors() -> dict[str, list[DonorFace]]:
    import dlib

    from facecast.models.embedding import embed_chips, face_chips
    from facecast.models.landmarks import fit_shape, shape_points

    detector = dlib.get_frontal_face_detector()
    out = {}
    for person in PEOPLE:
        rgb = _portrait(person)
        rects = detector(rgb, 1)
        assert len(rects) == 1, f"{person}: expected one face, found {len(rects)}"
        r = rects[0]
        shape = fit_shape(rgb, np.array([r.left(), r.top(), r.right(), r.bottom()], np.float32))
        embedding = embed_chips(face_chips(rgb, [shape]))[0]
        out[person] = [DonorFace(rgb, shape_points(shape).astype(np.float64), embedding)]
    return out


def _make(donors, seed: int, **rules) -> synthesis.Identity:
    """An identity of 3 donors; without rules no distance is required, so the first candidate is accepted."""
    rules = {"min_donor_distance": 0.0, "min_identity_distance": 0.0, "max_attempts": 1, **rules}
    return synthesise(donors, 3, np.random.default_rng(seed), **rules)


@pytest.fixture(scope="module")
def first(donors) -> synthesis.Identity:
    """The first candidate of seed 7."""
    return _make(donors, 7)


def _recomputed_nearest(identity: synthesis.Identity, others: dict[str, np.ndarray]) -> float:
    e = synthesis.embed(identity.face, identity.landmarks)
    return min(float(np.linalg.norm(e.astype(np.float64) - np.asarray(c, np.float64))) for c in others.values())


# --------------------------------------------------------------------------- align


def test_mean_shape_puts_the_eyes_on_the_canonical_anchors(donors):
    shapes = [faces[0].landmarks for faces in donors.values()]
    mean = mean_shape(shapes, SIZE)
    left, right = eye_centres(mean)
    np.testing.assert_allclose((left + right) / 2, np.array(EYE_ANCHOR) * SIZE, atol=1e-6)
    np.testing.assert_allclose(right - left, [EYE_SPAN * SIZE, 0.0], atol=1e-6)
    # every donor, similarity-aligned to it, lands near it: the template is their common shape
    iod = EYE_SPAN * SIZE
    for faces in donors.values():
        image, landmarks = align(faces[0].image, faces[0].landmarks, mean, SIZE)
        assert image.shape == (SIZE, SIZE, 3)
        assert np.abs(landmarks - mean).mean() < 0.1 * iod


def test_forehead_points_lie_above_the_brows_inside_the_frame(donors):
    mean = mean_shape([faces[0].landmarks for faces in donors.values()], SIZE)
    forehead = forehead_points(mean)
    assert forehead.shape == (15, 2)
    brow_top = mean[17:27, 1].min()
    middle = forehead[5:10]  # the points over the brows
    assert (middle[:, 1] < brow_top).all()
    assert (forehead >= 0).all() and (forehead < SIZE).all()
    # ordered from the left temple to the right one
    assert (np.diff(forehead[:, 0]) > 0).all()


def test_contour_closes_around_the_face(donors):
    landmarks = donors["P003"][0].landmarks
    outline = contour(landmarks)
    assert outline.shape == (32, 2)
    np.testing.assert_array_equal(outline[:17], landmarks[:17])  # the jaw line as fitted
    polygon = outline.astype(np.float32).reshape(-1, 1, 2)
    inner = landmarks[17:68]  # brows, nose, eyes, mouth
    assert all(cv2.pointPolygonTest(polygon, (float(x), float(y)), False) > 0 for x, y in inner)


def test_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (68, 2))
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -5.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ rot.T + shift
    np.testing.assert_allclose(apply(similarity(src, dst), src), dst, atol=1e-9)


# --------------------------------------------------------------------------- morph


def test_warp_maps_source_landmarks_onto_target_landmarks(donors):
    """Reading a coordinate image through the warp at each target point gives the source point (< 1 px)."""
    a, b = donors["P001"][0], donors["P005"][0]
    mean = mean_shape([a.landmarks, b.landmarks], SIZE)
    aligned, src = align(a.image, a.landmarks, mean, SIZE)
    _, dst = align(b.image, b.landmarks, mean, SIZE)
    source, target = compose.warp_points(src, SIZE), compose.warp_points(dst, SIZE)
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    coordinates = np.dstack([xs, ys, np.zeros_like(xs)])
    warped = morph.Warp(target, SIZE)(coordinates, source)
    # bilinear read of the warped coordinate image at the (sub-pixel) target landmarks
    read = cv2.remap(warped, dst[:, 0:1].astype(np.float32), dst[:, 1:2].astype(np.float32), cv2.INTER_LINEAR)
    error = np.linalg.norm(read[:, 0, :2] - src, axis=1)
    # A closed mouth puts upper and lower inner-lip points on the same pixel of the target: one pixel cannot
    # show two source points, and a bilinear read mixes them. Every landmark with its own pixels is checked.
    gaps = np.linalg.norm(dst[:, None] - dst[None], axis=2) + np.eye(68) * 1e9
    separate = gaps.min(axis=1) >= 2.0
    assert separate.sum() >= 60 and set(np.flatnonzero(~separate)) <= set(range(60, 68))
    assert error[separate].max() < 1.0, f"largest landmark error {error[separate].max():.3f} px"
    # and the warp really moves the face: the landmarks are far apart before it
    assert np.linalg.norm(src - dst, axis=1).max() > 5.0
    # without the frame points only the face is covered; the rest of the output is 0
    face_only = morph.Warp(face_outline(dst), SIZE)
    out = face_only(aligned, face_outline(src))
    assert not face_only.inside[0, 0] and (out[~face_only.inside] == 0).all()
    assert out[face_only.inside].mean() > 50


def test_blend_is_convex_and_checks_its_weights():
    a = np.full((4, 4, 3), 10, np.uint8)
    b = np.full((4, 4, 3), 110, np.uint8)
    assert morph.to_uint8(morph.blend([a, b], [0.25, 0.75]))[0, 0, 0] == 85
    with pytest.raises(ValueError, match="sum to 1"):
        morph.blend([a, b], [0.5, 0.6])
    with pytest.raises(ValueError, match="non-negative"):
        morph.blend([a, b], [1.5, -0.5])


def test_reshape_keeps_the_eye_centres_and_moves_the_features(donors):
    mean = mean_shape([faces[0].landmarks for faces in donors.values()], SIZE)
    edits = np.ones(len(reshape.NAMES))
    edited = reshape.reshape(mean, edits)
    for before, after in zip(eye_centres(mean), eye_centres(edited)):
        np.testing.assert_allclose(before, after, atol=1e-9)
    widest = reshape.EDITS["nose_width"][1]
    assert edited[35, 0] - edited[31, 0] == pytest.approx(widest * (mean[35, 0] - mean[31, 0]))
    np.testing.assert_allclose(reshape.reshape(mean, np.zeros(len(reshape.NAMES))), mean, atol=1e-9)


def _cut_above(face: DonorFace, top: int) -> DonorFace:
    """The face with its photo cut off above row ``top`` (a portrait framed too tightly)."""
    return DonorFace(face.image[top:], face.landmarks - [0.0, top], face.embedding)


def _render_with(references: dict, ids: tuple[str, ...]) -> tuple[compose.Prepared, np.ndarray, np.ndarray]:
    """The face and mask of a recipe over ``ids`` (the first with the largest weights), no edits."""
    prepared = compose.prepare(references, SIZE)
    weights = np.array([0.7, 0.3][: len(ids)])
    weights /= weights.sum()
    recipe = compose.Recipe(ids, {p: weights for p in compose.PARTS}, -0.5, np.zeros(len(reshape.NAMES)))
    face, _, mask = compose.render(prepared, recipe)
    return prepared, face, mask


@pytest.mark.parametrize("others", [(), ("P001",)], ids=["alone", "with-P001"])
def test_the_frame_beyond_a_donor_photo_is_filled_not_streaked(donors, others):
    """P007's photo cut above the forehead leaves the top of the frame uncovered: no repeated edge pixels there.

    Repeating the photo's edge row draws vertical streaks: the band above the edge varies across a row
    far more than down a column. Filled from P001's real pixels or with a plain background it does not;
    inside the face mask, which the cut photo still covers, the face is the one the whole photo gives.
    """
    cut = _cut_above(donors["P007"][0], 90)
    ids = ("P007", *others)
    rest = {d: (donors[d][0].image, donors[d][0].landmarks) for d in others}
    prepared, face, mask = _render_with({"P007": (cut.image, cut.landmarks), **rest}, ids)
    corners = np.array([[0.0, 0.0], [cut.image.shape[1] - 1.0, 0.0]])
    edge = apply(similarity(cut.landmarks, prepared.mean), corners)[:, 1].min()  # the cut, in the frame
    band = face[: int(edge) - 8].astype(np.float32)  # clear of the few px the warp onto the recipe moves it
    assert len(band) >= 30 and mask[: len(band)].max() == 0
    across = np.abs(np.diff(band, axis=1)).mean()
    down = np.abs(np.diff(band, axis=0)).mean()
    assert across < 2 * down + 2, f"streaks above the cut: {across:.1f} across a row, {down:.1f} down a column"
    whole = donors["P007"][0]
    _, full, full_mask = _render_with({"P007": (whole.image, whole.landmarks), **rest}, ids)
    np.testing.assert_array_equal(mask, full_mask)
    assert np.abs(face.astype(int) - full)[mask == 255].max() <= 1


# --------------------------------------------------------------------------- synthesis


def test_identity_is_a_canonical_face_with_its_mask(first, donors):
    assert first.face.shape == (SIZE, SIZE, 3) and first.face.dtype == np.uint8
    assert first.mask.shape == (SIZE, SIZE) and first.mask.dtype == np.uint8
    assert first.landmarks.shape == (68, 2)
    inner = np.rint(first.landmarks[27:68]).astype(int)  # nose, eyes, mouth: well inside the face
    assert (first.mask[inner[:, 1], inner[:, 0]] == 255).all()
    assert first.mask[0, 0] == 0 and first.mask[-1, -1] == 0 and first.mask[0, SIZE // 2] == 0
    assert 0.15 < (first.mask > 127).mean() < 0.6
    assert len(first.donor_ids) == 3 and set(first.donor_ids) <= set(PEOPLE)
    assert sum(first.weights) == pytest.approx(1.0) and min(first.weights) >= 0
    left, right = eye_centres(first.landmarks)
    np.testing.assert_allclose((left + right) / 2, np.array(EYE_ANCHOR) * SIZE, atol=1e-6)
    # a real face for dlib: the recorded embedding is the face's own, and it is nobody's copy
    assert first.embedding.shape == (128,)
    recomputed = _recomputed_nearest(first, synthesis.centroids(donors))
    assert first.nearest_donor_distance == pytest.approx(recomputed, abs=1e-6)
    assert first.nearest_donor_distance > 0.1
    assert len(first.attempts) == 1 and first.attempts[0].reason is None


def test_synthesis_is_deterministic(first, donors):
    again = _make(donors, 7)
    assert again.face.tobytes() == first.face.tobytes()
    assert again.mask.tobytes() == first.mask.tobytes()
    np.testing.assert_array_equal(again.landmarks, first.landmarks)
    np.testing.assert_array_equal(again.embedding, first.embedding)
    other = _make(donors, 8)
    assert other.face.tobytes() != first.face.tobytes()


@pytest.mark.parametrize("rule", ["donor", "identity"])
def test_a_candidate_too_close_is_rejected_and_the_search_goes_on(first, donors, rule):
    """Seed 7 draws ``first`` again as its first candidate; declared as a donor (or identity) it must be refused."""
    known = {"twin": first.embedding}
    if rule == "donor":
        made = _make(donors, 7, avoid=known, min_donor_distance=0.25, max_attempts=40)
    else:
        made = _make(donors, 7, identities=known, min_identity_distance=0.25, max_attempts=40)
    rejected = made.attempts[0]
    assert rejected.reason is not None and f"nearest {rule} twin at 0.000" in rejected.reason
    assert len(made.attempts) > 1 and made.attempts[-1].reason is None
    assert all(a.reason for a in made.attempts[:-1])
    if rule == "donor":
        everyone = {**synthesis.centroids(donors), **known}
        assert made.nearest_donor_distance >= 0.25
        assert made.nearest_donor_distance == pytest.approx(_recomputed_nearest(made, everyone), abs=1e-6)
    else:
        assert made.nearest_identity == "twin" and made.nearest_identity_distance >= 0.25
        assert made.nearest_identity_distance == pytest.approx(_recomputed_nearest(made, known), abs=1e-6)


def test_failure_records_every_attempt_and_the_best(donors):
    with pytest.raises(SynthesisFailed, match="min_donor_distance 5.0") as caught:
        synthesise(donors, 2, np.random.default_rng(3), min_donor_distance=5.0, max_attempts=3)
    failed = caught.value
    assert len(failed.attempts) == 3
    assert all("min_donor_distance 5.0" in a.reason for a in failed.attempts)
    assert failed.best.nearest_donor_distance == max(a.nearest_donor_distance for a in failed.attempts)
    assert failed.best.nearest_donor_distance == pytest.approx(
        _recomputed_nearest(failed.best, synthesis.centroids(donors)), abs=1e-6
    )


def test_unusable_donors_and_arguments_are_named(donors):
    rng = np.random.default_rng(0)
    with pytest.raises(SynthesisError, match="k must be between 1 and the number of donors given"):
        synthesise(donors, 5, rng)
    with pytest.raises(SynthesisError, match="size must be at least 512"):
        synthesise(donors, 2, rng, size=256)
    broken = {**donors, "P999": [DonorFace(donors["P001"][0].image, np.zeros((5, 2)), donors["P001"][0].embedding)]}
    with pytest.raises(SynthesisError, match=r"P999 face 0: landmarks must be a finite \(68, 2\) array"):
        synthesise(broken, 2, rng)
    with pytest.raises(SynthesisError, match="P998: no face"):
        synthesise({**donors, "P998": []}, 2, rng)
    with pytest.raises(SynthesisError, match="unknown synthesis method 'gan'"):
        synthesise(donors, 2, rng, method="gan")
