"""The expression atlas (cast) and how swap picks, lights and details its entries.

Real donors: three openpeople people, four photographs each from their
emotions sheets (neutral, happy, surprised, disgusted), found by dlib's HOG
detector, with dlib's 68 landmarks and 128-D embeddings.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facecast.cast import atlas, compose, morph
from facecast.cast.synthesis import DonorFace, centroids, reference_faces, synthesise
from facecast.geometry.filters import expression_region
from facecast.geometry.landmarks import expression, inter_ocular, mouth_gap
from facecast.swap import detail
from facecast.swap.expressions import choose
from facecast.swap.quality import measure

PEOPLE = ("P002", "P005", "P009")
CELLS = {0: "expr_01_neutral", 1: "expr_02_happy", 4: "expr_05_surprised", 5: "expr_06_disgusted"}
SIZE = 512


def _analysed(rgb: np.ndarray, name: str) -> DonorFace:
    import dlib

    from facecast.models.embedding import embed_chips, face_chips
    from facecast.models.landmarks import fit_shape, shape_points

    rects = dlib.get_frontal_face_detector()(rgb, 1)
    assert len(rects) == 1, f"{name}: expected one face, found {len(rects)}"
    r = rects[0]
    shape = fit_shape(rgb, np.array([r.left(), r.top(), r.right(), r.bottom()], np.float32))
    return DonorFace(rgb, shape_points(shape).astype(np.float64), embed_chips(face_chips(rgb, [shape]))[0], name)


@pytest.fixture(scope="module")
def donors() -> dict[str, list[DonorFace]]:
    from facecast.sample.people import subjects

    people = {s.person_id: s for s in subjects(10)}
    out = {}
    for person in PEOPLE:
        cells = people[person].expression_cells
        out[person] = [_analysed(np.ascontiguousarray(cells[i]), f"{person}/{name}.jpg") for i, name in CELLS.items()]
    return out


@pytest.fixture(scope="module")
def identity(donors):
    """The first candidate of seed 3 (no distance rule, so it is accepted)."""
    rules = {"min_donor_distance": 0.0, "min_identity_distance": 0.0, "max_attempts": 1}
    return synthesise(donors, 3, np.random.default_rng(3), **rules)


@pytest.fixture(scope="module")
def entries(donors, identity):
    return atlas.build(donors, identity, SIZE, centroids(donors), 0.0)


def test_the_reference_face_is_each_donors_neutral_photograph(donors):
    """With several photographs, a closed-lip smile is not taken for the face at rest."""
    references = reference_faces(donors)
    for person, faces in donors.items():
        chosen = next(f for f in faces if f.image is references[person][0])
        assert chosen.name.endswith("expr_01_neutral.jpg"), f"{person}: {chosen.name}"


def test_every_expression_of_the_lead_donor_is_an_entry_named_by_its_file(entries, identity):
    assert [e.key for e in entries] == ["expr_02_happy", "expr_05_surprised", "expr_06_disgusted"]
    for e in entries:
        assert e.status == atlas.OK and e.method == atlas.BLEND
        assert set(e.sources) == set(identity.donor_ids)
        assert all(src.endswith(f"{e.key}.jpg") for src in e.sources.values()), e.sources
        assert e.face.shape == (SIZE, SIZE, 3) and e.landmarks.shape == (68, 2)


def test_entries_do_the_donors_expressions_on_the_identitys_shape(donors, entries, identity):
    by_key = {e.key: e for e in entries}
    reference = identity.landmarks
    # the surprised entry opens the mouth, the happy one widens it; the disgusted one does neither as much
    assert mouth_gap(by_key["expr_05_surprised"].landmarks) > mouth_gap(reference) + 0.1

    def width(points):
        return np.linalg.norm(points[54] - points[48]) / inter_ocular(points)

    assert width(by_key["expr_02_happy"].landmarks) > width(reference) + 0.05
    # each entry's expression points the way the lead donor's photograph of it does
    lead = identity.donor_ids[int(np.argmax(identity.recipe.overall))]
    rest = next(f for f in donors[lead] if f.name.endswith("neutral.jpg")).landmarks
    for e in entries:
        photo = next(f for f in donors[lead] if f.name.endswith(f"{e.key}.jpg")).landmarks
        ours, theirs = expression(e.landmarks, reference).ravel(), expression(photo, rest).ravel()
        assert ours @ theirs / (np.linalg.norm(ours) * np.linalg.norm(theirs)) > 0.7, e.key
    # and its texture carries it: dlib, fitting its 68 points on the surprised entry's pixels alone, reads a
    # mouth open wider than on the reference face merely warped onto the same shape (what swap did before)
    from facecast.geometry.boxes import points_box
    from facecast.models.landmarks import fit_shape, shape_points

    surprised = by_key["expr_05_surprised"]
    warp = morph.Warp(compose.warp_points(surprised.landmarks, SIZE), SIZE)
    stretched = warp(identity.face, compose.warp_points(identity.landmarks, SIZE))
    box = points_box(surprised.landmarks.astype(np.float32))
    read = [mouth_gap(shape_points(fit_shape(image, box))) for image in (surprised.face, stretched)]
    assert read[0] > read[1] + 0.05, read


def test_an_entry_too_near_a_donor_is_made_the_ratio_way_and_dropped_when_still_near(donors, identity):
    """No entry can be 2.0 from every donor (dlib distances stay under 1.5): each is tried both ways, dropped."""
    dropped = atlas.build(donors, identity, SIZE, centroids(donors), 2.0)
    assert len(dropped) == 3
    for e in dropped:
        assert e.status == atlas.DROPPED and e.method == atlas.RATIO
        assert "< min_donor_distance 2.0" in e.reason and e.nearest_donor in e.reason


def test_a_ratio_entry_changes_the_identity_only_where_expressions_fold(donors, identity, entries):
    """Outside the forehead, eyes' surroundings and nose it is the identity's own face on the expression's shape."""
    prepared = compose.prepare(reference_faces(donors), SIZE)
    e = next(e for e in entries if e.key == "expr_06_disgusted")
    references = reference_faces(donors)
    faces = atlas.aligned_faces(donors, references, prepared, identity.recipe)
    chosen = {d: next(a for a in faces[d] if a.face.name == e.sources[d]) for d in identity.donor_ids}
    posed, _, _ = atlas.pose(chosen, references, prepared, identity.recipe)
    image = atlas.ratio_entry(identity, prepared, posed, identity.recipe, e.landmarks)
    warp = morph.Warp(compose.warp_points(e.landmarks, SIZE), SIZE)
    plain = warp(identity.face, compose.warp_points(identity.landmarks, SIZE))
    region = expression_region(e.landmarks, SIZE, SIZE)
    outside = (region < 1e-3) & warp.inside
    diff = np.abs(image.astype(int) - plain.astype(int)).max(axis=2)
    assert diff[outside].max() <= 1
    assert (diff[region > 0.9] > 8).mean() > 0.02  # the disgusted nose and frown are folded in


