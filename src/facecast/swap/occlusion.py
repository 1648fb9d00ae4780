"""Occluders in front of a face: the pixels of the frame that must survive the swap.

A hand on the chin, a cup, a phone or a bottle in front of the face is part
of the scene, not of the face: the renderer keeps those pixels from the
original frame. :class:`OcclusionModel` finds them by background subtraction
in face coordinates, one model per track:

* **Working frame.** The track's neutral shape (``template``, 68 landmarks in
  the 512 px canonical frame) is scaled so that its face outline (the 68
  points and the forehead points, :func:`facecast.geometry.outline.face_outline`)
  spans ``fill`` of a small ``size`` x ``size`` square, centred. Every frame's
  face is warped piecewise-affinely into it (one :class:`Warp` per track on
  the outline points plus the square's :func:`frame_points`, which a
  per-frame similarity places in the frame). Features land on the same
  working pixels whatever the expression, so what is left is appearance.
* **Fit (pass 1).** Frames are offered one by one with :meth:`add`; every
  ``stride``-th is kept (the stride doubles and the kept set is thinned when
  ``max_samples`` is reached), in CIE Lab, lightly blurred. The per-pixel
  median is the face's usual look. The per-pixel spread is the largest of:
  the median absolute deviation (as a standard deviation), so features that
  often move (the mouth, the eyes) tolerate their own changes; the median's
  gradient times the expected registration error (landmark noise, motion
  blur), so edges (brows, eyelids, the jaw against the background) tolerate
  a small misplacement; and a floor, so still skin is not hair-trigger.
* **Mask (pass 2).** A working pixel inside the face outline differs when it
  is far from the median both relative to its spread (robust z-score,
  Euclidean over L, a, b) and in absolute terms (Lab distance), after the
  frame's overall colour shift (the median difference over the face: an
  exposure or white-balance change) is taken out. The map is opened and
  closed; a blob is an occluder only when it covers at least ``min_area`` of
  the face and a good share of it (``seed_share``) lies on *stable skin*,
  the face less a band along its edge above the temples (where hair comes
  and goes) and less the eyes, brows and mouth: rare natural changes (a
  blink, a frown, hair swinging in at the forehead) stay mostly within
  those. What is left is grown by a working pixel, warped back into the
  caller's crop on the same triangulation and feathered outwards.

What it catches: occluders present in fewer than half of the sampled frames
of the track (a hand raised to the chin, a cup lifted to the mouth) whose
colour differs from what they cover by more than ``min_delta`` Lab units.
What it does NOT catch, by construction:

* an occluder present in half the track or more (glasses, a mask, a
  microphone held throughout): it becomes the median, i.e. the face's usual
  look, and is swapped like skin; worse, in the frames where it is absent
  the uncovered face differs from the median and may be kept, so such
  tracks need another safeguard (the gate's leak scan);
* an occluder the colour of what it covers (a hand over a cheek of the same
  tone, a dark object over dark skin) is found only where shading or edges
  differ;
* occluders over the eyes, brows or mouth only, or only along the face's
  edge, with too little of them on stable skin; thin ones (a pen, a finger
  seen edge-on) narrower than about two working pixels; anything outside
  the face outline (outside the swapped area anyway);
* tracks with fewer than ``min_samples`` kept frames: the spread cannot be
  trusted, :attr:`OcclusionModel.reliable` is False and :meth:`mask` returns
  zeros (the reason is in :attr:`OcclusionModel.reason`).

The other way round, a rare natural change that spills onto stable skin (a
wink that raises the cheek, hair falling over a temple) can be taken for an
occluder and keep a few per cent of the face from the frame in that frame.

Landmarks pulled by an occluder (dlib fitting a jaw to a hand) shift the
warp; the gradient term and the morphology absorb small shifts. A false blob
keeps the frame's own pixels there, i.e. a piece of the real face: the
defaults lean towards missing an occluder rather than keeping skin.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import cv2
import numpy as np
from scipy.spatial import Delaunay

from facecast.geometry.landmarks import LEFT_BROW, LEFT_EYE, OUTER_LIPS, RIGHT_BROW, RIGHT_EYE
from facecast.geometry.outline import face_outline, frame_points
from facecast.geometry.transforms import apply, similarity
from facecast.geometry.warp import Warp

N_LANDMARKS = 68
MAD_TO_SIGMA = 1.4826  # the MAD of a normal distribution times this is its standard deviation


def _check_points(points: np.ndarray, name: str) -> np.ndarray:
    pts = np.asarray(points, np.float64)
    if pts.shape != (N_LANDMARKS, 2) or not np.isfinite(pts).all():
        raise ValueError(f"{name} must be {N_LANDMARKS} finite (x, y) points, got shape {pts.shape}")
    return pts


def _check_frame(frame: np.ndarray) -> np.ndarray:
    image = np.asarray(frame)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or min(image.shape[:2]) < 1:
        raise ValueError(f"frame must be an RGB uint8 image (h, w, 3), got {image.dtype} {image.shape}")
    return image


class _Placement(NamedTuple):
    points: np.ndarray  # the working points (outline, then the square's frame points) in frame px
    scale: float  # frame px per working px


def _ellipse(radius: float) -> np.ndarray:
    r = max(0, int(round(radius)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _stable_skin(landmarks: np.ndarray, region: np.ndarray, band: float, margin: float) -> np.ndarray:
    """Where an occluder must show before it counts: the face ``region`` less a ``band`` (px) along its edge
    above the temples, where hair comes and goes with the head's motion; less the eyes and brows grown by
    ``margin`` (px), which change with the gaze, blinks and brow raises; and less the mouth (the piecewise warp
    keeps the lips in place, the mouth's inside changes). The ``landmarks`` are upright (the working frame)."""
    features = np.zeros(region.shape, np.uint8)
    for part in (LEFT_EYE, RIGHT_EYE):
        cv2.fillConvexPoly(features, cv2.convexHull(np.rint(landmarks[part]).astype(np.int32)), 1)
    for part in (LEFT_BROW, RIGHT_BROW):
        cv2.polylines(features, [np.rint(landmarks[part]).astype(np.int32)], False, 1)
    features = cv2.dilate(features, _ellipse(margin))
    cv2.fillPoly(features, [np.rint(landmarks[OUTER_LIPS]).astype(np.int32)], 1)
    edge = region & ~cv2.erode(region.astype(np.uint8), _ellipse(band), borderValue=0).astype(bool)
    temples = max(landmarks[0, 1], landmarks[16, 1])
    edge[int(np.ceil(temples)) :] = False
    return region & ~edge & ~features.astype(bool)


class OcclusionModel:
    """A per-track model of a face's usual appearance; :meth:`mask` marks what covers it in a frame.

    Use: :meth:`add` every frame of the track (pass 1), :meth:`fit` once, then
    :meth:`mask` per frame (pass 2). Deterministic: which frames are kept
    depends only on the order of the calls.

    Tunables (keyword arguments, defaults in brackets; shares of the face are of the working face outline):

    * ``fill`` (0.75): share of the working square the face outline's bounding box spans;
    * ``min_samples`` (8): kept frames needed before the spread is trusted;
    * ``z_threshold`` (5.0): robust z-score (Euclidean over L, a, b, in spreads) above which a pixel differs;
    * ``min_delta`` (12.0): Lab distance by which it must also differ;
    * ``spread_floor`` ((2.5, 1.5, 1.5)): smallest spread of L, a and b, in Lab units;
    * ``shift_px`` (2.5) and ``shift`` (0.015): the registration error the spread allows at edges, the larger
      of ``shift_px`` frame px and ``shift`` of the face's height;
    * ``blur`` (0.7): sigma, in working px, of the blur of every warped face;
    * ``min_area`` (0.01): smallest occluder, as a share of the face's area;
    * ``band`` (0.08) and ``feature_margin`` (0.06): width of the edge band above the temples, and margin
      around the eyes and brows, left out of the stable skin, as shares of the face's height;
    * ``seed_share`` (0.4): share of an occluder that must lie on stable skin;
    * ``feather`` (0.015): sigma of the mask's outward feather in the frame, as a share of the face's height.
    """

    def __init__(
        self,
        template: np.ndarray,
        size: int = 80,
        max_samples: int = 120,
        *,
        fill: float = 0.75,
        min_samples: int = 8,
        z_threshold: float = 5.0,
        min_delta: float = 12.0,
        spread_floor: tuple[float, float, float] = (2.5, 1.5, 1.5),
        blur: float = 0.7,
        min_area: float = 0.01,
        feather: float = 0.015,
        band: float = 0.08,
        feature_margin: float = 0.06,
        shift_px: float = 2.5,
        shift: float = 0.015,
        seed_share: float = 0.4,
    ):
        template = _check_points(template, "template")
        if size < 32:
            raise ValueError(f"size must be at least 32 working pixels, got {size}")
        if max_samples < 2 or min_samples < 1:
            raise ValueError(f"max_samples must be >= 2 and min_samples >= 1, got {max_samples}, {min_samples}")
        if not 0.3 <= fill <= 0.95:
            raise ValueError(f"fill must be in [0.3, 0.95], got {fill}")
        self.size = int(size)
        self.max_samples = int(max_samples)
        self.min_samples = int(min_samples)
        self.z_threshold = float(z_threshold)
        self.min_delta = float(min_delta)
        self.spread_floor = np.asarray(spread_floor, np.float32).reshape(1, 1, 3)
        self.blur = float(blur)
        self.feather = float(feather)
        self.shift_px = float(shift_px)
        self.shift = float(shift)
        self.seed_share = float(seed_share)

        # The template in the working square: its outline's bounding box scaled to ``fill`` of it, centred.
        outline = face_outline(template)
        lo, hi = outline.min(axis=0), outline.max(axis=0)
        scale = fill * self.size / float((hi - lo).max())
        centre = (lo + hi) / 2
        self.landmarks = (template - centre) * scale + self.size / 2  # (68, 2) working px
        outline = (outline - centre) * scale + self.size / 2
        self.n_outline = len(outline)
        self.points = np.vstack([outline, frame_points(self.size)])  # (91, 2) working px
        # One triangulation for the track, the face's triangles last: where a warp onto the frame folds (a jaw dropping
        # past the square's edge), the triangles of the face are rasterised after, and win over, the border's.
        triangles = Delaunay(self.points).simplices
        border = (triangles >= len(outline)).any(axis=1)
        self.triangles = np.vstack([triangles[border], triangles[~border]])
        self.warp = Warp(self.points, self.size, triangles=self.triangles)

        region = np.zeros((self.size, self.size), np.uint8)
        cv2.fillConvexPoly(region, cv2.convexHull(np.rint(outline).astype(np.int32)), 1)
        self.region = region.astype(bool) & self.warp.inside
        self.face_height = float(np.ptp(outline[:, 1]))
        self.seeds = _stable_skin(
            self.landmarks, self.region, band * self.face_height, feature_margin * self.face_height
        )
        self.min_area_px = max(2, int(round(min_area * self.region.sum())))

        self._samples: list[np.ndarray] = []
        self._seen = 0
        self._scales: list[float] = []  # frame px per working px of the kept frames
        self._stride = 1
        self.median: np.ndarray | None = None
        self.spread: np.ndarray | None = None
        self.usable: np.ndarray | None = None  # working pixels with enough valid samples to judge
        self.n_fitted = 0
        self.reliable = False
        self.reason = "not fitted"

    # ---- pass 1 ---------------------------------------------------------------------------------------------

    @property
    def n_samples(self) -> int:
        """Frames kept for the fit: so far, or (once fitted) those it was fitted on."""
        return self.n_fitted if self.median is not None else len(self._samples)

    def add(self, frame: np.ndarray, landmarks: np.ndarray) -> None:
        """Offer one frame of the track (RGB, its 68 landmarks in frame px); only every ``stride``-th is kept."""
        if self.median is not None:
            raise ValueError("OcclusionModel.add: the model is already fitted; build a new one for another pass")
        image = _check_frame(frame)
        pts = _check_points(landmarks, "landmarks")
        keep = self._seen % self._stride == 0
        self._seen += 1
        if not keep:
            return
        placed = self._placed(pts)
        self._samples.append(self._normalise(image, placed).astype(np.float16))  # half the memory; ample for Lab
        self._scales.append(placed.scale)
        if len(self._samples) >= self.max_samples:
            self._samples = self._samples[::2]
            self._scales = self._scales[::2]
            self._stride *= 2

    def fit(self) -> None:
        """Median look and robust spread per working pixel from the kept frames (which it then releases)."""
        if self.median is not None:
            raise ValueError("OcclusionModel.fit: the model is already fitted")
        if not self._samples:
            raise ValueError("OcclusionModel.fit: no frames were added; call add() with the track's frames first")
        stack = np.stack(self._samples).astype(np.float32)  # (n, size, size, 3), NaN where outside the frame
        valid = np.isfinite(stack[..., 0])
        counts = valid.sum(axis=0)
        self.usable = self.region & (counts >= min(self.min_samples, len(stack)))
        if valid.all():  # the face always inside the frame: the plain median is several times faster
            median = np.median(stack, axis=0)
            mad = np.median(np.abs(stack - median), axis=0)
        else:
            with warnings.catch_warnings():  # all-NaN pixels (never inside the frame) are expected: not usable
                warnings.simplefilter("ignore", RuntimeWarning)
                median = np.nanmedian(stack, axis=0)
                mad = np.nanmedian(np.abs(stack - median), axis=0)
        self.median = np.nan_to_num(median).astype(np.float32)
        # Registration error at an edge of the usual look (a brow, an eyelid, the jaw against the background,
        # made worse by motion blur) changes a pixel by about the error times the gradient there. The error, in
        # working px: ``shift_px`` frame px (landmark noise on small faces) or ``shift`` of the face's height.
        error = max(self.shift_px / float(np.median(self._scales)), self.shift * self.face_height)
        gradient = np.hypot(cv2.Sobel(self.median, cv2.CV_32F, 1, 0), cv2.Sobel(self.median, cv2.CV_32F, 0, 1)) / 8
        spread = np.maximum(np.nan_to_num(mad) * MAD_TO_SIGMA, error * gradient)
        self.spread = np.maximum(spread, self.spread_floor).astype(np.float32)
        self._samples = []
        self._scales = []
        n = len(stack)
        self.reliable = n >= self.min_samples
        self.reason = (
            f"fitted on {n} frames" if self.reliable else f"only {n} frames kept, fewer than {self.min_samples}"
        )
        self.n_fitted = n

    # ---- pass 2 ---------------------------------------------------------------------------------------------

    def detect(self, frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """Occluded working pixels (bool, ``size`` x ``size``) of this frame; empty when the model is unreliable."""
        return self._detect(_check_frame(frame), self._placed(_check_points(landmarks, "landmarks")))

    def mask(self, frame: np.ndarray, landmarks: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """Float32 (y1 - y0, x1 - x0) mask of the crop ``box`` = (x0, y0, x1, y1) of the frame, 1 = occluder.

        The crop is in frame pixels, inside the frame. Zeros where nothing
        covers the face, and everywhere when :attr:`reliable` is False.
        """
        image = _check_frame(frame)
        x0, y0, x1, y1 = (int(v) for v in box)
        h, w = image.shape[:2]
        if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
            raise ValueError(f"box {box} is empty or outside the {w}x{h} frame")
        placed = self._placed(_check_points(landmarks, "landmarks"))
        out = np.zeros((y1 - y0, x1 - x0), np.float32)
        occluded = self._detect(image, placed)
        if not occluded.any():
            return out
        sigma = self.feather * float(np.ptp(placed.points[: self.n_outline, 1]))
        # Only the triangles the occluder touches are warped back, inside their bounding box (grown by the
        # feather's reach): the cost follows the occluder's size, not the crop's.
        touched = cv2.dilate(occluded.astype(np.uint8), _ellipse(1)).astype(bool) & self.warp.inside
        used = np.isin(np.arange(len(self.triangles)), self.warp.index[touched])
        corners = placed.points[self.triangles[used]].reshape(-1, 2)
        reach = 3 * sigma + 2
        lo = np.maximum(np.floor(corners.min(axis=0) - reach).astype(int), [x0, y0])
        hi = np.minimum(np.ceil(corners.max(axis=0) + reach).astype(int) + 1, [x1, y1])
        if (hi <= lo).any():
            return out
        back = Warp(placed.points - lo, hi[0] - lo[0], hi[1] - lo[1], triangles=self.triangles[used])
        map_x, map_y = back.maps(self.points)
        part = cv2.remap(occluded.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        if sigma > 0.3:
            part = np.maximum(part, cv2.GaussianBlur(part, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_CONSTANT))
        out[lo[1] - y0 : hi[1] - y0, lo[0] - x0 : hi[0] - x0] = np.clip(part, 0.0, 1.0)
        return out

    # ---- helpers --------------------------------------------------------------------------------------------

    def _detect(self, image: np.ndarray, placed: _Placement) -> np.ndarray:
        if self.median is None:
            raise ValueError("OcclusionModel: call fit() before mask() or detect()")
        if not self.reliable:
            return np.zeros((self.size, self.size), bool)
        lab = self._normalise(image, placed)
        judged = self.usable & np.isfinite(lab[..., 0])
        diff = np.nan_to_num(lab) - self.median
        if judged.any():
            diff -= np.median(diff[judged], axis=0)  # the frame's overall colour shift (exposure, white balance)
        z2 = ((diff / self.spread) ** 2).sum(axis=2)
        d2 = (diff**2).sum(axis=2)
        hard = (judged & (z2 > self.z_threshold**2) & (d2 > self.min_delta**2)).astype(np.uint8)
        hard = cv2.morphologyEx(hard, cv2.MORPH_OPEN, _ellipse(1))
        hard = cv2.morphologyEx(hard, cv2.MORPH_CLOSE, _ellipse(1))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(hard, connectivity=8)
        # A blob is an occluder when it is big enough and a good part of it lies on stable skin: a blink, a
        # frown or hair swinging in at the face's edge stays within the features or the edge band.
        seeded = np.bincount(labels[self.seeds], minlength=n)
        area = stats[:, cv2.CC_STAT_AREA]
        big = (area >= self.min_area_px) & (seeded >= np.maximum(self.min_area_px / 2, self.seed_share * area))
        big[0] = False
        keep = big[labels]
        if keep.any():
            keep = cv2.dilate(keep.astype(np.uint8), _ellipse(1)).astype(bool) & self.region
        return keep

    def _placed(self, landmarks: np.ndarray) -> _Placement:
        """The working points as they lie in the frame: the outline from the landmarks, the square's corners
        and edge midpoints by the similarity from the working landmarks to these (and its scale)."""
        matrix = similarity(self.landmarks, landmarks)
        corners = apply(matrix, frame_points(self.size))
        scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
        return _Placement(np.vstack([face_outline(landmarks), corners]), scale)

    def _normalise(self, image: np.ndarray, placed: _Placement) -> np.ndarray:
        """The face warped into the working square, Lab float32, lightly blurred; NaN where outside the frame."""
        h, w = image.shape[:2]
        map_x, map_y = self.warp.maps(placed.points)  # frame px; the maps are affine in the source points
        outside = ~self.warp.inside | (map_x < 0) | (map_y < 0) | (map_x > w - 1) | (map_y > h - 1)
        lo = np.clip(np.floor(placed.points.min(axis=0)).astype(int) - 1, 0, [w - 1, h - 1])
        hi = np.clip(np.ceil(placed.points.max(axis=0)).astype(int) + 2, lo + 1, [w, h])
        # A face k >= 2 times larger than the working one is first area-averaged by k, so its skin texture
        # does not alias; an exact integer factor is OpenCV's fast path (the crop is trimmed to a multiple of
        # k, which loses at most k - 1 px at the square's outer edge, far outside the face).
        k = max(1, int(placed.scale))
        small = (hi - lo) // k
        k = k if (small >= 1).all() else 1
        crop = image[lo[1] : hi[1], lo[0] : hi[0]]
        if k > 1:
            crop = crop[: small[1] * k, : small[0] * k]
            crop = cv2.resize(crop, (int(small[0]), int(small[1])), interpolation=cv2.INTER_AREA)
        # frame px -> crop px: output pixel j of an area-averaging by k is centred on input k*j + (k-1)/2
        map_x = (map_x - np.float32(lo[0] + (k - 1) / 2)) / np.float32(k)
        map_y = (map_y - np.float32(lo[1] + (k - 1) / 2)) / np.float32(k)
        rgb = cv2.remap(crop, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
        if self.blur > 0:
            lab = cv2.GaussianBlur(lab, (0, 0), sigmaX=self.blur)
        lab[outside] = np.nan  # read from outside the frame (a face at its edge): no information
        return lab
