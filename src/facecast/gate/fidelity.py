"""Landmark fidelity of a swapped face: re-fitted landmarks against the ones the render was driven with.

* :func:`facecast.models.recognition.refit` fits dlib's 68 points again on
  the output image, inside a face box, by the same predictor the faces stage
  uses;
* :func:`landmark_error`: the mean point-to-point distance, in units of the
  reference's inter-ocular distance (eye centre to eye centre), so it reads
  the same on a 60 px face and a 600 px one;
* :func:`study_score`: the score of the earlier study, kept for comparison
  with its numbers: both sets min-max normalised (x and y each scaled to
  [0, 1] on their own), then the *sum* of the 68 distances. It ignores
  translation and scale but not aspect: a face that only gets taller scores
  0, a face that moves one point scores by that point;
* :func:`percentile_pass`: which errors of a clip pass, relative to the clip
  (a percentile of its own finite errors) and absolutely (a cap).
"""

from __future__ import annotations

import numpy as np

from facecast.geometry.landmarks import checked_landmarks, inter_ocular

MIN_INTER_OCULAR = 1e-6  # px: below this the reference has no eye line to scale by


def eye_span(points: np.ndarray, name: str) -> float:
    """The inter-ocular distance (eye centre to eye centre) of checked landmarks, px; ValueError when they coincide."""
    iod = inter_ocular(points)
    if iod < MIN_INTER_OCULAR:
        raise ValueError(f"{name}'s eye centres coincide: no inter-ocular distance")
    return iod


def landmark_error(measured: np.ndarray, reference: np.ndarray) -> float:
    """Mean Euclidean distance between corresponding points / the reference's inter-ocular distance."""
    got = checked_landmarks(measured, "measured")
    ref = checked_landmarks(reference, "reference")
    return float(np.linalg.norm(got - ref, axis=1).mean() / eye_span(ref, "reference"))


def _min_max(points: np.ndarray, name: str) -> np.ndarray:
    low = points.min(axis=0)
    span = points.max(axis=0) - low
    if (span <= 0).any():
        raise ValueError(
            f"{name}'s points all share one {'x' if span[0] <= 0 else 'y'}: they cannot be min-max normalised"
        )
    return (points - low) / span


def study_score(a: np.ndarray, b: np.ndarray) -> float:
    """The earlier study's score: each set's x and y scaled to [0, 1] independently, then the sum of the
    Euclidean distances between corresponding points (0 for the same shape; 68 points, so at most 68 * sqrt(2))."""
    na = _min_max(checked_landmarks(a, "a"), "a")
    nb = _min_max(checked_landmarks(b, "b"), "b")
    return float(np.linalg.norm(na - nb, axis=1).sum())


def percentile_pass(values: np.ndarray, percentile: float, cap: float) -> np.ndarray:
    """Per value: True when it is finite, at most ``np.percentile`` (linear) of the finite values at
    ``percentile``, and at most ``cap``. NaN and infinities fail; with no finite value nothing passes."""
    vals = np.asarray(values, np.float64)
    if vals.ndim != 1:
        raise ValueError(f"values must be one-dimensional, got shape {vals.shape}")
    if not np.isfinite(percentile) or not 0.0 <= percentile <= 100.0:
        raise ValueError(f"percentile must be in [0, 100], got {percentile}")
    if np.isnan(cap):
        raise ValueError("cap must be a number, got NaN")
    finite = np.isfinite(vals)
    if not finite.any():
        return np.zeros(len(vals), dtype=bool)
    limit = min(float(np.percentile(vals[finite], percentile)), float(cap))
    out = np.zeros(len(vals), dtype=bool)
    out[finite] = vals[finite] <= limit
    return out
