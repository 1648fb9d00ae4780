"""Landmark fidelity and expression measures of the gate, on real dlib fits of real faces.

Faces come from an openpeople studio portrait (the faces stage's own donor
fitting: MTCNN box, dlib's 68 points) and from a sample clip of one person
going neutral -> happy -> sad -> angry -> surprised (build_sample), analysed
by the faces stage (analyse_clip). Known series and point sets check the
arithmetic exactly.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import openpeople
import pandas as pd
import pytest
from scipy.stats import pearsonr

from facecast.faces.clip_analysis import analyse_clip
from facecast.faces.donor_images import image_faces
from facecast.faces.stage import one_torch_thread
from facecast.gate.expression import FEATURES, agreement, features, min_frames, pixel_scales
from facecast.gate.fidelity import landmark_error, percentile_pass, study_score
from facecast.gate.verdicts import clip_agreement, landmark_min_frames, verdicts
from facecast.io.clips import iter_frames, read_image
from facecast.models.recognition import refit
from facecast.params import FacesParams, GateParams, SampleParams
from facecast.reasons import GateReason
from facecast.sample.stage import build_sample
from facecast.sample.timeline import TRANSITION

FACES = FacesParams(workers=1)
SAMPLE = SampleParams(people=1, expressions=5, hold_frames=3, morph_frames=2)  # neutral, happy, sad, angry, surprised
F = {name: i for i, name in enumerate(FEATURES)}


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def portrait() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P001's studio portrait at 400 px (RGB), its MTCNN box and the faces stage's 68 points in it."""
    image = read_image(openpeople.curated.get("P001").asset_path("studio_portrait"))
    scale = 400 / max(image.shape[:2])
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    face = image_faces(image, FACES)[0]
    assert face.status == "ok", face.reason
    return image, np.asarray(face.box, np.float64), np.asarray(face.points, np.float64)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple[list[np.ndarray], pd.DataFrame, pd.DataFrame]:
    """The sample clip's frames, its faces rows (one track, every frame 'ok') and its labels."""
    out = tmp_path_factory.mktemp("sample")
    build_sample(SAMPLE, 0, out)
    subjects = pd.read_csv(out / "subjects.csv")
    clip_id = str(subjects["clip"].iloc[0])
    path = out / "clips" / f"{clip_id}.mp4"
    faces, _ = analyse_clip(clip_id, path, "video", FACES)
    rows = pd.DataFrame(faces)
    frames = list(iter_frames(Path(path), "video"))
    assert len(rows) == len(frames) and (rows["status"] == "ok").all() and rows["track_id"].nunique() == 1
    return (frames, rows.set_index("frame_idx").sort_index(), pd.read_csv(out / "labels.csv"))


def row_points(row) -> np.ndarray:
    return np.asarray(row["landmarks"], np.float64).reshape(68, 2)


@pytest.fixture(scope="module")
def held(clip) -> dict[str, np.ndarray]:
    """Per held expression, the mean features over its frames."""
    _, rows, labels = clip
    out = {}
    for seg in labels[labels["label"] != TRANSITION].itertuples():
        out[seg.label] = np.mean(
            [features(row_points(rows.loc[i])) for i in range(seg.start_frame, seg.end_frame + 1)], axis=0
        )
    assert set(out) == {"neutral", "happy", "sad", "angry", "surprised"}
    return out


