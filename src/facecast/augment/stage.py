"""Stage augment: label-preserving copies of every frame that passed gate, faces moved with the image.

Reads ``gates``, ``swaps``, ``faces``, ``frames`` (data/interim) and the frames in data/swapped;
writes ``data/augmented/<clip_id>__v<variant>__c<copy>/<frame_idx:06d>.jpg``,
``data/interim/augment.parquet`` and ``metrics/augment.json``.

A frame is published when every gates row of its (clip, variant, frame) passed. Copy 0 is the
frame as it is (no image written, its faces as swap and faces recorded them); copies
1..``augment.copies`` are drawn from ``augment.policy``. Unless ``augment.per_frame``, one draw
per (clip, variant, copy) is made on the clip's first published frame, from a seed derived from
``seed`` and those ids, and replayed on every frame of the clip, so the clip stays temporally
consistent and a changed clip changes only its own rows. Each face's box is its detection box
(faces.parquet) clipped to the frame; its landmarks are those the render was driven with
(swaps.parquet; none for an obscured face). A copy whose draw mirrored the frame takes the
label's mirror, keeps a symmetric label, or is skipped with the reason; a copy in which a face's
box left the frame is skipped too (its boxes could not describe it).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from facecast import tables
from facecast.augment import policy as policy_mod
from facecast.augment.frame import PlacedFace, Result, clip_box, draw, replay
from facecast.augment.labels import FlipLabels
from facecast.augment.replay import dumps, loads
from facecast.errors import InputError
from facecast.io.atomic import atomic_dir, write_json
from facecast.params import AugmentParams, Params
from facecast.reasons import AugmentReason
from facecast.tables import Reason

FACE_KEY = ["clip_id", "variant", "frame_idx", "track_id"]


@dataclass(frozen=True)
class Frame:
    clip_id: str
    variant: int
    frame_idx: int
    image: str  # relative to data/swapped
    label: str | None
    faces: list[PlacedFace]


def _points(value) -> np.ndarray | None:
    if not isinstance(value, (np.ndarray, list)):  # None, or NaN after a merge
        return None
    return np.asarray(value, np.float32).reshape(68, 2)


def published(gates: pd.DataFrame) -> pd.DataFrame:
    """One row per (clip, variant, frame) whose every gates row passed, with its image."""
    key = ["clip_id", "variant", "frame_idx"]
    frames = (
        gates.assign(ok=gates["status"] == "pass")
        .groupby(key, sort=True)
        .agg(ok=("ok", "all"), image=("image", "first"))
    )
    frames = frames[frames["ok"]].reset_index()
    missing = frames[frames["image"].isna()]
    if len(missing):
        r = missing.iloc[0]
        raise InputError(
            f"gates.parquet passes {r.clip_id} variant {r.variant} frame {r.frame_idx}, which has no image; run gate again"
        )
    return frames[[*key, "image"]]


def _face_tables(gates, swaps, faces) -> tuple[pd.DataFrame, pd.DataFrame]:
    g = gates[gates["track_id"].notna()][FACE_KEY].astype({"track_id": "int32"})
    s = swaps[swaps["track_id"].notna()][[*FACE_KEY, "identity_id", "landmarks"]].astype({"track_id": "int32"})
    f = faces[["clip_id", "frame_idx", "track_id", "bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1"]]
    return g.merge(s, on=FACE_KEY, how="outer", indicator="found"), f


def frames_to_publish(
    gates: pd.DataFrame, swaps: pd.DataFrame, faces: pd.DataFrame, frames: pd.DataFrame
) -> list[Frame]:
    """Every published frame with its label and faces; tables that do not agree are an error."""
    pub = published(gates)
    pairs, boxes = _face_tables(gates, swaps, faces)
    keys = set(zip(pub["clip_id"], pub["variant"], pub["frame_idx"]))
    in_pub = [k in keys for k in zip(pairs["clip_id"], pairs["variant"], pairs["frame_idx"])]
    pairs = pairs[in_pub]
    for side, table, other in (
        ("left_only", "gates.parquet", "swaps.parquet"),
        ("right_only", "swaps.parquet", "gates.parquet"),
    ):
        odd = pairs[pairs["found"] == side]
        if len(odd):
            r = odd.iloc[0]
            raise InputError(
                f"{table} has a face {other} lacks ({r.clip_id} variant {r.variant} frame {r.frame_idx} track {r.track_id}, "
                f"{len(odd)} in all); run swap and gate again"
            )
    pairs = pairs.merge(boxes, on=["clip_id", "frame_idx", "track_id"], how="left")
    if pairs["bbox_x0"].isna().any():
        r = pairs[pairs["bbox_x0"].isna()].iloc[0]
        raise InputError(
            f"swaps.parquet names a face faces.parquet lacks ({r.clip_id} frame {r.frame_idx} track {r.track_id}); run swap again"
        )
    labels = {
        (r.clip_id, int(r.frame_idx)): r.label
        for r in frames[["clip_id", "frame_idx", "label"]].itertuples(index=False)
    }
    by_frame: dict[tuple, list] = {}
    for r in pairs.sort_values(FACE_KEY).itertuples(index=False):
        by_frame.setdefault((r.clip_id, int(r.variant), int(r.frame_idx)), []).append(r)
    out = []
    for r in pub.itertuples(index=False):
        key = (r.clip_id, int(r.frame_idx))
        if key not in labels:
            raise InputError(
                f"gates.parquet passes {r.clip_id} frame {r.frame_idx}, which frames.parquet lacks; run ingest and the stages after it again"
            )
        label = labels[key] if isinstance(labels[key], str) else None
        face_list = [
            PlacedFace(
                int(f.track_id),
                f.identity_id if isinstance(f.identity_id, str) else None,
                np.array([f.bbox_x0, f.bbox_y0, f.bbox_x1, f.bbox_y1], np.float32),
                _points(f.landmarks),
            )
            for f in by_frame.get((r.clip_id, int(r.variant), int(r.frame_idx)), [])
        ]
        out.append(Frame(r.clip_id, int(r.variant), int(r.frame_idx), r.image, label, face_list))
    return out


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{path}: a frame gate passed cannot be read; run swap and gate again")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _write_jpeg(path: Path, image: np.ndarray, quality: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f"{path}: could not be written")


def _face_records(faces: list[PlacedFace]) -> list[dict]:
    return [
        {
            "track_id": f.track_id,
            "identity_id": f.identity_id,
            "bbox": [float(v) for v in f.bbox],
            "landmarks": None if f.landmarks is None else f.landmarks.astype(np.float32).ravel().tolist(),
        }
        for f in faces
    ]


def image_name(clip_id: str, variant: int, copy: int, frame_idx: int) -> str:
    return f"{clip_id}__v{variant}__c{copy}/{frame_idx:06d}.jpg"


class ClipAugmenter:
    """The copies of one (clip, variant): its frames in order, their images read once."""

    def __init__(self, frames: list[Frame], compose, labels: FlipLabels, params: AugmentParams, seed: int):
        self.frames, self.compose, self.labels, self.params, self.seed = (frames, compose, labels, params, seed)

    def _row(self, fr: Frame, copy: int, **values) -> dict:
        row = {
            "clip_id": fr.clip_id,
            "variant": fr.variant,
            "copy": copy,
            "frame_idx": fr.frame_idx,
            "source_image": fr.image,
            "image": None,
            "label_original": fr.label,
            "label": fr.label,
            "flipped": False,
            "replay": None,
            "faces": None,
            "status": "ok",
            "reason_kind": None,
            "reason_detail": None,
        }
        row.update(values)
        return row

    def _result(self, fr: Frame, copy: int, record_text: str, result: Result, out: Path) -> dict:
        if result.mirrored:
            label, why = self.labels.resolve(fr.label)
        else:
            label, why = fr.label, None
        if why is None and result.lost:
            tracks = ", ".join(map(str, result.lost))
            why = Reason(AugmentReason.FACE_LEFT, f"the box of track(s) {tracks} is outside the augmented image")
        if why is not None:
            return self._row(
                fr,
                copy,
                label=None,
                flipped=result.mirrored,
                replay=record_text,
                status="skipped",
                reason_kind=why.kind,
                reason_detail=why.detail,
            )
        name = image_name(fr.clip_id, fr.variant, copy, fr.frame_idx)
        _write_jpeg(out / name, result.image, self.params.jpeg_quality)
        return self._row(
            fr,
            copy,
            image=name,
            label=label,
            flipped=result.mirrored,
            replay=record_text,
            faces=_face_records(result.faces),
        )

    def _load(self, fr: Frame, swapped: Path) -> tuple[np.ndarray, list[PlacedFace]]:
        image = read_rgb(swapped / fr.image)
        h, w = image.shape[:2]
        faces = [PlacedFace(f.track_id, f.identity_id, clip_box(f.bbox, w, h), f.landmarks) for f in fr.faces]
        empty = [f.track_id for f in faces if f.bbox[2] <= f.bbox[0] or f.bbox[3] <= f.bbox[1]]
        if empty:
            raise InputError(
                f"faces.parquet: the box of {fr.clip_id} frame {fr.frame_idx} track {empty[0]} lies outside the frame"
            )
        return image, faces

    def run(self, swapped: Path, out: Path) -> list[dict]:
        """Rows for every frame and copy; one frame's image in memory at a time."""
        rows: list[dict] = []
        drawn: dict[int, tuple[str, dict]] = {}  # copy -> the clip's stored record, and it loaded back
        for fr in self.frames:
            image, faces = self._load(fr, swapped)
            rows.append(self._row(fr, 0, faces=_face_records(faces)))
            for copy in range(1, self.params.copies + 1):
                if self.params.per_frame:
                    seed = policy_mod.draw_seed(self.seed, fr.clip_id, fr.variant, copy, fr.frame_idx)
                    record, result = draw(self.compose, seed, image, faces)
                    rows.append(self._result(fr, copy, dumps(record), result, out))
                    continue
                if copy not in drawn:  # the clip's first published frame draws for the whole clip
                    record, _ = draw(
                        self.compose, policy_mod.draw_seed(self.seed, fr.clip_id, fr.variant, copy), image, faces
                    )
                    text = dumps(record)
                    drawn[copy] = (text, loads(text))  # every frame replays exactly what is stored
                text, record = drawn[copy]
                rows.append(self._result(fr, copy, text, replay(record, image, faces), out))
        return rows


