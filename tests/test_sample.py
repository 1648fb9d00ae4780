"""Stage sample: sheet cells, the landmark-guided morph, and a tiny real sample built from openpeople."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import openpeople
import pytest

from facecast.errors import InputError
from facecast.params import SampleParams
from facecast.sample import build_sample
from facecast.sample.cell_landmarks import face_landmarks
from facecast.sample.donor_files import COLUMNS, MAX_SIDE, expression_file
from facecast.sample.morph import ease, morph
from facecast.sample.people import skin_tone_numeral
from facecast.sample.sheets import CHARACTER_GRID, EMOTIONS_GRID, SheetError, find_cells
from facecast.sample.timeline import TRANSITION, plan

PEOPLE = openpeople.curated.list()
TINY = SampleParams(people=2, expressions=3, hold_frames=3, morph_frames=3)


def _sheet(person, key: str) -> np.ndarray:
    """A half-size copy of a sheet (decoded reduced by libjpeg: cheap)."""
    return cv2.imread(str(person.asset_path(key)), cv2.IMREAD_REDUCED_COLOR_2)


def _read_frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    summary = build_sample(TINY, 0, out)
    return out, summary


# --- sheets -----------------------------------------------------------------


def _assert_grid(cells, grid):
    rows, cols = grid
    assert len(cells) == rows * cols
    for r in range(rows):
        row = cells[r * cols : (r + 1) * cols]
        assert [c.x0 for c in row] == sorted(c.x0 for c in row)  # left to right
        if r:
            assert min(c.y0 for c in row) > max(c.y1 for c in cells[(r - 1) * cols : r * cols])  # below the row above


@pytest.mark.parametrize("person", PEOPLE, ids=[p.person_id for p in PEOPLE])
def test_every_sheet_has_its_grid_of_cells(person):
    emotions = _sheet(person, "emotions_sheet")
    cells = find_cells(emotions, EMOTIONS_GRID, "emotions")
    _assert_grid(cells, EMOTIONS_GRID)
    for cell in cells:
        photo = cell.crop(emotions)
        white = cv2.inRange(photo, (200, 200, 200), (255, 255, 255)) > 0
        # Cropped inside the border: the top, left and right edges of the photo are not the white line.
        assert white[0].mean() < 0.5 and white[:, 0].mean() < 0.5 and white[:, -1].mean() < 0.5
    _assert_grid(find_cells(_sheet(person, "character_sheet"), CHARACTER_GRID, "character"), CHARACTER_GRID)


def test_a_sheet_without_its_grid_is_a_clear_error():
    grey = np.full((900, 1200, 3), 127, np.uint8)
    with pytest.raises(SheetError, match=r"blank sheet: expected a 4x4 grid of white-bordered cells, found 0"):
        find_cells(grey, EMOTIONS_GRID, "blank sheet")

    damaged = _sheet(PEOPLE[0], "emotions_sheet").copy()
    cell = find_cells(damaged, EMOTIONS_GRID, "intact")[5]
    photo = cell.crop(damaged).copy()
    cv2.rectangle(damaged, (cell.x0 - 15, cell.y0 - 15), (cell.x1 + 15, cell.y1 + 15), (127, 127, 127), -1)
    damaged[cell.y0 : cell.y1, cell.x0 : cell.x1] = photo  # the photo stays, its border is gone
    with pytest.raises(SheetError, match=r"damaged: .* found 15 bordered cell\(s\) in rows of \[4, 3, 4, 4\]"):
        find_cells(damaged, EMOTIONS_GRID, "damaged")
    assert issubclass(SheetError, InputError)


# --- morph ------------------------------------------------------------------


def test_morph_moves_the_face_along_its_landmarks():
    """A face and the same face shifted 40 px: halfway, one face stands halfway, not two ghosts."""
    emotions = cv2.cvtColor(cv2.imread(str(PEOPLE[0].asset_path("emotions_sheet"))), cv2.COLOR_BGR2RGB)
    a = np.ascontiguousarray(find_cells(emotions, EMOTIONS_GRID, "emotions")[0].crop(emotions))
    shift = np.array([40.0, 0.0], np.float32)
    b = cv2.warpAffine(
        a, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), a.shape[1::-1], borderMode=cv2.BORDER_REPLICATE
    )
    points_a = face_landmarks(a)
    points_b = face_landmarks(b)
    assert np.abs(points_b - points_a - shift).mean() < 1.5  # the detector sees the shift

    half = face_landmarks(morph(a, points_a, b, points_b, 0.5))
    expected = (points_a + points_b) / 2
    assert np.abs(half - expected).mean() < 2.0
    # A cross-fade would leave the two faces where they were; the morph's face is 20 px from both.
    crossfade = face_landmarks(cv2.addWeighted(a, 0.5, b, 0.5, 0))
    assert np.abs(crossfade - expected).mean() > np.abs(half - expected).mean() + 3.0
    assert np.array_equal(morph(a, points_a, b, points_b, 0.0), a)


def test_ease_is_smooth_and_strictly_between_the_holds():
    t = ease(8)
    assert len(t) == 8 and 0 < t[0] < t[-1] < 1 and np.all(np.diff(t) > 0)
    np.testing.assert_allclose(t + t[::-1], 1.0)  # symmetric: slow in, slow out
    assert t[0] < 1 / 9  # starts slower than linear


def test_plan_holds_and_morphs():
    segments = plan(["neutral", "happy"], 2, 3)
    assert [(s.start, s.end, s.label) for s in segments] == [(0, 1, "neutral"), (2, 4, TRANSITION), (5, 6, "happy")]
    assert [(s.start, s.end, s.label) for s in plan(["neutral"], 4, 3)] == [(0, 3, "neutral")]


def test_skin_tone_is_parsed_to_a_fitzpatrick_numeral():
    assert skin_tone_numeral("Fitzpatrick II", "P001") == "II"
    assert skin_tone_numeral(" fitzpatrick vi ", "P001") == "VI"
    for bad in ("Fitzpatrick VII", "II", "dark", ""):
        with pytest.raises(InputError, match="P042: skin_tone"):
            skin_tone_numeral(bad, "P042")


# --- the tiny sample ----------------------------------------------------------


def test_tiny_sample_has_the_right_files(tiny):
    out, summary = tiny
    n_frames = 3 * 3 + 2 * 3
    assert summary == {
        "people": 2,
        "donors": 2,
        "clips": 2,
        "frames_per_clip": n_frames,
        "expressions": 3,
        "donor_images": 38,
    }
    assert sorted(p.name for p in (out / "clips").iterdir()) == ["P001_expressions.mp4", "P002_expressions.mp4"]
    expected = {"studio_portrait.jpg", "selfie.jpg", "front.jpg", *(expression_file(i) for i in range(16))}
    assert expression_file(15) == "expr_16_determined.jpg"
    for pid in ("P001", "P002"):
        folder = out / "donors" / pid
        assert {p.name for p in folder.iterdir()} == expected
        for name in expected:
            image = cv2.imread(str(folder / name))
            assert image is not None and max(image.shape[:2]) <= MAX_SIDE
    assert _read_csv(out / "subjects.csv") == [
        {"clip": "P001_expressions", "subject_id": "P001"},
        {"clip": "P002_expressions", "subject_id": "P002"},
    ]


def test_donor_only_people_are_in_the_gallery_and_not_in_the_footage(tmp_path):
    """The embedded default's arrangement: the footage's people and the donors' are different people."""
    params = SampleParams(people=3, donor_only=["P002"], expressions=1, hold_frames=2, morph_frames=1)
    summary = build_sample(params, 0, tmp_path)
    assert summary["clips"] == 2 and summary["donors"] == 1
    assert sorted(p.name for p in (tmp_path / "clips").iterdir()) == ["P001_expressions.mp4", "P003_expressions.mp4"]
    assert sorted(p.name for p in (tmp_path / "donors").iterdir() if p.is_dir()) == ["P002"]
    assert [r["donor_id"] for r in _read_csv(tmp_path / "donors" / "donors.csv")] == ["P002"]
    subjects = {r["subject_id"] for r in _read_csv(tmp_path / "subjects.csv")}
    assert subjects == {"P001", "P003"} and not subjects & {"P002"}
    for bad, message in (
        (["P004"], "P004 not among the first 3 people"),
        (["P001", "P001"], "listed twice"),
        (["P001", "P002", "P003"], "no footage"),
    ):
        with pytest.raises(ValueError, match=message):
            SampleParams(people=3, donor_only=bad)


