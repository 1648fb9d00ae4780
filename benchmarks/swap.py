"""Speed of the swap stage against deface in the same run, and how well its faces are de-identified.

Prints a table:

* frames per second of the whole ``swap`` stage function (parameters: the
  ``swap`` section of params.yaml) on the embedded default, i.e. on the
  repo's data/interim and data/cast as ``dvc repro`` built them; frames are
  source frames x variants. Its output goes to a temporary folder (its
  swaps.parquet too: the stage reads the repo's tables through links in a
  temporary interim folder), so the repo's data stays as dvc made it;
* frames per second of the stage on ../shared/data/videos/party_640x480.mp4
  (``--video``), the faces swapped and obscured and why. Its inputs are made
  first, outside the timing, by the real stages: ingest of a temporary input
  root holding only the clip (a link) and a labels.csv without rows, faces
  (the ``faces`` section, donors: the embedded default's gallery) and cast
  (the ``cast`` section; ``on_shortfall`` relaxed only if it stops);
* frames per second of deface blurring the same video with its command
  line's defaults, through its per-video function ``video_detect`` (decode,
  CenterFace, blur, libx264 encode; CenterFace is loaded before the timing),
  and the ratio of the two;
* de-identification of the embedded default's swapped faces (every
  ``--every``-th): dlib's 128-D descriptor of the swapped face (68 points
  fitted in the bounding box of the points the render was driven with) and
  its distance to the original track's centroid and to the cast identity's
  descriptor, beside the same distance for the original faces (68 points
  fitted in the box of their own landmarks) as the reference spread;
* the ``temporal`` block of the stage's metrics (flicker and landmark motion).

The machine may be shared, so the stage and deface run in alternation
(``--rounds``) on the video and the median of each is reported; the embedded
default runs once.

Usage: .venv/bin/python benchmarks/swap.py [--params params.yaml] [--rounds N] [--every N] [--video PATH] [--skip-party] [--skip-quality]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from common import ROOT, deface_defaults, deface_run, prepare_clip
from facecast import tables
from facecast.geometry.boxes import points_box
from facecast.io.clips import iter_frames
from facecast.models.embedding import embed_chips, face_chips
from facecast.models.landmarks import fit_shape
from facecast.params import SwapParams, load
from facecast.swap.stage import swap

VIDEO = ROOT.parent / "shared" / "data" / "videos" / "party_640x480.mp4"
INTERIM = ROOT / "data" / "interim"
CAST = ROOT / "data" / "cast"
STAGE_TABLES = ("clips", "frames", "faces", "tracks")  # what swap and this benchmark read from data/interim
SAME_PERSON = 0.6  # dlib's same-person distance


def missing_inputs() -> list[Path]:
    wanted = [INTERIM / f"{name}.parquet" for name in STAGE_TABLES]
    wanted += [CAST / "casting.parquet", CAST / "identities.parquet", CAST / "identities"]
    return [p for p in wanted if not p.exists()]


def linked_interim(folder: Path) -> Path:
    """A folder with links to the repo's stage tables, so swap writes its swaps.parquet there, not into the repo."""
    folder.mkdir(parents=True)
    for name in STAGE_TABLES:
        (folder / f"{name}.parquet").symlink_to(INTERIM / f"{name}.parquet")
    return folder


def timed_swap(params: SwapParams, interim: Path, cast_dir: Path, out: Path) -> tuple[float, dict]:
    """Seconds of one call of the stage function and the metrics it wrote."""
    start = time.perf_counter()
    result = swap(params, interim, cast_dir, out=out, metrics=out.with_name(out.name + ".json"))
    return time.perf_counter() - start, result


