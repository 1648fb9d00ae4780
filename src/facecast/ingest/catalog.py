"""One row of clips.parquet per clip: decoded, hashed, given its frame rate, and told whether it is stills.

``stills`` (``ingest.stills``): an image folder is a set of separate
photographs rather than a sequence when 'always', or, when 'auto', when its
images differ in size or optical flow follows fewer than half of the points
(:data:`MIN_FOLLOWED`) between most consecutive images (the median pair; see
:mod:`facecast.ingest.probe`). A video is always a sequence. The faces stage
searches every image of a stills clip and follows no face from one to the
next.

An image-folder clip whose frames have an alpha channel (or a transparent
colour) gets one ``alpha_dropped`` issue: frames are read without it, as
:mod:`facecast.io.clips` says, transparent pixels showing their stored colour.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from facecast.ingest.digest import clip_sha256
from facecast.ingest.issues import CLIPS, Issue
from facecast.ingest.probe import Probe, probe
from facecast.io.clips import ClipSource, has_alpha, image_files, video_fps


@dataclass(frozen=True)
class Clip:
    source: ClipSource
    probe: Probe
    fps: float | None
    sha256: str  # empty only when the bytes could not be read (status unreadable)
    issues: list[Issue] = field(default_factory=list)
    stills: bool | None = None  # separate photographs, not a sequence; None when the clip is not usable

    def row(self, subject_id: str | None, age: str | None = None, sex: str | None = None) -> dict:
        """The clips.parquet row; ``age``, ``sex``: what subjects.csv declares of its subject."""
        return {
            "clip_id": self.source.clip_id,
            "path": self.source.path.as_posix(),
            "kind": self.source.kind,
            "n_frames": self.probe.n_frames,
            "fps": self.fps,
            "width": self.probe.width,
            "height": self.probe.height,
            "sha256": self.sha256,
            "subject_id": subject_id,
            "subject_age": age,
            "subject_sex": sex,
            "status": self.probe.status,
            "reason": self.probe.reason,
            "stills": self.stills,
        }


def alpha_issue(source: ClipSource) -> Issue | None:
    """One issue naming the first frame with an alpha channel and how many have one; None when none has."""
    files = image_files(source.path)
    alpha = [i for i, f in enumerate(files) if has_alpha(f)]
    if not alpha:
        return None
    reason = (
        f"{files[alpha[0]]}: {len(alpha)} of {len(files)} frame(s) have an alpha channel or a transparent colour "
        f"(the first is frame {alpha[0]}); it is dropped, not composited: transparent pixels keep their stored colour"
    )
    return Issue(CLIPS, "alpha_dropped", reason, source.clip_id)


MIN_FOLLOWED = 0.5  # median share of points followed between consecutive images below which they are stills


def is_stills(result: Probe, stills: str) -> bool:
    """Whether an image folder probed as ``result`` is separate photographs under ``ingest.stills``."""
    if stills != "auto":
        return stills == "always"
    return result.sizes_differ or (result.followed is not None and result.followed < MIN_FOLLOWED)


def catalog(source: ClipSource, image_fps: float, stills: str = "auto") -> Clip:
    """Hash and decode the clip; a clip that cannot be used gets its status and reason, never an exception.
    ``stills``: ``ingest.stills`` (auto | always | never)."""
    try:
        sha256 = clip_sha256(source)
    except OSError as exc:
        result = Probe(0, None, None, "unreadable", f"cannot be read ({exc})")
        return Clip(source, result, None, "", [Issue(CLIPS, "unreadable", result.reason or "", source.clip_id)])
    result = probe(source, mixed_sizes=stills != "never")
    issues = [] if result.ok else [Issue(CLIPS, result.status, result.reason or result.status, source.clip_id)]
    if source.kind == "images":
        alpha = alpha_issue(source) if result.ok else None
        still = is_stills(result, stills) if result.ok else None
        return Clip(source, result, image_fps, sha256, issues + ([alpha] if alpha else []), still)
    fps = video_fps(source.path)
    if fps is None and result.ok:
        fps = image_fps
        reason = f"the container reports no frame rate; timestamps use ingest.image_fps = {image_fps}"
        issues.append(Issue(CLIPS, "no_fps", reason, source.clip_id))
    return Clip(source, result, fps, sha256, issues, False if result.ok else None)