def test_labels_cover_every_decoded_frame_once(tiny):
    out, _ = tiny
    rows = _read_csv(out / "labels.csv")
    assert list(rows[0]) == ["clip", "start_frame", "end_frame", "label"]
    for clip in ("P001_expressions", "P002_expressions"):
        segs = [(int(r["start_frame"]), int(r["end_frame"]), r["label"]) for r in rows if r["clip"] == clip]
        cap = cv2.VideoCapture(str(out / "clips" / f"{clip}.mp4"))
        assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(25.0)
        size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        cap.release()
        assert size == (480, 360)
        n_decoded = len(_read_frames(out / "clips" / f"{clip}.mp4"))
        covered = np.zeros(n_decoded, int)
        for start, end, _ in segs:
            covered[start : end + 1] += 1
        assert covered.tolist() == [1] * n_decoded and segs[-1][1] == n_decoded - 1
        assert [label for *_, label in segs] == ["neutral", TRANSITION, "happy", TRANSITION, "sad"]


def test_donors_csv(tiny):
    out, _ = tiny
    rows = _read_csv(out / "donors" / "donors.csv")
    assert list(rows[0]) == list(COLUMNS)
    assert [r["donor_id"] for r in rows] == [r["person_id"] for r in rows] == ["P001", "P002"]
    for row, person in zip(rows, PEOPLE):
        d = person.demographics
        assert (row["sex"], row["age_range"], row["ethnicity"]) == (d.sex, d.age_range, d.ethnicity)
        assert f"Fitzpatrick {row['skin_tone']}" == d.skin_tone
        assert row["source"] == f"openpeople {openpeople.__version__} curated {person.person_id}"
        assert row["licence"] == "MIT"


def test_a_morph_frame_sits_between_its_neighbours(tiny):
    """In the clip, the middle morph frame's landmarks are the eased interpolation of the held frames'."""
    out, _ = tiny
    frames = _read_frames(out / "clips" / "P001_expressions.mp4")
    rows = [r for r in _read_csv(out / "labels.csv") if r["clip"] == "P001_expressions"]
    morph_seg = next(r for r in rows if r["label"] == TRANSITION)
    start, end = int(morph_seg["start_frame"]), int(morph_seg["end_frame"])
    before, after = face_landmarks(frames[start - 1]), face_landmarks(frames[end + 1])
    k = (end - start) // 2
    t = ease(end - start + 1)[k]
    middle = face_landmarks(frames[start + k])
    expected = (1 - t) * before + t * after
    assert np.abs(middle - expected).mean() < 1.5
    # The expression does change across the morph (mouth: points 48-67), so the check is not vacuous.
    assert np.abs(after[48:] - before[48:]).mean() > 3.0