def chip(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The aligned 150x150 chip of the face whose 68 points are fitted inside the bounding box of ``points``."""
    return face_chips(image, [fit_shape(image, points_box(points))])[0]


def quality(out: Path, interim: Path, cast_dir: Path, every: int) -> dict[str, np.ndarray]:
    """Distances of every ``every``-th swapped face: to its track's centroid, to its identity; the originals'."""
    swaps = tables.read_df("swaps", interim / "swaps.parquet")
    done = swaps[swaps["status"] == "swapped"].iloc[::every]
    faces = tables.read_df("faces", interim / "faces.parquet").set_index(["clip_id", "track_id", "frame_idx"])
    tracks = tables.read_df("tracks", interim / "tracks.parquet").set_index(["clip_id", "track_id"])
    identities = tables.read_df("identities", cast_dir / "identities.parquet").set_index("identity_id")
    clips = tables.read_df("clips", interim / "clips.parquet").set_index("clip_id")

    swapped_chips, originals = [], {}
    for r in done.itertuples(index=False):
        image = cv2.cvtColor(cv2.imread(str(out / r.image), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        swapped_chips.append(chip(image, np.asarray(r.landmarks, np.float64).reshape(68, 2)))
        originals[(r.clip_id, int(r.track_id), int(r.frame_idx))] = None
    for clip_id in sorted({key[0] for key in originals}):
        wanted = {key[2]: key for key in originals if key[0] == clip_id}
        for n, frame in enumerate(iter_frames(clips.at[clip_id, "path"], clips.at[clip_id, "kind"])):
            if n in wanted:
                own = np.asarray(faces.at[wanted[n], "landmarks"], np.float64).reshape(68, 2)
                originals[wanted[n]] = chip(frame, own)
    swapped = embed_chips(swapped_chips)
    original = embed_chips(list(originals.values()))

    def centroid(clip_id: str, track_id: int) -> np.ndarray | None:
        value = tracks.at[(clip_id, track_id), "embedding_centroid"]
        return None if value is None else np.asarray(value, np.float64)

    def distance(descriptor: np.ndarray, to: np.ndarray | None) -> float:
        return float("nan") if to is None else float(np.linalg.norm(descriptor - to))

    keys = [(r.clip_id, int(r.track_id)) for r in done.itertuples(index=False)]
    cast_as = [np.asarray(identities.at[i, "embedding"], np.float64) for i in done["identity_id"]]
    return {
        "swapped_to_original": np.array([distance(d, centroid(*k)) for d, k in zip(swapped, keys)]),
        "swapped_to_identity": np.array([distance(d, i) for d, i in zip(swapped, cast_as)]),
        "original_to_original": np.array([distance(d, centroid(k[0], k[1])) for d, k in zip(original, originals)]),
    }


def spread(d: np.ndarray) -> str:
    d = d[np.isfinite(d)]
    if not len(d):
        return "no distances"
    return (
        f"mean {d.mean():.3f}  median {np.median(d):.3f}  p5 {np.percentile(d, 5):.3f}  min {d.min():.3f}  "
        f"p95 {np.percentile(d, 95):.3f}  below {SAME_PERSON}: {(d < SAME_PERSON).mean():.1%}"
    )


def obscured_why(result: dict) -> str:
    f = result["faces"]
    by_status = ", ".join(f"{k} {v}" for k, v in f["by_status"].items())
    reasons = ", ".join(f"{k} {v}" for k, v in f["reasons"].items()) or "none"
    return f"{f['total']} faces: {by_status}; reasons: {reasons}"


def party_faces(interim: Path, params: SwapParams) -> str:
    faces = tables.read_df("faces", interim / "faces.parquet")
    heights = (faces["bbox_y1"] - faces["bbox_y0"]).to_numpy()
    status = Counter(faces["status"])
    return (
        f"{faces['track_id'].nunique()} tracks; face box height median {np.median(heights):.0f} px, "
        f"{(heights < params.min_face_px).mean():.0%} below swap.min_face_px {params.min_face_px:g}; "
        f"faces stage status: {', '.join(f'{k} {v}' for k, v in sorted(status.items()))}"
    )


def temporal(name: str, result: dict) -> list[tuple[str, str, str]]:
    t = result["temporal"]
    motion = t["landmark_motion_px"] or {}
    return [
        (
            f"{name}: face grey change",
            f"swapped {t['face_change_swapped']}  original {t['face_change_original']}",
            "mean |grey(t) - grey(t-1)| inside swapped faces' boxes",
        ),
        (
            f"{name}: landmark motion",
            f"driven {motion.get('driven')}  original {motion.get('original')}",
            "mean px per point between consecutive frames",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, default=VIDEO)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--every", type=int, default=5, help="measure every n-th swapped face")
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    parser.add_argument("--skip-party", action="store_true", help="no party video, no deface")
    parser.add_argument("--skip-quality", action="store_true", help="no descriptors")
    args = parser.parse_args()
    video, params_path = args.video.resolve(), args.params.resolve()
    if args.rounds < 1 or args.every < 1:
        parser.error("--rounds and --every must be at least 1")
    missing = missing_inputs()
    if missing:
        print("the embedded default's stage outputs are missing (run `dvc repro` first):", file=sys.stderr)
        print("\n".join(f"  {p}" for p in missing), file=sys.stderr)
        return 2
    if not args.skip_party and not video.is_file():
        print(f"{video}: video not found", file=sys.stderr)
        return 2
    os.chdir(ROOT)  # clips.parquet holds the clips' paths relative to the repo, where dvc runs
    p = load("ingest", "faces", "cast", "swap", path=params_path)
    load_start = os.getloadavg()[0]
    rows: list[tuple[str, str, str]] = []

    with tempfile.TemporaryDirectory(prefix="facecast-bench-swap-") as name:
        tmp = Path(name)
        interim, out = linked_interim(tmp / "interim"), tmp / "swapped"
        seconds, default = timed_swap(p.swap, interim, CAST, out)
        frames = default["frames"]["source"] * default["variants"]
        rows.append(
            (
                "swap stage, embedded default",
                f"{frames / seconds:.2f} fps",
                f"{frames} frames ({default['frames']['source']} x {default['variants']} variants), one run; "
                + obscured_why(default),
            )
        )

        if not args.skip_party:
            from deface.centerface import CenterFace

            party_interim, party_cast, how, _ = prepare_clip(video, p, tmp)
            options = deface_defaults()
            centerface = CenterFace(
                in_shape=options.scale, backend=options.backend, override_execution_provider=options.execution_provider
            )
            ours_s, deface_s = [], []
            for _ in range(args.rounds):
                seconds, party = timed_swap(p.swap, party_interim, party_cast, tmp / "party_swapped")
                ours_s.append(seconds)
                deface_s.append(deface_run(video, centerface, options, tmp / f"party_anonymized{video.suffix}"))
            n_party = party["frames"]["source"] * party["variants"]
            ours_fps = n_party / statistics.median(ours_s)
            deface_fps = party["frames"]["source"] / statistics.median(deface_s)
            rows += [
                (
                    f"swap stage, {video.name}",
                    f"{ours_fps:.2f} fps",
                    f"{n_party} frames ({party['frames']['source']} x {party['variants']} variants); "
                    + obscured_why(party),
                ),
                ("  its faces", "", party_faces(party_interim, p.swap) + f"; cast: {how}"),
                (
                    f"deface, {video.name}",
                    f"{deface_fps:.2f} fps",
                    f"defaults (thresh {options.thresh}, {options.replacewith}, mask scale {options.mask_scale}, "
                    f"{options.ffmpeg_config}); decode + CenterFace + blur + encode",
                ),
                (
                    "ratio (swap / deface)",
                    f"{ours_fps / deface_fps:.2f}",
                    "frames per second; swap's detection is in the faces stage, deface's is in its time; "
                    f"seconds per round: swap {' '.join(f'{s:.1f}' for s in ours_s)}, deface {' '.join(f'{s:.1f}' for s in deface_s)}",
                ),
            ]

        if not args.skip_quality:
            d = quality(out, interim, CAST, args.every)
            n = np.isfinite(d["swapped_to_original"]).sum()
            rows += [
                (
                    "swapped -> original centroid",
                    spread(d["swapped_to_original"]),
                    f"n {n}; aim: mean >= 0.85; faceswap averaged ~0.72",
                ),
                (
                    "original -> own centroid",
                    spread(d["original_to_original"]),
                    "reference: the same person's own spread",
                ),
                ("swapped -> cast identity", spread(d["swapped_to_identity"]), "aim: mean < 0.5"),
            ]
        rows += temporal("temporal, embedded default", default)
        if not args.skip_party:
            rows += temporal(f"temporal, {video.name}", party)

    print(
        f"rounds: {args.rounds} (median), every: {args.every}, swap workers: {p.swap.workers}, blend: {p.swap.blend}, "
        f"fallback: {p.swap.fallback}, cores: {os.cpu_count()}, load average (1 min) at start {load_start:.2f}, "
        f"at end {os.getloadavg()[0]:.2f}"
    )
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows if len(r[1]) < 20)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>{value_width}}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
