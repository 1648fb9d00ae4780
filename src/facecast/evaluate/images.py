"""Read every evaluated image once, original clips in frame order and recast JPEGs by path, into descriptors.

Each clip's originals, and each clip's recast frames, are one task of the executor (params.yaml ``executor``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from facecast.errors import InputError
from facecast.evaluate.features import Describer
from facecast.executor import run_all
from facecast.io.clips import ClipError, iter_frames, read_image
from facecast.params import EvaluateParams, ExecutorParams


def clip_originals(params: EvaluateParams, clip: str, path: str, kind: str, wanted: dict[int, np.ndarray]) -> dict:
    """frame_idx -> descriptor of the frames of one original clip named in ``wanted`` (with their landmarks)."""
    describe = Describer(params)
    out: dict[int, np.ndarray] = {}
    last = max(wanted)
    try:
        for i, image in enumerate(iter_frames(path, kind)):
            if i in wanted:
                out[i] = describe(image, wanted[i])
            if i == last:  # nothing further is wanted: stop decoding
                break
    except ClipError as exc:
        raise InputError(f"{exc} (clip {clip}); run ingest again") from None
    short = sorted(f for f in wanted if f not in out)
    if short:
        raise InputError(
            f"{path}: clip {clip} has no frame {short[0]} though frames.parquet lists it; run ingest again"
        )
    return out


def clip_recasts(params: EvaluateParams, rows: list[tuple]) -> list[np.ndarray]:
    """The descriptor of each recast JPEG of one clip: rows of (path, published, clip, variant, frame, landmarks)."""
    describe = Describer(params)
    out = []
    for path_text, published, clip, variant, frame, landmarks in rows:
        path = Path(path_text)
        if not path.is_file():
            stage = "manifest" if published else "swap"
            raise InputError(f"{path}: recast frame {clip} v{variant} frame {frame} is missing; run {stage} again")
        try:
            image = read_image(path)
        except ClipError as exc:
            raise InputError(f"{exc}; run swap again") from None
        out.append(describe(image, landmarks))
    return out


def descriptors(
    originals: pd.DataFrame,
    recasts: pd.DataFrame,
    clips: pd.DataFrame,
    params: EvaluateParams,
    executor: ExecutorParams | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The descriptor of every original (rows of ``originals``) and every recast frame (rows of ``recasts``)."""
    where = {c: (p, k) for c, p, k in zip(clips["clip_id"], clips["path"], clips["kind"])}
    original_work = [
        (params, clip, *where[clip], dict(zip(rows["frame_idx"].astype(int), rows["landmarks"])))
        for clip, rows in originals.groupby("clip_id", sort=True)
    ]
    points = {(c, int(f)): p for c, f, p in zip(originals["clip_id"], originals["frame_idx"], originals["landmarks"])}
    recast_rows: dict[str, list[tuple]] = {}
    for r in recasts.itertuples(index=False):
        recast_rows.setdefault(r.clip_id, []).append(
            (
                str(r.path),
                bool(r.published),
                r.clip_id,
                r.variant,
                int(r.frame_idx),
                points[r.clip_id, int(r.frame_idx)],
            )
        )
    recast_work = [(params, rows) for rows in recast_rows.values()]
    workers = params.workers
    described = run_all(executor, workers, clip_originals, original_work, "evaluate originals", "clip")
    by_clip = {work[1]: found for work, found in zip(original_work, described)}
    original = np.stack([by_clip[c][int(f)] for c, f in zip(originals["clip_id"], originals["frame_idx"])])
    recast_out = run_all(executor, workers, clip_recasts, recast_work, "evaluate recasts", "clip")
    found = {clip: iter(vectors) for clip, vectors in zip(recast_rows, recast_out)}
    rows = [next(found[c]) for c in recasts["clip_id"]]
    return original, (np.stack(rows) if rows else np.zeros((0, 0), np.float32))
