"""Can the utility measure fail, and how do its figures move when fewer frames are evaluated?

Run from a built project (``dvc repro`` up to manifest): the frames are
selected exactly as the evaluate stage selects them (its tables, its
:func:`facecast.evaluate.samples.select`, the ``evaluate`` section of the
project's params.yaml, defaults where it has none), then scored by the
stage's own :func:`facecast.evaluate.stage.measure` with the project's seed.

1. Recast sets: each keeps the selection's recast rows and their published
   flags and only replaces the image each row points to (JPEG quality 92, in
   a temporary folder):

   * ``current``: the recast frames as the dataset publishes them (the
     selection unchanged);
   * ``blur``: the original frame with every face of it (every row of
     data/interim/faces.parquet for that frame, its bbox) obscured by the
     project's own fallback, :func:`facecast.swap.fallback.obscure` with
     ``blur``: what a blurring anonymiser would publish;
   * ``solid``: the same with ``solid`` (the face's region in its mean colour);
   * ``original``: the original frame itself, re-encoded: the ceiling, a
     recast that changes nothing (the ratio should be about 1).

   A measure that cannot fail would score ``blur`` and ``solid`` like
   ``current``; the gap between them is what the measure can tell apart.

2. Subsampling: the ``current`` set with ``evaluate.frame_step`` at each of
   ``--steps`` (the selection rebuilt with it), so a reader sees how the
   figures and their intervals move as fewer frames are evaluated. Its
   frame counts: labelled frames left at the step (``transition`` included),
   evaluated original frames (the labels kept), published recast frames of
   them. A label left with fewer than ``evaluate.min_label_frames`` frames
   drops out, and with every label gone the input is not evaluated.

Per row: the utility ratio F1(recast -> real) / F1(real -> real) with its
95 % subject-bootstrap interval, label agreement (the real -> real classifier
on each published recast frame and on its original), the macro-F1 of the
real -> real, recast -> real and recast -> recast regimes, and the seconds
``measure`` took (reading the images, the cross-validation and the
bootstrap). The machine may be shared: the seconds are one run's.

Usage: .venv/bin/python benchmarks/utility.py [--root .] [--steps 1,2,5,10]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from facecast import tables
from facecast.evaluate.samples import Selection, select
from facecast.evaluate.stage import measure
from facecast.io.clips import iter_frames
from facecast.params import EvaluateParams, load
from facecast.swap.fallback import obscure

JPEG_QUALITY = 92
REPLACED = ("blur", "solid", "original")  # the sets made of the original frames
REGIMES = ("real_to_real", "recast_to_real", "recast_to_recast")


def read_selection(params: EvaluateParams, clips: pd.DataFrame) -> Selection:
    """The stage's selection (:func:`facecast.evaluate.stage.evaluate`), from the project's own folders."""
    return select(
        params,
        clips=clips,
        frames=tables.read_df("frames", tables.INTERIM),
        faces=tables.read_df("faces", tables.INTERIM),
        gates=tables.read_df("gates", tables.INTERIM),
        dataset_frames=tables.read_df("dataset_frames", tables.DATASET / "manifest"),
        published_ids=tables.read_df("published_ids", tables.INTERIM),
        dataset=tables.DATASET,
        swapped=tables.SWAPPED,
    )


def write_jpeg(path: Path, rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise OSError(f"{path}: could not be written")


def write_replaced(selection: Selection, clips: pd.DataFrame, faces: pd.DataFrame, folder: Path) -> dict[str, dict]:
    """set -> {(clip, frame): JPEG}: every recast row's original frame, with its faces blurred, solid, or as it was."""
    boxes = {
        (c, int(f)): rows[["bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1"]].to_numpy(np.float64)
        for (c, f), rows in faces.groupby(["clip_id", "frame_idx"])
    }
    wanted = {c: set(rows["frame_idx"].astype(int)) for c, rows in selection.recasts.groupby("clip_id")}
    where = clips.set_index("clip_id")
    out: dict[str, dict] = {name: {} for name in REPLACED}
    for name in REPLACED:
        (folder / name).mkdir()
    for clip, frames in wanted.items():
        for i, image in enumerate(iter_frames(where.at[clip, "path"], where.at[clip, "kind"])):
            if i not in frames:
                continue
            for name in REPLACED:
                changed = image.copy()
                if name != "original":
                    for box in boxes.get((clip, i), []):
                        obscure(changed, tuple(box), name)
                out[name][clip, i] = folder / name / f"{clip}__{i:06d}.jpg"
                write_jpeg(out[name][clip, i], changed)
            if all((clip, f) in out["original"] for f in frames):
                break
    return out