def _metrics(rows: pd.DataFrame, gated: int, published_frames: int, params: AugmentParams, wall: float) -> dict:
    aug = rows[rows["copy"] > 0]
    skipped = aug[aug["status"] == "skipped"]
    flip_skips = skipped[skipped["reason_kind"] == AugmentReason.FLIP]
    return {
        "frames": {"gated": gated, "published": published_frames, "rejected_by_gate": gated - published_frames},
        "copies": params.copies,
        "per_frame": params.per_frame,
        "rows": {
            "total": len(rows),
            "by_status": {k: int(v) for k, v in rows["status"].value_counts().sort_index().items()},
        },
        "by_copy": {
            str(c): {k: int(v) for k, v in g["status"].value_counts().sort_index().items()}
            for c, g in rows.groupby("copy")
        },
        "images_written": int(aug["image"].notna().sum()),
        "flipped": {"written": int((aug["flipped"] & (aug["status"] == "ok")).sum()), "skipped": len(flip_skips)},
        "label_changed": int(
            (aug["status"].eq("ok") & aug["label"].ne(aug["label_original"]) & aug["label_original"].notna()).sum()
        ),
        "skipped_flips_by_label": {
            str(k): int(v) for k, v in flip_skips["label_original"].value_counts().sort_index().items()
        },
        "skipped_reasons": dict(sorted(Counter(str(k) for k in skipped["reason_kind"]).items())),
        "wall_s": round(wall, 3),
        "images_per_s": round(int(aug["image"].notna().sum()) / wall, 2) if wall > 0 else None,
    }


