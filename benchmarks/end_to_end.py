"""facecast's faces + swap + gate against deface on the same clip, alternating in one run.

For each clip (the party clip ``../shared/data/videos/party_640x480.mp4`` and
one clip of the embedded default, ``data/sample/clips/<--sample-clip>.mp4``),
in ``--rounds`` alternating rounds:

* **deface**: its per-video function ``video_detect`` with its command line's
  defaults (decode, CenterFace, blur, libx264 encode), as ``benchmarks/swap.py``
  runs it;
* **facecast**: the real stage functions on a project of that clip alone,
  with params.yaml's sections: ``faces`` (its clip analysis: ``clips_wall_s``
  of metrics/faces.json; the donor gallery's analysis is a one-off per
  gallery and is not counted), ``swap`` and ``gate``, each timed as a whole.
  ``ingest`` and ``cast`` run first, outside the timing (cast is per dataset,
  not per frame).

Prints the median frames per second of each, and the ratio facecast / deface.
The machine may be shared: the load average is printed at start and end.

Usage: .venv/bin/python benchmarks/end_to_end.py [--rounds 2] [--sample-clip P001_expressions] [--skip-party]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import DONORS, ROOT, deface_defaults, deface_run, prepare_clip
from facecast.gate.stage import gate
from facecast.io.clips import iter_frames
from facecast.params import load
from facecast.swap.stage import swap

VIDEO = ROOT.parent / "shared" / "data" / "videos" / "party_640x480.mp4"


def facecast_round(video: Path, p, tmp: Path) -> tuple[float, dict]:
    """Seconds of faces (its clips) + swap + gate on a project of ``video`` alone, and their figures."""
    interim, cast_dir, _, faces = prepare_clip(video, p, tmp)
    start = time.perf_counter()
    swapped = tmp / "swapped"
    swap(p.swap, interim, cast_dir, swapped, tmp / "swap.json", p.gate.deid.min_distance)
    swap_s = time.perf_counter() - start
    start = time.perf_counter()
    result = gate(p.gate, interim, cast_dir, swapped, tmp / "gates.json", tmp / "plots")
    gate_s = time.perf_counter() - start
    seconds = faces["clips_wall_s"] + swap_s + gate_s
    return seconds, {"faces_s": faces["clips_wall_s"], "swap_s": swap_s, "gate_s": gate_s, "gate": result}


def compare(video: Path, name: str, rounds: int, p, centerface, args) -> None:
    frames = sum(1 for _ in iter_frames(video, "video"))
    ours, theirs, parts = [], [], []
    for r in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            theirs.append(deface_run(video, centerface, args, Path(tmp) / f"deface{video.suffix}"))
        with tempfile.TemporaryDirectory() as tmp:
            seconds, figures = facecast_round(video, p, Path(tmp))
            ours.append(seconds)
            parts.append(figures)
        print(f"  round {r + 1}: deface {theirs[-1]:.1f} s, facecast {ours[-1]:.1f} s", flush=True)
    deface_fps = frames / statistics.median(theirs)
    facecast_fps = frames / statistics.median(ours)
    last = parts[-1]
    print(f"{name} ({frames} frames)")
    print(f"  {'deface (decode, CenterFace, blur, encode)':48s} {deface_fps:7.2f} fps")
    print(
        f"  {'facecast faces + swap + gate':48s} {facecast_fps:7.2f} fps  (faces {last['faces_s']:.1f} s, "
        f"swap {last['swap_s']:.1f} s, gate {last['gate_s']:.1f} s in the last round)"
    )
    print(f"  {'ratio facecast / deface':48s} {facecast_fps / deface_fps:7.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sample-clip", default="P001_expressions")
    parser.add_argument("--skip-party", action="store_true")
    args = parser.parse_args()
    sample = ROOT / "data" / "sample" / "clips" / f"{args.sample_clip}.mp4"
    if not sample.is_file() or not DONORS.is_dir():
        print(f"{sample} or {DONORS} is missing: run `dvc repro sample` first", file=sys.stderr)
        return 2
    os.chdir(ROOT)
    p = load("ingest", "faces", "cast", "swap", "gate", "attributes")
    from deface.centerface import CenterFace

    centerface = CenterFace(in_shape=None, backend="auto")
    defaults = deface_defaults()
    print(f"cores: {os.cpu_count()}, load average (1 min) at start {os.getloadavg()[0]:.2f}")
    if not args.skip_party:
        compare(VIDEO, "party_640x480.mp4", args.rounds, p, centerface, defaults)
    compare(sample, f"embedded default {sample.name}", args.rounds, p, centerface, defaults)
    print(f"load average (1 min) at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