def repointed(selection: Selection, paths: dict) -> Selection:
    """The selection with each recast row pointing at ``paths[(clip, frame)]``: same rows, same published flags."""
    r = selection.recasts
    return dataclasses.replace(
        selection, recasts=r.assign(path=[paths[c, int(f)] for c, f in zip(r["clip_id"], r["frame_idx"])])
    )


def scored(params: EvaluateParams, seed: int, selection: Selection, clips: pd.DataFrame) -> tuple[dict, float]:
    start = time.perf_counter()
    result, _ = measure(params, seed, selection, clips)
    return result, time.perf_counter() - start


def interval(figure: dict | None) -> str:
    if not figure or figure["value"] is None:
        return "-"
    if figure["ci95_low"] is None:
        return f"{figure['value']:.3f}"
    return f"{figure['value']:.3f} [{figure['ci95_low']:.3f}, {figure['ci95_high']:.3f}]"


def cells(result: dict, seconds: float) -> list[str]:
    """ratio, agreement, each regime's macro-F1, seconds; or the reason the input was not evaluated."""
    if result["status"] != "evaluated":
        return [f"not evaluated: {result['reason']}", "", *[""] * len(REGIMES), f"{seconds:.1f}"]
    agreement = result["agreement"]["overall"]
    return [
        interval(result["utility_ratio"]),
        "-" if agreement is None else f"{agreement:.3f}",
        *[interval(result["regimes"][name]["macro_f1"]) for name in REGIMES],
        f"{seconds:.1f}",
    ]


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])


FIGURES = ["utility ratio [95 % CI]", "agreement", "F1 real→real", "F1 recast→real", "F1 recast→recast", "s"]


def recast_sets(params: EvaluateParams, seed: int, selection: Selection, clips: pd.DataFrame) -> list[list[str]]:
    """A row per recast set: ``current``, then the original frames blurred, solid and as they were."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="utility_") as tmp:
        paths = write_replaced(selection, clips, tables.read_df("faces", tables.INTERIM), Path(tmp))
        chosen = {"current": selection, **{name: repointed(selection, paths[name]) for name in REPLACED}}
        for name, one in chosen.items():
            rows.append([name, *cells(*scored(params, seed, one, clips))])
    return rows


def subsampled(params: EvaluateParams, seed: int, steps: list[int], clips: pd.DataFrame) -> list[list[str]]:
    """A row per ``evaluate.frame_step``: the current set, selected again with that step."""
    rows = []
    for step in steps:
        at_step = params.model_copy(update={"frame_step": step})
        chosen = read_selection(at_step, clips)
        frames = " / ".join(str(chosen.counts.get(k, 0)) for k in ("after_frame_step", "original", "published"))
        rows.append([str(step), frames, str(len(chosen.labels)), *cells(*scored(at_step, seed, chosen, clips))])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the built project (default: here)")
    parser.add_argument("--steps", default="1,2,5,10", help="evaluate.frame_step values for the current set")
    args = parser.parse_args(argv)
    steps = [int(s) for s in args.steps.split(",") if s.strip()]
    os.chdir(args.root)  # the tables' paths are relative to the project root
    if not (tables.DATASET / "manifest").is_dir():
        print(f"{args.root}: no data/dataset/manifest: run `dvc repro manifest` first", file=sys.stderr)
        return 2
    load_start = os.getloadavg()[0]
    loaded = load("evaluate", path="params.yaml")  # no evaluate section: the defaults
    params, seed = loaded.evaluate, loaded.seed
    clips = tables.read_df("clips", tables.INTERIM)
    selection = read_selection(params, clips)
    if selection.reason is not None:
        print(f"not evaluable with these parameters: {selection.reason}", file=sys.stderr)
        return 1
    c = selection.counts
    print(
        f"{args.root.resolve()}: {selection.originals['subject'].nunique()} subjects, {len(selection.labels)} labels, "
        f"{c['original']} evaluated original frames, {c['recast']} recast frames ({c['published']} published); "
        f"evaluate.folds {params.folds}, frame_step {params.frame_step}, min_label_frames {params.min_label_frames}, "
        f"bootstrap {params.bootstrap}; seed {seed}; {os.cpu_count()} cores"
    )
    print("\n## Recast sets\n")
    print(markdown(["set", *FIGURES], recast_sets(params, seed, selection, clips)))
    print("\n## The current set at each evaluate.frame_step\n")
    print(
        markdown(
            ["frame_step", "labelled / evaluated / published", "labels", *FIGURES],
            subsampled(params, seed, steps, clips),
        )
    )
    print(f"\nload average (1 min) at start {load_start:.2f}, at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
