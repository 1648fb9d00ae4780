"""The augmentation policy: ``augment.policy`` (albumentations' own serialisation) as a ReplayCompose.

The user writes what ``A.to_dict`` writes; the stage adds what it needs to move the faces
with the image: keypoints (68 landmarks per face, never removed when they leave the frame)
and boxes (``pascal_voc`` pixels, clipped to the frame, carrying the face's index as a fifth
column so a replay needs nothing but the image). Anything albumentations rejects, an
argument it does not know (which it would only warn about and ignore) and a pipeline that
declares its own keypoint or box handling stop the stage with an :class:`InputError` naming
``augment.policy``.
"""

from __future__ import annotations

import copy
import hashlib
import warnings
from typing import Any

import albumentations as A
import numpy as np

from facecast.errors import InputError

KEY = "augment.policy"
KEYPOINTS = A.KeypointParams(format="xy", remove_invisible=False)
BOXES = A.BboxParams(format="pascal_voc", clip=True)
_OWN = ("keypoint_params", "bbox_params", "additional_targets")
_INVALID_ARGUMENT = "are not valid for transform"  # albumentations' warning for an unknown argument


def _unknown_transforms(node: Any) -> list[str]:
    """Names of ``__class_fullname__`` entries albumentations does not know, anywhere in the tree."""
    from albumentations.core.serialization import SERIALIZABLE_REGISTRY

    found = []
    if isinstance(node, dict):
        name = node.get("__class_fullname__")
        if isinstance(name, str) and name not in SERIALIZABLE_REGISTRY:
            found.append(name)
        for value in node.values():
            found += _unknown_transforms(value)
    elif isinstance(node, list):
        for value in node:
            found += _unknown_transforms(value)
    return found


def build(policy: dict[str, Any]) -> A.ReplayCompose:
    """The policy as a ReplayCompose that moves keypoints and boxes with the image."""
    if not isinstance(policy, dict) or not isinstance(policy.get("transform"), dict):
        raise InputError(
            f"{KEY}: expected albumentations' serialisation, a mapping with a 'transform' mapping (what A.to_dict writes)"
        )
    top = policy["transform"]
    declared = [k for k in _OWN if top.get(k)]
    if declared:
        raise InputError(f"{KEY}: remove {', '.join(declared)}: the stage sets keypoint and box handling itself")
    unknown = _unknown_transforms(top)
    if unknown:
        raise InputError(f"{KEY}: unknown albumentations transform(s) {', '.join(sorted(set(unknown)))}")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loaded = A.from_dict(copy.deepcopy(policy))
        bad = [str(w.message) for w in caught if _INVALID_ARGUMENT in str(w.message)]
        if bad:
            raise InputError(f"{KEY}: {'; '.join(bad)}")
        if isinstance(loaded, A.BaseCompose) and type(loaded) in (A.Compose, A.ReplayCompose):
            transforms, p = list(loaded.transforms), loaded.p
        else:  # a single transform, or a OneOf / SomeOf / Sequential at the top
            transforms, p = [loaded], 1.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the replay warning about target-dependent params: see the module doc
            return A.ReplayCompose(transforms, keypoint_params=KEYPOINTS, bbox_params=BOXES, p=p)
    except InputError:
        raise
    except Exception as exc:  # albumentations raises KeyError, TypeError, ValueError and pydantic errors
        raise InputError(f"{KEY}: albumentations cannot build it: {type(exc).__name__}: {exc}") from exc


def check(compose: A.ReplayCompose) -> None:
    """Apply the policy once to a small synthetic frame with a face box and points, so that a
    transform that cannot move keypoints or boxes fails here, before any output is written."""
    image = np.random.default_rng(0).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    points = np.array([[20.0, 20.0], [60.0, 40.0]])
    boxes = np.array([[10.0, 10.0, 50.0, 50.0, 0.0]])
    compose.set_random_seed(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compose(image=image, keypoints=points, bboxes=boxes)
    except Exception as exc:
        raise InputError(
            f"{KEY}: applying it to a test frame with a face box and landmarks fails: {type(exc).__name__}: {exc}"
        ) from exc


def draw_seed(seed: int, *ids: object) -> int:
    """A seed for one draw, derived from the global seed and the ids of what is drawn for
    (clip, variant, copy[, frame]): independent of every other clip and of the run order."""
    text = "\x1f".join(["augment", str(seed), *(str(i) for i in ids)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")
