"""Who a face looks like: dlib's 128-D descriptor of a face, its distances to a gallery and the rank of the truth.

A swapped face is de-identified when dlib no longer takes it for the person it
replaced: its descriptor lies at least dlib's match threshold (about 0.6,
Euclidean) from that person's, and the person is not the nearest entry of a
gallery of everyone who could be recognised. Descriptors are the ones the
faces stage computes (``compute_face_descriptor(image, shape)``, no jitter,
chip padding 0.25), so they compare directly with the stored embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass

import dlib
import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist

from facecast.errors import InputError
from facecast.geometry.landmarks import checked_landmarks
from facecast.io.clips import check_rgb
from facecast.models.landmarks import fit_shape
from facecast.models.loaders import face_encoder
from facecast.tables import EMBEDDING_DIM


def _check_landmarks(landmarks: np.ndarray) -> np.ndarray:
    points = checked_landmarks(landmarks, "landmarks")
    span = points.max(axis=0) - points.min(axis=0)
    if span.min() < 1.0:
        raise ValueError(f"landmarks: span {span[0]:.2f} x {span[1]:.2f} px, no face can be aligned on them")
    return points


def descriptor(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(128,) float64: dlib's descriptor of the face of this RGB uint8 image that these 68 landmarks outline.

    The landmarks (iBUG order, pixels) are rounded to whole pixels, as dlib's
    shape predictor returns them, and boxed by their bounding rectangle; dlib
    aligns the face chip on the points alone."""
    image = check_rgb(image)
    points = _check_landmarks(landmarks)
    pixels = np.rint(points).astype(np.int64)
    (x0, y0), (x1, y1) = pixels.min(axis=0), pixels.max(axis=0)
    parts = dlib.points()
    for x, y in pixels:
        parts.append(dlib.point(int(x), int(y)))
    shape = dlib.full_object_detection(dlib.rectangle(int(x0), int(y0), int(x1), int(y1)), parts)
    return np.asarray(face_encoder().compute_face_descriptor(image, shape), dtype=np.float64)


def _check_vectors(name: str, vectors: np.ndarray) -> np.ndarray:
    array = np.asarray(vectors, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != EMBEDDING_DIM:
        raise ValueError(f"{name}: expected an (n, {EMBEDDING_DIM}) array of descriptors, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return array


def distances(queries: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """(n, m) float64 Euclidean distances from each of ``queries`` (n, 128) to each of ``gallery`` (m, 128)."""
    q = _check_vectors("queries", queries)
    g = _check_vectors("gallery", gallery)
    if len(q) == 0 or len(g) == 0:
        return np.zeros((len(q), len(g)), dtype=np.float64)
    return cdist(q, g, metric="euclidean")


def ranks(queries: np.ndarray, gallery: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(n,) int64: where the true entry ``gallery[truth[i]]`` ranks among all gallery entries by distance to ``queries[i]``.

    The rank is 1 + the number of gallery entries strictly nearer to the query
    than the true one: 1 when no one is nearer (ties count in the truth's
    favour), ``m`` when everyone is. A rank of 1 means a recogniser searching
    the gallery would name the true person."""
    d = distances(queries, gallery)
    t = np.asarray(truth)
    if t.shape != (len(d),):
        raise ValueError(f"truth: expected one gallery index per query, shape ({len(d)},), got {t.shape}")
    if len(t) and not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"truth: expected integer gallery indices, got dtype {t.dtype}")
    t = t.astype(np.int64)
    if len(t) and (t.min() < 0 or t.max() >= d.shape[1]):
        bad = int(t[(t < 0) | (t >= d.shape[1])][0])
        raise ValueError(f"truth: index {bad} is outside the gallery of {d.shape[1]} entries")
    own = d[np.arange(len(t)), t]
    return 1 + (d < own[:, None]).sum(axis=1).astype(np.int64)


def _box(box: tuple[float, float, float, float]) -> np.ndarray:
    values = np.asarray(box, np.float64)
    if values.shape != (4,) or not np.isfinite(values).all():
        raise ValueError(f"box must be four finite numbers (x0, y0, x1, y1), got {box!r}")
    if values[2] <= values[0] or values[3] <= values[1]:
        raise ValueError(f"box must have x1 > x0 and y1 > y0, got {tuple(values.tolist())}")
    return values


def refit(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """dlib's 68 landmarks fitted on the RGB uint8 ``image`` inside ``box`` (x0, y0, x1, y1, px): (68, 2) float64.

    The box is rounded to whole pixels, as the faces stage does, and may reach
    past the image's edges; dlib's points are whole pixels."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"image must be an RGB uint8 array of shape (h, w, 3), got {got}")
    if min(image.shape[:2]) == 0:
        raise ValueError(f"image is empty: shape {image.shape}")
    shape = fit_shape(np.ascontiguousarray(image), _box(box))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


@dataclass(frozen=True)
class ReferenceGallery:
    """Every original track centroid and donor centroid of the run: who a face could be recognised as."""

    names: list[str]  # "track <clip_id> <track_id>" (the first n_tracks rows), then "donor <donor_id>"
    embeddings: np.ndarray  # (m, 128)
    track_index: dict[tuple[str, int], int]  # (clip_id, track_id) -> row of its centroid
    n_tracks: int  # rows 0..n_tracks-1 are the original tracks: the people a leak would expose


def gallery(tracks: pd.DataFrame, donors: pd.DataFrame) -> ReferenceGallery:
    """The gallery of every original track centroid (``tracks``) and donor centroid (``donor_tracks``)."""
    names: list[str] = []
    embeddings: list[np.ndarray] = []
    index: dict = {}
    for r in tracks.itertuples(index=False):
        if r.embedding_centroid is not None:
            index[(r.clip_id, int(r.track_id))] = len(names)
            names.append(f"track {r.clip_id} {int(r.track_id)}")
            embeddings.append(np.asarray(r.embedding_centroid, np.float64))
    n_tracks = len(names)
    for r in donors.itertuples(index=False):
        if r.embedding_centroid is not None:
            names.append(f"donor {r.donor_id}")
            embeddings.append(np.asarray(r.embedding_centroid, np.float64))
    if not embeddings:
        raise InputError("no original track or donor has an embedding: nothing to measure de-identification against")
    return ReferenceGallery(names, np.stack(embeddings), index, n_tracks)
