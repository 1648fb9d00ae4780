"""Speed of the gate stage on the embedded default, and where its time goes.

Prints, for the stage run with 1 and with ``--workers`` processes (the
params.yaml ``gate`` section otherwise), its frames per second over every
written frame of every variant, and the speed-up of the parallel run; then,
on a sample of frames, the time per call of each measurement the stage makes
(landmark re-fit, dlib descriptor, CenterFace scan), so the cost of each part
is visible.

The stage runs on a copy of data/interim (it writes gates.parquet there) and
reads data/cast and data/swapped as `dvc repro` left them; run `dvc repro swap`
first.

Usage: .venv/bin/python benchmarks/gate.py [--workers 2] [--sample-frames 40] [--clips N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from facecast import tables
from facecast.gate.stage import gate
from facecast.models.centerface import LeakScanner
from facecast.models.recognition import descriptor, refit
from facecast.params import load

ROOT = Path(__file__).resolve().parents[1]


def stage_fps(params, workers: int, scratch: Path, clips: int | None) -> tuple[float, int]:
    interim = scratch / f"interim_{workers}"
    shutil.copytree(ROOT / "data" / "interim", interim)
    if clips is not None:  # measure on the first clips only: the stage's cost is per frame
        swaps = tables.read_df("swaps", interim / "swaps.parquet")
        keep = sorted(swaps["clip_id"].unique())[:clips]
        tables.write("swaps", swaps[swaps["clip_id"].isin(keep)], interim / "swaps.parquet")
    start = time.perf_counter()
    metrics = gate(
        params.model_copy(update={"workers": workers}),
        interim,
        ROOT / "data" / "cast",
        ROOT / "data" / "swapped",
        scratch / f"gates_{workers}.json",
        scratch / f"plots_{workers}",
    )
    wall = time.perf_counter() - start
    return metrics["frames"]["total"] / wall, metrics["frames"]["total"]


def per_call(sample_frames: int, threshold: float) -> dict[str, float]:
    swaps = tables.read_df("swaps", ROOT / "data" / "interim" / "swaps.parquet")
    faces = tables.read_df("faces", ROOT / "data" / "interim" / "faces.parquet")
    done = swaps[swaps["status"] == "swapped"]
    done = done.iloc[np.linspace(0, len(done) - 1, min(sample_frames, len(done))).astype(int)]
    boxes = faces.set_index(["clip_id", "frame_idx", "track_id"])
    scanner = LeakScanner(threshold)
    times: dict[str, list[float]] = {
        "decode JPEG": [],
        "landmark re-fit": [],
        "dlib descriptor": [],
        "CenterFace scan": [],
    }
    for r in done.itertuples(index=False):
        t0 = time.perf_counter()
        image = cv2.cvtColor(cv2.imread(str(ROOT / "data" / "swapped" / r.image)), cv2.COLOR_BGR2RGB)
        t1 = time.perf_counter()
        f = boxes.loc[(r.clip_id, r.frame_idx, int(r.track_id))]
        points = refit(image, (f.bbox_x0, f.bbox_y0, f.bbox_x1, f.bbox_y1))
        t2 = time.perf_counter()
        descriptor(image, points)
        t3 = time.perf_counter()
        scanner.detect(image)
        t4 = time.perf_counter()
        for key, value in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            times[key].append(value)
    return {k: statistics.median(v) * 1000 for k, v in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sample-frames", type=int, default=40)
    parser.add_argument("--clips", type=int, default=None, help="measure the stage on the first N clips only")
    args = parser.parse_args()
    if not (ROOT / "data" / "interim" / "swaps.parquet").is_file():
        print("data/interim/swaps.parquet is missing: run `dvc repro swap` first", file=sys.stderr)
        return 2
    os.chdir(ROOT)
    params = load("gate").gate
    print(f"cores: {os.cpu_count()}, load average (1 min) at start {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        one, frames = stage_fps(params, 1, Path(tmp), args.clips)
        many, _ = stage_fps(params, args.workers, Path(tmp), args.clips)
    print(f"{'gate stage, 1 process':40s} {one:7.2f} fps  ({frames} frames)")
    print(f"{f'gate stage, {args.workers} processes':40s} {many:7.2f} fps  speed-up {many / one:.2f}x")
    for name, ms in per_call(args.sample_frames, params.leaks.detector_threshold).items():
        print(f"{name + ', per call':40s} {ms:7.1f} ms  (median of {args.sample_frames} swapped faces)")
    print(f"load average (1 min) at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
