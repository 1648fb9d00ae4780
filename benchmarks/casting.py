"""Does casting fit the person? Real photographs of every age as footage, recast with the embedded donors.

Builds a project as ``benchmarks/footage.py`` does, with the 36 FairFace photographs of
``../shared/data/faces/fairface_dev`` as one-frame clips ("Images from FairFace (Kärkkäinen and Joo, 2021),
CC BY 4.0"; read through ``../shared``, never copied into the repository) and the embedded default's donors
(openpeople: ten adults 18 to 65), runs ``dvc repro swap``, then measures every swapped face with the same
attribute instrument (:mod:`facecast.models.attributes`) and sets it beside the original face and the photo's
ground truth (``ground_truth.json``: age bin 0-2 ... 70+, gender).

Each photo's *person* is its largest face with landmarks (the other rows of a photo are people in the
background or false detections; they are counted apart). Prints, per true age bin:

* how many persons were recast, and how many obscured with ``no_compatible_identity``;
* children given an adult identity (true 0-9, or measured a child or teenager): must be 0; and the true
  10-19 faces given one (a teenager or a young adult: the ground truth cannot tell);
* the measured 10-year bin of the swapped face against the original's measured bin (within one bin) and
  against the ground truth;
* the measured sex of the swapped face against the original's (and the ground truth).

With ``--declare`` the project's ``subjects.csv`` declares each photo's true age bin and sex, as a dataset's
owner who knows them would (``age``, ``sex``: :mod:`facecast.ingest.subjects`); without it casting has only
what the instrument measures.

Usage::

    .venv/bin/python benchmarks/casting.py --out /tmp/casting [--declare] [--photos ../shared/data/faces/fairface_dev]
    .venv/bin/python benchmarks/casting.py --project /tmp/casting/project   # measure a project built before
    .venv/bin/python benchmarks/casting.py --published .   # the published swapped faces' sex vs their identity's
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from attributes import BINS, age_bin  # noqa: E402
from facecast.io.clips import read_image  # noqa: E402
from facecast.models.attributes import apparent  # noqa: E402
from footage import build  # noqa: E402

CHILD_BINS = ("0-2", "3-9")
MINOR_GROUPS = ("child", "teen")


def run(out: Path, photos: Path, truth: dict[str, dict], declare: bool) -> Path:
    images = sorted(p for p in photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    project = build(out, [], images)
    if declare:  # the ground truth as the dataset's owner would declare it: each photo its own subject
        rows = [(c, c, t["age"], t["gender"].lower()) for c, t in truth.items()]
        subjects = pd.DataFrame(rows, columns=["clip", "subject_id", "age", "sex"])
        subjects.to_csv(out / "footage" / "subjects.csv", index=False)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(["dvc", "repro", "swap"], cwd=project, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"dvc repro swap failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return project


def persons(project: Path, truth: dict[str, dict]) -> pd.DataFrame:
    """One row per photo: its largest landmarked face, what casting did, and the swapped face measured."""
    tracks = pd.read_parquet(project / "data/interim/tracks.parquet")
    casting = pd.read_parquet(project / "data/cast/casting.parquet")
    swaps = pd.read_parquet(project / "data/interim/swaps.parquet")
    identities = pd.read_parquet(project / "data/cast/identities.parquet").set_index("identity_id")
    measured = tracks[tracks["attribute_faces"] > 0]
    main = measured.sort_values("median_face_px").groupby("clip_id").tail(1)
    rows = []
    for clip_id, t in truth.items():
        row: dict = {"clip_id": clip_id, "bin": t["age"], "sex": t["gender"].lower()}
        found = main[main["clip_id"] == clip_id]
        if found.empty:
            rows.append({**row, "status": "no face with landmarks"})
            continue
        track = found.iloc[0]
        cast = casting[(casting["clip_id"] == clip_id) & (casting["track_id"] == track["track_id"])].iloc[0]
        row.update(
            track_id=int(track["track_id"]),
            age=float(track["apparent_age"]),
            age_group=track["age_group"],
            measured_sex=track["sex"],
            status=cast["status"],
            identity_id=cast["identity_id"],
        )
        if cast["status"] == "ok":
            face = swaps[
                (swaps["clip_id"] == clip_id) & (swaps["track_id"] == track["track_id"]) & (swaps["variant"] == 0)
            ].iloc[0]
            row.update(identity_group=dict(identities.loc[cast["identity_id"], "declared"]).get("age_group"))
            row["swap_status"] = face["status"]
            if face["status"] == "swapped":
                image = read_image(project / "data/swapped" / face["image"])
                answer = apparent(image, np.asarray(face["landmarks"], float))
                if answer is not None:
                    row.update(swapped_age=answer.age_years, swapped_sex=answer.sex)
        rows.append(row)
    return pd.DataFrame(rows)


def report(p: pd.DataFrame) -> dict:
    recast = p[p.get("swapped_age", pd.Series(dtype=float)).notna()] if "swapped_age" in p else p.iloc[0:0]
    adult_identity = (p["status"] == "ok") & ~p.get("identity_group", pd.Series(index=p.index)).isin(MINOR_GROUPS)
    minors = p["bin"].isin(CHILD_BINS) | p["age_group"].isin(MINOR_GROUPS)
    within = lambda a, b: abs(BINS.index(a) - BINS.index(b)) <= 1  # noqa: E731
    per_bin = {}
    for b in BINS:
        mine = p[p["bin"] == b]
        done = recast[recast["bin"] == b]
        per_bin[b] = {
            "persons": len(mine),
            "recast": int((mine["status"] == "ok").sum()),
            "no_compatible_identity": int((mine["status"] == "no_compatible_identity").sum()),
            "swapped_within_one_bin_of_original": f"{sum(within(age_bin(s), age_bin(o)) for s, o in zip(done['swapped_age'], done['age']))} of {len(done)}",
            "swapped_sex_as_original": f"{int((done['swapped_sex'] == done['measured_sex']).sum())} of {len(done)}",
        }
    near = [within(age_bin(s), age_bin(o)) for s, o in zip(recast["swapped_age"], recast["age"])]
    near_truth = [within(age_bin(s), b) for s, b in zip(recast["swapped_age"], recast["bin"])]
    return {
        "persons": len(p),
        "recast": int((p["status"] == "ok").sum()),
        "no_compatible_identity": int((p["status"] == "no_compatible_identity").sum()),
        "children (true 0-9, or measured child or teen)": int(minors.sum()),
        "children given an adult identity": int((minors & adult_identity).sum()),
        "true 10-19 given an adult identity": int((p["bin"].eq("10-19") & adult_identity).sum()),
        "swapped faces measured": len(recast),
        "swapped bin within one of the original's measured bin": round(float(np.mean(near)), 3) if near else None,
        "swapped bin within one of the ground truth bin": round(float(np.mean(near_truth)), 3) if near_truth else None,
        "swapped sex as the original's measured sex": round(
            float((recast["swapped_sex"] == recast["measured_sex"]).mean()), 3
        )
        if len(recast)
        else None,
        "swapped sex as the ground truth": round(float((recast["swapped_sex"] == recast["sex"]).mean()), 3)
        if len(recast)
        else None,
        "per_bin": per_bin,
    }


def published_sex(project: Path, step: int) -> dict:
    """Every ``step``-th published frame's swapped faces measured by the instrument, against the sex their identity
    declares: the published shares by measured sex beside the declared ones (the embedded default's check)."""
    gates = pd.read_parquet(project / "data/interim/gates.parquet")
    swaps = pd.read_parquet(project / "data/interim/swaps.parquet")
    identities = pd.read_parquet(project / "data/cast/identities.parquet")
    declared = {i: dict(d).get("sex") for i, d in zip(identities["identity_id"], identities["declared"])}
    passed = gates.groupby(["clip_id", "variant", "frame_idx"])["status"].agg(lambda s: (s == "pass").all())
    frames = passed[passed].reset_index()[["clip_id", "variant", "frame_idx"]]
    frames = frames[frames["frame_idx"] % step == 0]
    faces = swaps[swaps["status"] == "swapped"].merge(frames)
    rows = []
    for face in faces.itertuples(index=False):
        answer = apparent(read_image(project / "data/swapped" / face.image), np.asarray(face.landmarks, float))
        if answer is not None:
            rows.append((face.identity_id, declared.get(face.identity_id), answer.sex))
    table = pd.DataFrame(rows, columns=["identity_id", "declared", "measured"])
    return {
        "faces measured": len(table),
        "declared shares": table["declared"].value_counts(normalize=True).round(3).to_dict(),
        "measured shares": table["measured"].value_counts(normalize=True).round(3).to_dict(),
        "measured as declared, per identity": table.assign(same=table["declared"] == table["measured"])
        .groupby("identity_id")["same"]
        .mean()
        .round(3)
        .to_dict(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "fairface_dev"
    parser.add_argument("--photos", type=Path, default=default, help="folder with ground_truth.json and the photos")
    parser.add_argument("--out", type=Path, help="an empty or new folder to build the project in")
    parser.add_argument("--project", type=Path, help="measure this project, built before, instead")
    parser.add_argument(
        "--published",
        type=Path,
        help="instead: measure the swapped faces of a project's published frames (the embedded default, say)",
    )
    parser.add_argument("--step", type=int, default=5, help="with --published: every STEP-th frame")
    parser.add_argument(
        "--declare", action="store_true", help="write subjects.csv declaring each photo's true age bin and sex"
    )
    args = parser.parse_args()
    if args.published is not None:
        print(json.dumps(published_sex(args.published, args.step), indent=1))
        return
    if not (args.photos / "ground_truth.json").is_file():
        sys.exit(f"{args.photos}: no ground_truth.json (the shared test faces are missing)")
    if args.project is None and args.out is None:
        sys.exit("give --out (build and run a project) or --project (measure one built before)")
    if args.project is None and args.out.exists() and any(args.out.iterdir()):
        sys.exit(f"{args.out}: not empty")
    truth = {Path(t["filename"]).stem: t for t in json.loads((args.photos / "ground_truth.json").read_text())}
    project = args.project or run(args.out, args.photos, truth, args.declare)
    table = persons(project, truth)
    print(table.to_string(index=False))
    print(json.dumps(report(table), indent=1))
    cast = json.loads((project / "metrics/cast.json").read_text())
    print(json.dumps({"fit": cast["fit"], "refused_by_attributes": cast["refused_by_attributes"]}, indent=1))


if __name__ == "__main__":
    main()
