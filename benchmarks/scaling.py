"""How the per-clip work scales on a Ray cluster: the gate stage with the local executor (one process) and on a
Ray cluster of 1 and of 2 one-CPU worker nodes on this machine, in the same run; frames per second of each, the
speed-up from 1 to 2 workers and Ray's overhead per clip (the 1-worker cluster against the local process).

The gate is the heaviest per-clip stage and measures every clip and variant as one task. It runs on a copy of
data/interim (it writes gates.parquet there) and reads data/cast and data/swapped as `dvc repro` left them. Each
run is a fresh interpreter (`--inner`), so each pays the same start-up and model loading. The cluster is the one
`tests/test_ray_executor.py` uses (`tests/ray_cluster.py`: nodes on 127.0.0.1 in their own network, PID and mount
namespaces, which needs root).

Usage: .venv/bin/python benchmarks/scaling.py [--clips N] [--rounds 1]   (ray installed: pip install -e '.[ray]')
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NAMESPACES = ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc"]


def inner(scratch: Path) -> None:
    """One gate run with the executor of scratch/params.yaml; prints its wall time and frames as JSON."""
    from facecast.gate.stage import gate
    from facecast.params import load

    p = load("gate", "executor", path=scratch / "params.yaml")
    os.chdir(ROOT)  # the tables name clips relative to the project, as dvc repro runs a stage
    import cv2
    import torch

    torch.set_num_threads(1)  # the local process on one core, as each Ray worker is (one CPU, one torch thread)
    cv2.setNumThreads(1)
    start = time.perf_counter()
    metrics = gate(
        p.gate.model_copy(update={"workers": 1}),
        scratch / "interim",
        ROOT / "data" / "cast",
        ROOT / "data" / "swapped",
        scratch / "gates.json",
        scratch / "plots",
        executor=p.executor,
    )
    wall = time.perf_counter() - start
    print(json.dumps({"wall": wall, "frames": metrics["frames"]["total"], "faces": metrics["faces"]["total"]}))


def prepare(scratch: Path, clips: int | None) -> int:
    from facecast import tables

    shutil.copytree(ROOT / "data" / "interim", scratch / "interim")
    swaps = tables.read_df("swaps", scratch / "interim" / "swaps.parquet")
    keep = sorted(swaps["clip_id"].unique())[:clips] if clips else sorted(swaps["clip_id"].unique())
    tables.write("swaps", swaps[swaps["clip_id"].isin(keep)], scratch / "interim" / "swaps.parquet")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["executor"] = {"kind": "local"}
    (scratch / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return int(swaps[swaps["clip_id"].isin(keep)][["clip_id", "variant"]].drop_duplicates().shape[0])


def last_json(text: str) -> dict:
    lines = [line for line in text.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"no result printed:\n{text[-3000:]}")
    return json.loads(lines[-1])


def local_run(scratch: Path) -> dict:
    params = yaml.safe_load((scratch / "params.yaml").read_text())
    params["executor"] = {"kind": "local"}
    (scratch / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    proc = subprocess.run([sys.executable, __file__, "--inner", str(scratch)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"the local run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return last_json(proc.stdout)


def ray_run(scratch: Path, nodes: int) -> dict:
    temp = Path(tempfile.mkdtemp(prefix="fcray", dir="/tmp"))
    try:
        proc = subprocess.run(
            [
                *NAMESPACES,
                sys.executable,
                str(ROOT / "tests" / "ray_cluster.py"),
                "--nodes",
                str(nodes),
                str(scratch),
                str(temp),
                sys.executable,
                __file__,
                "--inner",
                str(scratch),
            ],
            capture_output=True,
            text=True,
            env=dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"),
        )
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    if not proc.stdout.strip():
        raise SystemExit(f"the cluster helper failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    report = last_json(proc.stdout)
    if report.get("code") != 0:
        raise SystemExit(f"the Ray run failed:\n{report.get('output', proc.stderr)[-3000:]}")
    return last_json(report["output"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, help="the first N clips only (default: all)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--inner", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner is not None:
        inner(args.inner)
        return
    scratch = Path(tempfile.mkdtemp(prefix="facecast_scaling_"))
    try:
        tasks = prepare(scratch, args.clips)
        print(f"gate over {tasks} (clip, variant) pairs; cores: {os.cpu_count()}, load {os.getloadavg()[0]:.2f}")
        runs: dict[str, list[dict]] = {"local, 1 process": [], "ray, 1 worker": [], "ray, 2 workers": []}
        for _ in range(args.rounds):
            runs["local, 1 process"].append(local_run(scratch))
            runs["ray, 1 worker"].append(ray_run(scratch, 1))
            runs["ray, 2 workers"].append(ray_run(scratch, 2))
        best = {name: min(r["wall"] for r in got) for name, got in runs.items()}
        frames = runs["local, 1 process"][0]["frames"]
        for name, wall in best.items():
            print(f"{name:18} {wall:7.1f} s  {frames / wall:6.2f} frames/s")
        print(f"speed-up, 2 Ray workers over 1: {best['ray, 1 worker'] / best['ray, 2 workers']:.2f}x")
        overhead = (best["ray, 1 worker"] - best["local, 1 process"]) / tasks
        print(f"Ray's overhead per clip (1 worker against 1 local process): {overhead:.2f} s")
        print(f"load at end {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
