"""Subject-grouped cross-validation of the training regimes: held-out predictions for every evaluated image.

In each fold five classifiers are trained on the other folds' subjects: on
their original frames, their published recast frames, both, every recast
frame before gate, and originals with every recast frame. Each is applied to
the fold's held-out images, so every prediction comes from a model that never
saw that person. The rows are the ``utility_frames`` table; the regimes'
scores are read off it (:mod:`facecast.evaluate.scores`).

Sources of a row: ``original`` (an original frame), ``published`` (a recast
frame in the dataset) and ``recast`` (every recast frame, before gate; a
published one is there too). Each set is centred on its own (a person's mean
over what that set holds of them), as a user of that set would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from facecast.evaluate.classifier import fit
from facecast.evaluate.features import centred
from facecast.evaluate.samples import Selection
from facecast.params import EvaluateParams

# prediction column -> the sets its classifiers are trained on
TRAINED_ON = {
    "by_original": ("original",),
    "by_published": ("published",),
    "by_original_and_published": ("original", "published"),
    "by_recast": ("recast",),
    "by_original_and_recast": ("original", "recast"),
}
# which held-out sets each classifier is applied to
APPLIED_TO = {
    "by_original": ("original", "published", "recast"),
    "by_published": ("original", "published"),
    "by_original_and_published": ("original",),
    "by_recast": ("original", "recast"),
    "by_original_and_recast": ("original",),
}


class FoldError(Exception):
    """A fold's training subjects have nothing of a set to train on (one line)."""


@dataclass(frozen=True)
class Part:
    """One set of images: centred descriptors, class indices, subjects, folds and its rows' identity."""

    features: np.ndarray
    targets: np.ndarray
    folds: np.ndarray
    rows: pd.DataFrame  # clip_id, frame_idx, source, variant, published, subject, label


def parts(
    selection: Selection, original: np.ndarray, recast: np.ndarray, fold_of: dict[str, int], normalise: str
) -> dict[str, Part]:
    """The three sets, each centred per person: originals by subject, recasts by subject, variant and the identity
    that plays the subject's face (one face per identity, as cast assigns them per track and variant)."""
    index = {label: i for i, label in enumerate(selection.labels)}
    o = selection.originals
    o_rows = pd.DataFrame(
        {
            "clip_id": o["clip_id"].to_numpy(),
            "frame_idx": o["frame_idx"].astype(int).to_numpy(),
            "source": "original",
            "variant": pd.array([None] * len(o), dtype="Int32"),
            "published": pd.array([None] * len(o), dtype="boolean"),
            "subject": o["subject"].to_numpy(),
            "label": o["label"].to_numpy(),
        }
    )
    of = {
        (c, int(f)): (subject, label)
        for c, f, subject, label in zip(o["clip_id"], o["frame_idx"], o["subject"], o["label"])
    }
    r = selection.recasts
    keys = list(zip(r["clip_id"], r["frame_idx"].astype(int)))
    r_rows = pd.DataFrame(
        {
            "clip_id": r["clip_id"].to_numpy(),
            "frame_idx": r["frame_idx"].astype(int).to_numpy(),
            "source": "recast",
            "variant": pd.array(r["variant"].astype(int).to_numpy(), dtype="Int32"),
            "published": pd.array(r["published"].astype(bool).to_numpy(), dtype="boolean"),
            "subject": [of[k][0] for k in keys],
            "label": [of[k][1] for k in keys],
        }
    )
    out = {"original": _part(original, o_rows, list(o_rows["subject"]), index, fold_of, normalise)}
    groups = list(zip(r_rows["subject"], r_rows["variant"].astype(int), r["identity_id"].fillna("").to_numpy()))
    out["recast"] = _part(recast, r_rows, groups, index, fold_of, normalise)
    mask = r_rows["published"].to_numpy(dtype=bool)
    published_rows = r_rows[mask].assign(source="published").reset_index(drop=True)
    out["published"] = _part(
        recast[mask], published_rows, [g for g, m in zip(groups, mask) if m], index, fold_of, normalise
    )
    return out


def _part(features, rows, groups, index, fold_of, normalise) -> Part:
    return Part(
        centred(features, groups, normalise),
        np.array([index[label] for label in rows["label"]], np.int64),
        np.array([fold_of[s] for s in rows["subject"]], np.int64),
        rows.reset_index(drop=True),
    )


def cross_validate(
    sets: dict[str, Part], labels: list[str], folds: int, params: EvaluateParams, seed: int
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Held-out predictions of every regime for every image (the ``utility_frames`` rows), and how many images
    each prediction column's models were trained on, summed over the folds."""
    predictions = {name: {col: np.full(len(p.targets), -1) for col in TRAINED_ON} for name, p in sets.items()}
    train_sizes = {col: 0 for col in TRAINED_ON}
    for fold in range(folds):
        for column, trained_on in TRAINED_ON.items():
            train = [
                (sets[s].features[sets[s].folds != fold], sets[s].targets[sets[s].folds != fold]) for s in trained_on
            ]
            empty = [s for s, (x, _) in zip(trained_on, train) if not len(x)]
            if empty:
                raise FoldError(
                    f"fold {fold + 1} of {folds}: its training subjects have no {empty[0]} frame to learn from"
                )
            x = np.concatenate([t[0] for t in train])
            y = np.concatenate([t[1] for t in train])
            train_sizes[column] += len(x)
            model = fit(x, y, len(labels), params, seed=seed * 100 + fold)  # the same data: the same model
            for name in APPLIED_TO[column]:
                held = sets[name].folds == fold
                predictions[name][column][held] = model.predict(sets[name].features[held])
    frames = []
    for name, part in sets.items():
        rows = part.rows.assign(fold=part.folds.astype(np.int32) + 1)
        for column in TRAINED_ON:
            p = predictions[name][column]
            rows[column] = [labels[i] if i >= 0 else None for i in p]
        frames.append(rows)
    return pd.concat(frames, ignore_index=True), train_sizes
