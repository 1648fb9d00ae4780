"""Read every evaluated image once, original clips in frame order and recast JPEGs by path, into descriptors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from facecast.errors import InputError
from facecast.evaluate.features import Describer
from facecast.io.clips import ClipError, iter_frames, read_image


def _original_descriptors(originals: pd.DataFrame, clips: pd.DataFrame, describe: Describer) -> np.ndarray:
    where = {c: (p, k) for c, p, k in zip(clips["clip_id"], clips["path"], clips["kind"])}
    out: dict[tuple[str, int], np.ndarray] = {}
    for clip, rows in tqdm(
        list(originals.groupby("clip_id", sort=True)), desc="evaluate originals", unit="clip", disable=None
    ):
        wanted = dict(zip(rows["frame_idx"].astype(int), rows["landmarks"]))
        path, kind = where[clip]
        last = max(wanted)
        try:
            for i, image in enumerate(iter_frames(path, kind)):
                if i in wanted:
                    out[clip, i] = describe(image, wanted[i])
                if i == last:  # nothing further is wanted: stop decoding
                    break
        except ClipError as exc:
            raise InputError(f"{exc} (clip {clip}); run ingest again") from None
        short = sorted(f for f in wanted if (clip, f) not in out)
        if short:
            raise InputError(
                f"{path}: clip {clip} has no frame {short[0]} though frames.parquet lists it; run ingest again"
            )
    return np.stack([out[c, int(f)] for c, f in zip(originals["clip_id"], originals["frame_idx"])])


def _recast_descriptors(recasts: pd.DataFrame, originals: pd.DataFrame, describe: Describer) -> np.ndarray:
    points = {(c, int(f)): p for c, f, p in zip(originals["clip_id"], originals["frame_idx"], originals["landmarks"])}
    rows = []
    for r in tqdm(list(recasts.itertuples(index=False)), desc="evaluate recasts", unit="image", disable=None):
        path = Path(r.path)
        if not path.is_file():
            stage = "manifest" if r.published else "swap"
            raise InputError(
                f"{path}: recast frame {r.clip_id} v{r.variant} frame {r.frame_idx} is missing; run {stage} again"
            )
        try:
            image = read_image(path)
        except ClipError as exc:
            raise InputError(f"{exc}; run swap again") from None
        rows.append(describe(image, points[r.clip_id, int(r.frame_idx)]))
    return np.stack(rows) if rows else np.zeros((0, 0), np.float32)


def descriptors(
    originals: pd.DataFrame, recasts: pd.DataFrame, clips: pd.DataFrame, describe: Describer
) -> tuple[np.ndarray, np.ndarray]:
    """The descriptor of every original (rows of ``originals``) and every recast frame (rows of ``recasts``)."""
    return _original_descriptors(originals, clips, describe), _recast_descriptors(recasts, originals, describe)
