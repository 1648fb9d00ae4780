"""How a rendered face sits in its frame: as sharp as the face it replaced, and with no visible seam.

Measured on every swapped face, on the crop that was rewritten, against the
same crop of the frame as it was (:func:`measure`):

* **Sharpness**: the variance of the Laplacian of the grey image inside the
  face (where the blend's alpha is at least :data:`INSIDE`), swapped over
  original. Below 1 the new face is softer than the old (an averaged,
  waxy texture); about 1 it carries as much fine detail.
* **Seam**: the mean gradient magnitude (Sobel) on the mask's soft edge (alpha
  between :data:`EDGE`), over the mean of the gradient in the bands just
  inside and just outside it. A visible edge (a colour or light step, a
  halo) makes it exceed 1; the same figure is taken on the original frame at
  the same place, whose own edges (a jaw line, hair) set what is natural.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facecast.geometry.filters import grey

INSIDE = 0.95  # alpha from which a pixel is inside the face
EDGE = (0.2, 0.8)  # alpha between these: the soft edge
MIN_PIXELS = 50  # fewer pixels in any of the regions: not measured


@dataclass(frozen=True)
class Quality:
    sharpness: float  # Laplacian variance inside the face, swapped / original
    seam: float  # edge gradient / gradient beside the edge, swapped
    seam_original: float  # the same on the original frame


def _gradient(grey: np.ndarray) -> np.ndarray:
    return cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3))


def _seam(gradient: np.ndarray, edge: np.ndarray, beside: np.ndarray) -> float:
    return float(gradient[edge].mean() / max(float(gradient[beside].mean()), 1e-6))


def measure(original: np.ndarray, swapped: np.ndarray, alpha: np.ndarray, band_px: float) -> Quality | None:
    """The sharpness and seam figures of one face: RGB uint8 crops before and after, the blend's alpha, and the
    width of the bands beside the edge (px; the soft edge's own width)."""
    inside = alpha >= INSIDE
    edge = (alpha > EDGE[0]) & (alpha < EDGE[1])
    width = max(1, int(round(band_px)))
    element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    core = (alpha >= EDGE[1]).astype(np.uint8)
    touched = (alpha > EDGE[0]).astype(np.uint8)
    beside = ((core > 0) & ~(cv2.erode(core, element) > 0)) | ((cv2.dilate(touched, element) > 0) & ~(touched > 0))
    if min(int(inside.sum()), int(edge.sum()), int(beside.sum())) < MIN_PIXELS:
        return None
    before, after = grey(original), grey(swapped)
    lap_before = float(cv2.Laplacian(before, cv2.CV_32F)[inside].var())
    lap_after = float(cv2.Laplacian(after, cv2.CV_32F)[inside].var())
    return Quality(
        sharpness=lap_after / max(lap_before, 1e-6),
        seam=_seam(_gradient(after), edge, beside),
        seam_original=_seam(_gradient(before), edge, beside),
    )
