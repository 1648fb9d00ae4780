"""Stage swap end to end on small real inputs, judged by dlib on the frames it writes.

The embedded sample (3 people, 2 expressions: neutral then happy, 11 frames each) is built; clips made
from its frames are added before ingest so that the real faces stage finds real landmarks on them:

* ``P001_expressions``: the sample clip as built (de-identification, pose and expression);
* ``edited``: P001's frames with a textured patch (a crop of a party_640x480.mp4 frame, about 30 % of the
  face's landmark box) over the left cheek and chin in frames 2-4, the open inner mouth tinted green at
  its own lightness (so dlib fits the same lips as on the teeth), and three black frames appended;
* ``tiny``: P001's face shrunk to about 28 px in a 160x120 frame (below faces.min_landmark_size);
* ``pair``: P001 and P003 side by side, each cropped to 240 px wide;
* ``photos``: a folder of three photographs of P001 of different sizes (ingest calls it stills).

The donor gallery keeps one portrait per donor (as in test_cast_stage) and cast makes two identities. The
casting plan is the cast stage's, except for ``pair``, which is written here so that its two tracks get
the two identities. Swap runs three times on it: default parameters twice (determinism) and once with
``fallback: drop_frame``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import dlib
import numpy as np
import pandas as pd
import pytest

from facecast import tables
from facecast.cast.stage import cast
from facecast.errors import InputError
from facecast.faces.stage import analyse
from facecast.gate.audit import UNCHANGED_MAD, region_mad
from facecast.geometry.filters import grey
from facecast.geometry.landmarks import inter_ocular, mouth_gap
from facecast.geometry.outline import contour
from facecast.ingest.stage import ingest
from facecast.io.clips import iter_frames
from facecast.models.embedding import embed_chips, face_chips
from facecast.models.landmarks import fit_shape, shape_points
from facecast.models.loaders import shape_predictor68
from facecast.params import CastParams, FacesParams, IngestParams, SampleParams, SwapParams
from facecast.reasons import SwapReason
from facecast.sample.stage import build_sample
from facecast.swap.clip_render import STILL_LEVEL, _dropped, _first_line
from facecast.swap.masks import KEEP_INSET
from facecast.swap.stage import swap
from facecast.tables import Reason

SEED = 7
SAMPLE = SampleParams(people=3, expressions=2, hold_frames=4, morph_frames=3)
KEEP_IMAGE = "studio_portrait.jpg"  # one image per donor keeps the faces stage fast
CAST = CastParams(
    identities=2,
    donors_per_identity=2,
    quotas={"sex": {"female": 1.0}},  # P001-P003 are all female
    on_shortfall="relax",
    # two identities of 2 of the same 3 donors cannot keep dlib's 0.6 from each other (as in test_cast_stage)
    min_identity_distance=0.4,
    max_attempts=30,
)
PATCHED = range(2, 5)  # frames of `edited` with the patch over the cheek and chin
PATCH_SHARE = 0.55  # the patch spans this share of the face's landmark box in each axis (0.3 of its area)
BLACK = 3  # black frames appended to `edited`
GREEN_AB = (-60.0, 50.0)  # CIE a*, b* the open inner mouth is tinted to (its L* kept): far from any skin or lip
TINY_SCALE = 0.16  # P001's ~185 px face -> ~28 px
DEID = 0.6  # dlib's same-person threshold
PHOTO_SCALES = (1.0, 0.75, 0.5)  # the three photographs of `photos`: 480x360, 360x270 and 240x180


@dataclass
class Built:
    root: Path
    interim: Path
    plan: Path  # cast folder with the casting plan swap reads
    frames: dict[str, list[np.ndarray]]  # clip_id -> its frames as ingest and swap decode them (RGB)
    patches: dict[int, tuple[int, int, int, int]]  # frame of `edited` -> patch box x0, y0, x1, y1
    green: set[int]  # frames of `edited` whose open inner mouth was tinted green


def write_clip(path: Path, frames: list[np.ndarray]) -> None:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (w, h))
    assert writer.isOpened(), path
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def read_clip(path: Path) -> list[np.ndarray]:
    return list(iter_frames(path, "video"))


def fill(polygon: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.rint(polygon).astype(np.int32)], 1)
    return mask.astype(bool)


def hog_landmarks(frame: np.ndarray) -> np.ndarray:
    """dlib's 68 points in the box of its HOG detector (only to place the edits before faces runs)."""
    found = dlib.get_frontal_face_detector()(frame, 0)
    assert len(found) == 1, f"expected one face, found {len(found)}"
    return np.array([[p.x, p.y] for p in shape_predictor68()(frame, found[0]).parts()], np.float64)


