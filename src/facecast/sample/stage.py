"""Build the embedded default sample (``data/sample/``) from the openpeople subjects.

::

    out/
      clips/<person_id>_expressions.mp4   one continuous clip per person
      labels.csv                          clip, start_frame, end_frame, label (0-based, end inclusive)
      subjects.csv                        clip, subject_id
      donors/<person_id>/*.jpg            studio portrait, selfie, front view, 16 expression cells
                                          (only the sample.donor_only people when that list is set)
      donors/donors.csv                   donor_id, person_id, sex, age_range, ethnicity, skin_tone, source, licence
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from tqdm import tqdm

from facecast import tables
from facecast.io.atomic import atomic_dir
from facecast.params import Params, SampleParams
from facecast.sample.clip_writer import Layout, decoded_frames, keyframe, write_clip
from facecast.sample.donor_files import write_donor, write_donors_csv
from facecast.sample.people import Subject, subjects
from facecast.sample.sheets import EXPRESSIONS
from facecast.sample.timeline import Segment, plan

CLIP_SUFFIX = "_expressions"


def clip_id(person_id: str) -> str:
    return f"{person_id}{CLIP_SUFFIX}"


def build_clip(subject: Subject, segments: list[Segment], params: SampleParams, clips_dir: Path) -> int:
    """Render one person's expressions clip; returns its frame count, checked by decoding the file."""
    n_expressions = max(s.src for s in segments) + 1
    cells = subject.expression_cells[:n_expressions]
    layout = Layout.fit(cells[0].shape[1], cells[0].shape[0], params.frame_width, params.frame_height)
    keys = [
        keyframe(cell, layout, f"{subject.person_id} emotions sheet cell {i + 1} ({EXPRESSIONS[i]})")
        for i, cell in enumerate(cells)
    ]
    path = clips_dir / f"{clip_id(subject.person_id)}.mp4"
    written = write_clip(path, keys, segments, layout, params.fps)
    expected = segments[-1].end + 1
    decoded = decoded_frames(path)
    if not written == decoded == expected:
        raise RuntimeError(
            f"{path}: planned {expected} frames, wrote {written}, but OpenCV decodes {decoded}: "
            f"the '{params.frame_width}x{params.frame_height}' mp4v encoding lost frames"
        )
    return decoded


def label_rows(clip: str, segments: list[Segment]) -> list[dict[str, object]]:
    return [{"clip": clip, "start_frame": s.start, "end_frame": s.end, "label": s.label} for s in segments]


def build_sample(params: SampleParams, seed: int, out: Path) -> dict:
    """Write the sample into the (empty) folder ``out``; returns a summary.

    Nothing here is random: the clips, labels and donor images follow from
    ``params`` and the openpeople package alone. Each person is filmed (a clip)
    and a donor, or, when listed in ``params.donor_only``, a donor only: then
    the footage's people and the gallery's are different people. ``seed`` is accepted because
    every stage receives it.
    """
    out = Path(out)
    people = subjects(params.people)
    segments = plan(list(EXPRESSIONS[: params.expressions]), params.hold_frames, params.morph_frames)
    clips_dir, donors_dir = out / "clips", out / "donors"
    clips_dir.mkdir(parents=True, exist_ok=True)
    donors_dir.mkdir(parents=True, exist_ok=True)

    only = set(params.donor_only)
    donors = [p for p in people if p.person_id in only] if only else people
    labels, subject_rows, donor_images, n_frames = [], [], 0, 0
    for subject in tqdm(people, desc="sample", unit="person", disable=None):
        if not only or subject.person_id in only:
            donor_images += write_donor(subject, donors_dir / subject.person_id)
        if subject.person_id not in only:
            n_frames = build_clip(subject, segments, params, clips_dir)
            clip = clip_id(subject.person_id)
            labels += label_rows(clip, segments)
            subject_rows.append({"clip": clip, "subject_id": subject.person_id})

    pd.DataFrame(labels, columns=["clip", "start_frame", "end_frame", "label"]).to_csv(out / "labels.csv", index=False)
    pd.DataFrame(subject_rows, columns=["clip", "subject_id"]).to_csv(out / "subjects.csv", index=False)
    write_donors_csv(donors, donors_dir / "donors.csv")
    return {
        "people": len(people),
        "donors": len(donors),
        "clips": len(subject_rows),
        "frames_per_clip": n_frames,
        "expressions": params.expressions,
        "donor_images": donor_images,
    }


SECTIONS = ("sample",)  # the sections of params.yaml this stage reads (and seed)


def run(p: Params) -> dict:
    """The stage as ``dvc repro`` runs it: the project's own folders (:mod:`facecast.tables`)."""
    with atomic_dir(tables.SAMPLE) as out:
        return build_sample(p.sample, p.seed, out)
