"""The plot data of stage gate, as CSV files DVC renders (``dvc plots show``, ``dvc plots diff``).

* ``plots/landmark_score/<clip_id>__v<variant>.csv``: per clip, the
  quantile function (inverse CDF) of the earlier study's landmark score
  (summed distances of min-max normalised landmark sets, re-fitted vs
  driving) over its swapped faces: ``share`` of faces (x) against the score
  below which that share lies (y). One file per clip, so DVC draws one curve
  each.
* ``plots/distances.csv``: the study's four dlib distance distributions, as
  quantile functions on a shared ``share`` axis: original faces vs their
  own person (the original's track centroid), original faces vs the cast
  identity, swapped faces vs the original person, swapped faces vs the cast
  identity. Well recast data has the first low, the last low and the middle
  two high.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from facecast.io.atomic import atomic_dir, atomic_file
from facecast.models.recognition import ReferenceGallery

SHARES = np.round(np.linspace(0.0, 1.0, 51), 4)


def _quantiles(values) -> np.ndarray:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], np.float64)
    if not len(v):
        return np.full(len(SHARES), np.nan)
    return np.round(np.quantile(v, SHARES), 5)


def _original_distances(
    faces: pd.DataFrame, gal: ReferenceGallery, cast: dict, ids: dict
) -> tuple[list[float], list[float]]:
    own, to_cast = [], []
    embedded = faces[faces["embedding"].notna()]
    for r in embedded.itertuples(index=False):
        e = np.asarray(r.embedding, np.float64)
        key = (r.clip_id, int(r.track_id))
        if key in gal.track_index:
            own.append(float(np.linalg.norm(e - gal.embeddings[gal.track_index[key]])))
        for identity in cast.get(key, ()):
            if identity in ids:
                to_cast.append(float(np.linalg.norm(e - ids[identity])))
    return own, to_cast


def write_plots(
    rows: pd.DataFrame, faces: pd.DataFrame, gal: ReferenceGallery, ids: dict, swaps: pd.DataFrame, plots: Path
) -> None:
    swapped = rows[rows["swap_status"] == "swapped"]
    with atomic_dir(plots / "landmark_score") as folder:
        for (clip_id, variant), g in swapped.groupby(["clip_id", "variant"], sort=True):
            pd.DataFrame({"share": SHARES, "landmark_score": _quantiles(g["landmark_score"])}).to_csv(
                folder / f"{clip_id}__v{int(variant)}.csv", index=False
            )
    cast: dict[tuple[str, int], set[str]] = {}
    done = swaps[(swaps["status"] == "swapped") & swaps["identity_id"].notna()]
    for r in done[["clip_id", "track_id", "identity_id"]].drop_duplicates().itertuples(index=False):
        cast.setdefault((r.clip_id, int(r.track_id)), set()).add(r.identity_id)
    own, to_cast = _original_distances(faces, gal, cast, ids)
    distances = pd.DataFrame(
        {
            "share": SHARES,
            "original_vs_original": _quantiles(own),
            "original_vs_cast": _quantiles(to_cast),
            "swapped_vs_original": _quantiles(swapped["deid_distance"]),
            "swapped_vs_cast": _quantiles(swapped["identity_distance"]),
        }
    )
    with atomic_file(plots / "distances.csv") as tmp:
        distances.to_csv(tmp, index=False)
