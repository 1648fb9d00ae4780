"""Rendering one face of one frame as its cast identity.

Per face: the identity's shape is driven by the frame's expression and pose
(:mod:`facecast.swap.shape`); the identity's image is warped onto it
piecewise-affinely (:class:`facecast.geometry.warp.Warp`, one triangulation
per identity so the mesh never flips between frames); its colour is moved to
the frame's smoothed skin statistics (:mod:`facecast.swap.colour`); the
frame's eyeballs and open-mouth interior are moved into the new lids and
lips by the same warp, driven from the original landmarks; the result is
blended (:mod:`facecast.swap.blend`) through the face mask
(:mod:`facecast.swap.masks`); and whatever passes in front of the face
(:mod:`facecast.swap.occlusion`) is put back from the frame. Everything
happens in a crop around the face.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facecast.geometry.landmarks import inter_ocular, mouth_gap
from facecast.geometry.outline import contour
from facecast.geometry.warp import Warp
from facecast.params import SwapParams
from facecast.swap import blend
from facecast.swap.colour import reinhard
from facecast.swap.identity import IdentityFace, warp_points
from facecast.swap.masks import cover_jaw, face_masks, feather_px, keep_mask
from facecast.swap.occlusion import OcclusionModel
from facecast.swap.shape import TrackShape

MAX_GAIN = 1.5  # the colour transfer scales the identity's contrast by at most this (or its inverse)


class RenderError(ValueError):
    """A face could not be rendered (it lies outside the frame, or its geometry is degenerate)."""


@dataclass(frozen=True)
class Rendered:
    box: tuple[int, int, int, int]  # the crop that was rewritten, frame px
    landmarks: np.ndarray  # the 68 points the render was driven with, frame px
    occluded_share: float  # share of the face mask kept from the frame as occluder
    mouth_kept: bool


def crop_box(outlines: list[np.ndarray], pad: float, width: int, height: int) -> tuple[int, int, int, int]:
    pts = np.vstack(outlines)
    x0, y0 = np.floor(pts.min(axis=0) - pad).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0) + pad).astype(int) + 1
    box = (max(0, x0), max(0, y0), min(width, x1), min(height, y1))
    if box[2] - box[0] < 2 or box[3] - box[1] < 2:
        raise RenderError("the face lies outside the frame")
    return box


def render_face(
    out: np.ndarray,
    frame: np.ndarray,
    original: np.ndarray,
    shape: TrackShape,
    identity: IdentityFace,
    target_stats: np.ndarray,
    occlusion: OcclusionModel | None,
    params: SwapParams,
) -> Rendered:
    """Render ``identity`` over the face with ``original`` landmarks; writes into ``out`` (``frame`` stays as read)."""
    iod = inter_ocular(original)
    driven = shape.drive(identity.landmarks, original)
    if not np.isfinite(driven).all() or iod < 1.0:
        raise RenderError("degenerate landmarks")
    driven = cover_jaw(driven, original, params.mask_margin * iod)
    pad = feather_px(original, params.feather) / 2 + 2  # half the soft edge lies outside the outlines
    x0, y0, x1, y1 = crop_box([contour(original), contour(driven)], pad, frame.shape[1], frame.shape[0])
    origin = np.array([x0, y0], np.float64)
    size = (y1 - y0, x1 - x0)
    warp = Warp(warp_points(driven) - origin, size[1], size[0], triangles=identity.triangles)
    map_x, map_y = warp.maps(identity.points)
    face = cv2.remap(identity.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    face = reinhard(face, identity.stats, target_stats, max_ratio=MAX_GAIN)

    # The interior is kept inside the rendered lips, so it is their opening that decides.
    mouth = params.keep_mouth and mouth_gap(driven) >= params.mouth_open_min
    if params.keep_eyes or mouth:
        # The frame's own face, moved onto the rendered geometry: its eyeballs and mouth interior go into the new lids and lips.
        map_x, map_y = warp.maps(warp_points(original))
        moved = cv2.remap(frame, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        keep = keep_mask(driven - origin, size, eyes=params.keep_eyes, mouth=mouth, inter_ocular=iod)[..., None]
        face = (moved * keep + face * (1.0 - keep) + 0.5).astype(np.uint8)

    hard, alpha = face_masks(original - origin, driven - origin, size, params.feather)
    hard[~warp.inside] = 0
    alpha[~warp.inside] = 0.0
    crop = out[y0:y1, x0:x1]
    result = blend.METHODS[params.blend](face, crop, hard, alpha)

    occluded = 0.0
    if occlusion is not None and occlusion.reliable:
        occ = occlusion.mask(frame, original, (x0, y0, x1, y1))
        occluded = float((occ * alpha).sum() / max(float(alpha.sum()), 1e-9))
        if occluded > 0:
            o = occ[..., None]
            result = (frame[y0:y1, x0:x1] * o + result * (1.0 - o) + 0.5).astype(np.uint8)
    out[y0:y1, x0:x1] = result
    return Rendered((x0, y0, x1, y1), driven, occluded, bool(mouth))
