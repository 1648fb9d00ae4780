"""Stage ingest on tiny real inputs: videos written here with OpenCV, PNG folders, the shared webm and mp4."""

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from facecast import tables
from facecast.errors import InputError
from facecast.ingest import ingest
from facecast.io.clips import iter_frames
from facecast.params import IngestParams

REPO = Path(__file__).resolve().parents[1]
VIDEOS = REPO.parent / "shared" / "data" / "videos"
SIZE = (64, 48)  # width, height


def write_video(path: Path, n: int, fps: float = 10.0, size: tuple[int, int] = SIZE) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    assert writer.isOpened(), f"OpenCV cannot write {path}"
    for i in range(n):
        writer.write(np.full((size[1], size[0], 3), (i * 23) % 256, np.uint8))
    writer.release()
    return path


def write_images(folder: Path, sizes: list[tuple[int, int]], first: int = 1) -> Path:
    folder.mkdir(parents=True)
    for i, (w, h) in enumerate(sizes):
        assert cv2.imwrite(str(folder / f"frame_{first + i:04d}.png"), np.full((h, w, 3), i * 30, np.uint8))
    return folder


def tree_state(root: Path) -> dict[str, str]:
    """Every path under root with the sha256 and mtime of each file: any change to the tree changes it."""
    state = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        state[rel] = f"{hashlib.sha256(p.read_bytes()).hexdigest()} {p.stat().st_mtime_ns}" if p.is_file() else "dir"
    return state


def make_root(base: Path, labels: str | None, subjects: str | None = None, n_frames: int = 10) -> Path:
    """An input root with one 10-frame video clip 'walk' and the given CSV texts."""
    root = base / "input"
    (root / "clips").mkdir(parents=True)
    write_video(root / "clips" / "walk.mp4", n_frames)
    if labels is not None:
        (root / "labels.csv").write_text(labels)
    if subjects is not None:
        (root / "subjects.csv").write_text(subjects)
    return root


def run_ingest(root: Path, out: Path, **params) -> dict:
    return ingest(root, IngestParams(**params), interim=out / "interim", metrics=out / "metrics" / "ingest.json")


def issues_of(out: Path):
    return tables.read_df("ingest_issues", out / "interim" / "ingest_issues.parquet")


def labels_of(out: Path, clip_id: str) -> list:
    frames = tables.read_df("frames", out / "interim" / "frames.parquet")
    rows = frames[frames.clip_id == clip_id].sort_values("frame_idx")
    assert rows.frame_idx.tolist() == list(range(len(rows)))
    return [None if pd.isna(v) else v for v in rows.label]


# --- one realistic input with a bit of everything, ingested once ------------------------------------

LABELS = """clip,start_frame,end_frame,label
walk,0,3,walk
walk,2,5,run
walk,5,5,run
still,0,9,sit
ghost,0,1,wave
noise,0,1,wave
party_short,0,30,talk
"""

