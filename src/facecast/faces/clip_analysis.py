"""One clip from its file to its faces.parquet and tracks.parquet rows, usable without ingest."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from facecast.faces.apparent import track_attributes
from facecast.faces.embed import Embedder
from facecast.faces.rows import track_face_rows, track_row
from facecast.faces.tracker import ClipTracker
from facecast.io.clips import iter_frames, video_fps
from facecast.params import FacesParams

DEFAULT_FPS = 25.0  # a clip analysed without ingest whose frame rate is unknown (image folder, bare container)


@dataclass(frozen=True)
class ClipResult:
    clip_id: str
    faces: list[dict]
    tracks: list[dict]
    n_frames: int
    seconds: float


def run_clip(
    clip_id: str,
    path: Path,
    kind: str,
    params: FacesParams,
    fps: float | None = None,
    embedder: Embedder | None = None,
    progress: bool = True,
    stills: bool = False,
) -> ClipResult:
    """Track every face of the clip; ``fps`` (for landmark smoothing) defaults to the container's.
    ``embedder``: where descriptors are computed (default: here, in this process). ``stills``: the clip's
    frames are separate photographs (every one searched, no face followed from one to the next).

    Raises :class:`facecast.io.clips.ClipError` when the clip cannot be decoded."""
    start = time.perf_counter()
    if fps is None:
        fps = (video_fps(Path(path)) if kind == "video" else None) or DEFAULT_FPS
    tracker = ClipTracker(params, embedder or Embedder(), stills)
    frames = iter_frames(path, kind)
    for frame in tqdm(frames, desc=clip_id, unit="frame", disable=None if progress else True, leave=False):
        tracker.step(frame)
    tracks = tracker.tracks()
    face_rows: list[dict] = []
    track_rows: list[dict] = []
    if tracker.frame_size is not None:
        for track in tracks:
            width, height = track.size or tracker.frame_size
            rows = track_face_rows(clip_id, track, params, fps, width, height)
            face_rows.extend(rows)
            track_rows.append({**track_row(clip_id, track.track_id, rows), **track_attributes(track.faces)})
    face_rows.sort(key=lambda r: (r["frame_idx"], r["track_id"]))
    return ClipResult(clip_id, face_rows, track_rows, tracker.n_frames, time.perf_counter() - start)


def analyse_clip(
    clip_id: str, path: Path, kind: str, params: FacesParams, fps: float | None = None, stills: bool = False
) -> tuple[list[dict], list[dict]]:
    """faces.parquet rows (by frame, then track) and tracks.parquet rows (by track id) of one clip."""
    result = run_clip(clip_id, path, kind, params, fps, stills=stills)
    return result.faces, result.tracks
