"""Image filters shared by the stages that compose faces: luminance, masked low-pass, and expression ratio images."""

from __future__ import annotations

import cv2
import numpy as np

from facecast.geometry.landmarks import LEFT_BROW, NOSE, RIGHT_BROW, eye_centres, inter_ocular

RATIO_EPS = 4.0  # grey levels added to both sides of a ratio, so dark pixels do not make it noisy
RATIO_RANGE = (0.7, 1.15)  # an expression ratio darkens skin by at most this, lightens it less: folds are dark


def grey(rgb: np.ndarray) -> np.ndarray:
    """The luminance of an RGB uint8 image, float32."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def masked_lowpass(image: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """The Gaussian low-pass of ``image`` (h, w, c float32) over the pixels of ``mask`` (h, w float32 weights).

    Normalised convolution: the blur of ``image * mask`` over the blur of
    ``mask``, so what lies outside the mask does not bleed in. Computed at a
    reduced size when ``sigma`` is large; pixels the blurred mask does not
    reach take the masked mean.
    """
    h, w = mask.shape
    step = max(1, int(sigma // 4))
    small = (max(1, w // step), max(1, h // step))
    img = cv2.resize(image * mask[..., None], small, interpolation=cv2.INTER_AREA).reshape(small[1], small[0], -1)
    m = cv2.resize(mask, small, interpolation=cv2.INTER_AREA)
    s = max(sigma / step, 0.5)
    num = cv2.GaussianBlur(img, (0, 0), sigmaX=s).reshape(img.shape)
    den = cv2.GaussianBlur(m, (0, 0), sigmaX=s)[..., None]
    mean = img.reshape(-1, img.shape[-1]).sum(axis=0) / max(float(m.sum()), 1e-6)
    low = np.where(den > 1e-3, num / np.maximum(den, 1e-3), mean).astype(np.float32)
    return cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w, -1)


def expression_ratio(
    now: np.ndarray,
    rest: np.ndarray,
    skin: np.ndarray,
    sigma: float,
    light_sigma: float,
    clip: tuple[float, float] = RATIO_RANGE,
) -> np.ndarray:
    """The expression ratio image of two grey faces (float32, same geometry): ``now`` over ``rest``.

    Liu, Shan and Zhang (2001): a face's luminance divided by the same face at
    rest is 1 where nothing changed, whatever the skin, and below or above 1
    along the wrinkles and folds an expression makes. Both faces are blurred
    by ``sigma`` px first (against misalignment); the ratio's own low
    frequencies (a change of light between the two, ``light_sigma`` px) are
    divided out over the ``skin`` weights; the result is clipped to ``clip``.
    """
    if sigma > 0.3:
        now = cv2.GaussianBlur(now, (0, 0), sigmaX=sigma)
        rest = cv2.GaussianBlur(rest, (0, 0), sigmaX=sigma)
    ratio = (now + RATIO_EPS) / (rest + RATIO_EPS)
    light = masked_lowpass(ratio[..., None].astype(np.float32), skin, light_sigma)[..., 0]
    return np.clip(ratio / np.maximum(light, 1e-3), *clip).astype(np.float32)


EYE_LINE_DROP = 0.15  # expression_region reaches this share of the inter-ocular distance below the eye centres
NOSE_GROW = 0.12  # and around the nose by this share
BROW_GROW = 0.2  # the brows, grown by this share, are left out: a brow that moved is not a fold


def expression_region(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """Float32 (height, width) in [0, 1]: where an expression's folds show and no beard grows.

    The forehead, brows' surroundings, eyes' corners (crow's feet) and temples
    down to just below the eye centres, and the nose (frown lines at its
    root, the wrinkles of disgust along it). The cheeks, upper lip and chin
    are left out: a beard or moustache there moves with the mouth, and its
    ratio would carry the person's beard, not their expression; so are the
    brows themselves (a brow that moved darkens the skin it moved onto).
    Softened by a tenth of the inter-ocular distance.
    """
    pts = np.asarray(landmarks, np.float64)
    iod = inter_ocular(pts)
    left, right = eye_centres(pts)
    across = (right - left) / max(float(np.linalg.norm(right - left)), 1e-9)
    down = np.array([-across[1], across[0]])  # image y grows downwards: the face's down, perpendicular to the eyes
    centre = (left + right) / 2 + EYE_LINE_DROP * iod * down
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    above = ((xs - centre[0]) * down[0] + (ys - centre[1]) * down[1] < 0).astype(np.uint8)
    hull = cv2.convexHull(np.rint(pts[NOSE]).astype(np.int32))
    nose = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(nose, hull, 1)
    grow = max(1, int(round(NOSE_GROW * iod)))
    nose = cv2.dilate(nose, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    region = np.maximum(above, nose)
    brow_grow = max(1, int(round(BROW_GROW * iod)))
    for brow in (LEFT_BROW, RIGHT_BROW):
        hull = np.zeros((height, width), np.uint8)
        cv2.fillConvexPoly(hull, cv2.convexHull(np.rint(pts[brow]).astype(np.int32)), 1)
        element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * brow_grow + 1, 2 * brow_grow + 1))
        region[cv2.dilate(hull, element) > 0] = 0
    return cv2.GaussianBlur(region.astype(np.float32), (0, 0), sigmaX=max(0.5, 0.1 * iod))