# --------------------------------------------------------------------------- swap: choosing entries


def test_each_frame_takes_the_entry_of_its_own_expression():
    rng = np.random.default_rng(0)
    entries = np.stack([np.zeros((40, 2)), *[rng.normal(0, 0.08, (40, 2)) for _ in range(3)]])
    frames = np.repeat(entries, 10, axis=0) + rng.normal(0, 0.003, (40, 40, 2))
    chosen = choose(frames, entries, softness=0.02, smooth_frames=0.0)
    heaviest = [max(c.entries, key=lambda e: e[1])[0] for c in chosen]
    assert heaviest == list(np.repeat(np.arange(4), 10))
    assert all(c.distance < 0.01 for c in chosen)


def test_a_one_frame_twitch_does_not_switch_the_entry():
    entries = np.stack([np.zeros((40, 2)), np.full((40, 2), 0.1)])
    frames = np.zeros((21, 40, 2))
    frames[10] = 0.1
    smoothed = choose(frames, entries, softness=0.02, smooth_frames=2.0)
    assert max(smoothed[10].entries, key=lambda e: e[1])[0] == 0
    raw = choose(frames, entries, softness=0.02, smooth_frames=0.0)
    assert max(raw[10].entries, key=lambda e: e[1])[0] == 1


def test_an_atlas_of_one_face_renders_every_frame_from_it_and_says_how_far_it_is():
    frames = np.stack([np.zeros((40, 2)), np.full((40, 2), 0.05)])
    chosen = choose(frames, np.zeros((1, 40, 2)), softness=0.02, smooth_frames=2.0)
    assert [c.entries for c in chosen] == [((0, 1.0),), ((0, 1.0),)]
    assert chosen[1].distance == pytest.approx(np.sqrt(2) * 0.05)


# --------------------------------------------------------------------------- swap: light and quality


def test_shading_carries_the_frames_light_across_the_face(identity):
    """The frame's face lit from the left: the relit identity is darker on the right, as the frame is."""
    face = identity.face
    ramp = np.linspace(1.2, 0.5, SIZE, dtype=np.float32)[None, :, None]
    frame_face = np.clip(face.astype(np.float32) * ramp, 0, 255).astype(np.uint8)
    skin = morph.face_mask(identity.landmarks, SIZE)
    relit = detail.shading(face, frame_face, skin)

    def sides(image):
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(float)
        mid = int(identity.landmarks[27, 0])
        inside = skin > 0.5
        return grey[:, :mid][inside[:, :mid]].mean(), grey[:, mid:][inside[:, mid:]].mean()

    left, right = sides(relit)
    frame_left, frame_right = sides(frame_face)
    own_left, own_right = sides(face)
    assert left / right == pytest.approx(frame_left / frame_right, rel=0.1)
    assert own_left / own_right != pytest.approx(frame_left / frame_right, rel=0.1)  # it did not match before


def test_quality_sees_a_blurred_face_and_a_seam():
    rng = np.random.default_rng(1)
    original = np.clip(rng.normal(128, 30, (200, 200, 3)), 0, 255).astype(np.uint8)
    original = cv2.GaussianBlur(original, (0, 0), 1.0)
    core = np.zeros((200, 200), np.float32)
    cv2.circle(core, (100, 100), 60, 1.0, -1)
    alpha = cv2.GaussianBlur(core, (0, 0), 3.0)
    same = measure(original, original, alpha, 6.0)
    assert same.sharpness == pytest.approx(1.0) and same.seam == pytest.approx(same.seam_original)
    blurred = cv2.GaussianBlur(original, (0, 0), 3.0)
    soft = (blurred * alpha[..., None] + original * (1 - alpha[..., None])).astype(np.uint8)
    assert measure(original, soft, alpha, 6.0).sharpness < 0.3
    brighter = np.clip(original.astype(int) + 60, 0, 255).astype(np.uint8)
    pasted = np.where(core[..., None] > 0.5, brighter, original)
    assert measure(original, pasted, alpha, 6.0).seam > 2 * same.seam_original
