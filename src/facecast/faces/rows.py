"""From tracked faces to table rows: smoothed landmarks, head pose, and per-track statistics."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from facecast.faces.pose import head_pose
from facecast.faces.smooth import smooth_sequence
from facecast.faces.track import Track, TrackedFace
from facecast.params import FacesParams

NO_POSE = "no head pose fits the landmarks"


def _floats(values: np.ndarray | None) -> list[float] | None:
    return None if values is None else np.asarray(values, np.float32).reshape(-1).tolist()


def face_record(face: TrackedFace, landmarks: np.ndarray | None, width: int, height: int) -> dict:
    """The columns clip faces and donor faces share (tables._face_fields), with the pose of ``landmarks``."""
    status, reason, embedding = face.status, face.reason, face.embedding
    pose = None
    if landmarks is not None:
        pose = head_pose(landmarks, width, height)
        if pose is None:
            status, reason, landmarks, embedding = "no_landmarks", NO_POSE, None, None
    x0, y0, x1, y1 = (float(v) for v in face.box)
    return {
        "bbox_x0": x0,
        "bbox_y0": y0,
        "bbox_x1": x1,
        "bbox_y1": y1,
        "det_score": face.det_score,
        "source": face.source,
        "landmarks": _floats(landmarks),
        "yaw_deg": None if pose is None else pose[0],
        "pitch_deg": None if pose is None else pose[1],
        "roll_deg": None if pose is None else pose[2],
        "embedding": _floats(embedding),
        "status": status,
        "reason": reason,
    }


def track_face_rows(clip_id: str, track: Track, params: FacesParams, fps: float, width: int, height: int) -> list[dict]:
    """faces.parquet rows of one track, landmarks One-Euro smoothed over the track's frames."""
    smoothed = smooth_sequence(
        [f.frame_idx / fps for f in track.faces],
        [f.points if f.status == "ok" else None for f in track.faces],
        params.smooth_min_cutoff,
        params.smooth_beta,
    )
    return [
        {
            "clip_id": clip_id,
            "frame_idx": face.frame_idx,
            "track_id": track.track_id,
            **face_record(face, points, width, height),
            "interpolated": face.source == "interpolated",
            "detector": face.detector,
            "confident": face.confident,
        }
        for face, points in zip(track.faces, smoothed)
    ]


def summarise(rows: Sequence[dict]) -> dict:
    """The statistics tracks and donor tracks share: embeddings (count, centroid, spread), mean detection
    score and median face height. The centroid is the plain mean of the embeddings, not renormalised
    (dlib distances are Euclidean in its raw space); the spread is the mean distance to it."""
    embeddings = np.array([r["embedding"] for r in rows if r["embedding"] is not None], np.float64)
    scores = [r["det_score"] for r in rows if r["det_score"] is not None]
    heights = [r["bbox_y1"] - r["bbox_y0"] for r in rows]
    centroid = embeddings.mean(axis=0) if len(embeddings) else None
    return {
        "n_embedded": len(embeddings),
        "embedding_centroid": _floats(centroid),
        "embedding_spread": None if centroid is None else float(np.linalg.norm(embeddings - centroid, axis=1).mean()),
        "mean_det_score": float(np.mean(scores)) if scores else None,
        "median_face_px": float(np.median(heights)) if heights else None,
    }


def track_row(clip_id: str, track_id: int, rows: Sequence[dict]) -> dict:
    """tracks.parquet row of one track from its faces.parquet rows (in frame order)."""
    return {
        "clip_id": clip_id,
        "track_id": track_id,
        "first_frame": rows[0]["frame_idx"],
        "last_frame": rows[-1]["frame_idx"],
        "n_frames": len(rows),
        "n_detected": sum(r["source"] == "detected" for r in rows),
        "n_interpolated": sum(r["interpolated"] for r in rows),
        "n_landmarks": sum(r["landmarks"] is not None for r in rows),
        "n_padded": sum(r["source"] == "padded" for r in rows),
        "n_confident": sum(bool(r["confident"]) for r in rows),
        **summarise(rows),
    }
