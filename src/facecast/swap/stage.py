"""Stage swap: every face of every frame rendered as its cast identity, or obscured, never left as it was.

Reads ``clips``, ``frames``, ``faces`` (data/interim), ``casting`` and
``identities`` (data/cast); writes ``data/swapped/<clip_id>__v<variant>/
<frame>.jpg``, the mp4 previews in ``data/swapped/previews/``,
``data/interim/swaps.parquet`` and ``metrics/swap.json``. The variants are
those of the casting plan; a clip with no face track is still written once
per variant (its frames unchanged, each recorded as ``no_face``).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from facecast import tables
from facecast.errors import InputError
from facecast.executor import run_all
from facecast.io.atomic import atomic_dir, write_json
from facecast.models.recognition import gallery
from facecast.params import ExecutorParams, GateDeidParams, Params, SwapParams
from facecast.swap.clip_render import NO_COMPATIBLE_PREFIX, ClipSwapper, Flicker, Looks, RenderJob
from facecast.swap.identity import IdentityFace, load_identity
from facecast.swap.verify import Verifier

DEID_DISTANCE = GateDeidParams().min_distance  # the default of gate.deid.min_distance


def _casting(
    casting: pd.DataFrame, identities: pd.DataFrame
) -> dict[str, dict[tuple[int, int], tuple[str | None, str | None]]]:
    """clip_id -> (track_id, variant) -> (identity_id or None, why not)."""
    status = dict(zip(identities["identity_id"], identities["status"]))
    out: dict[str, dict] = {}
    for r in casting.itertuples(index=False):
        identity, reason = r.identity_id, r.reason
        if r.status != "ok" or not isinstance(identity, str):
            identity, reason = (None, reason if isinstance(reason, str) else str(r.status))
            if r.status == "no_compatible_identity":
                reason = NO_COMPATIBLE_PREFIX + reason
        elif status.get(identity) != "ok":
            identity, reason = (
                None,
                f"identity {r.identity_id} is {status.get(identity, 'missing from identities.parquet')}",
            )
        out.setdefault(r.clip_id, {})[(int(r.track_id), int(r.variant))] = (identity, reason)
    return out


def _load_identities(cast_dir: Path, wanted: set[str]) -> dict[str, IdentityFace]:
    loaded = {}
    for identity_id in sorted(wanted):
        try:
            loaded[identity_id] = load_identity(cast_dir / "identities", identity_id)
        except (OSError, ValueError) as exc:
            raise InputError(f"stage cast's output is incomplete, run cast again: {exc}") from exc
    return loaded


def _jobs(interim: Path) -> list[RenderJob]:
    clips = tables.read_df("clips", interim)
    counts = tables.read_df("frames", interim).groupby("clip_id").size()
    ok = clips[clips["status"] == "ok"].sort_values("clip_id")
    return [
        RenderJob(
            r.clip_id,
            Path(r.path),
            r.kind,
            float(r.fps) if pd.notna(r.fps) and r.fps > 0 else 25.0,
            int(r.width),
            int(r.height),
            int(counts.get(r.clip_id, 0)),
            bool(r.stills) if pd.notna(r.stills) else False,
        )
        for r in ok.itertuples(index=False)
    ]


def _table_rows(rows: list[dict]) -> list[dict]:
    for r in rows:
        box = r.pop("box", None)
        for name, value in zip(("bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1"), box or (None,) * 4):
            r[name] = None if value is None else float(value)
    rows.sort(
        key=lambda r: (r["clip_id"], r["variant"], r["frame_idx"], -1 if r["track_id"] is None else r["track_id"])
    )
    return rows


def _landmark_jitter(swaps: pd.DataFrame, faces: pd.DataFrame) -> dict | None:
    """Mean frame-to-frame landmark motion (px) of the render's driving points against the original's."""
    done = swaps[swaps["status"] == "swapped"][["clip_id", "variant", "track_id", "frame_idx", "landmarks"]]
    if done.empty:
        return None
    orig = faces[["clip_id", "track_id", "frame_idx", "landmarks"]].rename(columns={"landmarks": "original"})
    done = done.astype({"track_id": "int32"}).merge(orig, on=["clip_id", "track_id", "frame_idx"])
    moves: dict[str, list[float]] = {"driven": [], "original": []}
    for _, g in done.sort_values("frame_idx").groupby(["clip_id", "variant", "track_id"]):
        consecutive = np.diff(g["frame_idx"].to_numpy()) == 1
        for key, column in (("driven", "landmarks"), ("original", "original")):
            pts = np.stack(g[column].to_numpy()).reshape(len(g), 68, 2)
            step = np.linalg.norm(np.diff(pts, axis=0), axis=2).mean(axis=1)
            moves[key].extend(step[consecutive].tolist())
    if not moves["driven"]:
        return None
    return {k: round(float(np.mean(v)), 3) for k, v in moves.items()}


def _metrics(rows: pd.DataFrame, faces: pd.DataFrame, flicker: Flicker, n_frames: int, wall: float) -> dict:
    face_rows = rows[rows["status"] != "no_face"]
    reasons = Counter(face_rows["reason_kind"].dropna())  # metrics/swap.json's keys: the kinds (swap.reasons)
    frames = rows.groupby(["clip_id", "variant", "frame_idx"])["image"].first()
    return {
        "frames": {"written": int(frames.notna().sum()), "dropped": int(frames.isna().sum()), "source": n_frames},
        "faces": {
            "total": len(face_rows),
            "by_status": {k: int(v) for k, v in face_rows["status"].value_counts().sort_index().items()},
            "reasons": dict(sorted(reasons.items())),
            "occluded": int((face_rows["occluded_share"].fillna(0) > 0).sum()),
            "mouth_kept": int(face_rows["mouth_kept"].fillna(False).astype(bool).sum()),
        },
        "frames_without_face": int((rows["status"] == "no_face").sum()),
        "temporal": {
            "face_change_swapped": round(flicker.swapped / flicker.pairs, 3) if flicker.pairs else None,
            "face_change_original": round(flicker.original / flicker.pairs, 3) if flicker.pairs else None,
            "landmark_motion_px": _landmark_jitter(rows, faces),
        },
        "wall_s": round(wall, 3),
        "frames_per_s": round(n_frames / wall, 2) if wall > 0 else None,
    }


def _median(values: list[float]) -> float | None:
    return round(float(np.median(values)), 3) if values else None


def _rendering(looks: Looks) -> dict:
    """metrics/swap.json ``rendering``: what the swapped faces were rendered from, their sharpness and seam."""
    share = (lambda n: round(n / looks.faces, 4)) if looks.faces else (lambda n: None)
    return {
        "faces": looks.faces,
        "from_expression_entries": share(looks.from_expression),
        "with_expression_detail": share(looks.with_detail),
        "with_hair_kept": share(looks.with_hair),
        "measured": len(looks.sharpness),
        "sharpness_ratio_median": _median(looks.sharpness),
        "sharpness_ratio_p10": round(float(np.percentile(looks.sharpness, 10)), 3) if looks.sharpness else None,
        "seam_ratio_median": _median(looks.seam),
        "seam_ratio_original_median": _median(looks.seam_original),
    }


def swap_clip(
    job: RenderJob,
    faces: pd.DataFrame,
    plan: dict[tuple[int, int], tuple[str | None, str | None]],
    identities: dict[str, IdentityFace],
    variants: list[int],
    params: SwapParams,
    verifier: Verifier | None,
    out: Path,
) -> tuple[list[dict], Looks, list[Flicker]]:
    """One clip's every variant rendered into ``out`` (a task of the executor): its swaps rows, what its faces were
    rendered from, and its flicker per variant."""
    swapper = ClipSwapper(job, faces, plan, identities, variants, params, verifier)
    rows = swapper.run(out, out / "previews" if params.preview else None)
    return rows, swapper.looks, list(swapper.flicker.values())


def swap(
    params: SwapParams,
    interim: Path,
    cast_dir: Path,
    out: Path,
    metrics: Path,
    min_distance: float = DEID_DISTANCE,
    executor: ExecutorParams | None = None,
) -> dict:
    """Run the stage; returns the metrics it wrote. ``min_distance``: ``gate.deid.min_distance``, what
    ``swap.verify`` holds every swapped face to. ``executor``: where each clip is rendered (default: the local
    pool of ``params.processes`` processes)."""
    start = time.perf_counter()
    jobs = _jobs(interim)
    faces = tables.read_df("faces", interim)
    reference = None
    if params.verify:
        tracks = tables.read_df("tracks", interim)
        donors = tables.read_df("donor_tracks", interim)
        if tracks["embedding_centroid"].notna().any():  # else no track can be recognised: nothing to verify
            reference = gallery(tracks, donors)
    casting = tables.read_df("casting", cast_dir)
    identity_rows = tables.read_df("identities", cast_dir)
    plan = _casting(casting, identity_rows)
    variants = sorted(int(v) for v in casting["variant"].unique()) or [0]
    wanted = {ident for clip in plan.values() for ident, _ in clip.values() if ident is not None}
    identities = _load_identities(cast_dir, wanted)
    by_clip = dict(tuple(faces.groupby("clip_id")))
    rows: list[dict] = []
    total = Flicker()
    looks = Looks()
    with atomic_dir(out) as tmp:
        work = []
        for job in jobs:
            clip_plan = plan.get(job.clip_id, {})
            cast_here = {ident for ident, _ in clip_plan.values() if ident is not None}
            verifier = None if reference is None else Verifier(reference, job.clip_id, min_distance)
            clip_faces = by_clip.get(job.clip_id, faces.iloc[:0])
            clip_identities = {k: v for k, v in identities.items() if k in cast_here}
            work.append((job, clip_faces, clip_plan, clip_identities, variants, params, verifier, tmp))
        for clip_rows, clip_looks, flicker in run_all(executor, params.processes, swap_clip, work, "swap", "clip"):
            rows.extend(clip_rows)
            looks.merge(clip_looks)
            for f in flicker:
                total.swapped += f.swapped
                total.original += f.original
                total.pairs += f.pairs
    path = tables.write("swaps", _table_rows(rows), interim)
    wall = time.perf_counter() - start
    n_frames = sum(j.n_frames for j in jobs)
    result = _metrics(tables.read_df("swaps", path), faces, total, n_frames, wall)
    result["variants"] = len(variants)
    result["rendering"] = _rendering(looks)
    write_json(metrics, result)
    return result


SECTIONS = (
    "swap",
    "gate",
    "executor",
)  # the sections of params.yaml this stage reads (and seed): gate for deid.min_distance


def run(p: Params) -> dict:
    """The stage as ``dvc repro`` runs it: the project's own folders (:mod:`facecast.tables`)."""
    return swap(
        p.swap,
        interim=tables.INTERIM,
        cast_dir=tables.CAST,
        out=tables.SWAPPED,
        metrics=tables.METRICS / "swap.json",
        min_distance=p.gate.deid.min_distance,
        executor=p.executor,
    )
