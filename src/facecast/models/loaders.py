"""Every model facecast uses, loaded from the package that ships it.

Nothing is downloaded: MTCNN's weights come in the facenet-pytorch wheel,
dlib's detector, landmark and embedding models in face_recognition_models.
``face_recognition_models`` imports ``pkg_resources`` on import, so its
``models/`` folder is found with ``importlib.util.find_spec`` instead.
Loaders are cached per process.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from facecast.errors import ModelMissing

DLIB_MODELS = {
    "shape68": "shape_predictor_68_face_landmarks.dat",
    "shape5": "shape_predictor_5_face_landmarks.dat",
    "embedding": "dlib_face_recognition_resnet_model_v1.dat",
    "cnn_detector": "mmod_human_face_detector.dat",
}


def dlib_models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing("face_recognition_models is not installed: pip install face_recognition_models")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def dlib_model_path(key: str) -> Path:
    path = dlib_models_dir() / DLIB_MODELS[key]
    if not path.is_file():
        raise ModelMissing(f"{path} is missing: reinstall face_recognition_models")
    return path


@cache
def shape_predictor68():
    import dlib

    return dlib.shape_predictor(str(dlib_model_path("shape68")))


@cache
def face_encoder():
    import dlib

    return dlib.face_recognition_model_v1(str(dlib_model_path("embedding")))


@cache
def hog_detector():
    """dlib's HOG frontal face detector (built into dlib, no file)."""
    import dlib

    return dlib.get_frontal_face_detector()


@cache
def mtcnn(min_face_size: int = 20, thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)):
    import torch
    from facenet_pytorch import MTCNN

    torch.set_grad_enabled(False)
    return MTCNN(
        keep_all=True, min_face_size=min_face_size, thresholds=list(thresholds), device="cpu", post_process=False
    )