SUBJECTS = """clip,subject_id
walk,S1
still,S2
still,S3
party_short,S4
party_short,S4
ghost,S5
"""


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    base = tmp_path_factory.mktemp("mixed")
    root = base / "input"
    clips = root / "clips"
    clips.mkdir(parents=True)
    write_video(clips / "walk.mp4", 10)
    write_images(clips / "still", [SIZE] * 6)
    (clips / "still" / "Thumbs.db").write_bytes(b"\0" * 16)
    shutil.copyfile(VIDEOS / "party_short.webm", clips / "party_short.webm")
    mp4 = (VIDEOS / "party_640x480.mp4").read_bytes()
    (clips / "cut.mp4").write_bytes(mp4[: len(mp4) * 3 // 10])  # index at the front: decodes partially
    (clips / "noise.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    (clips / "zero.mp4").write_bytes(b"")
    write_images(clips / "broken", [SIZE] * 4)
    (clips / "broken" / "frame_0003.png").write_bytes(b"not a png")
    write_images(clips / "resized", [SIZE, SIZE, SIZE, (32, 24), SIZE])
    write_images(clips / "dupes", [SIZE] * 2)
    shutil.copyfile(clips / "dupes" / "frame_0001.png", clips / "dupes" / "frame_1.png")
    (clips / ".hidden.mp4").write_bytes(b"")
    (clips / "readme.txt").write_text("notes")
    (root / "labels.csv").write_text(LABELS)
    (root / "subjects.csv").write_text(SUBJECTS)
    before = tree_state(root)
    out = base / "out"
    # stills never: a folder whose image size changes ('resized') is unreadable, as for a sequence
    metrics = run_ingest(root, out, image_fps=12.5, stills="never")
    return {"root": root, "out": out, "metrics": metrics, "before": before, "after": tree_state(root)}


@pytest.fixture(scope="module")
def clips_df(mixed):
    return tables.read_df("clips", mixed["out"] / "interim" / "clips.parquet").set_index("clip_id")


@pytest.fixture(scope="module")
def issues(mixed):
    return issues_of(mixed["out"])


def one_issue(issues, kind, clip_id=None, source=None):
    found = issues[(issues.kind == kind) & ((issues.clip_id == clip_id) if clip_id else True)]
    if source:
        found = found[found.source == source]
    assert len(found) == 1, f"expected one {kind} issue for {clip_id}, got:\n{found.to_string()}"
    return found.iloc[0]


def test_input_tree_is_unchanged(mixed):
    assert mixed["after"] == mixed["before"]


def test_clips_are_found_decoded_and_counted(mixed, clips_df):
    root = mixed["root"]
    assert sorted(clips_df.index) == [
        "broken",
        "cut",
        "dupes",
        "noise",
        "party_short",
        "resized",
        "still",
        "walk",
        "zero",
    ]
    walk = clips_df.loc["walk"]
    assert (walk.kind, walk.n_frames, walk.fps, walk.width, walk.height, walk.status) == (
        "video",
        10,
        10.0,
        64,
        48,
        "ok",
    )
    assert walk.path == (root / "clips" / "walk.mp4").as_posix()
    assert walk.sha256 == hashlib.sha256((root / "clips" / "walk.mp4").read_bytes()).hexdigest()
    webm = clips_df.loc["party_short"]
    assert (webm.n_frames, webm.width, webm.height, webm.status) == (31, 640, 480, "ok")
    assert webm.fps == pytest.approx(30000 / 1001)
    still = clips_df.loc["still"]
    assert (still.kind, still.n_frames, still.fps, still.status) == ("images", 6, 12.5, "ok")
    assert len(still.sha256) == 64 and still.sha256 != clips_df.loc["resized"].sha256


def test_bad_clips_get_a_status_a_reason_and_no_frames(mixed, clips_df, issues):
    expected = {
        "noise": ("unreadable", 0, "could not be opened"),
        "zero": ("empty", 0, "0 bytes"),
        "broken": ("unreadable", 2, "decode failed at frame 2"),
        "resized": ("unreadable", 3, "frame 3 is 32x24, the frames before it are 64x48"),
        "dupes": ("unreadable", 0, "more than one image for frame number(s) [1]"),
    }
    for clip_id, (status, n_frames, reason) in expected.items():
        row = clips_df.loc[clip_id]
        assert (row.status, row.n_frames) == (status, n_frames), clip_id
        assert reason in row.reason
        assert reason in one_issue(issues, status, clip_id).reason
    cut = clips_df.loc["cut"]
    assert cut.status == "unreadable" and 0 < cut.n_frames < 90
    assert cut.reason == f"decoding stopped after {cut.n_frames} frame(s); the container declares 90"
    frames = tables.read_df("frames", mixed["out"] / "interim" / "frames.parquet")
    assert sorted(frames.clip_id.unique()) == ["party_short", "still", "walk"]


def test_entries_that_are_not_clips_are_recorded(issues):
    not_clips = issues[issues.kind == "not_a_clip"].reason.tolist()
    assert any(".hidden.mp4: hidden entry" in r for r in not_clips)
    assert any("readme.txt: not a video" in r for r in not_clips)
    assert "Thumbs.db" in one_issue(issues, "not_a_frame", "still").reason


def test_segments_label_frames_and_bad_rows_are_recorded(mixed, issues):
    out = mixed["out"]
    # rows 1 (walk 0..3) and 2 (run 2..5) disagree on 2..3; row 3 repeats run on 5; 6..9 unlabelled
    assert labels_of(out, "walk") == ["walk", "walk", None, None, "run", "run", None, None, None, None]
    overlap = one_issue(issues, "overlap", "walk")
    assert (overlap.row, overlap.frame_start, overlap.frame_end) == (2, 2, 3)
    assert "overlaps row(s) 1 ('walk', frames 0..3) on frames 2..3; those frames get no label" in overlap.reason
    dup = one_issue(issues, "duplicate", "walk", source="labels.csv")
    assert (dup.row, dup.frame_start, dup.frame_end) == (3, 5, 5) and "merged" in dup.reason
    gap = one_issue(issues, "unlabelled", "walk")
    assert (gap.frame_start, gap.frame_end) == (6, 9) and pd.isna(gap.row)
    # the out-of-range segment still labels the frames that exist
    assert labels_of(out, "still") == ["sit"] * 6
    oor = one_issue(issues, "out_of_range", "still")
    assert (oor.row, oor.frame_start, oor.frame_end) == (4, 6, 9)
    assert (
        oor.reason == "row 4: frames 6..9 past the end of clip 'still' (6 frames, 0..5); 'sit' applied to frames 0..5"
    )
    unknown = one_issue(issues, "unknown_clip", "ghost", source="labels.csv")
    assert (unknown.row, unknown.reason) == (5, "row 5: no clip 'ghost' in clips/")
    unusable = one_issue(issues, "unusable_clip", "noise")
    assert unusable.row == 6 and "clip 'noise' is unreadable" in unusable.reason
    assert labels_of(out, "party_short") == ["talk"] * 31


def test_subjects_are_assigned_and_problems_recorded(clips_df, issues):
    assert clips_df.loc["walk"].subject_id == "S1"
    assert clips_df.loc["party_short"].subject_id == "S4"
    assert pd.isna(clips_df.loc["still"].subject_id)  # S2 and S3: no guess
    assert pd.isna(clips_df.loc["cut"].subject_id)
    conflict = one_issue(issues, "subject_conflict", "still")
    assert conflict.reason == "row 3: clip 'still' has subject 'S3' here and 'S2' in row 2; the clip gets no subject"
    assert one_issue(issues, "duplicate", "party_short", source="subjects.csv").row == 5
    assert one_issue(issues, "unknown_clip", "ghost", source="subjects.csv").row == 6


def test_timestamps_use_the_clip_fps(mixed):
    frames = tables.read_df("frames", mixed["out"] / "interim" / "frames.parquet")
    still = frames[frames.clip_id == "still"]
    assert np.allclose(still.timestamp_s, still.frame_idx / 12.5)
    webm = frames[frames.clip_id == "party_short"]
    assert np.allclose(webm.timestamp_s, webm.frame_idx * 1001 / 30000)


def test_metrics_count_everything(mixed, issues):
    m = mixed["metrics"]
    assert json.loads((mixed["out"] / "metrics" / "ingest.json").read_text()) == m
    assert m["clips"] == {"total": 9, "ok": 3, "unreadable": 5, "empty": 1}
    # walk: 4 labelled, 2 conflicting, 4 unlabelled; still: 6 labelled; party_short: 31 labelled
    assert m["frames"] == {"total": 47, "labelled": 41, "unlabelled": 4, "conflicting": 2}
    assert m["label_rows"] == 7
    assert m["issues"]["total"] == len(issues)
    assert {k: v for k, v in m["issues"].items() if k != "total" and v} == issues.kind.value_counts().to_dict()


# --- the frame format ---------------------------------------------------------------------------


def test_frame_rows_label_single_frames(tmp_path):
    labels = "clip,frame,label\nwalk,0,a\nwalk,1,a\nwalk,1,b\nwalk,3,a\nwalk,3,a\nwalk,12,a\n"
    root = make_root(tmp_path, labels)
    m = run_ingest(root, tmp_path / "out")
    assert labels_of(tmp_path / "out", "walk") == ["a", None, None, "a", None, None, None, None, None, None]
    issues = issues_of(tmp_path / "out")
    assert one_issue(issues, "overlap").frame_start == 1
    assert one_issue(issues, "duplicate").row == 5
    assert one_issue(issues, "out_of_range").reason == "row 6: frame 12 past the end of clip 'walk' (10 frames, 0..9)"
    gaps = issues[issues.kind == "unlabelled"]
    assert list(zip(gaps.frame_start, gaps.frame_end)) == [(2, 2), (4, 9)]
    assert m["frames"] == {"total": 10, "labelled": 2, "unlabelled": 7, "conflicting": 1}


def test_header_only_labels_leave_every_frame_unlabelled_and_extra_columns_are_recorded(tmp_path):
    root = make_root(tmp_path, "clip,start_frame,end_frame,label,annotator\n")
    run_ingest(root, tmp_path / "out")
    issues = issues_of(tmp_path / "out")
    gap = one_issue(issues, "unlabelled", "walk")
    assert (gap.frame_start, gap.frame_end) == (0, 9)
    assert "column 'annotator' is not used" in one_issue(issues, "unknown_column").reason


def test_a_file_name_in_labels_gets_a_hint(tmp_path):
    root = make_root(tmp_path, "clip,frame,label\nwalk.mp4,0,a\n")
    run_ingest(root, tmp_path / "out")
    assert "did you mean 'walk'?" in one_issue(issues_of(tmp_path / "out"), "unknown_clip").reason


# --- what stops the stage -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ("", "no header row"),
        ("clip,start_frame,label\nwalk,0,a\n", r"missing column\(s\) end_frame for the segments format"),
        ("clip,frame,start_frame,end_frame,label\n", "mixes both formats"),
        ("clip,label\nwalk,a\n", "no frame columns"),
        ("clip,start_frame,end_frame,label\nwalk,0,1,a\nwalk,x,3,b\n", "row 2: start_frame 'x' is not a frame number"),
        ("clip,frame,label\nwalk,1.5,a\n", "row 1: frame '1.5' is not a frame number"),
        ("clip,frame,label\nwalk,-1,a\n", "row 1: frame '-1' is not a frame number"),
        ("clip,frame,label\nwalk,99999999999,a\n", "row 1: frame 99999999999 is larger than the largest frame number"),
        ("clip,start_frame,end_frame,label\nwalk,0,1,a\nwalk,4,1,b\n", "row 2: end_frame 1 is before start_frame 4"),
        ("clip,start_frame,end_frame,label\nwalk,0,1,\n", "row 1: label is empty"),
        ("clip,frame,label\n,0,a\n", "row 1: clip is empty"),
        ("clip,frame,label\nwalk,0,a,extra\n", "row 1: 4 fields, the header has 3"),
        ("clip,frame,label\nwalk,0,a\n\nwalk,z,b\n", "row 3: frame 'z' is not a frame number"),
        ('clip,frame,label\nwalk,0,"a"b\n', "line 2: not valid CSV"),
        ("clip,frame,frame,label\n", "column 'frame' appears more than once"),
    ],
)
def test_malformed_labels_stop_with_the_file_and_row(tmp_path, labels, message):
    root = make_root(tmp_path, labels)
    with pytest.raises(InputError, match=message) as err:
        run_ingest(root, tmp_path / "out")
    assert str(root / "labels.csv") in str(err.value)
    assert not (tmp_path / "out").exists()


def test_all_bad_rows_are_listed_at_once(tmp_path):
    root = make_root(tmp_path, "clip,frame,label\nwalk,x,a\nwalk,1,\n")
    with pytest.raises(InputError, match="2 problem") as err:
        run_ingest(root, tmp_path / "out")
    assert "row 1: frame 'x'" in str(err.value) and "row 2: label is empty" in str(err.value)


def test_missing_labels_file_stops(tmp_path):
    root = make_root(tmp_path, None)
    with pytest.raises(InputError, match="labels file not found"):
        run_ingest(root, tmp_path / "out")


def test_malformed_subjects_stop(tmp_path):
    root = make_root(tmp_path, "clip,frame,label\nwalk,0,a\n", subjects="clip,subject\nwalk,S1\n")
    with pytest.raises(InputError, match=r"subjects.csv: missing column\(s\) subject_id"):
        run_ingest(root, tmp_path / "out")


def test_subjects_may_declare_age_and_sex(tmp_path):
    root = make_root(tmp_path, "clip,frame,label\nwalk,0,a\n", subjects="clip,subject_id,age,sex\nwalk,S1,3-9,Female\n")
    run_ingest(root, tmp_path / "out")
    clip = tables.read_df("clips", tmp_path / "out" / "interim" / "clips.parquet").iloc[0]
    assert (clip.subject_id, clip.subject_age, clip.subject_sex) == ("S1", "3-9", "female")
    assert not len(issues_of(tmp_path / "out").query("kind == 'unknown_column'"))
    root = make_root(tmp_path / "blank", "clip,frame,label\nwalk,0,a\n", subjects="clip,subject_id,age\nwalk,S1,\n")
    run_ingest(root, tmp_path / "blank" / "out")
    clip = tables.read_df("clips", tmp_path / "blank" / "out" / "interim" / "clips.parquet").iloc[0]
    assert pd.isna(clip.subject_age) and pd.isna(clip.subject_sex)  # an empty value declares nothing


def test_an_age_or_sex_that_is_not_one_stops(tmp_path):
    root = make_root(tmp_path, "clip,frame,label\nwalk,0,a\n", subjects="clip,subject_id,age,sex\nwalk,S1,young,x\n")
    with pytest.raises(InputError, match=r"(?s)row 1: age 'young' is not an age.*row 1: sex 'x' is not one of female"):
        run_ingest(root, tmp_path / "out")


def test_two_clips_with_one_id_stop_naming_both(tmp_path):
    root = make_root(tmp_path, "clip,frame,label\nwalk,0,a\n")
    write_video(root / "clips" / "walk.avi", 3)
    with pytest.raises(InputError, match=r"clip id 'walk' is used by .*walk\.avi and .*walk\.mp4"):
        run_ingest(root, tmp_path / "out")


def test_input_root_that_is_a_file_says_so(tmp_path):
    footage = tmp_path / "footage.mp4"
    footage.write_bytes(b"\x00" * 16)
    with pytest.raises(InputError, match=r"footage.mp4: input.root \(.*\) is a file, expected a folder"):
        run_ingest(footage, tmp_path / "out")
    with pytest.raises(InputError, match=r"absent: input.root \(.*\) not found"):
        run_ingest(tmp_path / "absent", tmp_path / "out")


def test_missing_clips_or_no_clips_stop(tmp_path):
    root = tmp_path / "input"
    root.mkdir()
    (root / "labels.csv").write_text("clip,frame,label\n")
    with pytest.raises(InputError, match=r"clips: clips folder \(input.root/clips\) not found"):
        run_ingest(root, tmp_path / "out")
    (root / "clips").write_text("not a folder")
    with pytest.raises(InputError, match=r"clips: clips folder \(input.root/clips\) is a file, expected a folder"):
        run_ingest(root, tmp_path / "out")
    (root / "clips").unlink()
    (root / "clips").mkdir()
    (root / "clips" / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="no clips"):
        run_ingest(root, tmp_path / "out")


def test_outputs_inside_the_input_root_stop(tmp_path):
    root = make_root(tmp_path, "clip,frame,label\nwalk,0,a\n")
    before = tree_state(root)
    with pytest.raises(InputError, match="never writes under input.root"):
        run_ingest(root, root / "out")
    assert tree_state(root) == before


def test_strict_labels_stop_listing_every_bad_row(tmp_path):
    labels = "clip,start_frame,end_frame,label\nwalk,0,5,a\nwalk,4,9,b\nghost,0,1,a\nwalk,8,20,b\n"
    root = make_root(tmp_path, labels)
    with pytest.raises(InputError, match="4 label row problem") as err:
        run_ingest(root, tmp_path / "out", strict_labels=True)
    text = str(err.value)
    assert text.startswith(f"{root / 'labels.csv'}: ")
    for listed in ("overlap: row 2", "unknown_clip: row 3", "out_of_range: row 4", "duplicate: row 4"):
        assert listed in text
    assert not (tmp_path / "out").exists()
    # the same file without strict_labels: recorded, and the stage goes on
    assert run_ingest(root, tmp_path / "out")["issues"]["overlap"] == 1


def test_stage_script_indexes_or_exits_2_with_the_message(tmp_path):
    root = make_root(tmp_path, "clip,frame,label\nwalk,0,a\n")
    (tmp_path / "params.yaml").write_text(f"seed: 1\ninput:\n  root: {root.name}\ningest:\n  image_fps: 5.0\n")
    script = [sys.executable, str(REPO / "stages" / "ingest.py")]
    done = subprocess.run(script, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    clips = tables.read_df("clips", tmp_path / "data" / "interim" / "clips.parquet")
    assert clips.path.tolist() == ["input/clips/walk.mp4"]
    assert json.loads((tmp_path / "metrics" / "ingest.json").read_text())["frames"]["labelled"] == 1
    (root / "labels.csv").write_text("clip,frame,label\nwalk,x,a\n")
    failed = subprocess.run(script, cwd=tmp_path, capture_output=True, text=True)
    assert failed.returncode == 2
    assert failed.stderr.startswith("facecast ingest: input/labels.csv: 1 problem(s):\n  row 1: frame 'x'")


# --- control characters: published strings must be plain text ------------------------------------


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (
            "clip,frame,label\nwalk,0,a\nwalk,1,sm\0ile\n",
            r"row 2 \(line 3\): label 'sm\\x00ile' has control character\(s\) '\\x00'",
        ),
        (
            "clip,frame,label\nwalk,0,left\tright\n",
            r"row 1 \(line 2\): label 'left\\tright' has control character\(s\) '\\t'",
        ),
        # a quoted newline: the row after it starts a line later than its row number suggests
        ('clip,frame,label\nwalk,0,"two\nlines"\nwalk,1,x\u200by\n', r"row 2 \(line 4\): label 'x\\u200by'"),
        ("clip,frame,label\nwa\x1blk,0,a\n", r"row 1 \(line 2\): clip 'wa\\x1blk' has control character\(s\) '\\x1b'"),
        ("clip,frame,label\nwalk,0,\u202eevil\u2028x\n", r"control character\(s\) '\\u202e', '\\u2028'"),
        ("clip,frame,label,no\0te\n", r"header: column 4 'no\\x00te' has control character\(s\) '\\x00'"),
        ("clip,frame,label\nwalk,\0,a\n", r"row 1: frame '\\x00' is not a frame number"),
    ],
)
def test_control_characters_in_labels_stop_naming_row_line_and_character(tmp_path, labels, message):
    root = make_root(tmp_path, labels)
    with pytest.raises(InputError, match=message) as err:
        run_ingest(root, tmp_path / "out")  # strict_labels false: a format problem stops all the same
    text = str(err.value)
    assert text.startswith(f"{root / 'labels.csv'}: ")
    assert not any(c in text for c in "\0\t\x1b\u200b\u202e\u2028")  # shown escaped, never as they are
    assert all(line.isprintable() for line in text.splitlines())
    assert not (tmp_path / "out").exists()