def party_texture(videos: Path) -> np.ndarray:
    frame = next(iter_frames(videos / "party_640x480.mp4", "video"))
    return frame[240:340, 230:330]  # jackets, a bottle and a white label: textured, no face, not skin-coloured


def edited_frames(frames: list[np.ndarray], texture: np.ndarray) -> tuple[list[np.ndarray], dict, set[int]]:
    out, patches, green = [], {}, set()
    for n, frame in enumerate(frames):
        frame = frame.copy()
        lm = hog_landmarks(frame)
        x0, y0 = lm.min(axis=0)
        x1, y1 = lm.max(axis=0)
        if n in PATCHED:
            w, h = int(PATCH_SHARE * (x1 - x0)), int(PATCH_SHARE * (y1 - y0))
            px, py = int(x0), int(y1) - h
            frame[py : py + h, px : px + w] = texture[:h, :w]
            patches[n] = (px, py, px + w, py + h)
        elif mouth_gap(lm) >= SwapParams().mouth_open_min:
            inner = fill(lm[60:68], frame.shape[:2])
            lab = cv2.cvtColor(frame.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
            lab[inner, 1:] = GREEN_AB
            rgb = np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB), 0, 1)
            frame[inner] = np.rint(rgb[inner] * 255).astype(np.uint8)
            green.add(n)
        out.append(frame)
    return out + [np.zeros_like(frames[0])] * BLACK, patches, green


def tiny_frames(frames: list[np.ndarray]) -> list[np.ndarray]:
    out = []
    for frame in frames:
        small = cv2.resize(frame, None, fx=TINY_SCALE, fy=TINY_SCALE, interpolation=cv2.INTER_AREA)
        canvas = np.full((120, 160, 3), 120, np.uint8)
        canvas[40 : 40 + small.shape[0], 40 : 40 + small.shape[1]] = small
        out.append(canvas)
    return out


def pair_frames(left: list[np.ndarray], right: list[np.ndarray]) -> list[np.ndarray]:
    x0 = left[0].shape[1] // 2 - 120  # each person's frame cropped to 240 px around the face
    return [np.hstack([a[:, x0 : x0 + 240], b[:, x0 : x0 + 240]]) for a, b in zip(left, right)]


