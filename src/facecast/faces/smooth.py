"""One-Euro filtering of landmarks over time (Casiez, Roussel & Vogel, CHI 2012).

A low-pass filter whose cutoff rises with the signal's speed: a still face's
jitter is smoothed with ``min_cutoff`` (Hz), while a fast change (a mouth
opening, a head turn) raises the cutoff by ``beta`` per pixel/second of speed,
so the filter follows it with little lag. Every landmark coordinate is
filtered on its own; the speed is itself low-passed at ``d_cutoff`` Hz.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def smoothing_factor(dt: float, cutoff: np.ndarray | float) -> np.ndarray | float:
    """Exponential smoothing weight of a first-order low-pass at ``cutoff`` Hz over ``dt`` seconds."""
    r = 2.0 * math.pi * cutoff * dt
    return r / (r + 1.0)


class OneEuroFilter:
    """Filters a fixed-size array signal sampled at increasing times (seconds)."""

    def __init__(self, min_cutoff: float, beta: float, d_cutoff: float = 1.0):
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self.reset()

    def reset(self) -> None:
        self._t: float | None = None
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    def __call__(self, t: float, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._t is None or self._x is None or self._dx is None or t <= self._t:
            self._t, self._x, self._dx = t, x.copy(), np.zeros_like(x)
            return x.copy()
        dt = t - self._t
        dx = (x - self._x) / dt
        self._dx = self._dx + smoothing_factor(dt, self.d_cutoff) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x = self._x + smoothing_factor(dt, cutoff) * (x - self._x)
        self._t = t
        return self._x.copy()


def smooth_sequence(
    times: Sequence[float], values: Sequence[np.ndarray | None], min_cutoff: float, beta: float
) -> list[np.ndarray | None]:
    """Filter a time-ordered sequence; a missing value (None) restarts the filter after it."""
    filt = OneEuroFilter(min_cutoff, beta)
    out: list[np.ndarray | None] = []
    for t, v in zip(times, values):
        if v is None:
            filt.reset()
            out.append(None)
        else:
            out.append(filt(float(t), v).astype(np.float32))
    return out