def similarity_moved(points: np.ndarray, angle_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return points @ (scale * rot).T + np.asarray(shift)


# -- refit -----------------------------------------------------------------------------------------------------------


def test_refit_reproduces_the_faces_stage_fit_on_a_portrait(portrait):
    image, box, points = portrait
    fitted = refit(image, tuple(box))
    assert fitted.shape == (68, 2) and fitted.dtype == np.float64
    assert landmark_error(fitted, points) < 0.01  # same predictor, same box: the same points
    w, h = box[2:] - box[:2]
    for dx, dy, grow in ((0.05, 0.05, 0.0), (0.0, 0.0, 0.05)):  # a box moved or grown by 5% of its size
        moved = (box[0] + (dx - grow) * w, box[1] + (dy - grow) * h, box[2] + (dx + grow) * w, box[3] + (dy + grow) * h)
        assert landmark_error(refit(image, moved), points) < 0.03


@pytest.fixture(scope="module")
def refitted(clip) -> dict[int, np.ndarray]:
    """Per frame of the clip, dlib's points re-fitted inside the faces stage's box."""
    frames, rows, _ = clip
    return {
        int(idx): refit(frames[idx], (row["bbox_x0"], row["bbox_y0"], row["bbox_x1"], row["bbox_y1"]))
        for idx, row in rows.iterrows()
    }


def test_refit_on_clip_frames_lands_on_the_faces_stage_landmarks(clip, refitted):
    _, rows, labels = clip
    error = {idx: landmark_error(points, row_points(rows.loc[idx])) for idx, points in refitted.items()}
    # The stage's landmarks are One-Euro smoothed over time, the refit is not: they lag a morph by a few
    # percent of the inter-ocular distance, and catch up while an expression is held.
    for seg in labels[labels["label"] != TRANSITION].itertuples():
        assert error[seg.end_frame] < 0.03, (seg.label, error)
        if seg.start_frame > 0:  # held after a morph
            assert error[seg.end_frame] < error[seg.start_frame], (seg.label, error)


def test_agreement_of_refitted_and_stage_expressions_passes_the_gate_and_time_reversed_fails(clip, refitted):
    _, rows, _ = clip
    stage = np.stack([features(row_points(rows.loc[idx])) for idx in sorted(refitted)])
    again = np.stack([features(refitted[idx]) for idx in sorted(refitted)])
    threshold = GateParams().expression.min_pcc
    assert by_feature(agreement(stage, again))["mean"]["pcc"] > threshold
    assert by_feature(agreement(stage, again[::-1]))["mean"]["pcc"] < threshold


def test_refit_rejects_what_is_not_an_rgb_image_and_a_box(portrait):
    image, box, _ = portrait
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    for bad_image, what in ((grey, "RGB uint8"), (image.astype(np.float32), "RGB uint8"), (image[:0], "empty")):
        with pytest.raises(ValueError, match=what):
            refit(bad_image, tuple(box))
    for bad_box, what in (
        ((10.0, 10.0, 5.0, 50.0), "x1 > x0"),
        ((0.0, 0.0, np.nan, 9.0), "finite"),
        ((1.0, 2.0, 3.0), "four"),
    ):
        with pytest.raises(ValueError, match=what):
            refit(image, bad_box)


# -- landmark_error and study_score ---------------------------------------------------------------------------------


def test_landmark_error_is_zero_on_itself_and_a_shift_over_the_inter_ocular_distance(portrait):
    _, _, points = portrait
    iod = float(np.linalg.norm(points[42:48].mean(axis=0) - points[36:42].mean(axis=0)))  # eye centre to centre
    assert landmark_error(points, points) == 0.0
    assert landmark_error(points + (3.0, 4.0), points) == pytest.approx(5.0 / iod, rel=1e-12)
    # halving every point halves both the distances and the inter-ocular distance
    assert landmark_error(points / 2 + (1.5, 2.0), points / 2) == pytest.approx(5.0 / iod, rel=1e-12)
    one = points.copy()
    one[30] += (0.0, 6.8)  # one point of 68 moved: the mean distance is 0.1 px
    assert landmark_error(one, points) == pytest.approx(0.1 / iod, rel=1e-9)


def test_landmark_error_rejects_bad_point_sets(portrait):
    _, _, points = portrait
    with pytest.raises(ValueError, match="measured must be"):
        landmark_error(points[:67], points)
    nan = points.copy()
    nan[5, 0] = np.nan
    with pytest.raises(ValueError, match="reference holds non-finite"):
        landmark_error(points, nan)
    flat = points.copy()
    flat[42:48] = flat[36:42]  # both eyes on one place: no eye line to scale by
    with pytest.raises(ValueError, match="eye centres coincide"):
        landmark_error(points, flat)


def test_study_score_ignores_position_and_scale_and_counts_a_deformation(portrait):
    _, _, points = portrait
    assert study_score(points, points) == 0.0
    moved = points * (2.5, 0.7) + (-40.0, 300.0)  # each axis scaled on its own, then shifted
    assert study_score(moved, points) == pytest.approx(0.0, abs=1e-12)

    open_mouth = points.copy()
    open_mouth[[65, 66, 67]] += (0.0, 9.0)  # inner lower lip dropped, inside the face's extent
    span_y = float(np.ptp(points[:, 1]))
    assert study_score(open_mouth, points) == pytest.approx(3 * 9.0 / span_y, rel=1e-9)
    assert study_score(open_mouth * 3.0 + (7.0, -2.0), points / 2 - 100.0) == pytest.approx(
        study_score(open_mouth, points), rel=1e-9
    )


def test_study_score_rejects_a_set_without_extent(portrait):
    _, _, points = portrait
    line = points.copy()
    line[:, 1] = 5.0
    with pytest.raises(ValueError, match="share one y"):
        study_score(points, line)
    with pytest.raises(ValueError, match="b must be"):
        study_score(points, points.ravel())


# -- percentile_pass -------------------------------------------------------------------------------------------------


def test_percentile_pass_keeps_values_up_to_the_percentile_and_the_cap():
    values = np.arange(100, dtype=np.float64)
    ok = percentile_pass(values, 95.0, 10.0**6)
    assert np.percentile(values, 95.0) == pytest.approx(94.05)
    assert ok.dtype == bool and np.array_equal(ok, values <= 94.05) and ok.sum() == 95
    assert np.array_equal(percentile_pass(values, 95.0, 50.0), values <= 50.0)
    assert percentile_pass(values, 100.0, 10.0**6).all()


def test_percentile_pass_fails_nan_and_infinity_and_ignores_them_in_the_percentile():
    values = np.concatenate([np.arange(100, dtype=np.float64), [np.nan, np.inf]])
    ok = percentile_pass(values, 95.0, 10.0**6)
    assert np.array_equal(ok[:100], np.arange(100) <= 94.05) and not ok[100] and not ok[101]
    assert not percentile_pass(np.array([np.nan, np.nan]), 95.0, 1.0).any()
    assert percentile_pass(np.array([], np.float64), 95.0, 1.0).shape == (0,)


def test_percentile_pass_rejects_bad_arguments():
    with pytest.raises(ValueError, match="percentile"):
        percentile_pass(np.arange(5.0), 101.0, 1.0)
    with pytest.raises(ValueError, match="one-dimensional"):
        percentile_pass(np.zeros((2, 2)), 95.0, 1.0)
    with pytest.raises(ValueError, match="cap"):
        percentile_pass(np.arange(5.0), 95.0, float("nan"))


# -- expression features ---------------------------------------------------------------------------------------------


def test_features_move_the_right_way_across_real_expressions(held):
    neutral, happy, surprised, angry = (held["neutral"], held["happy"], held["surprised"], held["angry"])
    assert held["neutral"].shape == (len(FEATURES),)
    # surprise opens the mouth and the eyes and raises the brows
    assert surprised[F["mouth_open"]] > neutral[F["mouth_open"]]
    assert surprised[F["eye_open_left"]] > neutral[F["eye_open_left"]]
    assert surprised[F["eye_open_right"]] > neutral[F["eye_open_right"]]
    assert surprised[F["brow_height"]] > neutral[F["brow_height"]]
    # a smile widens the mouth and lifts its corners
    assert happy[F["mouth_width"]] > neutral[F["mouth_width"]]
    assert happy[F["mouth_corners"]] > neutral[F["mouth_corners"]]
    # anger lowers the brows
    assert angry[F["brow_height"]] < neutral[F["brow_height"]]
    # the eyes' aspect ratios of one face agree with each other
    assert abs(neutral[F["eye_open_left"]] - neutral[F["eye_open_right"]]) < 0.1 * neutral[F["eye_open_left"]]


def test_features_ignore_scale_roll_and_position(clip):
    _, rows, _ = clip
    for idx in (0, 6, 21):  # neutral, happy, surprised
        points = row_points(rows.loc[idx])
        base = features(points)
        for angle, scale, shift in ((25.0, 1.7, (100.0, -40.0)), (-170.0, 0.3, (-5.0, 800.0))):
            assert np.allclose(features(similarity_moved(points, angle, scale, shift)), base, atol=1e-9)


def test_features_reject_bad_landmarks(portrait):
    _, _, points = portrait
    with pytest.raises(ValueError, match=r"\(68, 2\)"):
        features(points[:, :1])
    inf = points.copy()
    inf[40, 1] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        features(inf)
    blind = points.copy()
    blind[39] = blind[36]
    with pytest.raises(ValueError, match="36 and 39"):
        features(blind)


# -- agreement -------------------------------------------------------------------------------------------------------


def by_feature(result: list[dict]) -> dict[str, dict]:
    assert [r["feature"] for r in result] == [*FEATURES, "mean"]
    return {r["feature"]: r for r in result}


def test_agreement_of_a_series_with_itself_and_its_negation(clip):
    _, rows, _ = clip
    series = np.stack([features(row_points(r)) for _, r in rows.iterrows()])
    same = by_feature(agreement(series, series))
    for r in same.values():
        assert r["pcc"] == pytest.approx(1.0) and r["rmse"] == 0.0 and r["frames"] == len(series)
    negated = by_feature(agreement(series, -series))
    for name in FEATURES:
        assert negated[name]["pcc"] == pytest.approx(-1.0)
        assert negated[name]["rmse"] == pytest.approx(2 * np.sqrt(np.mean(series[:, F[name]] ** 2)))
    assert negated["mean"]["pcc"] == pytest.approx(-1.0)


def test_agreement_matches_scipy_and_leaves_out_nan_rows():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(40, len(FEATURES)))
    b = 0.6 * a + rng.normal(scale=0.8, size=a.shape)
    result = by_feature(agreement(a, b))
    for name, j in F.items():
        assert result[name]["pcc"] == pytest.approx(pearsonr(a[:, j], b[:, j])[0], abs=1e-12)
        assert result[name]["rmse"] == pytest.approx(np.sqrt(np.mean((a[:, j] - b[:, j]) ** 2)), rel=1e-12)
    assert result["mean"]["pcc"] == pytest.approx(np.mean([result[n]["pcc"] for n in FEATURES]))
    assert result["mean"]["rmse"] == pytest.approx(np.mean([result[n]["rmse"] for n in FEATURES]))

    holed_a, holed_b = a.copy(), b.copy()
    holed_a[3, F["mouth_open"]] = np.nan
    holed_b[[7, 8], F["mouth_open"]] = np.nan
    holed = by_feature(agreement(holed_a, holed_b))
    keep = np.setdiff1d(np.arange(40), [3, 7, 8])
    j = F["mouth_open"]
    assert holed["mouth_open"]["pcc"] == pytest.approx(pearsonr(a[keep, j], b[keep, j])[0], abs=1e-12)
    assert holed["mouth_open"]["frames"] == 40
    assert holed["brow_height"]["pcc"] == pytest.approx(result["brow_height"]["pcc"], abs=1e-15)


