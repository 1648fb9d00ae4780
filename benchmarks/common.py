"""What the benchmarks share: the repository's paths, a project of one clip made by the real stages, and deface run
as its command line runs it."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from facecast.cast.quotas import ShortfallError
from facecast.cast.stage import cast
from facecast.faces.stage import analyse
from facecast.ingest import ingest
from facecast.ingest.labels import SEGMENT_COLUMNS
from facecast.params import Params

ROOT = Path(__file__).resolve().parents[1]
DONORS = ROOT / "data" / "sample" / "donors"


def prepare_clip(video: Path, p: Params, tmp: Path) -> tuple[Path, Path, str, dict]:
    """Run ingest, faces and cast on the video alone (the embedded default's donors); its interim folder, cast
    folder, how cast went, and the faces stage's metrics."""
    root = tmp / "clip_input"
    (root / "clips").mkdir(parents=True)
    (root / "clips" / f"{video.stem}{video.suffix}").symlink_to(video)
    (root / "labels.csv").write_text(",".join(SEGMENT_COLUMNS) + "\n")  # ingest requires the file; no label rows
    interim, cast_dir, metrics = (tmp / "clip_interim", tmp / "clip_cast", tmp / "clip_metrics")
    ingest(root, p.ingest, interim=interim, metrics=metrics / "ingest.json")
    faces = analyse(DONORS, p.faces, interim=interim, metrics=metrics / "faces.json")
    try:
        cast(DONORS, p.cast, p.seed, interim=interim, out=cast_dir, metrics=metrics / "cast.json")
        how = f"on_shortfall {p.cast.on_shortfall}"
    except ShortfallError as exc:
        relaxed = p.cast.model_copy(update={"on_shortfall": "relax"})
        cast(DONORS, relaxed, p.seed, interim=interim, out=cast_dir, metrics=metrics / "cast.json")
        how = f"on_shortfall relaxed ({str(exc).splitlines()[0]})"
    return interim, cast_dir, how, faces


def deface_defaults() -> argparse.Namespace:
    """deface's command-line defaults, from its own argument parser."""
    from deface.deface import parse_cli_args

    argv = sys.argv
    sys.argv = ["deface", "input"]
    try:
        return parse_cli_args()
    finally:
        sys.argv = argv


def deface_run(video: Path, centerface, args: argparse.Namespace, out: Path) -> float:
    """Seconds for deface to decode, detect, blur and encode the whole video, as its command line does."""
    from deface.deface import video_detect

    start = time.perf_counter()
    video_detect(
        ipath=str(video),
        opath=str(out),
        centerface=centerface,
        threshold=args.thresh,
        enable_preview=False,
        cam=False,
        nested=False,
        replacewith=args.replacewith,
        mask_scale=args.mask_scale,
        ellipse=not args.boxes,
        draw_scores=args.draw_scores,
        ffmpeg_config=args.ffmpeg_config,
        replaceimg=None,
        keep_audio=args.keep_audio,
        mosaicsize=args.mosaicsize,
    )
    return time.perf_counter() - start
