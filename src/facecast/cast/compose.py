"""One candidate identity: a recipe drawn over the donors, and the face it renders.

A :class:`Recipe` says which donors make the face and how:

* convex weights over its donors for the face as a whole and, separately,
  for each feature (``eyes``: brows and eyes, ``nose``, ``mouth``), so the
  features come from different blends;
* ``shape_factor`` f < 0: the blended shape is reflected through the donors'
  mean shape, ``mean + f * (blend - mean)`` (an anti-caricature: the
  proportions that made the donors recognisable are turned the other way,
  within their own range of variation);
* ``away``: the shape pushed further from one donor's shape,
  ``shape + away * (shape - donor)``;
* ``edits``: feature proportions none of the donors has
  (:mod:`facecast.cast.reshape`).

:func:`render` warps every donor of the recipe piecewise-affinely onto that
shape (:class:`facecast.cast.morph.Warp`), together with the part of the
frame its photo covers; where a photo does not reach (a tightly framed
portrait), the texture is filled from the other donors' real pixels, else
with a plain background colour, never with the photo's repeated edge pixels
(:func:`facecast.cast.morph.fill_uncovered`). It blends the textures with the
face weights, and in each feature's feathered region replaces the fine detail
of the face blend by the detail of the feature's own blend while the face
blend's low frequencies (skin colour, shading) stay: features are composed
without seams or ghosts. (Taking each part's fine detail from its most
weighted donor alone, for a sharper face, was tried and left: it brought
swapped faces nearer their own person, since each identity's skin was then
one donor's.) Outside the feathered face mask, the head (hair,
ears, neck) is one donor's, warped to the same shape, so the image reads as a
whole portrait: the donor whose photo covers the most of the frame, among
those the largest face weight (:func:`head_donor`), so a tightly framed
portrait does not leave a head cut off and patched; the swap stage uses only
what is inside the mask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from facecast.cast import morph, reshape
from facecast.geometry.canonical import align, canonical_matrix, coverage, mean_shape
from facecast.geometry.landmarks import BROWS, EYES, MOUTH, NOSE, indices, inter_ocular
from facecast.geometry.outline import face_outline, frame_points
from facecast.geometry.transforms import apply

# Landmarks of each composed feature (iBUG 68): brows + eyes, nose, mouth. The rest is the face blend.
FEATURES: dict[str, tuple[int, ...]] = {
    "eyes": (*indices(BROWS), *indices(EYES)),
    "nose": indices(NOSE),
    "mouth": indices(MOUTH),
}
PARTS = ("face", *FEATURES)
FEATURE_GROW = 0.18  # a feature's region: its landmarks' hull grown by this much of the inter-ocular distance
DETAIL_SIGMA = 0.12  # detail = texture minus its Gaussian blur of this sigma (share of the inter-ocular distance)
CONCENTRATION = 0.7  # Dirichlet concentration of fresh weights: < 1 favours a few dominant donors per part
SHAPE_FACTORS = (-1.2, -0.4)  # range of the anti-caricature factor f
# Mutation step sizes (see mutate):
SWAP_DONOR = 0.2  # chance that a mutation replaces one donor by an unused one
MUTATE_WEIGHTS = 0.5  # log-normal sigma of the weight rescaling
MUTATE_FACTOR = 0.15
MUTATE_EDITS = 0.3
AWAY_WEIGHT = (0.4, 0.9)  # a mutation keeps this share (uniform draw) of the nearest donor's weights
AWAY_STEP = 0.15  # a mutation pushes the shape up to this much further from the nearest donor's shape
AWAY_MAX = 0.5
GHOST_PERCENTILE = 95.0  # disagreement: the share of the face's pixels that may disagree more than the figure


@dataclass(frozen=True)
class Prepared:
    """Donors aligned into the canonical frame: their images, landmarks, and their Procrustes mean shape.

    ``coverage`` is, per donor, the float32 share of each pixel of its image
    that lies inside its photo (0 where the image only repeats the photo's edge).
    """

    ids: tuple[str, ...]
    images: dict[str, np.ndarray]
    shapes: dict[str, np.ndarray]
    mean: np.ndarray
    size: int
    coverage: dict[str, np.ndarray]


@dataclass(frozen=True)
class Recipe:
    """One candidate (see the module docstring); weights are per part, each over ``donor_ids``."""

    donor_ids: tuple[str, ...]
    weights: dict[str, np.ndarray]
    shape_factor: float
    edits: np.ndarray  # one amount in [-1, 1] per name in reshape.NAMES
    away_from: str | None = None
    away: float = 0.0

    @property
    def overall(self) -> np.ndarray:
        """Each donor's share of the identity: its weight averaged over the parts (sums to 1)."""
        return np.mean([self.weights[p] for p in PARTS], axis=0)

    def describe(self) -> dict:
        """The recipe as plain JSON-ready values."""
        return {
            "donor_ids": list(self.donor_ids),
            "weights": {p: [round(float(w), 6) for w in self.weights[p]] for p in PARTS},
            "shape_factor": round(self.shape_factor, 6),
            "edits": {n: round(float(a), 6) for n, a in zip(reshape.NAMES, self.edits)},
            "away_from": self.away_from,
            "away": round(self.away, 6),
        }


def prepare(references: Mapping[str, tuple[np.ndarray, np.ndarray]], size: int) -> Prepared:
    """Align each donor's reference face (RGB image, 68 landmarks) to the donors' mean shape in a ``size`` frame."""
    ids = tuple(sorted(references))
    mean = mean_shape([references[d][1] for d in ids], size)
    images, shapes, covered = {}, {}, {}
    for d in ids:
        image, landmarks = references[d]
        images[d], shapes[d] = align(image, landmarks, mean, size)
        covered[d] = coverage(image.shape, landmarks, mean, size)
    return Prepared(ids, images, shapes, mean, size, covered)


def draw(prepared: Prepared, k: int, rng: np.random.Generator) -> Recipe:
    """A fresh random recipe over ``k`` of the prepared donors."""
    chosen = tuple(str(d) for d in rng.choice(np.array(prepared.ids), size=k, replace=False))
    weights = {p: rng.dirichlet(np.full(k, CONCENTRATION)) for p in PARTS}
    factor = float(rng.uniform(*SHAPE_FACTORS))
    edits = rng.uniform(-1.0, 1.0, len(reshape.NAMES))
    return Recipe(chosen, weights, factor, edits)


def mutate(prepared: Prepared, recipe: Recipe, nearest: str | None, rng: np.random.Generator) -> Recipe:
    """A recipe near ``recipe``, moved away from the donor it came nearest to.

    Weights are rescaled log-normally, the factor and edits nudged, and maybe
    one donor swapped for an unused one; then ``nearest``, when it is one of
    the recipe's donors, loses part of its weight in every part, and when it
    is one of the prepared donors, the shape is pushed further from its shape.
    """
    ids = list(recipe.donor_ids)
    spare = [d for d in prepared.ids if d not in ids]
    weights = {p: w.copy() for p, w in recipe.weights.items()}
    if spare and rng.random() < SWAP_DONOR:
        slot = int(rng.integers(len(ids)))
        ids[slot] = str(rng.choice(np.array(spare)))
        for p in PARTS:
            weights[p][slot] = rng.dirichlet(np.full(len(ids), CONCENTRATION))[slot]
    for p in PARTS:
        w = weights[p] * np.exp(MUTATE_WEIGHTS * rng.standard_normal(len(ids))) + 1e-9
        weights[p] = w / w.sum()
    if nearest in ids:
        slot = ids.index(nearest)
        for p in PARTS:
            weights[p][slot] *= rng.uniform(*AWAY_WEIGHT)
            weights[p] /= weights[p].sum()
    lo, hi = SHAPE_FACTORS
    factor = float(np.clip(recipe.shape_factor + MUTATE_FACTOR * rng.standard_normal(), lo, hi))
    edits = np.clip(recipe.edits + MUTATE_EDITS * rng.standard_normal(len(recipe.edits)), -1.0, 1.0)
    away_from, away = recipe.away_from, recipe.away
    if nearest in prepared.shapes:
        step = float(rng.uniform(0.0, AWAY_STEP))
        away = min(AWAY_MAX, (away if away_from == nearest else 0.0) + step)
        away_from = nearest
    return Recipe(tuple(ids), weights, factor, edits, away_from, away)


def mix(recipe: Recipe, stack: np.ndarray) -> np.ndarray:
    """Per-donor (k, 68, 2) points blended as the recipe blends shapes: the face weights, each feature's own."""
    out = np.tensordot(recipe.weights["face"], stack, axes=1)
    for part, idx in FEATURES.items():
        out[list(idx)] = np.tensordot(recipe.weights[part], stack[:, list(idx)], axes=1)
    return out


def raw_shape(prepared: Prepared, recipe: Recipe) -> np.ndarray:
    """The recipe's 68 landmarks in the donors' aligned frame, before :func:`shape` centres them."""
    out = mix(recipe, np.stack([prepared.shapes[d] for d in recipe.donor_ids]))
    out = prepared.mean + recipe.shape_factor * (out - prepared.mean)
    if recipe.away_from is not None:
        out = out + recipe.away * (out - prepared.shapes[recipe.away_from])
    return reshape.reshape(out, recipe.edits)


def shape(prepared: Prepared, recipe: Recipe) -> np.ndarray:
    """The recipe's 68 landmarks in the canonical frame."""
    out = raw_shape(prepared, recipe)
    return apply(canonical_matrix(out, prepared.size), out)


def warp_points(landmarks: np.ndarray, size: int) -> np.ndarray:
    """The points a face is warped by: 68 landmarks, forehead points, frame corners and edge midpoints."""
    return np.vstack([face_outline(landmarks), frame_points(size)])


def feature_region(landmarks: np.ndarray, idx: Sequence[int], size: int) -> np.ndarray:
    """Float32 (size, size, 1) feathered region of one feature: its landmarks' hull, grown by FEATURE_GROW IOD."""
    grow = FEATURE_GROW * inter_ocular(landmarks)
    return morph.hull_mask(landmarks[list(idx)], size, size, grow=grow, sigma=grow / 2)[..., None]


def head_donor(covered: Sequence[np.ndarray], weights: np.ndarray) -> int:
    """The donor whose head surrounds the face: the most of the frame covered by its photo (to the percent),
    then the largest face weight."""
    shares = [round(float(np.mean(c)), 2) for c in covered]
    return max(range(len(shares)), key=lambda i: (shares[i], float(weights[i])))


def _warped(
    prepared: Prepared, recipe: Recipe, landmarks: np.ndarray | None
) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """The shape, and every donor's texture (float32, uncovered parts filled) and coverage warped onto it."""
    size = prepared.size
    landmarks = shape(prepared, recipe) if landmarks is None else np.asarray(landmarks, np.float64)
    warp = morph.Warp(warp_points(landmarks, size), size)
    sources = [warp_points(prepared.shapes[d], size) for d in recipe.donor_ids]
    textures = [warp(prepared.images[d], s).astype(np.float32) for d, s in zip(recipe.donor_ids, sources)]
    covered = [warp(prepared.coverage[d], s) for d, s in zip(recipe.donor_ids, sources)]
    return landmarks, morph.fill_uncovered(textures, covered, recipe.weights["face"]), covered


def disagreement(prepared: Prepared, recipe: Recipe, landmarks: np.ndarray | None = None) -> float:
    """How much the recipe's donors disagree inside the face, in grey levels: per pixel, the weighted mean
    distance of each donor's low frequencies (its own mean colour removed) from their blend's; of those, the
    :data:`GHOST_PERCENTILE` th percentile, so a ghost in one part of the face counts. What blending would
    ghost: a hand on one donor's chin, a head bowed further than the others."""
    landmarks, textures, _ = _warped(prepared, recipe, landmarks)
    mask = morph.face_mask(landmarks, prepared.size) > 0.5
    sigma = DETAIL_SIGMA * inter_ocular(landmarks)
    lows = []
    for t in textures:
        low = cv2.GaussianBlur(t, (0, 0), sigmaX=sigma)[mask]
        lows.append(low - low.mean(axis=0))
    weights = recipe.weights["face"]
    mixed = sum(float(w) * low for w, low in zip(weights, lows))
    per_pixel = sum(float(w) * np.abs(low - mixed).mean(axis=1) for w, low in zip(weights, lows))
    return float(np.percentile(per_pixel, GHOST_PERCENTILE))


def render(
    prepared: Prepared, recipe: Recipe, landmarks: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The recipe's face: RGB uint8 (size, size, 3), its 68 landmarks, and its face mask (uint8, 255 inside).

    ``landmarks``: the shape to render the donors' textures on (default the recipe's own, :func:`shape`); the
    expression atlas renders the same recipe on the identity's shape in each expression.
    """
    size = prepared.size
    landmarks, textures, covered = _warped(prepared, recipe, landmarks)
    sigma = DETAIL_SIGMA * inter_ocular(landmarks)

    def detail(image: np.ndarray) -> np.ndarray:
        return image - cv2.GaussianBlur(image, (0, 0), sigmaX=sigma)

    face = morph.blend(textures, recipe.weights["face"])
    face_detail = detail(face)
    for part, idx in FEATURES.items():
        region = feature_region(landmarks, idx, size)
        face = face + region * (detail(morph.blend(textures, recipe.weights[part])) - face_detail)
    mask = morph.face_mask(landmarks, size)[..., None]
    head = textures[head_donor(covered, recipe.weights["face"])]
    out = mask * face + (1.0 - mask) * head
    return morph.to_uint8(out), landmarks, morph.to_uint8(mask[..., 0] * 255.0)