def test_agreement_is_undefined_on_constant_or_short_series():
    rng = np.random.default_rng(6)
    a = rng.normal(size=(10, len(FEATURES)))
    b = a + rng.normal(scale=0.1, size=a.shape)
    b[:, F["eye_open_left"]] = 0.3  # a constant swapped series
    result = by_feature(agreement(a, b))
    assert result["eye_open_left"]["pcc"] is None
    assert result["eye_open_left"]["rmse"] == pytest.approx(np.sqrt(np.mean((a[:, 0] - 0.3) ** 2)))
    others = [result[n]["pcc"] for n in FEATURES if n != "eye_open_left"]
    assert result["mean"]["pcc"] == pytest.approx(np.mean(others))

    short = by_feature(agreement(a[:2], b[:2]))
    assert all(r["pcc"] is None for r in short.values()) and short["mean"]["rmse"] is not None
    empty = by_feature(agreement(a[:0], b[:0]))
    assert all(r["pcc"] is None and r["rmse"] is None and r["frames"] == 0 for r in empty.values())


def test_agreement_rejects_mismatched_series():
    a = np.zeros((5, len(FEATURES)))
    with pytest.raises(ValueError, match="differ in shape"):
        agreement(a, a[:4])
    with pytest.raises(ValueError, match="swapped must be"):
        agreement(a, a[:, :5])
    with pytest.raises(ValueError, match="original must be"):
        agreement(a.ravel(), a)


