"""The whole pipeline on footage it has never seen, as a new user runs it: how much is published, why the rest is
not, and whether any face is left as it was.

Builds a project in OUT from this repository's files (what a clone holds), with ``input.root`` a folder made of
the given clips (videos, copied) and photographs (each one a one-frame clip: an image folder of one image), every
frame labelled ``scene``, the embedded default's donors, and no other parameter changed; runs ``dvc repro``, then
prints what the metrics and tables say::

    .venv/bin/python benchmarks/footage.py --out /tmp/party \\
        --clip ../shared/data/videos/party_640x480.mp4 --clip ../shared/data/videos/party_short.webm
    .venv/bin/python benchmarks/footage.py --out /tmp/fairface --photos ../shared/data/faces/fairface_dev

Videos by Aaron Tang, CC BY 2.0; images from FairFace (Kärkkäinen and Joo, 2021), CC BY 4.0 (../shared/data).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]


def build(out: Path, clips: list[Path], photos: list[Path]) -> Path:
    project = out / "project"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True)
    for rel in files.stdout.split("\n"):
        if rel and (REPO / rel).is_file() and not rel.startswith(("data/", "metrics/", "plots/")) and rel != "dvc.lock":
            (project / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, project / rel)
    footage = out / "footage"
    (footage / "clips").mkdir(parents=True)
    labels = []
    for clip in clips:
        shutil.copy2(clip, footage / "clips" / clip.name)
        frames = int(cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FRAME_COUNT))
        labels.append((clip.stem, 0, max(frames - 1, 0), "scene"))
    for photo in photos:
        (footage / "clips" / photo.stem).mkdir()
        shutil.copy2(photo, footage / "clips" / photo.stem / f"000000{photo.suffix.lower()}")
        labels.append((photo.stem, 0, 0, "scene"))
    pd.DataFrame(labels, columns=["clip", "start_frame", "end_frame", "label"]).to_csv(
        footage / "labels.csv", index=False
    )
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["input"]["root"] = str(footage)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run(["git", "init", "-q"], cwd=project, check=True, capture_output=True)
    return project


def summary(project: Path) -> dict:
    metrics = {p.stem: json.loads(p.read_text()) for p in (project / "metrics").glob("*.json")}
    swaps = pd.read_parquet(project / "data/interim/swaps.parquet")
    gates = pd.read_parquet(project / "data/interim/gates.parquet")
    frames = gates.groupby(["clip_id", "variant", "frame_idx"])["status"].agg(lambda s: (s == "pass").all())
    rejected = gates[gates["status"] == "reject"]
    return {
        "frames_gated": int(len(frames)),
        "frames_passed": int(frames.sum()),
        "share_passed": round(float(frames.mean()), 3) if len(frames) else None,
        "images_published": metrics.get("dataset", {}).get("images", {}).get("published"),
        "faces_by_swap_status": swaps.groupby("status").size().to_dict(),
        "faces_not_swapped_by_reason": swaps["reason_kind"].value_counts().to_dict(),
        "face_rows_without_status": int(swaps["status"].isna().sum()),
        "reject_reasons": rejected["reason_kinds"].explode().value_counts().to_dict(),
        "gate_leaks_in_passed_frames": metrics.get("gates", {}).get("leaks_in_passed_frames"),
        "audit": metrics.get("gates", {}).get("audit"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="an empty or new folder for the project")
    parser.add_argument("--clip", type=Path, action="append", default=[], help="a video (repeat)")
    parser.add_argument("--photos", type=Path, help="a folder of photographs, each a one-frame clip")
    args = parser.parse_args()
    if args.out.exists() and any(args.out.iterdir()):
        sys.exit(f"{args.out}: not empty")
    photos = (
        sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")) if args.photos else []
    )
    project = build(args.out, [c.resolve() for c in args.clip], photos)
    start = time.perf_counter()
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(["dvc", "repro"], cwd=project, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"dvc repro failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    print(
        json.dumps(
            {"project": str(project), "repro_s": round(time.perf_counter() - start, 1), **summary(project)},
            indent=2,
            default=str,
        )
    )


if __name__ == "__main__":
    main()
