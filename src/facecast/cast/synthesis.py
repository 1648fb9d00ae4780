"""Synthetic identities morphed from donor faces, far from every donor and from each other.

Method ``morph`` (in the spirit of k-Same-M: faces are blended on a shape and
texture model, not as pixels, so nothing ghosts):

1. *Prepare.* Each donor's most frontal, most neutral face
   (:func:`facecast.geometry.landmarks.frontality`, and the least expression
   against the donor's median shape when it has three faces or more) is similarity-aligned to the
   donors' own Procrustes mean shape in the canonical frame.
2. *Candidates.* A :class:`facecast.cast.compose.Recipe` blends ``k`` donors
   with random convex weights, separately for the face and for each feature,
   reflects the shape through the donors' mean (anti-caricature), edits the
   feature proportions, and renders the face (:mod:`facecast.cast.compose`).
3. *Check.* The face is embedded with dlib as the faces stage embeds a face
   (:func:`embed`). It is accepted when its distance to every donor centroid
   reaches ``min_donor_distance`` and to every identity made before
   ``min_identity_distance``.
4. *Search.* Blends of few donors stay close to them, so a rejected
   candidate is not simply redrawn: the next attempt mutates the best recipe
   so far (:func:`facecast.cast.compose.mutate`: weights, shape factor and
   edits nudged, the nearest donor's weight cut and the shape pushed away
   from it), a hill climb on the smaller of the two distance margins; after
   ``RESTART_AFTER`` attempts without progress a fresh recipe is drawn. Each
   attempt is recorded with the reason it was rejected; after
   ``max_attempts`` :class:`SynthesisFailed` carries them and the best
   candidate.

Everything random comes from the ``rng`` passed in: the same rng state,
donors and arguments give a byte-identical identity (OpenCV's thread count
does not change the result).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from facecast.cast import compose
from facecast.geometry.canonical import MIN_SIZE
from facecast.geometry.landmarks import STABLE, expression, frontality
from facecast.geometry.transforms import apply, similarity

METHODS = ("morph",)
RESTART_AFTER = 12  # attempts without a better margin before the search draws a fresh recipe


class SynthesisError(ValueError):
    """The donors or arguments given cannot make an identity; the message says which and why."""


@dataclass(frozen=True)
class DonorFace:
    """One analysed face of a donor: RGB uint8 image, 68 landmarks (px) and the 128-D dlib embedding."""

    image: np.ndarray
    landmarks: np.ndarray
    embedding: np.ndarray
    name: str = ""  # the image's path in the gallery (<donor>/<file>): its file name names its expression atlas entry


@dataclass(frozen=True)
class Attempt:
    """One candidate of the search and why it was rejected (``reason`` is None for the accepted one)."""

    number: int
    nearest_donor: str
    nearest_donor_distance: float
    nearest_identity: str | None
    nearest_identity_distance: float | None
    reason: str | None
    refused: bool = False  # met the distance rules, refused by ``accept`` (the reason says why)


@dataclass(frozen=True)
class Identity:
    """A synthetic face in the canonical frame, what it was made of, and how far it is from everyone."""

    face: np.ndarray  # (size, size, 3) RGB uint8
    landmarks: np.ndarray  # (68, 2) float64, in the face image
    mask: np.ndarray  # (size, size) uint8, 255 inside the face, feathered to 0 at its outline
    method: str
    recipe: compose.Recipe
    embedding: np.ndarray  # (128,) float32 dlib descriptor of ``face``
    nearest_donor: str
    nearest_donor_distance: float
    nearest_identity: str | None  # None when no identity was made before
    nearest_identity_distance: float | None
    attempts: tuple[Attempt, ...] = field(default=())

    @property
    def donor_ids(self) -> tuple[str, ...]:
        return self.recipe.donor_ids

    @property
    def weights(self) -> tuple[float, ...]:
        """Each donor's overall share (averaged over face and features), summing to 1."""
        return tuple(float(w) for w in self.recipe.overall)


class SynthesisFailed(RuntimeError):
    """No attempt met the distance rules; ``attempts`` says why each failed, ``best`` is the closest to passing."""

    def __init__(self, message: str, attempts: Sequence[Attempt], best: Identity):
        super().__init__(message)
        self.attempts = tuple(attempts)
        self.best = best


