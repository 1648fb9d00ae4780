"""Subject-grouped folds: every subject in exactly one fold, so no fold's model has seen the people it is scored on."""

from __future__ import annotations

import numpy as np


def grouped_folds(frames_per_subject: dict[str, int], k: int, seed: int) -> dict[str, int]:
    """subject -> fold (0..k-1). Subjects are dealt, largest first (ties in a seeded order), each to the fold
    that holds the fewest frames so far, so the folds' sizes come out close; the same input gives the same folds."""
    if k < 2 or len(frames_per_subject) < k:
        raise ValueError(f"{len(frames_per_subject)} subject(s) cannot fill {k} folds")
    subjects = sorted(frames_per_subject)
    order = np.random.default_rng(seed).permutation(len(subjects))
    dealt = sorted((subjects[i] for i in order), key=lambda s: -frames_per_subject[s])
    sizes = [0] * k
    out = {}
    for subject in dealt:
        fold = min(range(k), key=lambda f: (sizes[f], f))
        out[subject] = fold
        sizes[fold] += frames_per_subject[subject]
    return out
