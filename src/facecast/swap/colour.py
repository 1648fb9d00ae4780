"""Matching a warped identity's colour and lighting to the frame it is put into, without flicker.

Reinhard et al. (2001) colour transfer in CIE Lab: each channel of the
rendered face is shifted and scaled so that its mean and spread match the
frame's face. Lab is OpenCV's float Lab (float32 RGB in [0, 1] in, L in
0-100, a and b roughly -127..127), whose channels are close to
decorrelated for natural images, so the three channels are matched
independently.

* Statistics are taken over the face's **skin** only (:func:`skin_mask`):
  the jaw and forehead outline minus the eyes, brows, lips and nostrils,
  whose colours are not the skin's and differ between people.
* They are **robust** (:func:`lab_stats`): the darkest and brightest
  :data:`TRIM` of the pixels by L (specular highlights, hair on the
  forehead, a dark occluder, shadowed creases) are left out.
* The frame's statistics of one track are **smoothed over time**
  (:func:`smooth_stats`): missing frames interpolated, one- and two-frame
  outliers (a hand passing) removed by a running median, then a Gaussian,
  so the recoloured face does not flicker with detection noise.
* The gain is **bounded** (:func:`reinhard`): a spread ratio is clipped to
  ``[1/max_ratio, max_ratio]``, so a flat or saturated source cannot blow
  up noise.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d, median_filter

from facecast.geometry.landmarks import LEFT_BROW, LEFT_EYE, NOSE_BASE, OUTER_LIPS, RIGHT_BROW, RIGHT_EYE, inter_ocular
from facecast.geometry.outline import contour

# Margins around the features cut out of the skin, as shares of the inter-ocular distance (eye centre to eye centre).
EYE_MARGIN = 0.12  # lids, lashes and the eye's shadowed corners
BROW_MARGIN = 0.10  # brow hair reaches past the 5 fitted points, which run along the brow's middle
MOUTH_MARGIN = 0.08  # the lip line and a moustache's edge
NOSTRIL_MARGIN = 0.06  # the dark nostril openings around points 31-35
TRIM = 0.05  # lab_stats leaves out this share of the darkest and the same share of the brightest pixels by L
MEDIAN_FRAMES = 5  # smooth_stats' running median: removes outliers lasting up to 2 frames


def _features(landmarks: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """The (points, margin in shares of the inter-ocular distance) of every feature cut out of the skin."""
    return [
        (landmarks[LEFT_EYE], EYE_MARGIN),
        (landmarks[RIGHT_EYE], EYE_MARGIN),
        (landmarks[LEFT_BROW], BROW_MARGIN),
        (landmarks[RIGHT_BROW], BROW_MARGIN),
        (landmarks[OUTER_LIPS], MOUTH_MARGIN),
        (landmarks[NOSE_BASE], NOSTRIL_MARGIN),
    ]


def skin_mask(landmarks: np.ndarray, width: int, height: int, beard_free: bool = False) -> np.ndarray:
    """Bool (height, width): the face's skin, for colour statistics.

    ``beard_free`` also leaves out everything below the base of the nose
    (point 33, across the face's vertical axis from the nose bridge to the
    chin), where a beard or moustache would pass for skin and darken the
    statistics; swap uses it on both the frame and the identity, so the two
    are compared on the same part of the face.

    Inside the jaw and forehead outline (:func:`facecast.geometry.outline.contour`)
    minus the eyes (36-41, 42-47), brows (17-21, 22-26), outer lips (48-59)
    and nostrils (31-35): each feature's convex hull grown by its margin
    (``*_MARGIN`` times the inter-ocular distance). The forehead outline is
    extrapolated, so the mask may take in some hair; :func:`lab_stats`' trim
    is what keeps it out of the statistics. ``landmarks`` are (68, 2) in the
    same pixel coordinates as the mask.
    """
    pts = np.asarray(landmarks, np.float64)
    if pts.shape != (68, 2) or not np.isfinite(pts).all():
        raise ValueError(f"skin_mask needs (68, 2) finite landmarks, got shape {pts.shape}")
    if width < 1 or height < 1:
        raise ValueError(f"skin_mask needs a positive image size, got {width}x{height}")
    span = inter_ocular(pts)
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [np.rint(contour(pts)).astype(np.int32)], 1)
    for points, margin in _features(pts):
        hull = cv2.convexHull(np.rint(points).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 0)
        # a closed outline of thickness 2r around the filled hull = the hull grown by r
        thickness = 2 * max(1, int(round(margin * span))) + 1
        cv2.polylines(mask, [hull], isClosed=True, color=0, thickness=thickness)
    keep = mask.astype(bool)
    if beard_free:
        down = pts[8] - pts[27]
        down /= max(float(np.linalg.norm(down)), 1e-9)
        ys, xs = np.mgrid[0:height, 0:width]
        keep &= (xs - pts[33, 0]) * down[0] + (ys - pts[33, 1]) * down[1] < 0
    return keep


def _to_lab(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 (any shape ending in 3) -> float32 Lab of the same shape."""
    return cv2.cvtColor(rgb.astype(np.float32) * np.float32(1 / 255), cv2.COLOR_RGB2Lab)


