"""Why a face (or frame) was rejected: the closed set of ``reason_kinds`` in gates.parquet.

A rejected row lists every reason that applied, each a kind from here with a
free-text detail (``reason_details``, in parallel); ``metrics/gates.json``'s
``reject_reasons`` counts them per kind. The words are part of the table's
contract (:data:`facecast.tables.GATE_REASON_KINDS` repeats them, and
tests/test_tables.py checks that both agree): renaming one changes the
metrics' keys and what the report groups rejects by.
"""

from __future__ import annotations

from enum import StrEnum


class GateReason(StrEnum):
    DROPPED = "dropped"  # swap did not write the frame
    DEID = "deid"  # too near its own original, or not measurable
    REID = "reid"  # the original is the nearest of all originals and donors
    IDENTITY = "identity"  # too far from the cast identity
    LANDMARKS = "landmarks"  # landmark error above the clip's percentile or the cap, or not measurable
    EXPRESSION = "expression"  # the clip's mean expression PCC is too low
    LEAK = "leak"  # an unswapped face in the frame, or a face of the frame near any original
