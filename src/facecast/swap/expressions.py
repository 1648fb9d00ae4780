"""Which atlas entries render each frame of a track: the identity's expressions nearest the frame's, smoothly.

Each frame's expression is :func:`facecast.geometry.landmarks.expression`
of its landmarks against the track's neutral shape
(:class:`facecast.swap.shape.TrackShape`); each atlas entry's is the same
measure of the entry against the identity's reference face. Per frame every
entry gets the weight ``exp(-d^2 / (2 softness^2))`` of its RMS distance
``d`` (inter-ocular distances) to the frame's expression, normalised; the
weights are smoothed over the track's frames with a Gaussian of
``swap.atlas_smooth_frames`` so the face does not jump between entries, and
the :data:`KEEP` heaviest (each at least :data:`MIN_WEIGHT`) are kept and
renormalised. A frame far from every entry (the atlas lacks its expression)
is recorded with that distance: the renderer then transfers more of the
frame's own expression detail (:mod:`facecast.swap.detail`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

KEEP = 2  # entries blended per frame
MIN_WEIGHT = 0.1  # smaller smoothed weights are dropped


@dataclass(frozen=True)
class Choice:
    """The atlas entries one frame is rendered with: (entry index, weight) pairs, and the nearest entry's distance."""

    entries: tuple[tuple[int, float], ...]
    distance: float


def _rms(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, e): RMS point distance between every frame expression (n, p, 2) and every entry expression (e, p, 2)."""
    diff = a[:, None] - b[None]
    return np.sqrt((diff**2).sum(axis=-1).mean(axis=-1))


def choose(frames: np.ndarray, entries: np.ndarray, softness: float, smooth_frames: float) -> list[Choice]:
    """One :class:`Choice` per frame of a track, in frame order.

    ``frames``: (n, p, 2) expressions of the track's frames; ``entries``: (e, p, 2) of the identity's atlas
    (entry 0 the reference face). An atlas of one entry gives every frame that entry.
    """
    frames, entries = np.asarray(frames, np.float64), np.asarray(entries, np.float64)
    if not len(frames):
        return []
    d = _rms(frames, entries)
    nearest = d.min(axis=1)
    if len(entries) == 1:
        return [Choice(((0, 1.0),), float(x)) for x in nearest]
    logits = -(d**2 - nearest[:, None] ** 2) / (2 * softness**2)
    w = np.exp(logits)
    w /= w.sum(axis=1, keepdims=True)
    if smooth_frames > 0 and len(w) > 1:
        w = gaussian_filter1d(w, smooth_frames, axis=0, mode="nearest")
    out = []
    for row, dist in zip(w, nearest):
        order = np.argsort(-row, kind="stable")[:KEEP]
        top = [int(i) for i in order if row[i] >= MIN_WEIGHT] or [int(order[0])]
        total = float(sum(row[i] for i in top))
        out.append(Choice(tuple((i, float(row[i]) / total) for i in top), float(dist)))
    return out
