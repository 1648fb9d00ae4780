"""The closed sets of reason kinds: why a face was not swapped, a face or frame rejected, a copy skipped.

Tables carry them as ``reason_kind`` / ``reason_kinds`` beside a free-text
detail (:mod:`facecast.tables` refuses any other kind on write), and the
metrics count rows per kind, so the words are part of the contract: renaming
one changes the metrics' keys. They are the words the reasons began with when
they were prose. A ground floor: the stages that give the reasons and the
stages that read them import the same sets.
"""

from __future__ import annotations

from enum import StrEnum


# Why a face was not swapped (swaps.parquet).
class SwapReason(StrEnum):
    TOO_SMALL = "too_small"  # too small for landmarks (faces.parquet), or a box under swap.min_face_px
    NO_LANDMARKS = "no_landmarks"  # faces.parquet has no usable landmarks for it
    TOO_TURNED = "too_turned"  # yaw or pitch beyond swap.max_yaw_deg / swap.max_pitch_deg
    UNCASTABLE = "uncastable"  # no identity plays its track (in this variant)
    NO_COMPATIBLE_IDENTITY = "no_compatible_identity"  # no identity fits the person under cast.match (a child, say)
    RENDER_FAILED = "render_failed"  # the render raised; the detail is the error's first line
    NOT_DEIDENTIFIED = "not_deidentified"  # rendered, but still its own person by dlib (swap.verify)
    FRAME_DROPPED = "frame dropped"  # fallback drop_frame: another face of the frame could not be swapped


# Why a face or frame was rejected (gates.parquet); a rejected row lists every reason that applied.
class GateReason(StrEnum):
    DROPPED = "dropped"  # swap did not write the frame
    DEID = "deid"  # too near its own original, or not measurable
    REID = "reid"  # the original is the nearest of all originals and donors
    IDENTITY = "identity"  # too far from the cast identity
    LANDMARKS = "landmarks"  # landmark error above the clip's percentile or the cap, or not measurable
    EXPRESSION = "expression"  # the clip's mean expression PCC is too low
    LEAK = "leak"  # an unswapped face in the frame, or a face of the frame recognisably its own original person
    RESEMBLES_OTHER = (
        "resembles_other"  # a face near ANOTHER original person (only with leaks.reject_resembling_others)
    )
    AUDIT = "audit"  # the independent audit found a face region of the frame unchanged from the original


# Why an augmented copy was skipped (augment.parquet).
class AugmentReason(StrEnum):
    FLIP = "flip"  # the draw mirrored a frame whose label has no mirror and is not symmetric
    FACE_LEFT = "face left the frame"  # a face's box lies outside the augmented image


# manifest/rejects.parquet carries gate's or augment's reasons; the manifest adds these two, for a reject that
# came without any reason.
class ManifestReason(StrEnum):
    GATE = "gate"  # gate rejected the frame without giving a reason
    SKIPPED = "skipped"  # augment skipped the copy without giving a reason
    QUOTA_BALANCE = "quota_balance"  # passed, left out so the published shares meet the quotas (balance_by: published)
