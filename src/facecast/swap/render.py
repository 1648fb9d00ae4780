"""Rendering one face of one frame as its cast identity.

Per face: the identity's shape is driven by the frame's expression and pose
(:mod:`facecast.swap.shape`); the identity's expression atlas entries nearest
the frame's expression (:mod:`facecast.swap.expressions`) are warped onto it
piecewise-affinely (:class:`facecast.geometry.warp.Warp`, one triangulation
per identity so the mesh never flips between frames) and blended; its colour
is moved to the frame's smoothed skin statistics (:mod:`facecast.swap.colour`)
and its low-frequency light to the frame's, and where the atlas lacks the
expression the frame's wrinkles and folds are carried over as an expression
ratio image (:mod:`facecast.swap.detail`); the frame's eyeballs and open-mouth interior are moved into the new lids and
lips by the same warp, driven from the original landmarks; the result is
blended (:mod:`facecast.swap.blend`) through the face mask
(:mod:`facecast.swap.masks`); and what lies in front of the face, hair over
the forehead (:mod:`facecast.swap.hair`) and whatever passes in front of it
(:mod:`facecast.swap.occlusion`), is put back from the frame. Everything
happens in a crop around the face.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facecast.geometry.filters import expression_ratio, expression_region, grey
from facecast.geometry.landmarks import inter_ocular, mouth_gap
from facecast.geometry.outline import contour
from facecast.geometry.warp import Warp
from facecast.params import SwapParams
from facecast.swap import blend, detail
from facecast.swap.colour import reinhard, skin_mask
from facecast.swap.detail import RestFace
from facecast.swap.hair import forehead_hair
from facecast.swap.identity import Expression, IdentityFace, warp_points
from facecast.swap.masks import cover_jaw, face_masks, feather_px, keep_mask
from facecast.swap.occlusion import OcclusionModel
from facecast.swap.quality import Quality, measure
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
    quality: Quality | None = None  # sharpness and seam, measured on the crop (None: too small to measure)
    hair_share: float = 0.0  # share of the face mask kept from the frame as hair over the forehead


def crop_box(outlines: list[np.ndarray], pad: float, width: int, height: int) -> tuple[int, int, int, int]:
    pts = np.vstack(outlines)
    x0, y0 = np.floor(pts.min(axis=0) - pad).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0) + pad).astype(int) + 1
    box = (max(0, x0), max(0, y0), min(width, x1), min(height, y1))
    if box[2] - box[0] < 2 or box[3] - box[1] < 2:
        raise RenderError("the face lies outside the frame")
    return box


@dataclass(frozen=True)
class Look:
    """What one face of one frame is rendered from: atlas entries with weights, and how much frame detail."""

    entries: tuple[tuple[Expression, float], ...]
    detail: float = 0.0  # 0..1: strength of the expression ratio image (swap.expression_detail)
    rest: RestFace | None = None  # the track's neutral face, for the ratio


def _textures(look: Look, warp: Warp) -> tuple[np.ndarray, np.ndarray]:
    """The look's entries warped onto the rendered geometry and blended, with their blended skin statistics."""
    face = np.zeros((warp.height, warp.width, 3), np.float32)
    stats = np.zeros(6)
    for entry, weight in look.entries:
        map_x, map_y = warp.maps(entry.points)
        face += np.float32(weight) * cv2.remap(
            entry.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        ).astype(np.float32)
        stats += weight * entry.stats
    return np.clip(face + 0.5, 0, 255).astype(np.uint8), stats


