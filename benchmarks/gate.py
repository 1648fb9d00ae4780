"""Speed of the gate stage on the embedded default, before and after it kept swap's own measures, and where its
time goes.

Runs the stage in one process on one thread twice, in the same run: as issue 17
measured it (every face measured again, ``gate.reuse_swap_measures: false``, and
CenterFace on OpenCV's DNN module) and as it runs now (keeping what
``swap.verify`` measured on the same JPEG bytes, CenterFace on onnxruntime);
prints frames and faces per second per core of each, their ratio, and every
verdict that differs between the two (there should be none). Then the stage with ``--workers``
processes, and, on a sample of frames, the time per call of each measurement
the stage makes (landmark re-fit, dlib descriptor, CenterFace scan), so the
cost of each part is visible.

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
import torch

from facecast import tables
from facecast.gate import measure
from facecast.gate.audit import detect
from facecast.gate.stage import gate
from facecast.models.centerface import LeakScanner
from facecast.models.recognition import descriptor, refit
from facecast.params import load

ROOT = Path(__file__).resolve().parents[1]


def stage_run(params, workers: int, scratch: Path, clips: int | None, name: str):
    """The stage on a copy of data/interim: (frames per second, frames, faces measured, its gates rows)."""
    interim = scratch / f"interim_{name}"
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
        scratch / f"gates_{name}.json",
        scratch / f"plots_{name}",
    )
    wall = time.perf_counter() - start
    rows = tables.read_df("gates", interim / "gates.parquet")
    faces = int(rows["swap_status"].isin(["swapped", "obscured"]).sum())
    return metrics["frames"]["total"] / wall, metrics["frames"]["total"], faces / wall, rows


def changed_verdicts(before, after) -> list[str]:
    """Rows whose status or reasons differ between two gate runs."""
    key = ["clip_id", "variant", "frame_idx", "track_id"]
    a = before.set_index(key).sort_index()
    b = after.set_index(key).sort_index()
    out = []
    for k in a.index:
        ra, rb = a.loc[k], b.loc[k]
        if ra["status"] != rb["status"] or list(ra["reason_kinds"]) != list(rb["reason_kinds"]):
            out.append(f"{k}: {ra['status']} {list(ra['reason_kinds'])} -> {rb['status']} {list(rb['reason_kinds'])}")
    return out


def per_call(sample_frames: int, threshold: float) -> dict[str, float]:
    swaps = tables.read_df("swaps", ROOT / "data" / "interim" / "swaps.parquet")
    faces = tables.read_df("faces", ROOT / "data" / "interim" / "faces.parquet")
    done = swaps[swaps["status"] == "swapped"]
    done = done.iloc[np.linspace(0, len(done) - 1, min(sample_frames, len(done))).astype(int)]
    boxes = faces.set_index(["clip_id", "frame_idx", "track_id"])
    scanner = LeakScanner(threshold)
    opencv = LeakScanner(threshold, backend="opencv")
    times: dict[str, list[float]] = {
        "decode JPEG": [],
        "landmark re-fit": [],
        "dlib descriptor": [],
        f"CenterFace scan, {scanner.backend}": [],
        "CenterFace scan, opencv": [],
        "audit: dlib HOG": [],
        "audit: MTCNN": [],
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
        opencv.detect(image)
        t5 = time.perf_counter()
        detect(image, ("dlib_hog",))
        t6 = time.perf_counter()
        detect(image, ("mtcnn",))
        t7 = time.perf_counter()
        for key, value in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6)):
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
    torch.set_num_threads(1)  # one core, as in a pool's worker: figures per core
    cv2.setNumThreads(1)
    params = load("gate").gate
    print(f"cores: {os.cpu_count()}, load average (1 min) at start {os.getloadavg()[0]:.2f}")
    threshold = params.leaks.detector_threshold
    with tempfile.TemporaryDirectory() as tmp:
        # the gate as the issue measured it: every face measured again, CenterFace on OpenCV's DNN module
        again = params.model_copy(update={"reuse_swap_measures": False})
        measure._SCANNER[threshold] = LeakScanner(threshold, backend="opencv")
        old_fps, frames, old_faces, old_rows = stage_run(again, 1, Path(tmp), args.clips, "again")
        measure._SCANNER.clear()  # now as the stage runs: onnxruntime when onnx is installed
        new_fps, _, new_faces, new_rows = stage_run(params, 1, Path(tmp), args.clips, "kept")
        many, _, _, _ = stage_run(params, args.workers, Path(tmp), args.clips, "many")
    label = "gate before (every face again, OpenCV)"
    print(f"{label:40s} {old_fps:7.2f} fps  {old_faces:7.2f} faces/s  ({frames} frames, one thread)")
    label = f"gate now (swap's measures, {LeakScanner(threshold).backend})"
    print(f"{label:40s} {new_fps:7.2f} fps  {new_faces:7.2f} faces/s  (one thread)")
    print(f"{'ratio (faces per second per core)':40s} {new_faces / old_faces:7.2f}x")
    changed = changed_verdicts(old_rows, new_rows)
    print(f"verdicts that changed: {len(changed)}")
    for line in changed[:20]:
        print("  " + line)
    print(f"{f'gate stage, {args.workers} processes':40s} {many:7.2f} fps  speed-up {many / new_fps:.2f}x over 1")
    for name, ms in per_call(args.sample_frames, params.leaks.detector_threshold).items():
        print(f"{name + ', per call':40s} {ms:7.1f} ms  (median of {args.sample_frames} swapped faces)")
    print(f"load average (1 min) at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
