"""Occlusion masks on real inputs: a synthetic person's clip with three expressions (neutral, smile, frown) from
the embedded sample, analysed by the real faces pipeline; an occluder cut from a real party video pasted over the
chin in a run of frames, and the occluded clip analysed again (its landmarks are what the renderer will get)."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from facecast.cast.morph import hull_mask
from facecast.faces.clip_analysis import analyse_clip
from facecast.geometry.canonical import mean_shape
from facecast.geometry.outline import face_outline
from facecast.io.clips import iter_frames
from facecast.params import FacesParams, SampleParams
from facecast.sample.stage import build_sample
from facecast.swap.occlusion import OcclusionModel

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"
SEED = 3
OCCLUDED = range(3, 11)  # 8 of the clip's 23 frames: a transient occluder, present in under half of them
PATCH = (slice(225, 295), slice(235, 305))  # rows, columns of party_640x480.mp4's first frame: bottle, hands, shirt
BOX_PAD = 0.15  # the crop handed to mask(): the face's box grown by this share, as the renderer's would be


def _track(faces: list[dict], n_frames: int) -> list[np.ndarray]:
    """The landmarks of the clip's one face, frame by frame."""
    rows = [r for r in faces if r["status"] == "ok"]
    assert {r["track_id"] for r in rows} == {0} and [r["frame_idx"] for r in rows] == list(range(n_frames))
    return [np.asarray(r["landmarks"], np.float64).reshape(68, 2) for r in rows]


