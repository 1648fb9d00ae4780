"""Held-out predictions as the evaluate stage's cross-validation writes them (utility_frames rows), for tests of
what the card and the report print: every frame's true label and what the real -> real classifier reads in its
recast, scored by the stage's own :func:`facecast.evaluate.stage.figures`."""

from __future__ import annotations

import pandas as pd

from facecast.evaluate.regimes import TRAINED_ON
from facecast.evaluate.samples import ORIGINAL_COLUMNS, RECAST_COLUMNS, Selection
from facecast.evaluate.stage import figures
from facecast.params import EvaluateParams


def held_out(
    frames: list[tuple[str, int, int, str, str]], left_out: dict[str, str], seed: int
) -> tuple[dict, pd.DataFrame]:
    """``frames``: (clip, frame, fold, label, what the recast is read as), a clip being one subject. Every model
    reads an original right; the recast-trained models and the real -> real one read the recast as given.
    Returns the figures (metrics/utility.json) and the table."""
    rows = []
    for clip, frame, fold, label, read in frames:
        common = {"clip_id": clip, "frame_idx": frame, "subject": clip, "fold": fold, "label": label}
        rows.append(
            dict(
                common,
                source="original",
                variant=None,
                published=None,
                by_original=label,
                by_published=read,
                by_original_and_published=label,
                by_recast=read,
                by_original_and_recast=label,
            )
        )
        for source in ("published", "recast"):
            rows.append(
                dict(
                    common,
                    source=source,
                    variant=0,
                    published=True,
                    by_original=read,
                    by_published=read if source == "published" else None,
                    by_original_and_published=None,
                    by_recast=read if source == "recast" else None,
                    by_original_and_recast=None,
                )
            )
    table = pd.DataFrame(rows)
    originals = table[table["source"] == "original"].assign(landmarks=None, track_id=None)[ORIGINAL_COLUMNS]
    recasts = table[table["source"] == "recast"].assign(path="x.jpg", identity_id=None)[RECAST_COLUMNS]
    n = len(frames)
    labels = sorted({f[3] for f in frames})
    selection = Selection(originals, recasts, labels, left_out, {"original": n, "recast": n, "published": n})
    folds = len({f[2] for f in frames})
    params = EvaluateParams(folds=folds, bootstrap=200)
    return figures(params, selection, table, dict.fromkeys(TRAINED_ON, n), seed), table
