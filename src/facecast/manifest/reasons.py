"""Why a frame or copy is not in the dataset: the kinds of ``reason_kinds`` in manifest/rejects.parquet.

A reject row carries the reasons of the stage that held it back: gate's kinds
(gates.parquet) for a rejected frame, augment's (augment.parquet) for a
skipped copy, each with its detail. The manifest adds only its own two, for a
reject that came without any reason. The table's closed set is gate's,
augment's and these (:data:`facecast.tables.MANIFEST_REASON_KINDS` repeats
them; tests/test_tables.py checks that both agree); ``metrics/dataset.json``
counts rejects per kind under ``rejects.by_reason``.
"""

from __future__ import annotations

from enum import StrEnum

from facecast.tables import Reason


class ManifestReason(StrEnum):
    GATE = "gate"  # gate rejected the frame without giving a reason
    SKIPPED = "skipped"  # augment skipped the copy without giving a reason


GATE_WITHOUT_REASON = Reason(ManifestReason.GATE, "rejected without a reason")
AUGMENT_WITHOUT_REASON = Reason(ManifestReason.SKIPPED, "augment gave no reason")
