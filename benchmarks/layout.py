"""What DVC costs to carry frames stored one file each against the same frames in per-clip tar shards.

Makes ``--frames`` JPEG frames (default 100,000) in ``--clips`` clips, stored two ways: ``files`` (one JPEG per
frame, ``frames/<clip>/<frame>.jpg``, as data/swapped, data/augmented and data/dataset/images hold them) and
``shards`` (one WebDataset tar per clip, written by :mod:`facecast.io.shards`, as data/dataset/shards holds
them). The frames are the same bytes in both. For each layout, in its own git + DVC repository and alternating
layouts within the run, it times:

* ``dvc add``: hashing every file and copying it into the cache (what ``dvc commit`` does for a stage's outputs);
* ``dvc status`` with nothing changed (what every ``dvc repro`` and ``dvc status`` pays);
* ``dvc push`` to a local remote (a folder: the cost is DVC's per-file work, not a network);
* ``dvc pull`` into an empty workspace and cache (a new machine, a CI run).

and prints the seconds and each shards/files ratio. The frames are small (``--size`` px, random blocks encoded
at quality 90: a few kB each), so the figures are DVC's per-file cost, the part that grows with the number of
frames; larger frames add the same bytes to both layouts.

Usage: .venv/bin/python benchmarks/layout.py [--frames 100000] [--clips 100] [--rounds 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from facecast.io.shards import ShardWriter

STEPS = ("add", "status", "push", "pull")


def frames(n: int, size: int, seed: int) -> list[bytes]:
    """``n`` distinct JPEGs: blocks of random grey levels, smoothed (a few kB each, as compressible as a frame)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        small = rng.integers(0, 256, (size // 8, size // 8, 3), np.uint8)
        image = cv2.GaussianBlur(cv2.resize(small, (size, size), interpolation=cv2.INTER_NEAREST), (5, 5), 0)
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        out.append(buf.tobytes())
    return out


def write_layout(layout: str, root: Path, data: list[bytes], clips: int) -> None:
    per_clip = -(-len(data) // clips)
    folder = root / "frames"
    for c in range(clips):
        chunk = data[c * per_clip : (c + 1) * per_clip]
        if layout == "files":
            (folder / f"clip{c:04d}").mkdir(parents=True, exist_ok=True)
            for i, jpg in enumerate(chunk):
                (folder / f"clip{c:04d}" / f"{i:06d}.jpg").write_bytes(jpg)
        else:
            with ShardWriter(folder, f"clip{c:04d}", per_shard=max(1, len(chunk))) as writer:
                for i, jpg in enumerate(chunk):
                    writer.add(f"{i:06d}", {"jpg": jpg})


def dvc(root: Path, *args: str) -> float:
    """Seconds one dvc command took in ``root`` (it must succeed)."""
    exe = Path(sys.executable).parent / "dvc"
    start = time.perf_counter()
    proc = subprocess.run([str(exe), *args], cwd=root, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"dvc {' '.join(args)} failed in {root}:\n{proc.stdout}\n{proc.stderr}")
    return wall


def one_layout(layout: str, scratch: Path, data: list[bytes], clips: int) -> dict[str, float]:
    root = scratch / layout
    remote = scratch / f"{layout}_remote"
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(remote, ignore_errors=True)
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    dvc(root, "init", "-q")
    dvc(root, "config", "core.analytics", "false")
    dvc(root, "remote", "add", "-d", "local", str(remote))
    write_layout(layout, root, data, clips)
    files = sum(1 for _ in (root / "frames").rglob("*") if _.is_file())
    times = {"add": dvc(root, "add", "frames"), "status": dvc(root, "status")}
    times["push"] = dvc(root, "push")
    shutil.rmtree(root / "frames")
    shutil.rmtree(root / ".dvc" / "cache")
    times["pull"] = dvc(root, "pull")
    times["files"] = files
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--clips", type=int, default=100, help="clips (one shard each in the shards layout)")
    parser.add_argument("--size", type=int, default=96, help="frame side, px")
    parser.add_argument("--rounds", type=int, default=1, help="files then shards, this many times")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="facecast_layout_"))
    scratch.mkdir(parents=True, exist_ok=True)
    print(f"{args.frames} frames in {args.clips} clips, {os.cpu_count()} cores; making the frames ...", flush=True)
    data = frames(args.frames, args.size, seed=20261127)
    print(
        f"{sum(map(len, data)) / 1e6:.0f} MB of JPEG, {sum(map(len, data)) / len(data) / 1e3:.1f} kB each", flush=True
    )
    results: dict[str, list[dict[str, float]]] = {"files": [], "shards": []}
    try:
        for r in range(args.rounds):
            for layout in ("files", "shards") if r % 2 == 0 else ("shards", "files"):
                got = one_layout(layout, scratch, data, args.clips)
                results[layout].append(got)
                print(f"round {r + 1} {layout}: " + ", ".join(f"{k} {v:.1f} s" for k, v in got.items() if k != "files"))
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    best = {layout: {k: min(r[k] for r in runs) for k in STEPS} for layout, runs in results.items()}
    print()
    print(f"{'dvc':8} {'files (s)':>10} {'shards (s)':>11} {'files/shards':>13}")
    print(f"{'files':8} {results['files'][0]['files']:>10.0f} {results['shards'][0]['files']:>11.0f}")
    for step in STEPS:
        f, s = best["files"][step], best["shards"][step]
        print(f"{step:8} {f:>10.1f} {s:>11.1f} {f / s if s > 0 else float('inf'):>12.1f}x")


if __name__ == "__main__":
    main()
