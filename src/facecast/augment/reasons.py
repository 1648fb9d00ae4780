"""Why an augmented copy was skipped: the closed set of ``reason_kind`` in augment.parquet.

A skipped row carries one of these kinds and a free-text ``reason_detail``;
``metrics/augment.json``'s ``skipped_reasons`` counts them per kind. The words
are part of the table's contract (:data:`facecast.tables.AUGMENT_REASON_KINDS`
repeats them, and tests/test_tables.py checks that both agree): renaming one
changes the metrics' keys.
"""

from __future__ import annotations

from enum import StrEnum


class AugmentReason(StrEnum):
    FLIP = "flip"  # the draw mirrored a frame whose label has no mirror and is not symmetric
    FACE_LEFT = "face left the frame"  # a face's box lies outside the augmented image
