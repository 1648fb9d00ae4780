"""The reasons the manifest gives for a reject that came without any (its kinds: :class:`facecast.reasons.ManifestReason`)."""

from __future__ import annotations

from facecast.reasons import ManifestReason
from facecast.tables import Reason

GATE_WITHOUT_REASON = Reason(ManifestReason.GATE, "rejected without a reason")
AUGMENT_WITHOUT_REASON = Reason(ManifestReason.SKIPPED, "augment gave no reason")