def _box(landmarks: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    outline = face_outline(landmarks)
    lo, hi = outline.min(axis=0), outline.max(axis=0)
    pad = BOX_PAD * (hi - lo)
    x0, y0 = np.maximum(np.floor(lo - pad).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(hi + pad).astype(int), [width, height])
    return int(x0), int(y0), int(x1), int(y1)


def _fitted(frames: list[np.ndarray], landmarks: list[np.ndarray], **tunables) -> OcclusionModel:
    model = OcclusionModel(mean_shape(landmarks, 512), **tunables)
    for frame, lm in zip(frames, landmarks):
        model.add(frame, lm)
    model.fit()
    return model


def _frame_mask(model: OcclusionModel, frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The model's mask of the face's crop, placed in a frame-sized array."""
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = _box(landmarks, w, h)
    out = np.zeros((h, w), np.float32)
    out[y0:y1, x0:x1] = model.mask(frame, landmarks, (x0, y0, x1, y1))
    return out


def _face(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """The area the swap replaces: inside the face outline."""
    return hull_mask(face_outline(landmarks), width, height) > 0.5


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("occlusion")
    build_sample(SampleParams(people=1, expressions=3, hold_frames=5, morph_frames=4), SEED, root / "sample")
    (path,) = sorted((root / "sample" / "clips").glob("*.mp4"))
    frames = list(iter_frames(path, "video"))
    faces, _ = analyse_clip("clean", path, "video", FacesParams(workers=1))
    return root, frames, _track(faces, len(frames))


@pytest.fixture(scope="module")
def occluded(clean):
    """The clip with a textured, elliptical occluder over the chin and left cheek in frames OCCLUDED, written as
    lossless PNGs and analysed again; returns frames, landmarks and the pasted pixels per frame."""
    root, frames, landmarks = clean
    party = next(iter_frames(VIDEOS / "party_640x480.mp4", "video"))
    h, w = frames[0].shape[:2]
    folder = root / "occluded"
    folder.mkdir()
    out, pasted = [], []
    for n, (frame, lm) in enumerate(zip(frames, landmarks)):
        image, where = frame.copy(), np.zeros((h, w), bool)
        if n in OCCLUDED:
            side = int(0.55 * np.ptp(lm[:, 1]))
            patch = cv2.resize(party[PATCH], (side, side), interpolation=cv2.INTER_AREA)
            shape = np.zeros((side, side), np.uint8)
            cv2.ellipse(shape, (side // 2, side // 2), (side // 2 - 1, side // 2 - 1), 0, 0, 360, 1, -1)
            x0, y0 = np.rint((lm[6] + lm[57]) / 2).astype(int) - side // 2
            where[y0 : y0 + side, x0 : x0 + side] = shape > 0
            image[where] = patch[shape > 0]
        cv2.imwrite(str(folder / f"frame_{n:04d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        out.append(image)
        pasted.append(where)
    faces, _ = analyse_clip("occluded", folder, "images", FacesParams(workers=1), fps=25.0)
    return out, _track(faces, len(out)), pasted


def test_transient_occluder_is_kept(occluded):
    frames, landmarks, pasted = occluded
    h, w = frames[0].shape[:2]
    started = time.perf_counter()
    model = _fitted(frames, landmarks)
    fit_s = time.perf_counter() - started
    assert model.reliable and model.n_samples == len(frames), model.reason
    recall, iou, spill, clean_fp, mask_ms = [], [], [], [], []
    for n, (frame, lm, where) in enumerate(zip(frames, landmarks, pasted)):
        started = time.perf_counter()
        kept = _frame_mask(model, frame, lm) > 0.5
        mask_ms.append(1e3 * (time.perf_counter() - started))
        face = _face(lm, w, h)
        if n in OCCLUDED:
            truth = where & face
            recall.append(kept[truth].mean())
            iou.append((kept & truth).sum() / ((kept & face) | truth).sum())
            spill.append((kept & face & ~where).sum() / face.sum())
        else:
            clean_fp.append(kept[face].mean())
    print(
        f"\noccluded frames: recall {np.mean(recall):.3f} (min {np.min(recall):.3f}), IoU {np.mean(iou):.3f}, "
        f"face outside the occluder kept {np.mean(spill):.4f} (max {np.max(spill):.4f}); "
        f"other frames: face kept {np.mean(clean_fp):.4f} (max {np.max(clean_fp):.4f}); "
        f"add+fit {1e3 * fit_s / len(frames):.2f} ms/frame, mask {np.median(mask_ms):.2f} ms median"
    )
    assert np.mean(recall) >= 0.85 and np.min(recall) >= 0.75
    assert np.mean(iou) >= 0.7
    assert np.max(spill) <= 0.05  # the outward feather, not stray blobs
    assert np.max(clean_fp) <= 0.01


def test_expressions_are_not_occluders(clean):
    _, frames, landmarks = clean
    h, w = frames[0].shape[:2]
    # the clip does change expression: the inner lips part (smile with teeth) and close again
    span = [np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)) for lm in landmarks]
    opening = np.array([np.linalg.norm(lm[66] - lm[62]) for lm in landmarks]) / span
    assert opening.max() - opening.min() > 0.1
    model = _fitted(frames, landmarks)
    shares = np.array([(_frame_mask(model, f, lm) > 0.5)[_face(lm, w, h)].mean() for f, lm in zip(frames, landmarks)])
    print(f"\nexpression clip: face kept {shares.mean():.4f} mean, {shares.max():.4f} max over {len(shares)} frames")
    assert shares.max() <= 0.01


def test_face_leaving_the_frame(clean):
    """A face sliding up to a third out of the frame's left edge: no warnings, nothing flagged at the edge."""
    _, frames, landmarks = clean
    h, w = frames[0].shape[:2]
    shifts = [-(130 + int(90 * np.sin(n / 3) ** 2)) for n in range(len(frames))]
    moved = [cv2.warpAffine(f, np.float32([[1, 0, dx], [0, 1, 0]]), (w, h)) for f, dx in zip(frames, shifts)]
    points = [lm + [dx, 0] for lm, dx in zip(landmarks, shifts)]
    assert max((p[:, 0] < 0).mean() for p in points) > 0.25
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = _fitted(moved, points)
        shares = [(_frame_mask(model, f, p) > 0.5)[_face(p, w, h)].mean() for f, p in zip(moved, points)]
    assert model.reliable and max(shares) <= 0.01


def test_sampling_is_bounded_and_deterministic(occluded):
    frames, landmarks, _ = occluded
    models = [_fitted(frames, landmarks, max_samples=8, min_samples=4) for _ in range(2)]
    n = OCCLUDED[2]
    masks = [m.mask(frames[n], landmarks[n], (0, 0, frames[n].shape[1], frames[n].shape[0])) for m in models]
    assert all(4 <= m.n_samples < 8 and m.reliable for m in models)  # 23 frames thinned to every 4th: 6
    assert masks[0].dtype == np.float32 and masks[0].min() >= 0.0 and masks[0].max() <= 1.0 and masks[0].max() > 0
    np.testing.assert_array_equal(masks[0], masks[1])
    with pytest.raises(ValueError, match="already fitted"):
        models[0].add(frames[0], landmarks[0])


def test_too_few_frames_is_unreliable(occluded):
    frames, landmarks, _ = occluded
    n = OCCLUDED[0]
    model = _fitted(frames[n : n + 3], landmarks[n : n + 3])
    assert not model.reliable and "3 frames" in model.reason
    h, w = frames[n].shape[:2]
    assert not model.mask(frames[n], landmarks[n], (10, 20, w - 5, h)).any()
    assert model.mask(frames[n], landmarks[n], (10, 20, w - 5, h)).shape == (h - 20, w - 15)


def test_bad_use_is_named(clean):
    _, frames, landmarks = clean
    model = OcclusionModel(mean_shape(landmarks, 512))
    with pytest.raises(ValueError, match="no frames were added"):
        model.fit()
    with pytest.raises(ValueError, match="call fit"):
        model.mask(frames[0], landmarks[0], (0, 0, 10, 10))
    with pytest.raises(ValueError, match="landmarks must be 68"):
        model.add(frames[0], landmarks[0][:60])
    with pytest.raises(ValueError, match="RGB uint8"):
        model.add(frames[0].astype(np.float32), landmarks[0])
    for frame, lm in zip(frames, landmarks):
        model.add(frame, lm)
    model.fit()
    h, w = frames[0].shape[:2]
    with pytest.raises(ValueError, match="outside"):
        model.mask(frames[0], landmarks[0], (0, 0, w + 1, h))
    with pytest.raises(ValueError, match="empty"):
        model.mask(frames[0], landmarks[0], (5, 5, 5, 40))