def augment(params: AugmentParams, seed: int, interim: Path, swapped: Path, out: Path, metrics: Path) -> dict:
    """Run the stage; returns the metrics it wrote."""
    start = time.perf_counter()
    compose = policy_mod.build(params.policy)
    labels = FlipLabels.from_params(params)
    gates = tables.read_df("gates", interim)
    frames = frames_to_publish(
        gates, tables.read_df("swaps", interim), tables.read_df("faces", interim), tables.read_df("frames", interim)
    )
    by_clip: dict[tuple[str, int], list[Frame]] = {}
    for fr in frames:
        by_clip.setdefault((fr.clip_id, fr.variant), []).append(fr)
    # the up-front check, on every frame size to augment (a clip's frames share one size: see ingest)
    firsts = (read_rgb(swapped / clip[0].image) for clip in by_clip.values())
    policy_mod.check(params.policy, {(image.shape[1], image.shape[0]) for image in firsts})
    rows: list[dict] = []
    with atomic_dir(out) as tmp:
        for key in tqdm(sorted(by_clip), desc="augment", unit="clip", disable=None):
            rows.extend(ClipAugmenter(by_clip[key], compose, labels, params, seed).run(swapped, tmp))
    rows.sort(key=lambda r: (r["clip_id"], r["variant"], r["copy"], r["frame_idx"]))
    path = tables.write("augment", rows, interim)
    gated = gates.groupby(["clip_id", "variant", "frame_idx"]).ngroups
    result = _metrics(tables.read_df("augment", path), gated, len(frames), params, time.perf_counter() - start)
    write_json(metrics, result)
    return result


SECTIONS = ("augment",)  # the sections of params.yaml this stage reads (and seed)


def run(p: Params) -> dict:
    """The stage as ``dvc repro`` runs it: the project's own folders (:mod:`facecast.tables`)."""
    return augment(
        p.augment,
        p.seed,
        interim=tables.INTERIM,
        swapped=tables.SWAPPED,
        out=tables.AUGMENTED,
        metrics=tables.METRICS / "augment.json",
    )