def embed(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The 128-D dlib descriptor (float32) of the face at ``landmarks``, computed as the faces stage does.

    The 68-point predictor is fitted inside the landmarks' bounding box and the
    fitted shape aligns the 150x150 chip the ResNet embeds
    (:mod:`facecast.models.landmarks`, :mod:`facecast.models.embedding`). The faces
    stage fits inside an MTCNN box instead.
    """
    from facecast.geometry.boxes import points_box
    from facecast.models.embedding import embed_chips, face_chips
    from facecast.models.landmarks import fit_shape

    rgb = np.ascontiguousarray(image, dtype=np.uint8)
    shape = fit_shape(rgb, points_box(np.asarray(landmarks, np.float32)))
    return embed_chips(face_chips(rgb, [shape]))[0]


def centroids(donors: Mapping[str, Sequence[DonorFace]]) -> dict[str, np.ndarray]:
    """Each donor's mean embedding over its faces."""
    return {d: np.mean([np.asarray(f.embedding, np.float64) for f in faces], axis=0) for d, faces in donors.items()}


def reference_faces(donors: Mapping[str, Sequence[DonorFace]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each donor's most frontal and neutral face (image, landmarks); SynthesisError names unusable donors."""
    out, problems = {}, []
    for d in sorted(donors):
        usable = []
        for n, f in enumerate(donors[d]):
            lm = np.asarray(f.landmarks, np.float64)
            img = np.asarray(f.image)
            if lm.shape != (68, 2) or not np.isfinite(lm).all():
                problems.append(f"{d} face {n}: landmarks must be a finite (68, 2) array, got shape {lm.shape}")
            elif img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
                problems.append(f"{d} face {n}: image must be RGB uint8 (H, W, 3), got {img.dtype} {img.shape}")
            elif np.asarray(f.embedding).shape != (128,):
                problems.append(f"{d} face {n}: embedding must have 128 values, got shape {np.shape(f.embedding)}")
            else:
                usable.append((img, lm))
        if not donors[d]:
            problems.append(f"{d}: no face")
        if usable:
            out[d] = min(usable, key=_neutrality([lm for _, lm in usable]))
    if problems:
        raise SynthesisError("donor faces that cannot be used: " + "; ".join(problems))
    return out


def _neutrality(shapes: Sequence[np.ndarray]):
    """The key a donor's reference face is chosen by, among its faces of these landmarks: :func:`frontality` plus,
    with three faces or more, the RMS of its expression against the donor's median shape (a closed-lip smile or a
    wink is not neutral), so a donor photographed in many expressions lends the face it wears at rest."""
    median = None
    if len(shapes) >= 3:
        first = np.asarray(shapes[0], np.float64)
        median = np.median([apply(similarity(s[STABLE], first[STABLE]), s) for s in shapes], axis=0)

    def key(face: tuple[np.ndarray, np.ndarray]) -> float:
        lm = face[1]
        away = 0.0 if median is None else float(np.sqrt((expression(lm, median) ** 2).sum(axis=1).mean()))
        return frontality(lm) + away

    return key


def _nearest(embedding: np.ndarray, others: Mapping[str, np.ndarray]) -> tuple[str | None, float | None]:
    if not others:
        return None, None
    names = list(others)
    d = np.linalg.norm(np.stack([np.asarray(others[n], np.float64) for n in names]) - embedding, axis=1)
    j = int(np.argmin(d))
    return names[j], float(d[j])


def _margin(identity: Identity, min_donor_distance: float, min_identity_distance: float) -> float:
    """How far a candidate is beyond the distance rules (negative: short of one): the smaller of its two margins."""
    other = identity.nearest_identity_distance
    identity_margin = np.inf if other is None else other - min_identity_distance
    return min(identity.nearest_donor_distance - min_donor_distance, identity_margin)


def _check(
    embedding: np.ndarray,
    number: int,
    donors: Mapping[str, np.ndarray],
    identities: Mapping[str, np.ndarray],
    min_donor_distance: float,
    min_identity_distance: float,
) -> Attempt:
    donor, donor_dist = _nearest(embedding, donors)
    other, other_dist = _nearest(embedding, identities)
    if donor is None or donor_dist is None:
        raise SynthesisError("an identity needs at least one donor to be measured against")
    reasons = []
    if donor_dist < min_donor_distance:
        reasons.append(f"nearest donor {donor} at {donor_dist:.3f} < min_donor_distance {min_donor_distance}")
    if other_dist is not None and other_dist < min_identity_distance:
        reasons.append(f"nearest identity {other} at {other_dist:.3f} < min_identity_distance {min_identity_distance}")
    return Attempt(number, donor, donor_dist, other, other_dist, "; ".join(reasons) or None)


def synthesise(
    donors: Mapping[str, Sequence[DonorFace]],
    k: int,
    rng: np.random.Generator,
    *,
    avoid: Mapping[str, np.ndarray] | None = None,
    identities: Mapping[str, np.ndarray] | None = None,
    size: int = 512,
    min_donor_distance: float = 0.6,
    min_identity_distance: float = 0.6,
    max_attempts: int = 200,
    method: str = "morph",
    accept: Callable[[np.ndarray, np.ndarray], str | None] | None = None,
) -> Identity:
    """Make one synthetic identity from ``k`` of ``donors`` (donor_id -> that donor's analysed faces).

    ``donors`` are the donors the identity may be made of (its quota cell);
    ``avoid`` maps donor_id -> embedding centroid of every donor it must not
    resemble (the whole gallery; the centroids of ``donors`` are always
    added). ``identities`` maps identity_id -> embedding of the identities
    made before. ``accept(face, landmarks)`` is asked about a candidate that
    meets both rules: a reason it must be rejected (its measured attributes
    contradict its declared ones, say), or None. A candidate it rejects is
    recorded with that reason and does not lead the search. Raises
    :class:`SynthesisError` for unusable donors or arguments and
    :class:`SynthesisFailed` when no attempt is accepted.
    """
    if method not in METHODS:
        raise SynthesisError(f"unknown synthesis method '{method}' (known: {', '.join(METHODS)})")
    if not 1 <= k <= len(donors):
        raise SynthesisError(f"k must be between 1 and the number of donors given ({len(donors)}), got {k}")
    if size < MIN_SIZE:
        raise SynthesisError(f"size must be at least {MIN_SIZE} px, got {size}")
    if max_attempts < 1:
        raise SynthesisError(f"max_attempts must be at least 1, got {max_attempts}")
    prepared = compose.prepare(reference_faces(donors), size)
    keep_from = {**(avoid or {}), **centroids(donors)}
    made = dict(identities or {})
    attempts: list[Attempt] = []
    best: Identity | None = None
    best_margin = -np.inf
    refusals: list[str] = []  # why accept() refused candidates that met both distance rules
    parent: tuple[compose.Recipe, float, str] | None = None  # recipe the search climbs from, its margin, nearest donor
    stale = 0
    for number in range(1, max_attempts + 1):
        if parent is None or stale >= RESTART_AFTER:
            recipe, parent, stale = compose.draw(prepared, k, rng), None, 0
        else:
            recipe = compose.mutate(prepared, parent[0], parent[2], rng)
        face, landmarks, mask = compose.render(prepared, recipe)
        embedding = embed(face, landmarks)
        attempt = _check(embedding, number, keep_from, made, min_donor_distance, min_identity_distance)
        refused = None
        if attempt.reason is None and accept is not None:
            refused = accept(face, landmarks)
            attempt = replace(attempt, reason=refused, refused=refused is not None)
            if refused:
                refusals.append(refused)
        attempts.append(attempt)
        candidate = Identity(
            face=face,
            landmarks=landmarks,
            mask=mask,
            method=method,
            recipe=recipe,
            embedding=embedding,
            nearest_donor=attempt.nearest_donor,
            nearest_donor_distance=attempt.nearest_donor_distance,
            nearest_identity=attempt.nearest_identity,
            nearest_identity_distance=attempt.nearest_identity_distance,
        )
        if attempt.reason is None:
            return replace(candidate, attempts=tuple(attempts))
        margin = -np.inf if refused else _margin(candidate, min_donor_distance, min_identity_distance)
        if parent is None or margin > parent[1]:
            parent, stale = (recipe, margin, attempt.nearest_donor), 0
        else:
            stale += 1
        if best is None or margin > best_margin:
            best, best_margin = candidate, margin
    if best is None:
        raise SynthesisError(f"max_attempts must be at least 1, got {max_attempts}")
    best = replace(best, attempts=tuple(attempts))
    closest = f"nearest donor {best.nearest_donor} at {best.nearest_donor_distance:.3f}"
    if best.nearest_identity is not None:
        closest += f", nearest identity {best.nearest_identity} at {best.nearest_identity_distance:.3f}"
    raise SynthesisFailed(
        f"no identity made of donors {', '.join(prepared.ids)} met min_donor_distance {min_donor_distance} and "
        f"min_identity_distance {min_identity_distance} in {max_attempts} attempts; the best had {closest}"
        + (f"; {len(refusals)} that met them were refused, the last: {refusals[-1]}" if refusals else ""),
        attempts,
        best,
    )