# -- per-track series: expression and landmark percentile within one face over time ----------------------------------


def test_min_frames_is_where_a_correlation_at_the_threshold_becomes_significant():
    assert min_frames(0.5) == 12 and min_frames(0.7) == 7 and min_frames(0.0) == 3 and min_frames(1.0) == 3
    for r, n in ((0.5, 12), (0.7, 7), (0.3, min_frames(0.3))):  # one frame fewer and the t-test fails at 5 %
        assert pearson_significant(r, n) and not pearson_significant(r, n - 1)
    with pytest.raises(ValueError, match=r"min_pcc must be a correlation in \[-1, 1\], got 1.5"):
        min_frames(1.5)


def pearson_significant(r: float, n: int) -> bool:
    from scipy.stats import t

    return r * np.sqrt(n - 2) / np.sqrt(1 - r * r) >= t.ppf(0.95, n - 2)


def gate_rows(
    clip_frames, stage_rows, refitted, track: int, frames: list[int], reverse: bool = False, scale: float = 1.0
) -> list[dict]:
    """gates rows of one real face series: the stage's landmarks as the original, the re-fit as the swapped face
    (time-reversed when ``reverse``), the landmark error between them; ``scale`` shrinks both faces (the
    features are the same, their movement in pixels is not)."""
    order = frames[::-1] if reverse else frames
    out = []
    for idx, shown in zip(frames, order):
        original, swapped = row_points(stage_rows.loc[idx]) * scale, refitted[shown] * scale
        row = {
            "clip_id": "c",
            "variant": 0,
            "frame_idx": idx,
            "track_id": track,
            "swap_status": "swapped",
            "deid_distance": 0.9,
            "reid_rank": 5,
            "identity_distance": 0.4,
            "nearest_other_distance": 0.8,
            "landmark_error": landmark_error(swapped, original),
            "expression_px": list(pixel_scales(original)),
        }
        for name, o, s in zip(FEATURES, features(original), features(swapped)):
            row[f"original_{name}"], row[f"swapped_{name}"] = o, s
        out.append(row)
    return out


