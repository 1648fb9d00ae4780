"""Scores read off the held-out predictions: macro-F1 and accuracy per regime (pooled and per fold), per-label
F1, confusion matrices, the utility ratio with a subject bootstrap, and label agreement.

Macro-F1 is the mean F1 of the labels that have frames in the scored set. The
bootstrap resamples subjects with replacement (frames of one person are not
independent), ``evaluate.bootstrap`` times with the stage's seed; an interval
is its 2.5th and 97.5th percentiles.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# regime -> (prediction column, the set it is scored on); the recast side uses the published recast frames ...
REGIMES = {
    "real_to_real": ("by_original", "original"),
    "recast_to_real": ("by_published", "original"),
    "recast_to_recast": ("by_published", "published"),
    "real_recast_to_real": ("by_original_and_published", "original"),
}
# ... and, as a diagnostic, every recast frame before gate
BEFORE_GATE = {
    "recast_to_real": ("by_recast", "original"),
    "recast_to_recast": ("by_recast", "recast"),
    "real_recast_to_real": ("by_original_and_recast", "original"),
}


def confusion(truth: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    """(k, k) counts: row = true class, column = predicted class."""
    return np.bincount(truth * k + predicted, minlength=k * k).reshape(k, k)


def _f1s(cms: np.ndarray) -> np.ndarray:
    """Per-label F1 of confusion matrices (..., k, k); NaN where a label has no true frame."""
    tp = np.diagonal(cms, axis1=-2, axis2=-1).astype(np.float64)
    support = cms.sum(axis=-1)
    predicted = cms.sum(axis=-2)
    denominator = support + predicted
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)
    return np.where(support > 0, f1, np.nan)


def macro_f1(cms: np.ndarray) -> np.ndarray:
    f1 = _f1s(cms)
    present = ~np.isnan(f1)
    with np.errstate(invalid="ignore"):
        return np.where(present.any(axis=-1), np.nansum(f1, axis=-1) / np.maximum(present.sum(axis=-1), 1), np.nan)


def _num(value: float | np.floating | None) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)


def _interval(value: float, samples: np.ndarray) -> dict:
    """The value and the 2.5th and 97.5th percentiles of its resamples; ``resamples``: how many were defined (a
    ratio is not where its baseline scored 0)."""
    finite = samples[np.isfinite(samples)]
    if not np.isfinite(value) or not len(finite):
        return {"value": _num(value), "ci95_low": None, "ci95_high": None, "resamples": int(len(finite))}
    low, high = np.percentile(finite, [2.5, 97.5])
    return {"value": _num(value), "ci95_low": _num(low), "ci95_high": _num(high), "resamples": int(len(finite))}


def _distribution(values: list[float]) -> dict:
    v = np.array([x for x in values if np.isfinite(x)])
    if not len(v):
        return {"n": 0, "mean": None, "median": None, "p5": None, "p95": None}
    return {
        "n": int(len(v)),
        "mean": _num(v.mean()),
        "median": _num(np.median(v)),
        "p5": _num(np.percentile(v, 5)),
        "p95": _num(np.percentile(v, 95)),
    }


class Scorer:
    """Scores of a ``utility_frames`` table; every regime's bootstrap uses the same subject resamples."""

    def __init__(self, table: pd.DataFrame, labels: list[str], bootstrap: int, seed: int):
        self.table, self.labels, self.k = table, labels, len(labels)
        self.index = {label: i for i, label in enumerate(labels)}
        self.subjects = sorted(set(table["subject"]))
        rng = np.random.default_rng(seed)
        n = len(self.subjects)
        self.weights = rng.multinomial(n, np.full(n, 1 / n), size=bootstrap)  # (B, subjects): times drawn
        self._scored: dict[tuple[str, str], tuple[pd.DataFrame, np.ndarray, np.ndarray]] = {}
        self._resampled: dict[tuple[str, str], np.ndarray] = {}

    def _rows(self, column: str, scored: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """The scored rows of one prediction column on one set, their true and predicted class indices (once)."""
        if (column, scored) not in self._scored:
            rows = self.table[(self.table["source"] == scored) & self.table[column].notna()]
            truth = np.array([self.index[v] for v in rows["label"]], np.int64)
            predicted = np.array([self.index[v] for v in rows[column]], np.int64)
            self._scored[column, scored] = (rows, truth, predicted)
        return self._scored[column, scored]

    def _per_subject(self, rows: pd.DataFrame, truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        """(subjects, k, k): each subject's confusion matrix."""
        position = {s: i for i, s in enumerate(self.subjects)}
        who = np.array([position[s] for s in rows["subject"]], np.int64)
        flat = np.bincount((who * self.k + truth) * self.k + predicted, minlength=len(self.subjects) * self.k * self.k)
        return flat.reshape(len(self.subjects), self.k, self.k)

    def resampled_f1(self, column: str, scored: str) -> np.ndarray:
        """Macro-F1 of each bootstrap resample (computed once per column and set)."""
        if (column, scored) not in self._resampled:
            per_subject = self._per_subject(*self._rows(column, scored))
            self._resampled[column, scored] = macro_f1(np.tensordot(self.weights, per_subject, axes=(1, 0)))
        return self._resampled[column, scored]

    def matrix(self, column: str, scored: str) -> np.ndarray:
        _, truth, predicted = self._rows(column, scored)
        return confusion(truth, predicted, self.k)

    def regime(self, column: str, scored: str, train_frames: int) -> dict:
        rows, truth, predicted = self._rows(column, scored)
        cm = confusion(truth, predicted, self.k)
        folds_f1, folds_acc = [], []
        for fold in sorted(set(rows["fold"])):
            here = (rows["fold"] == fold).to_numpy()
            fold_cm = confusion(truth[here], predicted[here], self.k)
            folds_f1.append(float(macro_f1(fold_cm)))
            folds_acc.append(float(np.trace(fold_cm) / max(1, fold_cm.sum())))
        f1 = float(macro_f1(cm)) if len(rows) else float("nan")
        per_label = _f1s(cm)
        return {
            "train_frames": int(train_frames),
            "test_frames": int(len(rows)),
            "macro_f1": _interval(f1, self.resampled_f1(column, scored)),
            "macro_f1_folds": _distribution(folds_f1),
            "macro_f1_fold_sd": _num(np.std(folds_f1, ddof=1)) if len(folds_f1) > 1 else None,
            "accuracy": _num(np.trace(cm) / cm.sum()) if cm.sum() else None,
            "accuracy_fold_mean": _num(np.mean(folds_acc)) if folds_acc else None,
            "accuracy_fold_sd": _num(np.std(folds_acc, ddof=1)) if len(folds_acc) > 1 else None,
            "per_label_f1": {label: _num(per_label[i]) for i, label in enumerate(self.labels)},
        }

    def ratio(self, recast_column: str) -> dict:
        """F1(recast -> real) / F1(real -> real), with the interval of the ratio over the same resamples."""
        base = self.resampled_f1("by_original", "original")
        recast = self.resampled_f1(recast_column, "original")
        top = float(macro_f1(self.matrix(recast_column, "original")))
        bottom = float(macro_f1(self.matrix("by_original", "original")))
        value = top / bottom if bottom > 0 else float("nan")
        with np.errstate(invalid="ignore", divide="ignore"):
            samples = np.where(base > 0, recast / np.where(base > 0, base, 1), np.nan)
        return _interval(value, samples)

    def agreement(self, scored: str) -> dict:
        """How often the original-trained classifier says the same of a recast frame as of its original frame."""
        originals = self.table[self.table["source"] == "original"][["clip_id", "frame_idx", "by_original"]]
        recasts = self.table[self.table["source"] == scored][["clip_id", "frame_idx", "label", "by_original"]]
        pairs = recasts.merge(originals, on=["clip_id", "frame_idx"], suffixes=("", "_of_original"))
        same = pairs["by_original"] == pairs["by_original_of_original"]
        per_label = same.groupby(pairs["label"]).mean()
        return {
            "frames": int(len(pairs)),
            "overall": _num(same.mean()) if len(pairs) else None,
            "per_label": {label: _num(per_label[label]) if label in per_label else None for label in self.labels},
        }