def lab_stats(image: np.ndarray, mask: np.ndarray, min_pixels: int = 50) -> np.ndarray | None:
    """(6,) float64: mean L, a, b then standard deviation L, a, b of the RGB uint8 ``image`` under ``mask``.

    Robust: the pixels whose L lies below its :data:`TRIM` (5 %) quantile or
    above its 1 - TRIM (95 %) quantile are left out of all six statistics
    (specular highlights, hair, dark occluders). None when the mask holds
    fewer than ``min_pixels`` pixels (counted before trimming): too few to
    measure.
    """
    image = np.asarray(image)
    mask = np.asarray(mask)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"lab_stats needs an RGB uint8 image (h, w, 3), got {image.dtype} {image.shape}")
    if mask.shape != image.shape[:2]:
        raise ValueError(f"lab_stats: mask {mask.shape} does not match the image {image.shape[:2]}")
    mask = np.ascontiguousarray(mask if mask.dtype == bool else mask != 0).view(np.uint8)  # nonzero = under it
    x, y, w, h = cv2.boundingRect(mask)  # work on the mask's bounding box only: frames can be large
    inside = mask[y : y + h, x : x + w] != 0
    if int(np.count_nonzero(inside)) < max(min_pixels, 1):
        return None
    lab = _to_lab(image[y : y + h, x : x + w])
    lightness = lab[..., 0]
    low, high = np.quantile(lightness[inside], [TRIM, 1 - TRIM])
    kept = (inside & (lightness >= low) & (lightness <= high)).view(np.uint8)
    mean, std = cv2.meanStdDev(lab, mask=kept)
    return np.concatenate([mean[:, 0], std[:, 0]]).astype(np.float64)


def smooth_stats(stats: np.ndarray, sigma_frames: float, median_frames: int = MEDIAN_FRAMES) -> np.ndarray:
    """(n, 6) per-frame statistics of one track, in frame order -> (n, 6) with no NaN.

    A row with any NaN counts as missing. Missing rows are filled by linear
    interpolation between their neighbours (the first and last measured rows
    held beyond the ends); then a running median over ``median_frames``
    frames (odd; removes an outlier lasting up to ``median_frames // 2``
    frames, such as a hand passing, while keeping real lighting changes as
    steps); then a Gaussian of ``sigma_frames`` frames (0: none). Edges are
    extended by repeating the end rows. All rows missing -> ValueError.
    """
    data = np.array(stats, np.float64)
    if data.ndim != 2 or data.shape[1] != 6 or not len(data):
        raise ValueError(f"smooth_stats needs (n, 6) statistics with n >= 1, got shape {data.shape}")
    if not np.isfinite(sigma_frames) or sigma_frames < 0:
        raise ValueError(f"smooth_stats: sigma_frames must be >= 0, got {sigma_frames}")
    if median_frames < 1 or median_frames % 2 == 0:
        raise ValueError(f"smooth_stats: median_frames must be a positive odd number, got {median_frames}")
    valid = np.isfinite(data).all(axis=1)
    if not valid.any():
        raise ValueError(f"smooth_stats: all {len(data)} rows are missing (NaN): no statistics to smooth")
    frames = np.arange(len(data))
    filled = np.stack([np.interp(frames, frames[valid], data[valid, c]) for c in range(6)], axis=1)
    if median_frames > 1:
        filled = median_filter(filled, size=(median_frames, 1), mode="nearest")
    if sigma_frames > 0:
        filled = gaussian_filter1d(filled, sigma_frames, axis=0, mode="nearest")
    return filled


def _stats_vector(stats: np.ndarray, name: str) -> np.ndarray:
    vec = np.asarray(stats, np.float64)
    if vec.shape != (6,) or not np.isfinite(vec).all() or (vec[3:] < 0).any():
        raise ValueError(f"reinhard: {name} statistics must be 6 finite numbers with non-negative spreads, got {vec}")
    return vec


def reinhard(image: np.ndarray, source: np.ndarray, target: np.ndarray, max_ratio: float = 2.0) -> np.ndarray:
    """The RGB uint8 ``image`` recoloured from ``source`` statistics to ``target`` ones (both from :func:`lab_stats`).

    Per Lab channel: ``(x - mean_s) * clip(std_t / std_s, 1/max_ratio, max_ratio) + mean_t``, then back to
    RGB, rounded and clipped to uint8. A zero source spread takes the largest allowed gain.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"reinhard needs an RGB uint8 image (h, w, 3), got {image.dtype} {image.shape}")
    if not max_ratio >= 1:
        raise ValueError(f"reinhard: max_ratio must be >= 1, got {max_ratio}")
    src = _stats_vector(source, "source")
    tgt = _stats_vector(target, "target")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(src[3:] > 0, tgt[3:] / np.where(src[3:] > 0, src[3:], 1.0), max_ratio)
    gain = np.clip(ratio, 1 / max_ratio, max_ratio)
    offset = tgt[:3] - src[:3] * gain
    affine = np.hstack([np.diag(gain), offset[:, None]]).astype(np.float32)  # (3, 4): per channel x * gain + offset
    lab = cv2.transform(_to_lab(image), affine)
    rgb = np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB), 0.0, 1.0)  # out of gamut -> clipped per channel
    return cv2.convertScaleAbs(rgb, alpha=255.0)  # rounds to nearest; the clip above keeps it from folding