def render_face(
    out: np.ndarray,
    frame: np.ndarray,
    original: np.ndarray,
    shape: TrackShape,
    identity: IdentityFace,
    target_stats: np.ndarray,
    occlusion: OcclusionModel | None,
    params: SwapParams,
    look: Look | None = None,
) -> Rendered:
    """Render ``identity`` over the face with ``original`` landmarks; writes into ``out`` (``frame`` stays as read).

    ``look``: the atlas entries (default the identity's reference face) and the frame detail to render with."""
    look = look or Look(((identity.atlas[0] if identity.atlas else _reference(identity), 1.0),))
    iod = inter_ocular(original)
    driven = shape.drive(identity.landmarks, original)
    if not np.isfinite(driven).all() or iod < 1.0:
        raise RenderError("degenerate landmarks")
    driven = cover_jaw(driven, original, params.mask_margin * iod)
    pad = feather_px(original, params.feather) / 2 + 2  # half the soft edge lies outside the outlines
    x0, y0, x1, y1 = crop_box([contour(original), contour(driven)], pad, frame.shape[1], frame.shape[0])
    origin = np.array([x0, y0], np.float64)
    size = (y1 - y0, x1 - x0)
    local = driven - origin
    warp = Warp(warp_points(driven) - origin, size[1], size[0], triangles=identity.triangles)
    face, stats = _textures(look, warp)
    face = reinhard(face, stats, target_stats, max_ratio=MAX_GAIN)

    # The frame's own face, moved onto the rendered geometry: its light and expression detail, its eyeballs and
    # mouth interior (which go into the new lids and lips).
    map_x, map_y = warp.maps(warp_points(original))
    moved = cv2.remap(frame, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = warp.inside.astype(np.float32)
    if params.light == "shading":
        skin = skin_mask(local, size[1], size[0], beard_free=True).astype(np.float32) * inside
        face = detail.shading(face, moved, skin)
    if look.detail > 0 and look.rest is not None and look.rest.texture is not None:
        face = _expression_detail(face, moved, local, look, warp, iod, inside)

    # The interior is kept inside the rendered lips, so it is their opening that decides.
    mouth = params.keep_mouth and mouth_gap(driven) >= params.mouth_open_min
    if params.keep_eyes or mouth:
        keep = keep_mask(local, size, eyes=params.keep_eyes, mouth=mouth, inter_ocular=iod)[..., None]
        face = (moved * keep + face * (1.0 - keep) + 0.5).astype(np.uint8)

    hard, alpha = face_masks(original - origin, local, size, params.feather)
    hard[~warp.inside] = 0
    alpha[~warp.inside] = 0.0
    crop = out[y0:y1, x0:x1]
    result = blend.METHODS[params.blend](face, crop, hard, alpha)

    hair = 0.0
    if params.keep_hair:  # the frame's hair over the forehead stays in front of the new face
        kept = forehead_hair(frame[y0:y1, x0:x1], original - origin, alpha > 0) * alpha
        hair = float(kept.sum() / max(float(alpha.sum()), 1e-9))
        if hair > 0:
            k = kept[..., None]
            result = (frame[y0:y1, x0:x1] * k + result * (1.0 - k) + 0.5).astype(np.uint8)

    occluded = 0.0
    if occlusion is not None and occlusion.reliable:
        occ = occlusion.mask(frame, original, (x0, y0, x1, y1))
        occluded = float((occ * alpha).sum() / max(float(alpha.sum()), 1e-9))
        if occluded > 0:
            o = occ[..., None]
            result = (frame[y0:y1, x0:x1] * o + result * (1.0 - o) + 0.5).astype(np.uint8)
    quality = measure(frame[y0:y1, x0:x1], result, alpha, feather_px(original, params.feather))
    out[y0:y1, x0:x1] = result
    return Rendered((x0, y0, x1, y1), driven, occluded, bool(mouth), quality, hair)


def _expression_detail(
    face: np.ndarray, moved: np.ndarray, local: np.ndarray, look: Look, warp: Warp, iod: float, inside: np.ndarray
) -> np.ndarray:
    """``face`` with the frame's expression ratio image (its light removed) multiplied into the skin."""
    assert look.rest is not None and look.rest.texture is not None
    map_x, map_y = warp.maps(look.rest.points)
    rest = cv2.remap(look.rest.texture, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    skin = skin_mask(local, warp.width, warp.height).astype(np.float32) * inside
    skin = cv2.GaussianBlur(skin, (0, 0), sigmaX=max(0.5, 0.05 * iod)) * expression_region(
        local, warp.width, warp.height
    )
    ratio = expression_ratio(grey(moved), rest, skin, detail.RATIO_SIGMA * iod, detail.RATIO_LIGHT_SIGMA * iod)
    gain = 1.0 + look.detail * skin * (ratio - 1.0)
    return np.clip(face.astype(np.float32) * gain[..., None] + 0.5, 0, 255).astype(np.uint8)


def _reference(identity: IdentityFace) -> Expression:
    return Expression("reference", identity.image, identity.points, identity.stats, np.zeros((0, 2)))
