"""The report's usefulness section: metrics/utility.json's regimes and agreement, a confusion matrix, and frames
whose label the recast changed (from the evaluate stage's held-out predictions, utility_frames)."""

from __future__ import annotations

import pandas as pd
from markupsafe import Markup

from facecast.metrics import REGIME_NAMES
from facecast.report.html import render
from facecast.report.images import Pictures, data_uri

EXAMPLE_WIDTH = 240
EXAMPLES = 8  # frames whose prediction the recast changed, one per label, lowest agreement first


def changed(predictions: pd.DataFrame, utility: dict, count: int = EXAMPLES) -> list[dict]:
    """Published recast frames the real -> real classifier labels differently from their original frame: the
    first of each label, labels in order of lowest agreement."""
    if utility.get("status") != "evaluated" or predictions.empty:
        return []
    originals = predictions[predictions["source"] == "original"][["clip_id", "frame_idx", "by_original"]]
    published = predictions[predictions["source"] == "published"]
    pairs = published.merge(originals, on=["clip_id", "frame_idx"], suffixes=("", "_of_original"))
    pairs = pairs[pairs["by_original"] != pairs["by_original_of_original"]]
    agreement = utility["agreement"]["per_label"]
    order = sorted(agreement, key=lambda label: (agreement[label] is None, agreement[label] or 0.0, label))
    out = []
    for label in order:
        rows = pairs[pairs["label"] == label].sort_values(["clip_id", "variant", "frame_idx"])
        if len(rows):
            r = rows.iloc[0]
            out.append(
                {
                    "clip_id": r["clip_id"],
                    "variant": int(r["variant"]),
                    "frame_idx": int(r["frame_idx"]),
                    "label": label,
                    "original_says": r["by_original_of_original"],
                    "recast_says": r["by_original"],
                }
            )
        if len(out) == count:
            break
    return out


def _confusion(predictions: pd.DataFrame, labels: list[str], column: str, scored: str) -> dict:
    rows = predictions[(predictions["source"] == scored) & predictions[column].notna()]
    matrix = pd.crosstab(rows["label"], rows[column]).reindex(index=labels, columns=labels, fill_value=0)
    totals = matrix.sum(axis=1).replace(0, 1)
    return {
        "labels": labels,
        "rows": [[(int(matrix.loc[a, p]), float(matrix.loc[a, p] / totals[a])) for p in labels] for a in labels],
    }


def usefulness(utility: dict, predictions: pd.DataFrame, examples: list[dict], pictures: Pictures) -> Markup:
    if utility["status"] != "evaluated":
        return render("usefulness.html.j2", u=utility, names=REGIME_NAMES)
    per_label = [
        {
            "label": label,
            "real": utility["regimes"]["real_to_real"]["per_label_f1"].get(label),
            "recast": utility["regimes"]["recast_to_real"]["per_label_f1"].get(label),
            "agreement": utility["agreement"]["per_label"].get(label),
        }
        for label in utility["labels"]
    ]
    per_label.sort(key=lambda r: (r["agreement"] is None, r["agreement"] or 0.0, r["label"]))
    shown = []
    for e in examples:
        recast = pictures.swapped(e["clip_id"], e["variant"], e["frame_idx"])
        shown.append(
            dict(
                e,
                original=data_uri(pictures.original(e["clip_id"], e["frame_idx"]), EXAMPLE_WIDTH),
                recast=None if recast is None else data_uri(recast, EXAMPLE_WIDTH),
            )
        )
    return render(
        "usefulness.html.j2",
        u=utility,
        names=REGIME_NAMES,
        per_label=per_label,
        confusion={
            "real_to_real": _confusion(predictions, utility["labels"], "by_original", "original"),
            "recast_to_real": _confusion(predictions, utility["labels"], "by_published", "original"),
        },
        examples=shown,
    )
