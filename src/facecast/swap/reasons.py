"""Why a face was not swapped: the closed set of ``reason_kind`` in swaps.parquet.

Each obscured or dropped row carries one of these kinds and a free-text
``reason_detail``; ``metrics/swap.json`` counts the rows per kind. The words
are part of the table's contract (:data:`facecast.tables.SWAP_REASON_KINDS`
repeats them, and tests/test_tables.py checks that both agree): renaming one
changes the metrics' keys.
"""

from __future__ import annotations

from enum import StrEnum


class SwapReason(StrEnum):
    TOO_SMALL = "too_small"  # too small for landmarks (faces.parquet), or a box under swap.min_face_px
    NO_LANDMARKS = "no_landmarks"  # faces.parquet has no usable landmarks for it
    TOO_TURNED = "too_turned"  # yaw or pitch beyond swap.max_yaw_deg / swap.max_pitch_deg
    UNCASTABLE = "uncastable"  # no identity plays its track (in this variant)
    RENDER_FAILED = "render_failed"  # the render raised; the detail is the error's first line
    FRAME_DROPPED = "frame dropped"  # fallback drop_frame: another face of the frame could not be swapped
