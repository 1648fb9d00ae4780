"""An identity's expression atlas: the same synthetic person in every expression its donors were photographed in.

An identity rendered from each donor's one most neutral photograph is a
neutral face; warped onto a frame's disgust or laughter it keeps smooth
cheeks and a closed nose, and reads as waxy. When the donors have more
photographs (the embedded default: 16 labelled expressions each; a user's
gallery: whatever is in each donor's folder), the atlas renders the
identity's own recipe (:mod:`facecast.cast.compose`: the same donors,
weights, shape edits and detail donors) once per expression:

* **Which photographs make an entry.** The identity's most weighted donor
  leads: each of its photographs other than its reference face is one entry,
  named by its file name (``expr_06_disgusted``). Every other donor of the
  recipe gives its photograph of the same name, or, when it has none, the one
  whose expression is nearest (:func:`facecast.geometry.landmarks.expression`).
* **Its shape.** Each donor's photograph is aligned onto its reference face on
  the points expressions barely move, and its landmarks' offsets from the
  reference are that donor's expression. The recipe blends the donors'
  offsets as it blends their shapes, and the blend is added to the
  identity's own shape: the identity's face, doing that expression.
* **Its texture.** :func:`facecast.cast.compose.render` with the donors'
  expression photographs in place of their reference faces.
* **Its check.** Every entry is embedded with dlib and kept only when it is
  at least ``cast.min_donor_distance`` from every donor, like the identity
  itself. Expressions lie nearer the donors than the face the search
  stopped at (which passed by a hair). And a blend of photographs that
  disagree (a hand on one donor's chin, one head bowed further than the
  others: :func:`facecast.cast.compose.disagreement` over
  :data:`GHOST_RATIO` times the donors' disagreement at rest) would ghost.
  An entry that fails either check is made again
  the other way (:func:`ratio_entry`): the identity's own face on the
  expression's shape, with only the donors' wrinkles and folds (their
  expression ratio images, on the forehead, around the eyes and on the
  nose, where no beard moves) multiplied in. One that still fails is dropped
  and recorded with its distance.

Photographs whose expression is within :data:`MIN_EXPRESSION` of the
reference (a second neutral portrait) add nothing and are not entries. The
swap stage picks and blends entries by the frame's expression.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

import numpy as np

from facecast.cast import compose, morph
from facecast.cast.synthesis import DonorFace, Identity, embed, reference_faces
from facecast.geometry.canonical import align, canonical_matrix, coverage
from facecast.geometry.filters import expression_ratio, expression_region, grey
from facecast.geometry.landmarks import (
    LEFT_BROW,
    LEFT_EYE,
    OUTER_LIPS,
    RIGHT_BROW,
    RIGHT_EYE,
    STABLE,
    expression,
    inter_ocular,
)
from facecast.geometry.transforms import apply, similarity

MIN_EXPRESSION = 0.03  # RMS offset (inter-ocular distances) below which a photograph is another neutral face
OK = "ok"
DROPPED = "dropped"
BLEND = "blend"
RATIO = "ratio"
RATIO_SIGMA = 0.01  # share of the inter-ocular distance: blur before a donor's expression ratio is taken
LIGHT_SIGMA = 0.3  # share of the inter-ocular distance: light differences between two photographs, divided out
GHOST_RATIO = 2.0  # an entry whose donors disagree this many times more than at rest ghosts: made the ratio way
RATIO_MARGIN = 0.08  # share of the inter-ocular distance around the eyes, brows and lips left out of the ratio


@dataclass(frozen=True)
class Entry:
    """One expression of an identity: its face in the canonical frame and how it was made and checked."""

    key: str
    method: str  # blend: the recipe on the donors' expression photographs; ratio: their folds on the identity
    face: np.ndarray  # (size, size, 3) RGB uint8
    landmarks: np.ndarray  # (68, 2) in the face image
    sources: dict[str, str]  # donor -> the gallery image it gave
    nearest_donor: str
    nearest_donor_distance: float
    status: str  # ok | dropped
    reason: str | None


def key_of(face: DonorFace, number: int) -> str:
    """An entry's name: the image's file name without its extension (``face<number>`` when it has none)."""
    stem = PurePosixPath(face.name).stem
    return stem or f"face{number}"


def _rms(offsets: np.ndarray) -> float:
    return float(np.sqrt((offsets**2).sum(axis=1).mean()))


@dataclass(frozen=True)
class _Aligned:
    face: DonorFace
    key: str
    landmarks: np.ndarray  # aligned onto the donor's aligned reference, on the stable points
    offsets: np.ndarray  # (68, 2): landmarks - the reference's
    expression: np.ndarray  # geometry.landmarks.expression of it against the reference


def _aligned(faces: Sequence[DonorFace], reference: np.ndarray, reference_image: np.ndarray) -> list[_Aligned]:
    """A donor's photographs other than its reference, each aligned onto the reference's aligned landmarks."""
    out = []
    for n, f in enumerate(faces):
        if f.image is reference_image:
            continue
        lm = apply(similarity(f.landmarks[STABLE], reference[STABLE]), f.landmarks)
        out.append(_Aligned(f, key_of(f, n), lm, lm - reference, expression(lm, reference)))
    return out


def aligned_faces(
    donors: Mapping[str, Sequence[DonorFace]],
    references: Mapping[str, tuple[np.ndarray, np.ndarray]],
    prepared: compose.Prepared,
    recipe: compose.Recipe,
) -> dict[str, list[_Aligned]]:
    """Per donor of the recipe, its photographs other than its reference face, aligned onto its prepared shape."""
    return {d: _aligned(donors[d], prepared.shapes[d], references[d][0]) for d in recipe.donor_ids}


def pose(
    chosen: Mapping[str, _Aligned],
    references: Mapping[str, tuple[np.ndarray, np.ndarray]],
    prepared: compose.Prepared,
    recipe: compose.Recipe,
) -> tuple[compose.Prepared, np.ndarray, dict[str, str]]:
    """The donors doing one expression: each donor's chosen photograph aligned into the canonical frame on the
    points expressions barely move (a donor missing from ``chosen`` lends its reference face), the (donors, 68, 2)
    landmark offsets of each from its reference, and the gallery image each gave ("" for a reference face)."""
    size = prepared.size
    images, shapes, covered, offsets, sources = {}, {}, {}, [], {}
    for d in recipe.donor_ids:
        a = chosen.get(d)
        if a is None:
            image, points = references[d]
            template, on, offset, source = prepared.shapes[d], None, np.zeros((68, 2)), ""
        else:
            image, points = a.face.image, a.face.landmarks
            template, on, offset, source = a.landmarks, STABLE, a.offsets, a.face.name
        images[d], shapes[d] = align(image, points, template, size, on)
        covered[d] = coverage(image.shape, points, template, size, on)
        offsets.append(offset)
        sources[d] = source
    posed = compose.Prepared(recipe.donor_ids, images, shapes, prepared.mean, size, covered)
    return posed, np.stack(offsets), sources


def has_expressions(donors: Mapping[str, Sequence[DonorFace]]) -> bool:
    """Whether these donors would give an atlas entry: one of them has a photograph beyond MIN_EXPRESSION of its
    reference face."""
    references = reference_faces(donors)
    for d, faces in donors.items():
        rest_image, rest = references[d]
        if any(f.image is not rest_image and _rms(expression(f.landmarks, rest)) >= MIN_EXPRESSION for f in faces):
            return True
    return False


def build(
    donors: Mapping[str, Sequence[DonorFace]],
    identity: Identity,
    size: int,
    avoid: Mapping[str, np.ndarray],
    min_donor_distance: float,
) -> list[Entry]:
    """The atlas of ``identity`` (made by :func:`facecast.cast.synthesis.synthesise` from these ``donors``).

    ``avoid``: donor_id -> embedding centroid of every donor an entry must be ``min_donor_distance`` from.
    Entries in the lead donor's photograph order; empty when the donors have one photograph each.
    """
    references = reference_faces(donors)
    prepared = compose.prepare(references, size)
    recipe = identity.recipe
    raw = compose.raw_shape(prepared, recipe)
    placed = canonical_matrix(raw, size)
    lead = recipe.donor_ids[int(np.argmax(recipe.overall))]
    faces = aligned_faces(donors, references, prepared, recipe)
    names = [str(d) for d in avoid]
    centroids = np.stack([np.asarray(avoid[d], np.float64) for d in names]) if names else np.zeros((0, 128))
    entries: list[Entry] = []
    at_rest = compose.disagreement(prepared, recipe)  # how much the donors disagree in the identity's own face
    used: set[str] = set()
    for lead_face in faces[lead]:
        if _rms(lead_face.expression) < MIN_EXPRESSION or lead_face.key in used:
            continue
        used.add(lead_face.key)
        chosen: dict[str, _Aligned] = {}
        for d in recipe.donor_ids:
            same = [a for a in faces[d] if a.key == lead_face.key]
            if same:
                chosen[d] = same[0]
            elif faces[d]:
                chosen[d] = min(faces[d], key=lambda a: _rms(a.expression - lead_face.expression))
        posed, offsets, sources = pose(chosen, references, prepared, recipe)
        landmarks = apply(placed, raw + compose.mix(recipe, offsets))
        image, landmarks, _ = compose.render(posed, recipe, landmarks)
        entry = _checked(lead_face.key, BLEND, image, landmarks, sources, names, centroids, min_donor_distance)
        if entry.status == OK and compose.disagreement(posed, recipe, landmarks) > GHOST_RATIO * at_rest:
            entry = replace(entry, status=DROPPED, reason="its donors disagree (a hand, a bowed head): ghosts")
        if entry.status != OK:  # a ghost, or too near a donor: the identity's own face with the expression's folds
            image = ratio_entry(identity, prepared, posed, recipe, landmarks)
            entry = _checked(lead_face.key, RATIO, image, landmarks, sources, names, centroids, min_donor_distance)
        entries.append(entry)
    return entries


def _checked(
    key: str,
    method: str,
    image: np.ndarray,
    landmarks: np.ndarray,
    sources: dict[str, str],
    names: list[str],
    centroids: np.ndarray,
    min_donor_distance: float,
) -> Entry:
    """The entry, kept when its dlib embedding is at least ``min_donor_distance`` from every donor centroid."""
    distances = np.linalg.norm(centroids - embed(image, landmarks), axis=1) if names else np.array([np.inf])
    j = int(np.argmin(distances))
    nearest, distance = (names[j] if names else ""), float(distances[j])
    ok = distance >= min_donor_distance
    reason = None if ok else f"nearest donor {nearest} at {distance:.3f} < min_donor_distance {min_donor_distance}"
    return Entry(key, method, image, landmarks, sources, nearest, distance, OK if ok else DROPPED, reason)


def ratio_entry(
    identity: Identity, prepared: compose.Prepared, posed: compose.Prepared, recipe: compose.Recipe, landmarks
) -> np.ndarray:
    """The identity's own face warped onto the expression's shape, with the donors' expression ratio images
    (each donor's expression photograph over its reference face, on the same shape; blended with the face
    weights) multiplied into its skin: the expression's wrinkles and folds without the donors' skin."""
    size = prepared.size
    warp = morph.Warp(compose.warp_points(landmarks, size), size)
    base = warp(identity.face, compose.warp_points(identity.landmarks, size)).astype(np.float32)
    iod = inter_ocular(landmarks)
    skin = morph.face_mask(landmarks, size) * expression_region(landmarks, size, size)
    for part in (LEFT_EYE, RIGHT_EYE, LEFT_BROW, RIGHT_BROW, OUTER_LIPS):
        skin = skin * (1.0 - morph.hull_mask(landmarks[part], size, size, grow=RATIO_MARGIN * iod))
    ratio = np.zeros((size, size), np.float32)
    for d, weight in zip(recipe.donor_ids, recipe.weights["face"]):
        now = grey(morph.to_uint8(warp(posed.images[d], compose.warp_points(posed.shapes[d], size))))
        rest = grey(morph.to_uint8(warp(prepared.images[d], compose.warp_points(prepared.shapes[d], size))))
        ratio += np.float32(weight) * expression_ratio(now, rest, skin, RATIO_SIGMA * iod, LIGHT_SIGMA * iod)
    gain = 1.0 + skin * (ratio - 1.0)
    out = base * gain[..., None]
    # outside the warped face (the frame's corners) the identity's own portrait stays
    out = np.where(warp.inside[..., None], out, identity.face.astype(np.float32))
    return morph.to_uint8(out)
