"""Feature-level edits of a 68-point face shape: the proportions a synthetic identity gets on its own.

Blending donors can only reach shapes between them, and a blend of few
donors stays recognisable as them (dlib is very sensitive to proportions).
These edits give an identity proportions none of its donors has: eye size,
brow height and arch, nose width and length, mouth width, lip fullness and
height, jaw width and chin length. Each edit is driven by one number in
[-1, 1]; 0 leaves the shape as it is and +-1 is the end of its range in
:data:`EDITS`. The ranges were chosen by eye on the openpeople gallery so
that a face edited to the end of every range at once still reads as a
natural adult face; distances are in units of the inter-ocular distance
(IOD), scales are factors.

Every edit keeps the eye centres where they are, so an edited shape stays in
the canonical frame.
"""

from __future__ import annotations

import numpy as np

from facecast.geometry.landmarks import (
    JAW,
    LEFT_BROW,
    LEFT_EYE,
    MOUTH,
    NOSE_BASE,
    RIGHT_BROW,
    RIGHT_EYE,
    indices,
    inter_ocular,
)

# name: (value at -1, value at +1); the value at 0 is 1 for scales and 0 for shifts.
EDITS: dict[str, tuple[float, float]] = {
    "eye_scale": (0.88, 1.14),  # each eye's outline about its centre
    "brow_raise": (-0.08, 0.08),  # brows up (IOD)
    "brow_arch": (0.65, 1.45),  # the brow's height above the line joining its ends
    "nose_width": (0.82, 1.22),  # the nostrils (points 31-35) about the nose's centre line
    "nose_length": (-0.09, 0.09),  # the nose tip and base down (IOD)
    "mouth_width": (0.86, 1.16),  # about the mouth's centre
    "lip_fullness": (0.82, 1.28),  # the lips' height about the mouth's centre
    "mouth_lower": (-0.07, 0.07),  # the mouth down (IOD)
    "jaw_width": (0.9, 1.1),  # the jaw line about the face's centre line
    "chin_length": (0.9, 1.12),  # the jaw below the mouth, from the mouth line
}
NAMES = tuple(EDITS)
_SCALES = {name for name, (lo, hi) in EDITS.items() if lo > 0}
_EYES = (indices(LEFT_EYE), indices(RIGHT_EYE))
_BROWS = (indices(LEFT_BROW), indices(RIGHT_BROW))
_NOSTRILS = indices(NOSE_BASE)
_NOSE_LOWER = tuple(range(30, 36))  # tip and base
_NOSE_BRIDGE = (28, 29)  # follow half of a length change
_MOUTH = indices(MOUTH)
_JAW = indices(JAW)


def value(name: str, amount: float) -> float:
    """The edit's value for ``amount`` in [-1, 1] (linear on each side of the neutral value)."""
    lo, hi = EDITS[name]
    neutral = 1.0 if name in _SCALES else 0.0
    a = float(np.clip(amount, -1.0, 1.0))
    return neutral + a * ((hi - neutral) if a >= 0 else (neutral - lo))


def reshape(landmarks: np.ndarray, amounts: np.ndarray) -> np.ndarray:
    """The 68-point shape with every edit applied; ``amounts`` has one number in [-1, 1] per name in :data:`NAMES`."""
    amounts = np.asarray(amounts, np.float64)
    if amounts.shape != (len(NAMES),):
        raise ValueError(f"expected {len(NAMES)} edit amounts ({', '.join(NAMES)}), got shape {amounts.shape}")
    v = {name: value(name, a) for name, a in zip(NAMES, amounts)}
    s = np.asarray(landmarks, np.float64).copy()
    iod = inter_ocular(s)
    for eye in _EYES:
        idx = list(eye)
        centre = s[idx].mean(axis=0)
        s[idx] = centre + v["eye_scale"] * (s[idx] - centre)
    for brow in _BROWS:
        idx = list(brow)
        base = (s[idx[0], 1] + s[idx[-1], 1]) / 2
        s[idx, 1] = base + v["brow_arch"] * (s[idx, 1] - base) - v["brow_raise"] * iod
    nostrils = list(_NOSTRILS)
    s[nostrils, 0] = s[33, 0] + v["nose_width"] * (s[nostrils, 0] - s[33, 0])
    s[list(_NOSE_LOWER), 1] += v["nose_length"] * iod
    s[list(_NOSE_BRIDGE), 1] += 0.5 * v["nose_length"] * iod
    mouth = list(_MOUTH)
    centre = s[mouth].mean(axis=0)
    s[mouth, 0] = centre[0] + v["mouth_width"] * (s[mouth, 0] - centre[0])
    s[mouth, 1] = centre[1] + v["lip_fullness"] * (s[mouth, 1] - centre[1]) + v["mouth_lower"] * iod
    jaw = list(_JAW)
    axis_x = (s[27, 0] + s[8, 0]) / 2
    s[jaw, 0] = axis_x + v["jaw_width"] * (s[jaw, 0] - axis_x)
    mouth_line = s[mouth, 1].mean()
    lower = [j for j in jaw if s[j, 1] > mouth_line]
    s[lower, 1] = mouth_line + v["chin_length"] * (s[lower, 1] - mouth_line)
    return s
