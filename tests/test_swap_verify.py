"""swap.verify: a swapped face still recognisable as its own person is obscured by swap, measured as the gate measures.

Real faces (openpeople portraits) stand in for rendered ones, so dlib sees real people: a face left as its person
is caught by distance, a face whose person is farther than dlib's threshold but still the nearest of the gallery by
rank, and a face of somebody else passes.
"""

from __future__ import annotations

import dlib
import numpy as np
import pytest

from facecast.models.recognition import ReferenceGallery, descriptor, refit
from facecast.reasons import SwapReason
from facecast.sample.people import subjects
from facecast.swap.verify import Verifier


@pytest.fixture(scope="module")
def portraits() -> list[tuple[np.ndarray, tuple[float, float, float, float], np.ndarray]]:
    """(image, face box, descriptor) of two different people."""
    out = []
    for person in subjects(2):
        image = np.ascontiguousarray(person.image("studio_portrait"))
        found = dlib.get_frontal_face_detector()(image, 0)
        assert len(found) == 1
        r = found[0]
        box = (float(r.left()), float(r.top()), float(r.right() + 1), float(r.bottom() + 1))
        out.append((image, box, descriptor(image, refit(image, box))))
    return out


def gallery(*embeddings: np.ndarray) -> ReferenceGallery:
    """The first entry is track 0 of clip ``c``; the others are other people."""
    names = [f"track c {i}" for i in range(len(embeddings))]
    return ReferenceGallery(names, np.stack(embeddings), {("c", i): i for i in range(len(embeddings))}, len(names))


def test_a_face_left_as_its_person_is_caught_by_distance(portraits):
    (a_image, a_box, a), (_, _, b) = portraits
    problem = Verifier(gallery(a, b), "c", 0.6).problem(a_image, a_box, 0)
    assert problem is not None and problem.kind == SwapReason.NOT_DEIDENTIFIED
    assert problem.detail.startswith("dlib distance 0.0") and "under gate.deid.min_distance 0.6" in problem.detail


def test_a_face_whose_person_is_still_the_nearest_is_caught_by_rank(portraits):
    (a_image, a_box, a), _ = portraits
    direction = np.random.default_rng(0).normal(size=a.shape)
    direction /= np.linalg.norm(direction)
    own, stranger = a + 0.65 * direction, a - 0.9 * direction  # own beyond 0.6, and still nearer than anyone
    problem = Verifier(gallery(own, stranger), "c", 0.6).problem(a_image, a_box, 0)
    assert problem is not None and problem.kind == SwapReason.NOT_DEIDENTIFIED
    assert "still the nearest of 2 originals and donors" in problem.detail


def test_somebody_else_passes_and_an_unmeasured_track_is_left_to_the_gate(portraits):
    (_, _, a), (b_image, b_box, b) = portraits
    assert np.linalg.norm(a - b) >= 0.6
    verifier = Verifier(gallery(a, b), "c", 0.6)
    assert verifier.problem(b_image, b_box, 0) is None  # b is nearer to itself than to a: a is not recognised
    assert verifier.problem(b_image, b_box, 7) is None  # track 7 has no centroid: the gate decides
