"""The faces stage: every face of every readable clip and of every donor image, into four tables.

Reads interim/clips.parquet and interim/frames.parquet (from ingest), analyses
every clip whose status is 'ok' (see :mod:`facecast.faces.tracker`) and every
image of the donor gallery (see :mod:`facecast.faces.donors`), and writes
interim/faces.parquet, tracks.parquet, donor_faces.parquet,
donor_tracks.parquet and the metrics JSON.

Parallelism: clips, then donor folders, go to a pool of ``workers``
processes, each with one torch thread (MTCNN's many small operations slow
down badly when two torch threads share a busy core). A single clip is
analysed here, its embeddings computed by a helper process, so one core
detects and follows faces while another computes descriptors.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from facecast import tables
from facecast.errors import InputError
from facecast.executor import collect, pool, process_pool
from facecast.faces.apparent import decide, declare
from facecast.faces.clip_analysis import ClipResult, analyse_clip, run_clip
from facecast.faces.donor_images import DonorResult, analyse_donor, gallery_entries
from facecast.faces.embed import Embedder
from facecast.io.atomic import write_json
from facecast.io.clips import ClipError
from facecast.io.folders import require_folder
from facecast.params import AttributesParams, ExecutorParams, FacesParams, Params

__all__ = ["AnalysisJob", "analyse", "analyse_clip", "analyse_clips"]

SOURCES = ("detected", "tracked", "interpolated", "padded")
STATUSES = ("ok", "too_small", "no_landmarks")


@dataclass(frozen=True)
class AnalysisJob:
    clip_id: str
    path: Path
    kind: str
    fps: float | None = None
    stills: bool = False  # separate photographs (clips.stills): every image searched, no face followed across


@contextmanager
def one_torch_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run_job(
    job: AnalysisJob, params: FacesParams, embedder: Embedder | None = None, progress: bool = False
) -> ClipResult:
    try:
        return run_clip(job.clip_id, job.path, job.kind, params, job.fps, embedder, progress, job.stills)
    except ClipError as exc:
        raise InputError(
            f"clip '{job.clip_id}' could not be decoded ({exc}); it changed since ingest: run ingest again"
        ) from None


def _clips_here(jobs: Sequence[AnalysisJob], params: FacesParams) -> list[ClipResult]:
    with one_torch_thread(), Embedder(background=params.workers > 1) as embedder:
        return [_run_job(job, params, embedder, True) for job in tqdm(jobs, desc="faces", unit="clip", disable=None)]


def analyse_clips(jobs: Sequence[AnalysisJob], params: FacesParams) -> list[ClipResult]:
    """Analyse clips as the stage does (``params.workers`` processes); results in the order of ``jobs``."""
    if params.workers <= 1 or len(jobs) <= 1:
        return _clips_here(jobs, params)
    with process_pool(min(params.workers, len(jobs))) as pool:
        assert pool is not None  # more than one worker
        return collect([pool.submit(_run_job, job, params) for job in jobs], "faces", "clip")


def _clip_jobs(interim: Path) -> tuple[list[AnalysisJob], dict[str, int], int]:
    clips = tables.read_df("clips", interim)
    frames = tables.read_df("frames", interim)
    ok = clips[clips["status"] == "ok"].sort_values("clip_id")
    jobs = [
        AnalysisJob(
            r.clip_id,
            Path(r.path),
            r.kind,
            None if pd.isna(r.fps) else float(r.fps),
            not pd.isna(r.stills) and bool(r.stills),
        )
        for r in ok.itertuples()
    ]
    expected = frames.groupby("clip_id").size().to_dict()
    return (jobs, {j.clip_id: int(expected.get(j.clip_id, 0)) for j in jobs}, len(clips) - len(ok))


def _check_frames(results: Sequence[ClipResult], expected: dict[str, int]) -> None:
    wrong = [
        f"{r.clip_id} ({r.n_frames} decoded, {expected[r.clip_id]} in frames.parquet)"
        for r in results
        if r.n_frames != expected[r.clip_id]
    ]
    if wrong:
        raise InputError("clips changed since ingest, run ingest again: " + ", ".join(wrong))


def _metrics(
    results: Sequence[ClipResult],
    skipped: int,
    donors: Sequence[DonorResult],
    beside: list[str],
    clip_s: float,
    total_s: float,
) -> dict:
    """metrics/faces.json: clips, frames, faces by source and status, tracks, donors, wall time and speed."""
    faces = [f for r in results for f in r.faces]
    frames = sum(r.n_frames for r in results)
    sources = Counter(f["source"] for f in faces)
    statuses = Counter(f["status"] for f in faces)
    with_face = {(f["clip_id"], f["frame_idx"]) for f in faces}
    return {
        "clips": {"analysed": len(results), "not_ok": skipped},
        "frames": {"total": frames, "without_face": frames - len(with_face)},
        "faces": {
            "total": len(faces),
            "by_source": {s: sources[s] for s in SOURCES},
            "by_status": {s: statuses[s] for s in STATUSES},
            "by_detector": dict(sorted(Counter(f["detector"] for f in faces if f["detector"]).items())),
            "low_confidence": sum(not f["confident"] for f in faces),
            "mean_per_frame": round(len(faces) / frames, 4) if frames else 0.0,
        },
        "tracks": sum(len(r.tracks) for r in results),
        "donors": {
            "donors": len(donors),
            "images": sum(d.images for d in donors),
            "images_no_face": sum(d.images_no_face for d in donors),
            "images_unreadable": sum(d.images_unreadable for d in donors),
            "faces": sum(d.donor["n_faces"] for d in donors),
            "files_skipped": beside + [f for d in donors for f in d.skipped_files],
        },
        "wall_s": round(total_s, 3),
        "clips_wall_s": round(clip_s, 3),
        "frames_per_s": round(frames / clip_s, 3) if clip_s > 0 else None,
    }


def _map_here(fn: Callable, items: Sequence, desc: str, unit: str) -> list:
    with one_torch_thread():
        return [fn(item) for item in tqdm(items, desc=desc, unit=unit, disable=None)]


def analyse(
    donors: Path,
    params: FacesParams,
    interim: Path,
    metrics: Path,
    attributes: AttributesParams | None = None,
    executor: ExecutorParams | None = None,
) -> dict:
    """Run the faces stage: read clips/frames from ``interim``, write the four face tables there and the
    metrics to ``metrics``; return the metrics. ``attributes``: how each track's apparent age group and sex
    are read (default: the defaults of params.yaml's ``attributes`` section). ``executor``: where clips and
    donor folders are analysed (default: the local pool of ``params.workers`` processes)."""
    attributes = attributes or AttributesParams()
    elsewhere = executor is not None and executor.kind != "local"  # every clip and folder goes to the cluster
    start = time.perf_counter()
    donors, interim, metrics = Path(donors), Path(interim), Path(metrics)
    require_folder(donors, "donor gallery (input.donors)")
    jobs, expected, skipped = _clip_jobs(interim)
    folders, beside = gallery_entries(donors)
    with pool(executor, params.workers) as submitter:
        clips_pooled = submitter is not None and (len(jobs) > 1 or elsewhere)
        clip_work = [submitter.submit(_run_job, job, params) for job in jobs] if submitter and clips_pooled else []
        results = [] if clips_pooled else _clips_here(jobs, params)
        donor_work = (
            [submitter.submit(analyse_donor, f, donors, params) for f in folders]
            if submitter and (len(folders) > 1 or elsewhere)
            else []
        )
        if clips_pooled:
            results = collect(clip_work, "faces", "clip")
        clip_seconds = time.perf_counter() - start
        _check_frames(results, expected)
        if donor_work:
            gallery = collect(donor_work, "donors", "donor")
        else:
            gallery = _map_here(lambda f: analyse_donor(f, donors, params), folders, "donors", "donor")
    tables.write("faces", [f for r in results for f in r.faces], interim)
    tracks = [decide(t, attributes) for r in results for t in r.tracks]
    tables.write("tracks", declare(tracks, tables.read_df("clips", interim), attributes), interim)
    tables.write("donor_faces", [f for d in gallery for f in d.faces], interim)
    tables.write("donor_tracks", [d.donor for d in gallery], interim)
    result = _metrics(results, skipped, gallery, beside, clip_seconds, time.perf_counter() - start)
    write_json(metrics, result)
    return result


SECTIONS = ("input", "faces", "attributes", "executor")  # the sections of params.yaml this stage reads (and seed)


def run(p: Params) -> dict:
    """The stage as ``dvc repro`` runs it: the project's own folders (:mod:`facecast.tables`)."""
    return analyse(
        Path(p.input.donors),
        p.faces,
        interim=tables.INTERIM,
        metrics=tables.METRICS / "faces.json",
        attributes=p.attributes,
        executor=p.executor,
    )
