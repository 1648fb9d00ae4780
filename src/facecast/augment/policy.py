"""The augmentation policy: ``augment.policy`` (albumentations' own serialisation) as a ReplayCompose.

The user writes what ``A.to_dict`` writes; the stage adds what it needs to move the faces
with the image: keypoints (68 landmarks per face, never removed when they leave the frame)
and boxes (``pascal_voc`` pixels, clipped to the frame, carrying the face's index as a fifth
column so a replay needs nothing but the image). Anything albumentations rejects, an
argument it does not know (which it would only warn about and ignore) and a pipeline that
declares its own keypoint or box handling stop the stage with an :class:`InputError` naming
``augment.policy``.

:func:`check` is the up-front check that ``facecast params`` and the stage both run: on a test
frame of each real frame size, every leaf transform forced to apply alone, then the whole
pipeline, each draw stored and replayed as the stage does, so a transform that would fail
mid-stage (a crop larger than the frame, a per-pixel record too large to store) fails first,
whatever its probability.
"""

from __future__ import annotations

import copy
import hashlib
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import albumentations as A
import numpy as np

from facecast.augment.frame import N_POINTS, PlacedFace, draw, replay
from facecast.augment.replay import dumps, loads
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


def leaves(node: Any, where: str = "transform") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every leaf transform of the serialised policy (inside OneOf, SomeOf, Sequential too), with its
    path in ``augment.policy``."""
    children = node.get("transforms") if isinstance(node, dict) else None
    if isinstance(children, list):
        for n, child in enumerate(children):
            yield from leaves(child, f"{where}.transforms[{n}]")
    else:
        yield where, node


def _test_frame(width: int, height: int) -> tuple[np.ndarray, list[PlacedFace]]:
    """A noise frame of this size with one face: a box around the centre and 68 points inside it."""
    image = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    cx, cy, r = width / 2, height / 2, min(width, height) / 4
    angle = np.linspace(0, 2 * np.pi, N_POINTS, endpoint=False)
    points = np.stack([cx + 0.8 * r * np.cos(angle), cy + 0.8 * r * np.sin(angle)], axis=1).astype(np.float32)
    return image, [PlacedFace(0, None, np.array([cx - r, cy - r, cx + r, cy + r], np.float32), points)]


def _try(compose: A.ReplayCompose, what: str, width: int, height: int) -> None:
    """One draw as the stage makes it: drawn, its record stored (:func:`replay.dumps`), loaded and replayed."""
    image, faces = _test_frame(width, height)
    try:
        record, _ = draw(compose, 0, image, faces)
        replay(loads(dumps(record)), image, faces)
    except Exception as exc:
        detail = str(exc).removeprefix(f"{KEY}: ") if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
        raise InputError(
            f"{KEY}: {what}, on a {width}x{height} test frame with a face box and landmarks: {' '.join(detail.split())}"
        ) from exc


def check(policy: dict[str, Any], sizes: Iterable[tuple[int, int]]) -> None:
    """The policy's up-front check, on a test frame of every (width, height) given: each leaf transform forced
    to apply (p=1) alone, then the whole pipeline once. A transform the stage would refuse mid-run (it cannot
    move keypoints or boxes, the frame is too small for it, its replay record is too large to store) is
    refused here, whatever its probability, naming it."""
    whole = build(policy)
    tries = [
        (
            f"{leaf['__class_fullname__']} ({where}), applied alone with p=1",
            build({**policy, "transform": {**leaf, "p": 1.0}}),
        )
        for where, leaf in leaves(policy["transform"])
    ]
    for width, height in sorted(set(sizes)):
        for what, compose in [*tries, ("the whole pipeline", whole)]:
            _try(compose, what, width, height)


def draw_seed(seed: int, *ids: object) -> int:
    """A seed for one draw, derived from the global seed and the ids of what is drawn for
    (clip, variant, copy[, frame]): independent of every other clip and of the run order."""
    text = "\x1f".join(["augment", str(seed), *(str(i) for i in ids)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")
