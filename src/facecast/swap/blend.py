"""Blending the rendered face into the frame: feathered alpha or Poisson (gradient-domain) cloning.

Both take the same arguments and return the blended crop; ``swap.blend``
chooses. ``poisson`` is OpenCV's ``seamlessClone`` (Pérez et al. 2003): the
face keeps its own gradients while its edge takes the frame's colour and
light, which hides a residual colour mismatch. ``feather`` is a plain alpha
composite through the soft mask: cheaper, and exact where the colour
transfer already matched.
"""

from __future__ import annotations

import cv2
import numpy as np


def feather(face: np.ndarray, frame: np.ndarray, hard: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha[..., None]
    return np.clip(face.astype(np.float32) * a + frame.astype(np.float32) * (1.0 - a) + 0.5, 0, 255).astype(np.uint8)


def poisson(face: np.ndarray, frame: np.ndarray, hard: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Poisson cloning inside ``hard``; feathered where the mask touches the crop's edge (no room to clone)."""
    ys, xs = np.nonzero(hard)
    h, w = hard.shape
    if not len(xs) or xs.min() < 1 or ys.min() < 1 or xs.max() > w - 2 or ys.max() > h - 2:
        return feather(face, frame, hard, alpha)
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()), int(ys.min()), int(ys.max())
    # seamlessClone centres the mask's bounding box on this point (integer halves, as OpenCV computes them).
    centre = (x0 + (x1 - x0 + 1) // 2, y0 + (y1 - y0 + 1) // 2)
    cloned = cv2.seamlessClone(face, frame, hard, centre, cv2.NORMAL_CLONE)
    # Poisson fixes the boundary to the frame; the soft alpha still decides how far the clone reaches.
    return feather(cloned, frame, hard, alpha)


METHODS = {"feather": feather, "poisson": poisson}