def test_the_quoted_newline_itself_is_refused(tmp_path):
    root = make_root(tmp_path, 'clip,frame,label\nwalk,0,"two\nlines"\n')
    with pytest.raises(InputError, match=r"1 problem\(s\):\n  row 1 \(line 2\): label 'two\\nlines'"):
        run_ingest(root, tmp_path / "out")


def test_surrounding_spaces_and_tabs_are_still_stripped(tmp_path):
    root = make_root(tmp_path, "clip,frame,label\nwalk,0, smile\t\n")
    run_ingest(root, tmp_path / "out")
    assert labels_of(tmp_path / "out", "walk")[0] == "smile"


def test_control_characters_in_subjects_stop(tmp_path):
    root = make_root(tmp_path, "clip,frame,label\nwalk,0,a\n", subjects="clip,subject_id\nwalk,S\x001\n")
    with pytest.raises(InputError, match=r"(?s)subjects.csv: 1 problem.*row 1 \(line 2\): subject_id 'S\\x001'"):
        run_ingest(root, tmp_path / "out")


def test_a_clip_id_with_a_control_character_stops(tmp_path):
    root = make_root(tmp_path, "clip,frame,label\nwalk,0,a\n")
    write_images(root / "clips" / "still\x07", [SIZE] * 2)
    with pytest.raises(InputError, match=r"clip ids with control characters \(rename them\): 'still\\x07' has '\\x07'"):
        run_ingest(root, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- alpha channels ---------------------------------------------------------------------------------


def test_alpha_frames_are_read_without_it_and_recorded(tmp_path):
    root = make_root(tmp_path, "clip,frame,label\nwalk,0,a\n")
    folder = write_images(root / "clips" / "rgba", [SIZE] * 4)
    under = np.zeros((SIZE[1], SIZE[0], 4), np.uint8)
    under[..., :3] = (40, 80, 160)  # BGR stored under a fully transparent alpha
    for name in ("frame_0002.png", "frame_0004.png"):
        assert cv2.imwrite(str(folder / name), under)
    write_images(root / "clips" / "opaque", [SIZE] * 2)
    m = run_ingest(root, tmp_path / "out")
    issue = one_issue(issues_of(tmp_path / "out"), "alpha_dropped")
    assert (issue.source, issue.clip_id) == ("clips", "rgba")
    assert issue.reason.startswith(f"{folder / 'frame_0002.png'}: 2 of 4 frame(s) have an alpha channel")
    assert "(the first is frame 1)" in issue.reason and "not composited" in issue.reason
    assert m["issues"]["alpha_dropped"] == 1
    clips = tables.read_df("clips", tmp_path / "out" / "interim" / "clips.parquet").set_index("clip_id")
    assert (clips.loc["rgba"].status, clips.loc["rgba"].n_frames) == ("ok", 4)
    # what the detail says: the stored colour, not composited on black
    second = list(iter_frames(folder, "images"))[1]
    assert second.shape == (SIZE[1], SIZE[0], 3) and tuple(second[0, 0]) == (160, 80, 40)


def test_a_png_transparent_colour_is_recorded_too(tmp_path):
    from PIL import Image

    root = make_root(tmp_path, "clip,frame,label\nwalk,0,a\n")
    folder = root / "clips" / "keyed"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", SIZE, (0, 255, 0)).save(folder / f"f{i}.png", transparency=(0, 255, 0) if i == 2 else None)
    run_ingest(root, tmp_path / "out")
    issue = one_issue(issues_of(tmp_path / "out"), "alpha_dropped", "keyed")
    assert "f2.png: 1 of 3 frame(s)" in issue.reason


# --- stills: image folders of separate photographs ---------------------------------------------


def photographs(size: tuple[int, int] = (320, 400)) -> list[np.ndarray]:
    """One person (openpeople P001) in three photographs: studio portrait, selfie, a cell of the emotions
    sheet, each fitted into ``size`` (width, height) on grey, BGR."""
    from facecast.sample.people import subjects

    person = subjects(1)[0]
    out = []
    for image in (person.image("studio_portrait"), person.image("amateur_selfie"), person.expression_cells[3]):
        scale = min(size[0] / image.shape[1], size[1] / image.shape[0])
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        canvas = np.full((size[1], size[0], 3), 128, np.uint8)
        y, x = (size[1] - small.shape[0]) // 2, (size[0] - small.shape[1]) // 2
        canvas[y : y + small.shape[0], x : x + small.shape[1]] = small
        out.append(cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    return out


def write_frames(folder: Path, frames: list[np.ndarray]) -> Path:
    folder.mkdir(parents=True)
    for i, frame in enumerate(frames):
        assert cv2.imwrite(str(folder / f"img_{i:03d}.png"), frame)
    return folder


@pytest.fixture(scope="module")
def stills_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stills") / "input"
    clips = root / "clips"
    clips.mkdir(parents=True)
    photos = photographs()
    write_frames(clips / "photos", photos)  # same size, different pictures
    write_images(clips / "resized", [SIZE, SIZE, (32, 24), SIZE])
    h, w = photos[0].shape[:2]
    moving = [cv2.warpAffine(photos[0], np.float32([[1, 0, 2 * i], [0, 1, i]]), (w, h)) for i in range(5)]
    write_frames(clips / "moving", moving)  # a sequence: one picture moving a few pixels per frame
    write_video(clips / "walk.mp4", 6)
    (root / "labels.csv").write_text("clip,start_frame,end_frame,label\n")
    (root / "subjects.csv").write_text("clip,subject_id\n")
    return root


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("auto", {"photos": True, "resized": True, "moving": False, "walk": False}),
        ("always", {"photos": True, "resized": True, "moving": True, "walk": False}),
        ("never", {"photos": False, "resized": None, "moving": False, "walk": False}),
    ],
)
def test_stills_are_told_from_sequences(stills_root, tmp_path, mode, expected):
    run_ingest(stills_root, tmp_path, stills=mode)
    clips = tables.read_df("clips", tmp_path / "interim" / "clips.parquet").set_index("clip_id")
    assert {c: None if pd.isna(v) else bool(v) for c, v in clips.stills.items()} == expected
    resized = clips.loc["resized"]
    if mode == "never":
        assert resized.status == "unreadable" and "frame 2 is 32x24" in resized.reason
    else:  # separate photographs may differ in size: the first image's size is recorded
        assert (resized.status, resized.n_frames, resized.width, resized.height) == ("ok", 4, 64, 48)
