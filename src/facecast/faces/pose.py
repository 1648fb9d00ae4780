"""Head pose (yaw, pitch, roll in degrees) from the 68 landmarks, by cv2.solvePnP on a generic 3D face.

The 3D face is the six-point generic model of Satya Mallick's "Head Pose
Estimation using OpenCV and Dlib" (LearnOpenCV, 2016): nose tip, chin, the
outer eye corners and the mouth corners, in arbitrary units. The camera is an
ideal pinhole: focal length = the larger frame side, principal point = the
frame centre, no distortion.

Sign convention (angles as seen in the image, for a face looking into the
camera all three are 0):

* ``yaw_deg`` > 0: the face turns towards the image's right (the person turns
  to their own left); < 0 towards the image's left.
* ``pitch_deg`` > 0: the face tilts up (chin forward, looking above the
  camera); < 0 down.
* ``roll_deg`` > 0: the face rotates clockwise in the image (the eye on the
  image's right lies lower); < 0 counter-clockwise.

Computed as the intrinsic Y-X-Z Euler angles of the model-to-camera rotation
in OpenCV camera axes (x right, y down, z away from the camera), with yaw and
pitch negated so that the signs read as above.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

# iBUG indices and the generic model (x right, y up, z towards the camera).
MODEL_INDICES = (30, 8, 36, 45, 48, 54)
MODEL_POINTS = np.array(
    [
        (0.0, 0.0, 0.0),  # nose tip
        (0.0, -330.0, -65.0),  # chin
        (-225.0, 170.0, -135.0),  # outer corner of the eye on the image's left
        (225.0, 170.0, -135.0),  # outer corner of the eye on the image's right
        (-150.0, -150.0, -125.0),  # mouth corner on the image's left
        (150.0, -150.0, -125.0),  # mouth corner on the image's right
    ],
    dtype=np.float64,
) * np.array([1.0, -1.0, -1.0])  # to OpenCV camera axes: y down, z away from the camera
MODEL_EYE_SPAN = 450.0


def camera_matrix(width: int, height: int) -> np.ndarray:
    f = float(max(width, height))
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


def head_pose(landmarks: np.ndarray, width: int, height: int) -> tuple[float, float, float] | None:
    """(yaw_deg, pitch_deg, roll_deg) of a face from its (68, 2) landmarks, or None when no pose fits."""
    image_points = np.asarray(landmarks, dtype=np.float64).reshape(68, 2)[list(MODEL_INDICES)]
    cam = camera_matrix(width, height)
    eye_span = float(np.linalg.norm(image_points[3] - image_points[2]))
    if eye_span < 1.0:
        return None
    # Start from a frontal face at the distance its eye span implies, so the
    # solver settles on the solution in front of the camera.
    z = cam[0, 0] * MODEL_EYE_SPAN / eye_span
    centre = image_points[0]
    tvec = np.array([[(centre[0] - cam[0, 2]) * z / cam[0, 0]], [(centre[1] - cam[1, 2]) * z / cam[1, 1]], [z]])
    rvec = np.zeros((3, 1))
    ok, rvec, tvec = cv2.solvePnP(
        MODEL_POINTS, image_points, cam, None, rvec, tvec, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE
    )
    if not ok or tvec[2, 0] <= 0 or not np.all(np.isfinite(rvec)):
        return None
    a, b, c = Rotation.from_rotvec(rvec.reshape(3)).as_euler("YXZ", degrees=True)
    return float(-a), float(-b), float(c)
