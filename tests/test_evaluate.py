"""The utility measure (facecast.evaluate) on real faces: it can fail, it is deterministic, and it says why input
cannot be evaluated.

* A labelled set made of openpeople photos: 10 people, each an image-folder clip of their first 6 expression
  photos (neutral, happy, sad, angry, surprised, disgusted), dlib's 68 landmarks of each; the classifier is the
  real one (HOG, torch). Two recast sets of it: the photos re-encoded losslessly (a recast that changes nothing)
  and the photos with the face blurred by the swap fallback's strong blur (a recast that keeps nothing of the
  expression).
* The tiny project's own tables (5 subjects, one expression: neutral, no transition frame) for the reasons the
  selection gives; only tables of the stages before evaluate are read.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from facecast import tables
from facecast.evaluate.samples import RECAST_COLUMNS, Selection, select
from facecast.evaluate.stage import measure
from facecast.params import EvaluateParams
from facecast.sample.cell_landmarks import face_landmarks
from facecast.sample.people import subjects
from facecast.sample.sheets import EXPRESSIONS
from facecast.swap.fallback import obscure

PEOPLE = 10
LABELS = EXPRESSIONS[:6]
SIZE = (360, 240)  # width, height: the sheet cells are landscape, about 3:2
PARAMS = EvaluateParams(folds=5, min_label_frames=5, bootstrap=200)  # 10 frames per label, one per person
SEED = 7

pytestmark = pytest.mark.stage  # real landmarks and real training: seconds per test (make test-fast leaves them out)


def write_png(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


@pytest.fixture(scope="module")
def people(tmp_path_factory) -> tuple[Selection, pd.DataFrame, dict]:
    """The originals (a Selection without recasts), the clips table, and each photo by (clip, frame)."""
    root = tmp_path_factory.mktemp("evaluate")
    rows, clips, photos = [], [], {}
    for person in subjects(PEOPLE):
        folder = root / "clips" / person.person_id
        for i, cell in enumerate(person.expression_cells[: len(LABELS)]):
            rgb = cv2.resize(cell, SIZE, interpolation=cv2.INTER_AREA)
            write_png(folder / f"{i:06d}.png", rgb)
            photos[person.person_id, i] = rgb
            points = face_landmarks(rgb).astype(np.float64)
            rows.append(
                {
                    "clip_id": person.person_id,
                    "frame_idx": i,
                    "label": LABELS[i],
                    "subject": person.person_id,
                    "landmarks": points,
                }
            )
        clips.append({"clip_id": person.person_id, "path": str(folder), "kind": "images"})
    originals = pd.DataFrame(rows)
    selection = Selection(originals, pd.DataFrame(columns=RECAST_COLUMNS), sorted(LABELS))
    return selection, pd.DataFrame(clips), photos


def recast_set(people, folder: Path, change) -> Selection:
    """The originals with one published recast frame each: the photo changed in place by ``change(rgb, points)``."""
    selection, _, photos = people
    rows = []
    for r in selection.originals.itertuples(index=False):
        rgb = photos[r.clip_id, r.frame_idx].copy()
        change(rgb, r.landmarks)
        path = folder / r.clip_id / f"{r.frame_idx:06d}.png"
        write_png(path, rgb)
        rows.append({"clip_id": r.clip_id, "frame_idx": r.frame_idx, "variant": 0, "published": True, "path": path})
    return Selection(selection.originals, pd.DataFrame(rows, columns=RECAST_COLUMNS), selection.labels)


def unchanged(rgb: np.ndarray, points: np.ndarray) -> None:
    pass


def blurred(rgb: np.ndarray, points: np.ndarray) -> None:
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    obscure(rgb, (x0, y0, x1, y1), "blur")


@pytest.fixture(scope="module")
def measured(people, tmp_path_factory) -> dict[str, tuple[Selection, dict, pd.DataFrame]]:
    """set -> (its selection, measure's figures, its held-out predictions), for the unchanged and blurred sets."""
    root = tmp_path_factory.mktemp("recasts")
    clips = people[1]
    out = {}
    for name, change in (("unchanged", unchanged), ("blurred", blurred)):
        selection = recast_set(people, root / name, change)
        out[name] = (selection, *measure(PARAMS, SEED, selection, clips))
    return out


def test_a_recast_that_keeps_nothing_of_the_expression_fails_the_measure(measured):
    _, same, _ = measured["unchanged"]
    _, blur, _ = measured["blurred"]
    assert same["status"] == blur["status"] == "evaluated"
    assert same["regimes"]["recast_to_recast"]["test_frames"] == same["agreement"]["frames"] == PEOPLE * len(LABELS)
    # the baseline is the originals' alone: the same whatever the recast set
    assert same["regimes"]["real_to_real"] == blur["regimes"]["real_to_real"]
    assert blur["utility_ratio"]["ci95_high"] < same["utility_ratio"]["ci95_low"]
    assert blur["agreement"]["overall"] < same["agreement"]["overall"]


def test_a_recast_that_changes_nothing_is_classified_as_its_original(measured):
    """The unchanged set's images are the originals' pixels, so every classifier sees the same descriptor of a
    recast frame as of its original, and the recast-trained classifier is the original-trained one (same data,
    same seed): the same predictions, a ratio of exactly 1 in every resample."""
    _, same, table = measured["unchanged"]
    assert same["agreement"]["overall"] == 1.0
    assert same["utility_ratio"] == {"value": 1.0, "ci95_low": 1.0, "ci95_high": 1.0, "resamples": PARAMS.bootstrap}
    assert same["regimes"]["recast_to_recast"]["macro_f1"] == same["regimes"]["recast_to_real"]["macro_f1"]
    originals = table[table["source"] == "original"].set_index(["clip_id", "frame_idx"])
    published = table[table["source"] == "published"].set_index(["clip_id", "frame_idx"]).loc[originals.index]
    for column in ("by_original", "by_published"):
        assert published[column].tolist() == originals[column].tolist()


def test_labels_the_faces_do_not_show_give_no_baseline(people, measured, tmp_path):
    """Each person's labels shuffled among their photos: nothing in a face tells its label, the real -> real
    classifier cannot beat chance, and a ratio against it would mean nothing: not evaluated, with the reason."""
    selection, _, _ = measured["unchanged"]
    rng = np.random.default_rng(SEED)
    shuffled = selection.originals.copy()
    for _, rows in shuffled.groupby("subject"):
        shuffled.loc[rows.index, "label"] = rng.permutation(rows["label"].to_numpy())
    result, _ = measure(PARAMS, SEED, Selection(shuffled, selection.recasts, selection.labels), people[1])
    assert result["status"] == "not_evaluated" and result["utility_ratio"] is None
    assert "does not learn these labels better than chance on held-out subjects" in result["reason"]
    assert "chance 1/6" in result["reason"]


def test_the_same_input_gives_the_same_figures(measured, people):
    selection, result, table = measured["unchanged"]
    again, again_table = measure(PARAMS, SEED, selection, people[1])
    assert again == result
    pd.testing.assert_frame_equal(again_table, table)


def tiny_inputs() -> dict:
    """select's inputs from the tiny project's tables (of the stages before evaluate), read from its root."""
    interim, dataset = tables.INTERIM, tables.DATASET
    return {
        "clips": tables.read_df("clips", interim),
        "frames": tables.read_df("frames", interim),
        "faces": tables.read_df("faces", interim),
        "gates": tables.read_df("gates", interim),
        "dataset_frames": tables.read_df("dataset_frames", dataset / "manifest"),
        "published_ids": tables.read_df("published_ids", interim),
        "dataset": dataset,
        "swapped": tables.SWAPPED,
    }


@pytest.mark.slow
def test_the_tiny_project_says_why_it_cannot_be_evaluated(tiny_project, monkeypatch):
    """Its 5 subjects show one expression, neutral, in 3 frames each, and no transition frame."""
    monkeypatch.chdir(tiny_project.root)  # the tables' paths are relative to the project root
    inputs = tiny_inputs()
    frames = inputs["frames"]
    assert set(frames["label"]) == {"neutral"}
    neutral = len(frames)

    default = select(EvaluateParams(), **inputs)
    assert default.reason == "a single label (neutral): nothing to tell apart"
    assert default.labels == ["neutral"] and default.left_out == {}
    assert default.counts["original"] == neutral
    result, table = measure(EvaluateParams(), 0, default, inputs["clips"])
    assert (result["status"], result["reason"]) == ("not_evaluated", default.reason)
    assert result["labels"] == ["neutral"] and result["labels_left_out"] == {} and table.empty
    params = EvaluateParams(min_label_frames=1)

    # Relabelled (frames 0, 1, 2 of each clip: neutral, transition, surprised) with min_label_frames above the
    # 5 frames of each label: both are left out, and say why
    relabelled = frames.assign(label=frames["frame_idx"].map({0: "neutral", 1: "transition", 2: "surprised"}))
    rare = select(EvaluateParams(), **{**inputs, "frames": relabelled})
    assert rare.reason == (
        "fewer than two labels can be scored (none is left): neutral: 5 frame(s), fewer than "
        "evaluate.min_label_frames (20); surprised: 5 frame(s), fewer than evaluate.min_label_frames (20)"
    )
    assert rare.left_out["transition"] == "in evaluate.ignore_labels"

    # the same at min_label_frames 1: two labels, transition left out
    two_labels = select(params, **{**inputs, "frames": relabelled})
    assert two_labels.reason is None and two_labels.labels == ["neutral", "surprised"]
    assert two_labels.left_out == {"transition": "in evaluate.ignore_labels"}
    assert two_labels.counts["published"] > 0 and all(Path(p).is_file() for p in two_labels.recasts["path"])
    six_folds = params.model_copy(update={"folds": 6})
    too_few = select(six_folds, **{**inputs, "frames": relabelled})
    assert too_few.reason == (
        "5 subject(s) have evaluated frames; evaluate.folds (6) needs at least 6, one held out in each fold"
    )
    result, _ = measure(six_folds, 0, too_few, inputs["clips"])
    assert result["reason"] == too_few.reason
    assert result["labels_left_out"] == {"transition": "in evaluate.ignore_labels"}


def test_training_works_where_the_detectors_turned_gradients_off(people, measured):
    """Loading MTCNN (models.loaders.mtcnn) turns autograd off for the whole process (inference only); the
    utility classifier still trains there, and to the same model."""
    selection, result, _ = measured["unchanged"]
    torch.set_grad_enabled(False)  # what models.loaders.mtcnn does when it first loads the detector
    try:
        again, _ = measure(PARAMS, SEED, selection, people[1])
    finally:
        torch.set_grad_enabled(True)
    assert again == result


def test_whole_frames_are_an_input_too(people, measured):
    """``input: frame`` (labels not about the face) scores whole frames: it needs no landmarks, and a blurred
    face still costs what the face told."""
    frame = PARAMS.model_copy(update={"input": "frame"})
    results = {}
    for name in ("unchanged", "blurred"):
        selection, _, _ = measured[name]
        no_points = selection.originals.assign(landmarks=None, track_id=None)
        results[name], _ = measure(frame, SEED, Selection(no_points, selection.recasts, selection.labels), people[1])
    assert results["unchanged"]["status"] == results["blurred"]["status"] == "evaluated"
    assert "whole frame" in results["unchanged"]["classifier"]
    assert results["blurred"]["utility_ratio"]["ci95_high"] < results["unchanged"]["utility_ratio"]["ci95_low"]