def test_expression_and_landmarks_are_judged_per_track_over_time(clip, refitted):
    """Three faces share the frames of one clip: a faithful series, the same series time-reversed (its expression is
    not kept), and a 3-frame one. Each is judged on its own series: the faithful face passes although a face beside it
    fails, the short one is not measurable and rejects nothing by itself."""
    frames, stage_rows, _ = clip
    everything = sorted(refitted)
    rows = pd.DataFrame(
        gate_rows(frames, stage_rows, refitted, 0, everything)
        + gate_rows(frames, stage_rows, refitted, 1, everything, reverse=True)
        + gate_rows(frames, stage_rows, refitted, 2, everything[:3])
    )
    params = GateParams()
    clips = pd.DataFrame(clip_agreement(rows, params.expression.min_pcc))
    means = clips[clips.feature == "mean"].set_index("track_id", drop=False)
    print(means[["track_id", "pcc", "frames", "status"]].to_string())
    assert means.loc[0].pcc > params.expression.min_pcc and means.loc[1].pcc < params.expression.min_pcc
    assert means.loc[2].status == "not_measurable" and pd.isna(means.loc[2].pcc)
    clip_mean = clips[(clips.feature == "mean") & clips.track_id.isna()].iloc[0]
    assert clip_mean.pcc == pytest.approx((means.loc[0].pcc + means.loc[1].pcc) / 2)
    assert clip_mean.frames == 2 * len(everything) + 3

    judged, landmark_counts = verdicts(rows, {}, clips.to_dict("records"), params)
    kinds = judged.groupby("track_id").reason_kinds.agg(lambda ks: {k for k_ in ks for k in k_})
    assert GateReason.EXPRESSION not in kinds[0] and GateReason.EXPRESSION not in kinds[2]
    assert (judged[judged.track_id == 1].reason_kinds.map(lambda ks: GateReason.EXPRESSION in ks)).all()
    # the percentile needs 20 frames at 95: the 23-frame series are judged by it, the 3-frame one by the cap only
    assert len(everything) >= landmark_min_frames(params.landmarks.percentile) == 20
    assert landmark_counts == {"series": 3, "percentile_applied": 2, "percentile_not_measurable": 1}
    short = judged[judged.track_id == 2]
    assert not any(k == GateReason.LANDMARKS for ks in short.reason_kinds for k in ks)
    assert (short.landmark_error < params.landmarks.max_error).all()
    # each face's fits are held against the percentile of its own errors, not the frame's other faces'
    for track in (0, 1):
        own = judged[judged.track_id == track]
        cut = np.percentile(own.landmark_error, params.landmarks.percentile)
        flagged = own.reason_kinds.map(lambda ks: GateReason.LANDMARKS in ks)
        assert (flagged == (own.landmark_error > cut)).all() and 1 <= flagged.sum() <= 2


