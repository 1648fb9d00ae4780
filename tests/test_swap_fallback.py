"""Obscuring faces that cannot be swapped, on real faces of a realistic size, judged by real recognisers.

Each openpeople portrait is shrunk until MTCNN's box is 100 px wide and
pasted into a 640x480 frame whose background is another person's portrait,
blurred. The face is found by MTCNN (as the faces stage does), its 68
landmarks by dlib; after obscuring, dlib's descriptor is computed with the
ORIGINAL landmarks (the detector may no longer find the face) and compared
with the original's. Whether MTCNN or dlib's HOG detector still find a face
there is checked too.
"""

import cv2
import dlib
import numpy as np
import openpeople
import pytest

from facecast.faces.stage import one_torch_thread
from facecast.models.landmarks import fit_shape
from facecast.models.loaders import face_encoder, mtcnn
from facecast.swap.fallback import METHODS, PIXELATE_BLOCKS, obscure, region

PEOPLE = ("P001", "P005", "P007")  # a woman, a bearded man and a darker-skinned man
FACE_PX = 100  # MTCNN box width of the face in the frame
FRAME = (480, 640)
DEID_DISTANCE = 0.6  # dlib's own same-person threshold


def rgb_portrait(person_id: str) -> np.ndarray:
    path = str(openpeople.curated.get(person_id).asset_path("studio_portrait"))
    return cv2.cvtColor(cv2.imread(path, cv2.IMREAD_REDUCED_COLOR_4), cv2.COLOR_BGR2RGB)


def best_box(frame: np.ndarray) -> np.ndarray | None:
    boxes, probs = mtcnn().detect(frame)
    return None if boxes is None else np.asarray(boxes[int(np.argmax(probs))], np.float64)


