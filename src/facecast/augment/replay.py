"""albumentations' replay record as JSON, and back.

The record holds numpy arrays (an affine matrix, a blur kernel) and tuples (image shapes)
that the transforms need as such when they are replayed, so both are written tagged:
``{"__ndarray__": [...], "dtype": "float64"}`` and ``{"__tuple__": [...]}``. Floats are
written with ``repr`` precision, so the round trip is exact::

    record = facecast.augment.replay.loads(row.replay)   # json.loads(text, object_hook=hook)
    A.ReplayCompose.replay(record, image=image)["image"]  # the augmented frame, before JPEG

A record is kept with every augmented row, so one that grows with the image (a per-pixel
noise or displacement map) is refused: see :data:`MAX_BYTES`.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from facecast.errors import InputError

# The record is stored in every row of augment.parquet and of the dataset's manifest. The
# default policy's is about 2.5 kB; an affine or a blur kernel stays far below this, while a
# transform whose draw is a per-pixel map (GaussNoise's noise_map, ElasticTransform's and
# GridDistortion's map_x/map_y: megabytes for a 480x360 frame) would multiply the dataset's size.
MAX_BYTES = 64 * 1024


def encode(value: Any) -> Any:
    """The record with arrays, numpy scalars and tuples made JSON-safe (tagged)."""
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    return value


def hook(obj: dict) -> Any:
    """``json.loads`` object hook that restores tagged arrays and tuples."""
    if "__ndarray__" in obj:
        return np.asarray(obj["__ndarray__"], dtype=obj["dtype"])
    if "__tuple__" in obj:
        return tuple(obj["__tuple__"])
    return obj


def _leaves(record: dict) -> list[dict]:
    if "transforms" in record:
        return [leaf for t in record["transforms"] for leaf in _leaves(t)]
    return [record]


def _numbers(value: Any) -> int:
    """How many numbers the arrays in ``value`` hold: each takes at least two characters of JSON."""
    if isinstance(value, np.ndarray):
        return int(value.size)
    if isinstance(value, dict):
        return sum(_numbers(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_numbers(v) for v in value)
    return 0


def _largest(record: dict) -> str:
    """Which transform's params make the record large, for the error message."""
    sizes = [(_numbers(t.get("params")), t.get("__class_fullname__", "?")) for t in _leaves(record)]
    numbers, name = max(sizes, default=(0, "?"))
    return f"{name} ({numbers} numbers)"


def _too_large(size: str, record: dict) -> InputError:
    return InputError(
        f"augment.policy: one draw's replay record is {size}, above {MAX_BYTES // 1024} kB, mostly {_largest(record)}: "
        "a transform whose draw is a per-pixel map cannot be stored with every frame"
    )


def dumps(record: dict) -> str:
    """The record as compact JSON; a record above :data:`MAX_BYTES` is an error naming augment.policy (one whose
    arrays alone must exceed it is refused before it is encoded: a per-pixel map of a large frame takes seconds)."""
    if 2 * _numbers(record) > MAX_BYTES:
        raise _too_large(f"at least {2 * _numbers(record) / 1024:.0f} kB", record)
    text = json.dumps(encode(record), separators=(",", ":"))
    if len(text) > MAX_BYTES:
        raise _too_large(f"{len(text) / 1024:.0f} kB", record)
    return text


def loads(text: str) -> dict:
    """A stored record, ready for ``A.ReplayCompose.replay``."""
    return json.loads(text, object_hook=hook)


def applied(record: dict) -> list[str]:
    """Names of the transforms the draw applied, in order (leaves of the tree)."""
    return [leaf["__class_fullname__"] for leaf in _leaves(record) if leaf.get("applied")]
