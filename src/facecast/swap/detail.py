"""What the rendered identity takes from the frame besides its geometry: the light, and expression detail.

Both work on the frame's own face moved onto the rendered geometry (the
same piecewise-affine warp that moves its eyeballs), so the frame and the
identity are compared pixel for pixel at the same place of the face.

* **Shading** (:func:`shading`). The colour transfer
  (:func:`facecast.swap.colour.reinhard`) matches the skin's mean and spread;
  a face lit from one side, or half in shadow, still came out evenly lit,
  with an edge where the frame's shadow met it. Here the difference between
  the frame's skin and the identity's, in Lab, is fitted over the skin by a
  plane per channel (:data:`SHADING_TERMS`: a level and a gradient across
  and down the face) and added to the identity: the light's direction and
  colour cast, not its detail. A finer field (a Gaussian of a third of the
  inter-ocular distance was tried) also carries the shading of the
  original's own cheekbones and eye sockets, which is their face's shape:
  it brought swapped faces measurably nearer their own person (dlib), so
  it is not used. Below the nose the skin is left out on both sides (a
  beard is not light).
* **Expression ratio images** (:class:`RestFace`,
  :func:`facecast.geometry.filters.expression_ratio`; Liu, Shan and Zhang
  2001). The frame's luminance divided by the same person's
  neutral face (the median of the track's most neutral frames, moved onto
  the same geometry) is 1 where nothing changed, whatever the person's skin,
  and below or above 1 along the wrinkles and folds an expression makes:
  it carries the expression, not the identity. Multiplied into the
  identity's skin, it gives a neutral-only identity the frame's frown lines
  and nose wrinkles. Fine scale only (a small blur against misalignment),
  its own low frequencies divided out (the light is :func:`shading`'s),
  clipped to :data:`facecast.geometry.filters.RATIO_RANGE`, and only on the skin of the forehead, the
  eyes' surroundings and the nose
  (:func:`facecast.geometry.filters.expression_region`): on the cheeks and
  around the mouth a beard that moves with the mouth would carry the
  original's beard onto the new face.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay

from facecast.geometry.filters import grey
from facecast.geometry.warp import Warp
from facecast.swap.identity import warp_points

RATIO_LIGHT_SIGMA = 0.3  # share of the inter-ocular distance: the expression ratio's light, divided out
SHADING_STEP = 4  # px: the shading plane is fitted on every 4th pixel of every 4th row
SHADING_TERMS = ("level", "across", "down")  # per Lab channel
RATIO_SIGMA = 0.02  # share of the inter-ocular distance: blur of both faces before their ratio is taken
REST_SIZE = 256  # px, side of the frame in which a track's neutral face is kept
REST_FRAMES = 12  # at most this many of the track's most neutral frames make its neutral face


def _to_lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) * np.float32(1 / 255), cv2.COLOR_RGB2Lab)


def shading(face: np.ndarray, frame_face: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """``face`` (RGB uint8) relit by ``frame_face`` (the frame's face on the same geometry): the Lab difference
    between them over ``skin`` (float32 weights, on a grid of every :data:`SHADING_STEP` th pixel) fitted by
    weighted least squares with a level and a gradient per channel, added everywhere: RGB uint8."""
    lab = _to_lab(face)
    h, w = skin.shape
    ys, xs = np.mgrid[0:h:SHADING_STEP, 0:w:SHADING_STEP]
    weight = skin[ys, xs].ravel()
    if float(weight.sum()) < 1.0:
        return face.copy()
    scale = float(max(h, w))
    design = np.stack([np.ones(weight.shape), xs.ravel() / scale, ys.ravel() / scale], axis=1)
    diff = (_to_lab(frame_face) - lab)[ys, xs].reshape(-1, 3)
    root = np.sqrt(weight)[:, None]
    coef, *_ = np.linalg.lstsq(design * root, diff * root, rcond=None)
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32) / np.float32(scale)
    field = coef[0] + gx[..., None] * coef[1] + gy[..., None] * coef[2]
    rgb = np.clip(cv2.cvtColor((lab + field).astype(np.float32), cv2.COLOR_Lab2RGB), 0.0, 1.0)
    return cv2.convertScaleAbs(rgb, alpha=255.0)


class RestFace:
    """A track's neutral face: the median of its most neutral frames, in the frame of its neutral shape."""

    def __init__(self, neutral: np.ndarray):
        """``neutral``: the track's neutral shape (68, 2) in the 512 px canonical frame."""
        self.scale = REST_SIZE / 512.0
        self.points = warp_points(np.asarray(neutral, np.float64) * self.scale)  # the renderer's point order
        self._warp = Warp(self.points, REST_SIZE, REST_SIZE, triangles=Delaunay(self.points).simplices)
        self._faces: list[np.ndarray] = []
        self.texture: np.ndarray | None = None  # float32 grey (REST_SIZE, REST_SIZE) once fitted

    def add(self, frame: np.ndarray, landmarks: np.ndarray) -> None:
        map_x, map_y = self._warp.maps(warp_points(landmarks))
        self._faces.append(cv2.remap(grey(frame), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))

    def fit(self) -> None:
        if self._faces:
            self.texture = np.median(np.stack(self._faces), axis=0).astype(np.float32)
        self._faces = []


def rest_frames(expressions: np.ndarray, count: int = REST_FRAMES) -> np.ndarray:
    """Indices of a track's most neutral frames (smallest RMS expression), at most ``count``, in frame order."""
    rms = np.sqrt((np.asarray(expressions) ** 2).sum(axis=-1).mean(axis=-1))
    share = np.argsort(rms, kind="stable")[: max(1, min(count, int(np.ceil(0.2 * len(rms)))))]
    return np.sort(share)
