"""Obscuring a face that cannot be swapped, so that it is never published as it was.

Weak blurring or pixelation is not de-identification: a CNN trained on
obscured faces recognised people far above chance through mosaics of 16x16
pixel blocks and through the blurs of deployed tools (McPherson, Shokri and
Shmatikov, "Defeating Image Obfuscation with Deep Learning", 2016). Each
method is therefore strong by construction, with its strength tied to the
face's size (the larger side of its box), not to pixels:

* ``blur``: a Gaussian of sigma :data:`BLUR_SIGMA` (a quarter) of the face
  size. Its response falls to a tenth at 1.4 cycles per face, so the
  eyes, nose, mouth and their spacing are gone and only the head's blob and
  mean skin tone remain: less than even a 6-block mosaic keeps (3 cycles per
  face). Applied over the ellipse inscribed in the region with a soft edge
  (:data:`BLUR_FEATHER` of the ellipse's radius, all of it inside the
  ellipse), so the corners of the region stay as they were.
* ``pixelate``: blocks of a :data:`PIXELATE_BLOCKS`-th (a sixth) of the
  face size: the face is at most 6 blocks across, about 36 mean colours for
  the whole face.
* ``solid``: the region filled with its own mean colour: no texture at all.

Measured on nine openpeople portraits shrunk to 100 px faces in a 640x480
frame: every method puts dlib's descriptor 0.73-0.94 from the original's
(0.6 is dlib's same-person threshold) and neither MTCNN nor dlib's HOG
detector finds a face there any more; at a sixteenth of the face size for
the blur, or 16 blocks across, MTCNN still found most of the faces.

The region is the face box grown by ``grow`` of its size on every side, so
hair, ears and chin are covered too.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

METHODS = ("blur", "pixelate", "solid")
BLUR_SIGMA = 1 / 4  # Gaussian sigma, as a share of the face size
BLUR_WORK_SIGMA = 4.0  # the blur runs on a copy downscaled so that its sigma is 4-8 pixels there (speed)
BLUR_FEATHER = 0.1  # soft edge of the blurred ellipse, as a share of its radius, inside the ellipse
PIXELATE_BLOCKS = 6  # the face spans at most this many blocks across


def _face_box(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    try:
        x0, y0, x1, y1 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise ValueError(f"a face box must be 4 numbers (x0, y0, x1, y1), got {box!r}") from None
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)) or x1 <= x0 or y1 <= y0:
        raise ValueError(f"a face box must be finite with x1 > x0 and y1 > y0, got {box!r}")
    return x0, y0, x1, y1


def _grown(box: tuple[float, float, float, float], grow: float) -> tuple[float, float, float, float]:
    if not math.isfinite(grow) or grow < 0:
        raise ValueError(f"grow must be a share >= 0 of the face size, got {grow}")
    x0, y0, x1, y1 = _face_box(box)
    dx, dy = grow * (x1 - x0), grow * (y1 - y0)
    return x0 - dx, y0 - dy, x1 + dx, y1 + dy


def region(
    box: tuple[float, float, float, float], width: int, height: int, grow: float = 0.3
) -> tuple[int, int, int, int]:
    """The face ``box`` (x0, y0, x1, y1) grown by ``grow`` of its width and height on every side, clipped to a
    ``width`` x ``height`` image: whole pixels (x0, y0, x1, y1), end exclusive (``image[y0:y1, x0:x1]``), every
    pixel the grown box touches. A box that lies wholly outside the image -> ValueError."""
    if width < 1 or height < 1:
        raise ValueError(f"region needs a positive image size, got {width}x{height}")
    gx0, gy0, gx1, gy1 = _grown(box, grow)
    x0, y0 = max(0, math.floor(gx0)), max(0, math.floor(gy0))
    x1, y1 = min(width, math.ceil(gx1)), min(height, math.ceil(gy1))
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"face box {tuple(box)} lies outside the {width}x{height} image")
    return x0, y0, x1, y1


def _blur(crop: np.ndarray, face: float, ellipse: tuple[float, float, float, float]) -> np.ndarray:
    """The crop with its ``ellipse`` (centre x, y and semi-axes, in crop pixels) strongly blurred."""
    h, w = crop.shape[:2]
    sigma = BLUR_SIGMA * face
    factor = max(1, int(sigma // BLUR_WORK_SIGMA))  # a whole factor: OpenCV's fast path for area averaging
    small = cv2.resize(crop, None, fx=1 / factor, fy=1 / factor, interpolation=cv2.INTER_AREA) if factor > 1 else crop
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=sigma / factor, borderType=cv2.BORDER_REPLICATE)
    blurred = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    cx, cy, ax, ay = ellipse
    dx = ((np.arange(w, dtype=np.float32) + 0.5 - cx) / ax) ** 2
    dy = ((np.arange(h, dtype=np.float32) + 0.5 - cy) / ay) ** 2
    radius = np.sqrt(dy[:, None] + dx[None, :])
    alpha = np.clip((1.0 - radius) * np.float32(1 / BLUR_FEATHER), 0.0, 1.0)
    return cv2.blendLinear(blurred, crop, alpha, 1.0 - alpha)


def _pixelate(crop: np.ndarray, face: float) -> np.ndarray:
    h, w = crop.shape[:2]
    block = max(1.0, face / PIXELATE_BLOCKS)
    small = cv2.resize(crop, (max(1, math.ceil(w / block)), max(1, math.ceil(h / block))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def obscure(
    image: np.ndarray, box: tuple[float, float, float, float], method: str, grow: float = 0.3
) -> tuple[int, int, int, int]:
    """Obscure the face in ``box`` of an RGB uint8 frame, in place, by ``method`` (one of :data:`METHODS`).

    Returns the region covered (:func:`region`); every pixel outside it is left as it was. The face size that
    sets each method's strength is the larger side of ``box``; for ``blur`` the ellipse is inscribed in the
    grown box before clipping, so a face at the frame's edge is blurred as if the frame went on.
    """
    if method not in METHODS:
        raise ValueError(f"unknown obscuring method {method!r}: allowed are {', '.join(METHODS)}")
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"obscure needs an RGB uint8 frame (h, w, 3) to change in place, got {got}")
    x0, y0, x1, y1 = region(box, image.shape[1], image.shape[0], grow)
    bx0, by0, bx1, by1 = _face_box(box)
    face = max(bx1 - bx0, by1 - by0)
    crop = image[y0:y1, x0:x1]
    if method == "blur":
        gx0, gy0, gx1, gy1 = _grown(box, grow)
        ellipse = ((gx0 + gx1) / 2 - x0, (gy0 + gy1) / 2 - y0, (gx1 - gx0) / 2, (gy1 - gy0) / 2)
        crop[:] = _blur(crop, face, ellipse)
    elif method == "pixelate":
        crop[:] = _pixelate(crop, face)
    else:
        crop[:] = np.rint(cv2.mean(crop)[:3]).astype(np.uint8)
    return x0, y0, x1, y1
