"""What a mirror image does to labels and to the 68 landmarks.

A horizontal flip (or any draw that mirrors the frame: a vertical flip, a transpose) turns
the person's right into their left. Labels that name a side ('texting_right') must become
their mirror (``augment.label_flip_map``); labels a mirror does not change are declared in
``augment.symmetric_labels``; a mirrored frame whose label is neither is skipped with the
reason, never published under a label that may no longer be true. A frame without a label
has nothing a mirror could falsify and keeps none.

The landmarks move with the image, but their order must follow the anatomy: after a mirror
the point found where the subject's right eye corner was is now their left eye corner. In
iBUG's 68-point order, point ``i`` of the mirrored face is the moved point ``IBUG_MIRROR[i]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facecast.errors import InputError
from facecast.params import AugmentParams
from facecast.reasons import AugmentReason
from facecast.tables import Reason


def _pairs(*pairs: tuple[int, int]) -> tuple[int, ...]:
    order = list(range(68))
    for a, b in pairs:
        order[a], order[b] = b, a
    return tuple(order)


IBUG_MIRROR: tuple[int, ...] = _pairs(
    *[(i, 16 - i) for i in range(8)],  # jaw 0-16 (8 is the chin)
    *[(17 + i, 26 - i) for i in range(5)],  # brows 17-21 <-> 26-22
    (31, 35),
    (32, 34),  # nostrils (27-30 nose bridge and 33 stay)
    (36, 45),
    (37, 44),
    (38, 43),
    (39, 42),
    (40, 47),
    (41, 46),  # eyes
    (48, 54),
    (49, 53),
    (50, 52),
    (55, 59),
    (56, 58),  # outer lips (51, 57 stay)
    (60, 64),
    (61, 63),
    (65, 67),  # inner lips (62, 66 stay)
)


def mirror_order(points: np.ndarray) -> np.ndarray:
    """Re-order (68, 2) points of a mirrored face so each index names the same anatomical point."""
    return points[list(IBUG_MIRROR)]


@dataclass(frozen=True)
class FlipLabels:
    """The label of a mirrored frame: ``resolve(label)`` gives (new label, None) or (None, why not)."""

    flip_map: dict[str, str]
    symmetric: frozenset[str]

    @classmethod
    def from_params(cls, params: AugmentParams) -> FlipLabels:
        both = sorted(set(params.label_flip_map) & set(params.symmetric_labels))
        if both:
            raise InputError(
                f"augment.label_flip_map: {', '.join(both)} also listed in augment.symmetric_labels; "
                "a label either keeps its meaning in a mirror or changes it"
            )
        return cls(dict(params.label_flip_map), frozenset(params.symmetric_labels))

    def resolve(self, label: str | None) -> tuple[str | None, Reason | None]:
        if label is None or label in self.symmetric:
            return label, None
        if label in self.flip_map:
            return self.flip_map[label], None
        return None, Reason(
            AugmentReason.FLIP,
            f"label '{label}' has no mirror in augment.label_flip_map and is not in augment.symmetric_labels",
        )