def test_expression_that_moves_less_than_a_pixel_is_not_judged(clip, refitted):
    """The same faithful and time-reversed series as above, on faces shrunk until their expression moves by less than
    min_signal_px: the correlation of fits that cannot resolve the movement says nothing, so neither is judged, and
    gate_clips says why (signal_px). At full size every feature moves by more than a pixel and both are judged."""
    frames, stage_rows, _ = clip
    everything = sorted(refitted)
    params = GateParams()
    for scale, judged_features in ((1.0, len(FEATURES)), (0.05, 0)):
        rows = pd.DataFrame(
            gate_rows(frames, stage_rows, refitted, 0, everything, scale=scale)
            + gate_rows(frames, stage_rows, refitted, 1, everything, reverse=True, scale=scale)
        )
        clips = pd.DataFrame(clip_agreement(rows, params.expression.min_pcc, params.expression.min_signal_px))
        per_feature = clips[(clips.feature != "mean") & clips.track_id.notna()]
        resolved = per_feature.signal_px >= params.expression.min_signal_px
        assert (resolved == per_feature.pcc.notna()).all()
        assert (per_feature.groupby("track_id").pcc.count() == judged_features).all()
        judged, _ = verdicts(rows, {}, clips.to_dict("records"), params)
        reversed_rejected = judged[judged.track_id == 1].reason_kinds.map(lambda ks: GateReason.EXPRESSION in ks)
        assert reversed_rejected.all() == (judged_features > 0) and reversed_rejected.any() == (judged_features > 0)
        if not judged_features:
            means = clips[clips.feature == "mean"]
            assert (means.status == "not_measurable").all() and means.pcc.isna().all()