def face_found_near(frame: np.ndarray, box: np.ndarray) -> dict[str, bool]:
    """Whether MTCNN or dlib's HOG detector (upsampled once) find a face whose centre lies inside ``box``.

    They look at the neighbourhood of the box only (the box grown by its size on every side), for speed."""
    x0, y0, x1, y1 = region(box, frame.shape[1], frame.shape[0], grow=1.0)
    near = np.ascontiguousarray(frame[y0:y1, x0:x1])
    bx0, by0, bx1, by1 = np.asarray(box, np.float64) - [x0, y0, x0, y0]

    def inside(cx: float, cy: float) -> bool:
        return bool(bx0 <= cx <= bx1 and by0 <= cy <= by1)

    boxes, _ = mtcnn().detect(near)
    hog = dlib.get_frontal_face_detector()(near, 1)
    return {
        "mtcnn": boxes is not None and any(inside((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in boxes),
        "hog": any(inside(r.dcenter().x, r.dcenter().y) for r in hog),
    }


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def scenes() -> dict[str, tuple[np.ndarray, np.ndarray, dlib.full_object_detection, np.ndarray]]:
    """Per person: the frame, MTCNN's face box, dlib's 68-point shape and the original descriptor."""
    background = cv2.GaussianBlur(
        cv2.resize(rgb_portrait("P010"), FRAME[::-1], interpolation=cv2.INTER_AREA), (0, 0), 3
    )
    out = {}
    for person_id in PEOPLE:
        image = rgb_portrait(person_id)
        box = best_box(image)
        scale = FACE_PX / (box[2] - box[0])
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        frame = background.copy()
        h, w = min(small.shape[0], FRAME[0] - 100), small.shape[1]
        frame[100 : 100 + h, 200 : 200 + w] = small[:h]
        box = best_box(frame)
        assert box is not None and 80 <= box[2] - box[0] <= 120, f"{person_id}: no face of a realistic size"
        shape = fit_shape(frame, box)
        out[person_id] = (frame, box, shape, np.array(face_encoder().compute_face_descriptor(frame, shape)))
    return out


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("person_id", PEOPLE)
def test_obscured_face_is_not_recognisable_and_the_rest_is_untouched(scenes, person_id, method):
    frame, box, shape, original = scenes[person_id]
    out = frame.copy()
    x0, y0, x1, y1 = obscure(out, box, method)
    assert (x0, y0, x1, y1) == region(box, frame.shape[1], frame.shape[0])
    outside = np.ones(frame.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(out[outside], frame[outside])
    changed = np.abs(out.astype(int) - frame).max(axis=2) > 0
    bx0, by0, bx1, by1 = np.rint(box).astype(int)
    assert changed[by0:by1, bx0:bx1].mean() > 0.9  # the whole face is altered
    descriptor = np.array(face_encoder().compute_face_descriptor(out, shape))
    assert np.linalg.norm(descriptor - original) >= DEID_DISTANCE
    assert face_found_near(out, box) == {"mtcnn": False, "hog": False}


def test_the_unobscured_faces_are_found_by_both_detectors(scenes):
    for frame, box, _, _ in scenes.values():  # so the detector checks above are not vacuous
        assert face_found_near(frame, box) == {"mtcnn": True, "hog": True}


def test_each_method_leaves_what_it_promises(scenes):
    frame, box, _, _ = scenes["P001"]
    x0, y0, x1, y1 = region(box, frame.shape[1], frame.shape[0])
    solid = frame.copy()
    obscure(solid, box, "solid")
    assert len(np.unique(solid[y0:y1, x0:x1].reshape(-1, 3), axis=0)) == 1  # one colour, no texture
    pixelated = frame.copy()
    obscure(pixelated, box, "pixelate")
    row = pixelated[int((box[1] + box[3]) / 2), int(box[0]) : int(box[2])].astype(int)
    blocks = 1 + np.count_nonzero(np.abs(np.diff(row, axis=0)).max(axis=1))
    assert blocks <= PIXELATE_BLOCKS + 1  # the face is at most ~6 blocks across (+1 for where the grid falls)
    blurred = frame.copy()
    obscure(blurred, box, "blur")
    corners = [(y0, x0), (y0, x1 - 1), (y1 - 1, x0), (y1 - 1, x1 - 1)]  # outside the inscribed ellipse
    for y, x in corners:
        assert np.array_equal(blurred[y, x], frame[y, x])


@pytest.mark.parametrize("method", METHODS)
def test_a_box_over_the_frame_edge_is_clipped(scenes, method):
    frame, box, _, _ = scenes["P005"]
    shift = box[0] + 30  # move the face left until 30 px of its box hang off the frame
    moved = np.ascontiguousarray(np.roll(frame, -int(shift), axis=1))
    edge_box = (box[0] - int(shift), box[1], box[2] - int(shift), box[3])
    out = moved.copy()
    x0, y0, x1, y1 = obscure(out, edge_box, method)
    assert x0 == 0 and x1 < frame.shape[1] and y0 > 0
    assert np.array_equal(out[:, x1:], moved[:, x1:]) and np.array_equal(out[:y0], moved[:y0])
    assert not np.array_equal(out[y0:y1, x0:x1], moved[y0:y1, x0:x1])


def test_region_grows_the_box_and_clips_it():
    assert region((100, 100, 200, 150), 640, 480, grow=0.3) == (70, 85, 230, 165)
    assert region((100, 100, 200, 150), 640, 480, grow=0) == (100, 100, 200, 150)
    assert region((-20.5, 400, 60, 470.2), 640, 480) == (0, 378, 85, 480)
    with pytest.raises(ValueError, match="outside"):
        region((700, 10, 800, 90), 640, 480)
    with pytest.raises(ValueError, match="x1 > x0"):
        region((100, 100, 90, 150), 640, 480)
    with pytest.raises(ValueError, match="grow"):
        region((100, 100, 200, 150), 640, 480, grow=-0.1)


def test_unknown_method_or_bad_frame_raises_and_changes_nothing(scenes):
    frame, box, _, _ = scenes["P001"]
    out = frame.copy()
    with pytest.raises(ValueError, match="allowed are blur, pixelate, solid"):
        obscure(out, box, "mosaic")
    with pytest.raises(ValueError, match="RGB uint8"):
        obscure(out.astype(np.float32), box, "blur")
    assert np.array_equal(out, frame)