def pair_plan(casting: pd.DataFrame, faces: pd.DataFrame, identities: list[str]) -> pd.DataFrame:
    """The cast stage's plan with the `pair` clip's two tracks played by two different identities."""
    counts = faces[faces.clip_id == "pair"].groupby("track_id").size()
    assert len(counts) == 2, f"expected two tracks in pair, found {len(counts)}"
    rows = [
        {
            "clip_id": "pair",
            "track_id": int(t),
            "variant": 0,
            "identity_id": identities[k],
            "frames": int(n),
            "status": "ok",
            "reason": None,
        }
        for k, (t, n) in enumerate(counts.items())
    ]
    return pd.concat([casting[casting.clip_id != "pair"], pd.DataFrame(rows)], ignore_index=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory, videos) -> Built:
    root = tmp_path_factory.mktemp("swap")
    sample = root / "sample"
    build_sample(SAMPLE, SEED, sample)
    for image in (sample / "donors").glob("*/*.jpg"):
        if image.name != KEEP_IMAGE:
            image.unlink()
    clips = sample / "clips"
    p1, p3 = (read_clip(clips / "P001_expressions.mp4"), read_clip(clips / "P003_expressions.mp4"))
    spare = root / "spare"  # P002 and P003's own clips are not swapped (their donors stay in the gallery)
    spare.mkdir()
    for clip in ("P002_expressions", "P003_expressions"):
        shutil.move(clips / f"{clip}.mp4", spare / f"{clip}.mp4")
    edited, patches, green = edited_frames(p1, party_texture(videos))
    write_clip(clips / "edited.mp4", edited)
    write_clip(clips / "tiny.mp4", tiny_frames(p1))
    write_clip(clips / "pair.mp4", pair_frames(p1, p3))
    (clips / "photos").mkdir()
    for n, (frame, scale) in enumerate(zip((p1[0], p1[len(p1) // 2], p1[-1]), PHOTO_SCALES)):
        photo = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        assert cv2.imwrite(str(clips / "photos" / f"{n:03d}.png"), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    subjects = pd.read_csv(sample / "subjects.csv")
    extra = pd.DataFrame({"clip": ["edited", "tiny", "photos"], "subject_id": ["P001", "P001", "P001"]})
    pd.concat([subjects, extra]).to_csv(sample / "subjects.csv", index=False)

    interim = root / "interim"
    ingest(sample, IngestParams(), interim, root / "metrics" / "ingest.json")
    # pad_frames 0: the black frames appended to `edited` stay frames without a face (padding would cover them)
    analyse(sample / "donors", FacesParams(workers=1, pad_frames=0), interim, root / "metrics" / "faces.json")
    cast(sample / "donors", CAST, SEED, interim, root / "cast", root / "metrics" / "cast.json")

    identities = tables.read_df("identities", root / "cast" / "identities.parquet")
    ok = sorted(identities.loc[identities.status == "ok", "identity_id"])
    assert len(ok) == 2, f"cast made {len(ok)} identities, the tests need 2"
    plan = root / "plan"
    shutil.copytree(root / "cast", plan)
    casting = tables.read_df("casting", plan / "casting.parquet")
    faces = tables.read_df("faces", interim / "faces.parquet")
    tables.write("casting", pair_plan(casting, faces, ok), plan / "casting.parquet")

    decoded = {c: read_clip(clips / f"{c}.mp4") for c in ("P001_expressions", "edited", "tiny", "pair")}
    decoded["photos"] = list(iter_frames(clips / "photos", "images"))
    return Built(root, interim, plan, decoded, patches, green)


def run_swap(built: Built, name: str, params: SwapParams) -> tuple[Path, dict]:
    out = built.root / name
    metrics = swap(params, built.interim, built.plan, out, built.root / "metrics" / f"{name}.json")
    return out, metrics


@pytest.fixture(scope="module")
def main(built) -> tuple[Path, dict, pd.DataFrame]:
    out, metrics = run_swap(built, "swapped", SwapParams())
    kept = shutil.copy2(built.interim / "swaps.parquet", built.root / "swaps_main.parquet")  # later runs overwrite it
    return out, metrics, tables.read_df("swaps", kept)


@pytest.fixture(scope="module")
def again(built) -> tuple[Path, pd.DataFrame]:
    out, _ = run_swap(built, "swapped_again", SwapParams())
    return out, tables.read_df("swaps", built.interim / "swaps.parquet")


@pytest.fixture(scope="module")
def dropped(built) -> tuple[Path, dict, pd.DataFrame]:
    out, metrics = run_swap(built, "swapped_drop", SwapParams(fallback="drop_frame"))
    return out, metrics, tables.read_df("swaps", built.interim / "swaps.parquet")


# measuring -------------------------------------------------------------------------------------------------


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, path
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def points(row_landmarks) -> np.ndarray:
    return np.asarray(row_landmarks, np.float64).reshape(68, 2)


def refit(frame: np.ndarray, box) -> np.ndarray:
    """dlib's 68 points fitted in ``box`` of ``frame``."""
    return shape_points(fit_shape(frame, np.asarray(box, np.float64))).astype(np.float64)


def descriptor(frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """dlib's 128-D descriptor of the face dlib fits in the box of ``landmarks``."""
    x0, y0 = landmarks.min(axis=0)
    x1, y1 = landmarks.max(axis=0)
    shape = fit_shape(frame, np.array([x0, y0, x1, y1]))
    return embed_chips(face_chips(frame, [shape]))[0].astype(np.float64)


def jpeg_error(frame: np.ndarray, quality: int) -> np.ndarray:
    """Per pixel, the largest channel error the JPEG round trip alone makes on ``frame``."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    back = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return np.abs(back.astype(int) - frame.astype(int)).max(axis=2)


def clip_rows(swaps: pd.DataFrame, clip_id: str) -> pd.DataFrame:
    return swaps[(swaps.clip_id == clip_id) & (swaps.variant == 0)].sort_values(["frame_idx", "track_id"])


def face_rows(faces: pd.DataFrame, clip_id: str) -> pd.DataFrame:
    return faces[faces.clip_id == clip_id].sort_values(["frame_idx", "track_id"])


# 1 -------------------------------------------------------------------------------------------------------


def test_tables_images_previews_and_metrics_agree(built, main):
    out, metrics, swaps = main
    tables.read("swaps", built.root / "swaps_main.parquet")  # name, version, columns and types checked on read
    faces = tables.read_df("faces", built.interim / "faces.parquet")
    frames = tables.read_df("frames", built.interim / "frames.parquet")
    clips = tables.read_df("clips", built.interim / "clips.parquet").set_index("clip_id")
    casting = tables.read_df("casting", built.plan / "casting.parquet").set_index(["clip_id", "track_id"])

    # one row per face per frame (one variant), one no_face row per frame without a face
    assert (swaps.variant == 0).all()
    with_face = swaps[swaps.status != "no_face"]
    key = ["clip_id", "frame_idx", "track_id"]
    assert not with_face.duplicated(key).any()
    assert sorted(map(tuple, with_face[key].astype({"track_id": int}).to_numpy())) == sorted(
        map(tuple, faces[key].to_numpy())
    )
    faceless = frames.merge(faces[["clip_id", "frame_idx"]].drop_duplicates(), how="left", indicator=True)
    faceless = faceless[faceless._merge == "left_only"]
    no_face = swaps[swaps.status == "no_face"]
    assert sorted(zip(no_face.clip_id, no_face.frame_idx)) == sorted(zip(faceless.clip_id, faceless.frame_idx))
    assert len(no_face) == BLACK and no_face.track_id.isna().all()

    # every face with landmarks is swapped by its cast identity, unless swap.verify measured it as still its own
    # person (then obscured, with the reason); the tiny faces are obscured
    tiny = with_face.clip_id == "tiny"
    verified = with_face.reason_kind == SwapReason.NOT_DEIDENTIFIED
    assert (with_face[verified].status == "obscured").all()
    swapped = with_face[~tiny & ~verified]
    assert (swapped.status == "swapped").all()
    assert swapped.reason_kind.isna().all() and swapped.reason_detail.isna().all()
    planned = [casting.loc[(c, int(t)), "identity_id"] for c, t in zip(swapped.clip_id, swapped.track_id)]
    assert swapped.identity_id.tolist() == planned
    assert swapped.landmarks.map(len).eq(136).all()
    assert (with_face[tiny].status == "obscured").all()
    # every reason is a kind of swap's closed set, with its detail: faces.parquet's reason for a tiny face
    assert set(swaps.reason_kind.dropna()) <= set(SwapReason)
    assert swaps.reason_kind.notna().sum() == tiny.sum() + verified.sum()
    assert with_face[tiny].reason_kind.eq(SwapReason.TOO_SMALL).all()
    assert with_face[tiny].reason_detail.str.fullmatch(r"face \d+ px high, under \d+ px").all()

    # one JPEG per frame, at its place, at the frame's own size (the photographs' differ); nothing else
    assert clips.stills.to_dict() == {c: c == "photos" for c in clips.index}
    assert swaps.groupby(["clip_id", "frame_idx"]).image.nunique().eq(1).all()
    per_frame = swaps.drop_duplicates(["clip_id", "frame_idx"])
    assert len(per_frame) == len(frames)
    for row in per_frame.itertuples():
        assert row.image == f"{row.clip_id}__v0/{row.frame_idx:06d}.jpg"
        assert read_rgb(out / row.image).shape == built.frames[row.clip_id][row.frame_idx].shape
    assert [built.frames["photos"][i].shape[1] for i in range(3)] == [480, 360, 240]
    written = sorted(str(p.relative_to(out)) for p in out.glob("*__v*/*"))
    assert written == sorted(per_frame.image)

    # the mp4 previews decode to the clips' frame counts (the smaller photograph fitted into the first's size)
    for clip_id, clip in clips.iterrows():
        preview = read_clip(out / "previews" / f"{clip_id}__v0.mp4")
        assert len(preview) == clip.n_frames and preview[0].shape[:2] == (clip.height, clip.width)

    # metrics/swap.json: the returned metrics, and the table's counts
    assert json.loads((built.root / "metrics" / "swapped.json").read_text()) == metrics
    assert metrics["frames"] == {"written": len(frames), "dropped": 0, "source": len(frames)}
    assert metrics["faces"]["total"] == len(with_face) == len(faces)
    assert metrics["faces"]["by_status"] == with_face.status.value_counts().to_dict()
    assert metrics["faces"]["reasons"] == {"too_small": int(tiny.sum())}
    assert metrics["faces"]["mouth_kept"] == int(with_face.mouth_kept.fillna(False).astype(bool).sum())
    assert metrics["faces"]["occluded"] == int((with_face.occluded_share.fillna(0) > 0).sum())
    assert metrics["frames_without_face"] == BLACK and metrics["variants"] == 1
    print(
        f"\n[swap] {len(frames)} frames, {len(with_face)} faces: {metrics['faces']['by_status']}, "
        f"{metrics['frames_per_s']} frames/s"
    )


# 2 -------------------------------------------------------------------------------------------------------


def test_swapped_faces_are_deidentified_and_recast(built, main):
    out, _, swaps = main
    clip = "P001_expressions"
    rows = clip_rows(swaps, clip)
    faces = face_rows(tables.read_df("faces", built.interim / "faces.parquet"), clip)
    track = tables.read_df("tracks", built.interim / "tracks.parquet").query("clip_id == @clip").iloc[0]
    centroid = np.asarray(track.embedding_centroid, np.float64)
    identities = tables.read_df("identities", built.plan / "identities.parquet").set_index("identity_id")
    identity_id = rows.identity_id.iloc[0]
    cast_embedding = np.asarray(identities.loc[identity_id, "embedding"], np.float64)

    own, away, recast = [], [], []
    for row, face in zip(rows.itertuples(), faces.itertuples()):
        before = descriptor(built.frames[clip][row.frame_idx], points(face.landmarks))
        after = descriptor(read_rgb(out / row.image), points(row.landmarks))
        own.append(np.linalg.norm(before - centroid))
        away.append(np.linalg.norm(after - centroid))
        recast.append(np.linalg.norm(after - cast_embedding))
    own, away, recast = map(np.array, (own, away, recast))
    print(
        f"\n[de-id] {clip} played by {identity_id}, {len(rows)} frames: original to its centroid "
        f"{own.min():.3f}-{own.max():.3f}; swapped to the original centroid {away.min():.3f}-{away.max():.3f}; "
        f"swapped to {identity_id} {recast.min():.3f}-{recast.max():.3f}"
    )
    assert away.min() > own.max()
    assert away.min() >= DEID  # no swapped frame is the same person by dlib's own threshold
    assert (recast < away).all()


# 3 -------------------------------------------------------------------------------------------------------


def test_pose_and_expression_follow_the_original(built, main):
    out, _, swaps = main
    clip = "P001_expressions"
    rows = clip_rows(swaps, clip)
    faces = face_rows(tables.read_df("faces", built.interim / "faces.parquet"), clip)
    errors, driven_gap, original_gap, refit_gap = [], [], [], []
    for row, face in zip(rows.itertuples(), faces.itertuples()):
        driven = points(row.landmarks)
        # refitted in the faces stage's own box (MTCNN's, from the original frame), not one made from the driven points
        found = refit(read_rgb(out / row.image), (face.bbox_x0, face.bbox_y0, face.bbox_x1, face.bbox_y1))
        errors.append(np.linalg.norm(found - driven, axis=1).mean() / inter_ocular(driven))
        driven_gap.append(mouth_gap(driven))
        original_gap.append(mouth_gap(points(face.landmarks)))
        refit_gap.append(mouth_gap(found))
    errors = np.array(errors)
    r_driven = np.corrcoef(driven_gap, original_gap)[0, 1]
    r_refit = np.corrcoef(refit_gap, original_gap)[0, 1]
    print(
        f"\n[pose] re-fitted vs driving landmarks, mean error / inter-ocular: median {np.median(errors):.3f}, "
        f"max {errors.max():.3f}; mouth gap original {min(original_gap):.3f}-{max(original_gap):.3f}, "
        f"driven {min(driven_gap):.3f}-{max(driven_gap):.3f}; correlation with the original's: driven {r_driven:.3f}, "
        f"refitted {r_refit:.3f}"
    )
    # 0.05 of the outer eye span (about 4 px here; 0.069 inter-ocular distances, the span being 1.38 of them) is
    # dlib's own mean error on real faces it did not see (Kazemi & Sullivan 2014: 0.049 on HELEN, normalised by the
    # outer eye corners): closer than that, dlib cannot tell the render from its driving points
    assert errors.max() < 0.05 * 1.38
    assert r_driven > 0.9 and r_refit > 0.9


# 4 -------------------------------------------------------------------------------------------------------


def test_occluder_in_front_of_the_face_survives(built, main):
    out, _, swaps = main
    rows = clip_rows(swaps, "edited").set_index("frame_idx")
    faces = face_rows(tables.read_df("faces", built.interim / "faces.parquet"), "edited").set_index("frame_idx")
    quality = SwapParams().jpeg_quality
    kept_shares, changed_shares = [], []
    for n, (x0, y0, x1, y1) in built.patches.items():
        before = built.frames["edited"][n]
        after = read_rgb(out / rows.loc[n, "image"])
        diff = np.abs(after.astype(int) - before.astype(int)).max(axis=2)
        # what JPEG alone does to this frame: the 99th percentile of its error under the patch
        tolerance = np.percentile(jpeg_error(before, quality)[y0:y1, x0:x1], 99)
        face = fill(contour(points(faces.loc[n, "landmarks"])), diff.shape)
        patch = np.zeros_like(face)
        patch[y0:y1, x0:x1] = True
        under = patch & face  # the patch where the swap would otherwise have painted the new face
        grown = cv2.dilate(patch.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
        rest = face & ~grown
        kept_shares.append((diff[under] <= tolerance).mean())
        changed_shares.append((diff[rest] > tolerance).mean())
        assert rows.loc[n, "status"] == "swapped" and rows.loc[n, "occluded_share"] > 0
        print(
            f"\n[occluder] frame {n}: patch {x1 - x0}x{y1 - y0} px, {under.sum() / face.sum():.0%} of the face; "
            f"JPEG tolerance {tolerance:.0f}; under the patch {kept_shares[-1]:.1%} kept; "
            f"rest of the face {changed_shares[-1]:.1%} changed; occluded_share {rows.loc[n, 'occluded_share']:.3f}"
        )
    # most of the patch: the occluder mask is opened, grown and feathered, so a rim of a few px around the
    # ~72 px patch (about a tenth of it) is blended with the new face
    assert min(kept_shares) >= 0.8
    # most of the rest: where the identity's skin, recoloured to the frame's, is as flat as the original's,
    # a pixel may stay within the JPEG error
    assert min(changed_shares) >= 0.5
    others = rows[~rows.index.isin(list(built.patches)) & (rows.status == "swapped")]
    print(f"[occluder] occluded_share in the frames without the patch: at most {others.occluded_share.max():.3f}")
    assert others.occluded_share.max() < rows.loc[list(built.patches), "occluded_share"].min()


# 5 -------------------------------------------------------------------------------------------------------


def green_in_mouth(image: np.ndarray, driven: np.ndarray) -> np.ndarray:
    """Per pixel of the driven inner lips less the keep mask's inset: whether it is green (CIE a* < -10).

    No skin, lip or tooth has a negative a*; the tint's a* is -60."""
    lab = cv2.cvtColor(image.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    inset = round(KEEP_INSET * inter_ocular(driven))
    inner = fill(driven[60:68], image.shape[:2]).astype(np.uint8)
    inner = cv2.erode(inner, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * inset + 1, 2 * inset + 1)))
    return lab[..., 1][inner.astype(bool)] < -10


def test_open_mouth_interior_survives(built, main):
    out, _, swaps = main
    rows = clip_rows(swaps, "edited").set_index("frame_idx")
    kept = rows[rows.mouth_kept.fillna(False).astype(bool)]
    frames = sorted(built.green & set(kept.index))
    assert len(frames) >= 3, f"tinted frames {sorted(built.green)}, mouth kept in {sorted(kept.index)}"
    control = clip_rows(swaps, "P001_expressions").set_index("frame_idx")  # the same frames, mouth not tinted
    shares, untinted = [], []
    for n in frames:
        green = green_in_mouth(read_rgb(out / rows.loc[n, "image"]), points(rows.loc[n, "landmarks"]))
        shares.append(green.mean())
        plain = green_in_mouth(read_rgb(out / control.loc[n, "image"]), points(control.loc[n, "landmarks"]))
        untinted.append(plain.mean())
        assert green.size > 0
    print(
        f"\n[mouth] tinted in frames {sorted(built.green)}, kept in {frames}: green share of the driven inner "
        f"mouth (less the keep inset) {', '.join(f'{v:.0%}' for v in shares)}; untinted clip {max(untinted):.0%}"
    )
    # all but the rim, where the keep mask's blur mixes in the identity's lips
    assert min(shares) >= 0.8
    assert max(untinted) == 0


# 6 -------------------------------------------------------------------------------------------------------


def high_frequency(image: np.ndarray) -> float:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.square(cv2.Laplacian(grey, cv2.CV_32F)).mean())


def test_tiny_face_is_obscured(built, main):
    out, _, swaps = main
    rows = clip_rows(swaps, "tiny")
    assert len(rows) == len(built.frames["tiny"])
    assert (rows.status == "obscured").all() and rows.reason_kind.eq(SwapReason.TOO_SMALL).all()
    assert rows.identity_id.isna().all() and rows.landmarks.isna().all()
    faces = face_rows(tables.read_df("faces", built.interim / "faces.parquet"), "tiny")
    ratios, diffs = [], []
    for row, face in zip(rows.itertuples(), faces.itertuples()):
        x0, y0, x1, y1 = (int(round(v)) for v in (face.bbox_x0, face.bbox_y0, face.bbox_x1, face.bbox_y1))
        before = built.frames["tiny"][row.frame_idx][y0:y1, x0:x1]
        after = read_rgb(out / row.image)[y0:y1, x0:x1]
        ratios.append(high_frequency(after) / high_frequency(before))
        diffs.append(np.abs(after.astype(int) - before.astype(int)).mean())
    print(
        f"\n[tiny] face {faces.bbox_y1.sub(faces.bbox_y0).median():.0f} px: high-frequency energy kept "
        f"{min(ratios):.1%}-{max(ratios):.1%}, mean abs change {min(diffs):.1f}-{max(diffs):.1f} grey levels"
    )
    # a tenth of the Laplacian energy left: the eyes, brows and mouth, the edges a recogniser reads, are gone
    assert max(ratios) < 0.1
    # ten grey levels on average over the box: several times what JPEG at quality 92 changes (2-3 levels)
    assert min(diffs) > 10


# 7 -------------------------------------------------------------------------------------------------------


def test_two_people_get_two_identities(built, main):
    out, _, swaps = main
    rows = clip_rows(swaps, "pair")
    per_frame = rows.groupby("frame_idx")
    assert per_frame.size().eq(2).all() and len(per_frame) == len(built.frames["pair"])
    assert (rows.status == "swapped").all()
    assert per_frame.identity_id.nunique().eq(2).all()
    assert rows.groupby("track_id").identity_id.nunique().eq(1).all()
    identities = tables.read_df("identities", built.plan / "identities.parquet").set_index("identity_id")
    own, other = [], []
    for row in rows.itertuples():
        found = descriptor(read_rgb(out / row.image), points(row.landmarks))
        d = {i: np.linalg.norm(found - np.asarray(e, np.float64)) for i, e in identities.embedding.items()}
        own.append(d.pop(row.identity_id))
        other.append(min(d.values()))
    own, other = np.array(own), np.array(other)
    cast_as = dict(zip(rows.track_id.astype(int), rows.identity_id))
    print(
        f"\n[pair] tracks played by {cast_as}; dlib distance to its own identity {own.min():.3f}-{own.max():.3f}, "
        f"to the other {other.min():.3f}-{other.max():.3f}"
    )
    assert (own < other).all()  # each face is recognisably the identity cast on it, not the other


# 8 -------------------------------------------------------------------------------------------------------


def test_drop_frame_writes_no_frame_with_a_problem_face(built, dropped):
    out, metrics, swaps = dropped
    tiny = swaps[swaps.clip_id == "tiny"]
    assert len(tiny) == len(built.frames["tiny"])
    assert (tiny.status == "dropped").all() and tiny.reason_kind.eq(SwapReason.TOO_SMALL).all()
    assert set(swaps.reason_kind.dropna()) <= set(SwapReason)
    assert tiny.image.isna().all() and tiny[["bbox_x0", "landmarks", "identity_id"]].isna().all().all()
    assert not list((out / "tiny__v0").glob("*.jpg"))
    others = swaps[swaps.clip_id != "tiny"]
    assert set(others.status) == {"swapped", "no_face"}
    frames = others.drop_duplicates(["clip_id", "frame_idx"])
    for row in frames.itertuples():
        assert (out / row.image).is_file()
    assert metrics["frames"]["dropped"] == len(tiny) and metrics["frames"]["written"] == len(frames)
    print(f"\n[drop_frame] {len(tiny)} frames dropped, {len(frames)} written")


# 9 -------------------------------------------------------------------------------------------------------


def test_every_photograph_of_a_stills_folder_is_searched_and_recast(built, main):
    """Three photographs of one person, of three sizes: each has its face found, swapped or obscured with a reason,
    and written at its own size with no face region left as it was (the audit's measure)."""
    out, _, swaps = main
    rows = clip_rows(swaps, "photos")
    assert sorted(rows.frame_idx) == [0, 1, 2]  # one face in each, none followed from one photograph to the next
    assert rows.status.isin(["swapped", "obscured"]).all()
    assert rows[rows.status == "obscured"].reason_kind.notna().all()
    for row in rows.itertuples():
        original = built.frames["photos"][row.frame_idx]
        written = read_rgb(out / row.image)
        box = (row.bbox_x0, row.bbox_y0, row.bbox_x1, row.bbox_y1)
        assert written.shape == original.shape and region_mad(original, written, box) > 2 * UNCHANGED_MAD


def test_frame_without_face_is_written_unchanged(built, main):
    out, _, swaps = main
    rows = clip_rows(swaps, "edited")
    black = rows[rows.status == "no_face"]
    n_faces = len(built.frames["edited"]) - BLACK
    assert black.frame_idx.tolist() == list(range(n_faces, n_faces + BLACK))
    assert black.reason_kind.isna().all() and black.reason_detail.isna().all() and black.bbox_x0.isna().all()
    for row in black.itertuples():
        frame = built.frames["edited"][row.frame_idx]
        ok, expected = cv2.imencode(
            ".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, SwapParams().jpeg_quality]
        )
        assert ok and (out / row.image).read_bytes() == expected.tobytes()


# 10 ------------------------------------------------------------------------------------------------------


def test_a_still_face_stays_still(built, main):
    """Where the original face does not change between two frames (the sample holds each expression), the
    swapped face does not either: both frames are rendered from the same landmarks, and what the JPEGs show in
    the face's box changes no more than the original did (plus the JPEG round trip of one frame)."""
    out, _, swaps = main
    frames = built.frames["P001_expressions"]
    rows = clip_rows(swaps, "P001_expressions").set_index("frame_idx")
    still = []
    for n in range(1, len(frames)):
        if not {n - 1, n} <= set(rows.index[rows.status == "swapped"]):
            continue
        x0, y0, x1, y1 = (int(v) for v in rows.loc[n, ["bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1"]])
        change = np.abs(grey(frames[n][y0:y1, x0:x1]) - grey(frames[n - 1][y0:y1, x0:x1]))
        if np.percentile(change, 99) <= STILL_LEVEL:
            still.append((n, (x0, y0, x1, y1), change.mean()))
    assert len(still) >= 2, "the sample holds each of its two expressions for several frames"
    for n, (x0, y0, x1, y1), original in still:
        np.testing.assert_array_equal(points(rows.loc[n, "landmarks"]), points(rows.loc[n - 1, "landmarks"]))
        now, before = (grey(read_rgb(out / rows.loc[k, "image"])[y0:y1, x0:x1]) for k in (n, n - 1))
        jpeg = jpeg_error(read_rgb(out / rows.loc[n, "image"]), SwapParams().jpeg_quality)[y0:y1, x0:x1]
        assert np.abs(now - before).mean() <= original + jpeg.mean(), n


def test_two_runs_are_identical(main, again):
    out, _, first = main
    out2, second = again
    pd.testing.assert_frame_equal(first.reset_index(drop=True), second.reset_index(drop=True))
    images = sorted(p.relative_to(out) for p in out.glob("*__v*/*.jpg"))
    assert images == sorted(p.relative_to(out2) for p in out2.glob("*__v*/*.jpg"))
    differ = [str(p) for p in images if (out / p).read_bytes() != (out2 / p).read_bytes()]
    assert not differ, differ
    print(f"\n[determinism] {len(first)} rows and {len(images)} JPEGs identical")


# 11 ------------------------------------------------------------------------------------------------------


def test_missing_identity_folder_stops_the_stage(built):
    broken = built.root / "broken_cast"
    shutil.copytree(built.plan, broken)
    casting = tables.read_df("casting", broken / "casting.parquet")
    missing = sorted(casting.identity_id.dropna().unique())[-1]
    shutil.rmtree(broken / "identities" / missing)
    out = built.root / "swapped_broken"
    with pytest.raises(InputError, match=missing) as stopped:
        swap(SwapParams(), built.interim, broken, out, built.root / "metrics" / "broken.json")
    print(f"\n[bad input] {stopped.value}")
    assert not out.exists() and not (built.root / "metrics" / "broken.json").exists()


# 12 ------------------------------------------------------------------------------------------------------


def test_a_dropped_frame_names_the_faces_that_could_not_be_swapped():
    def row(track: int, status: str, reason: Reason | None) -> dict:
        kind, detail = reason or (None, None)
        return {"track_id": track, "status": status, "reason_kind": kind, "reason_detail": detail, "box": (0, 0, 1, 1)}

    rows = _dropped(
        [
            row(0, "swapped", None),
            row(1, "obscured", Reason(SwapReason.TOO_SMALL, "face 28 px high, under 40 px")),
            row(2, "obscured", Reason(SwapReason.NO_LANDMARKS)),
        ]
    )
    assert [r["status"] for r in rows] == ["dropped"] * 3 and all(r["box"] is None for r in rows)
    assert [(r["reason_kind"], r["reason_detail"]) for r in rows] == [
        ("frame dropped", "track 1: too_small: face 28 px high, under 40 px; track 2: no_landmarks"),
        ("too_small", "face 28 px high, under 40 px"),
        ("no_landmarks", None),
    ]
    assert _first_line(ValueError("degenerate triangle\nat vertex 3")) == "degenerate triangle"
    assert _first_line(ValueError()) == ""
