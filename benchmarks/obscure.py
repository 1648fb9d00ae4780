"""Does the obscuring fallback de-identify, at every face size, by the gate's own measure?

Real faces: the 36 FairFace photographs of ``../shared/data/faces/fairface_dev``
("Images from FairFace (Kärkkäinen and Joo, 2021), CC BY 4.0"; read through
``../shared``, never copied) and the 10 openpeople studio portraits. Each face
is found by MTCNN in its photograph, the photograph is shrunk (INTER_AREA) so
the face box's larger side is 20, 40, 80 or 160 px, and placed with the face
at the centre of a 640x480 frame (the photograph's edges replicated outwards).
The face's box in the frame is the source box scaled: the detection box the
swap stage would obscure and the gate would measure in.

Per face size, for the unobscured frame ("none") and each fallback method of
:data:`facecast.swap.fallback.METHODS` at its default strength:

* **detected**: how many of the faces dlib's HOG detector, MTCNN (the faces
  stage's detector and score floor) and CenterFace (the gate's leak scanner at
  its default threshold) still find, a detection counting when its centre lies
  inside the face box. They look at the box grown by its size on every side
  (for speed); HOG is upsampled until the face is at least 80 px there (its
  window), so a miss at 20 px is not just a face too small for it. The
  "none" row says how often each finds the unobscured face, so a miss below
  it means something only where the row above found the face;
* **gate distance**, THE measure: dlib's 68 points re-fitted on the frame in
  the face box (:func:`facecast.gate.fidelity.refit`) and dlib's descriptor
  from them (:func:`facecast.gate.deid.descriptor`), as the gate measures an
  obscured face, against the same measure of the unobscured face at the same
  size: the person's "centroid", the mean of that measure at 0.9, 1 and 1.1
  times the size and mirrored (a track sees its face at slightly varying
  sizes and poses); its 5th percentile, median, and count under 0.6 over
  the faces; the gate needs >= 0.6;
* **chip distance**: the same but with the unobscured face's landmarks, i.e.
  the aligned chip of where the face was, whatever the predictor now fits;
* **rank 1**: how many obscured faces have their own person nearest among the
  unobscured descriptors of all 46 people at the same size (the gate's
  ``reid_rank`` == 1, which it rejects); by chance alone 1 in 46 would;
* **floor**: the whole frame replaced by its mean colour, nothing of the
  person left anywhere: what dlib's descriptor of "no face at all" scores
  against each person. No obscuring that removes the face can be expected to
  score above this row; where it is itself under 0.6, the distance measures
  how featureless the person's small face already is to dlib, not identity;
* **ms/face**: the time of :func:`obscure` per face;
* **p5 / blur**: the method's 5th-percentile gate distance over blur's (the
  method the fallback defaulted to before), measured in the same run.

Usage: .venv/bin/python benchmarks/obscure.py [--sizes 20 40 80 160] [--workers 2] [--people N]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from pathlib import Path

import cv2
import dlib
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FAIRFACE = ROOT.parent / "shared" / "data" / "faces" / "fairface_dev"
FRAME = (480, 640)  # height, width
SIZES = (20, 40, 80, 160)
DEID_DISTANCE = 0.6  # the gate's default gate.deid.min_distance, dlib's same-person threshold
HOG_WINDOW = 80  # dlib's HOG detector finds faces down to about this size


def people() -> list[tuple[str, str]]:
    """(name, image path) of every person: the 36 FairFace photographs, then the openpeople portraits."""
    import openpeople

    truth = json.loads((FAIRFACE / "ground_truth.json").read_text())
    out = [(row["id"], str(FAIRFACE / row["filename"])) for row in truth]
    for person in openpeople.curated.list():
        out.append((person.person_id, str(person.asset_path("studio_portrait"))))
    return out


def read_rgb(path: str) -> np.ndarray:
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(path)
    if max(image.shape[:2]) > 1500:  # the openpeople portraits: faces of several hundred px are plenty
        image = cv2.resize(image, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def source_box(image: np.ndarray) -> np.ndarray:
    """The faces stage's MTCNN box of the photograph's most confident face."""
    from facecast.faces.detect import detect_faces
    from facecast.params import FacesParams

    found = detect_faces(image, FacesParams())
    if not len(found):
        raise ValueError("no face found in the photograph")
    return found.boxes[int(np.argmax(found.scores))].astype(np.float64)


def scene(image: np.ndarray, box: np.ndarray, face_px: int) -> tuple[np.ndarray, np.ndarray]:
    """The photograph shrunk so the box's larger side is ``face_px``, face centred in a 640x480 frame; and the box."""
    scale = face_px / float(max(box[2] - box[0], box[3] - box[1]))
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    sx, sy = small.shape[1] / image.shape[1], small.shape[0] / image.shape[0]
    scaled = box * np.array([sx, sy, sx, sy])
    dx = int(round(FRAME[1] / 2 - (scaled[0] + scaled[2]) / 2))
    dy = int(round(FRAME[0] / 2 - (scaled[1] + scaled[3]) / 2))
    shift = np.float32([[1, 0, dx], [0, 1, dy]])
    frame = cv2.warpAffine(small, shift, FRAME[::-1], flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(frame), scaled + np.array([dx, dy, dx, dy])


@cache
def hog_detector():
    return dlib.get_frontal_face_detector()


def centroid(image: np.ndarray, box: np.ndarray, face_px: int) -> np.ndarray:
    """The person's reference at this size, as the gate's track centroid: the mean of the gate's descriptors of
    the face at 0.9, 1 and 1.1 times the size and mirrored (a track sees its face at slightly varying sizes and
    poses)."""
    from facecast.models.recognition import descriptor, refit

    mirrored = np.ascontiguousarray(image[:, ::-1])
    width = image.shape[1]
    mirror_box = np.array([width - box[2], box[1], width - box[0], box[3]])
    vectors = []
    for source, source_box_, px in (
        (image, box, face_px),
        (mirrored, mirror_box, face_px),
        (image, box, round(0.9 * face_px)),
        (image, box, round(1.1 * face_px)),
    ):
        frame, fbox = scene(source, source_box_, px)
        vectors.append(descriptor(frame, refit(frame, tuple(fbox))))
    return np.mean(vectors, axis=0)


def detected(frame: np.ndarray, box: np.ndarray) -> dict[str, bool]:
    """Whether dlib's HOG, MTCNN (faces stage) and CenterFace (gate) find a face centred inside ``box``."""
    from facecast.faces.detect import detect_faces
    from facecast.gate.measure import _scanner
    from facecast.params import FacesParams, GateLeakParams
    from facecast.swap.fallback import region

    x0, y0, x1, y1 = region(tuple(box), frame.shape[1], frame.shape[0], grow=1.0)
    near = np.ascontiguousarray(frame[y0:y1, x0:x1])
    bx0, by0, bx1, by1 = box - [x0, y0, x0, y0]

    def inside(cx: float, cy: float) -> bool:
        return bool(bx0 <= cx <= bx1 and by0 <= cy <= by1)

    face = float(max(box[2] - box[0], box[3] - box[1]))
    upsample = max(0, int(np.ceil(np.log2(HOG_WINDOW / face))))
    hog = hog_detector()(near, upsample)
    factor = 2**upsample
    mtcnn = detect_faces(near, FacesParams()).boxes
    centerface = _scanner(GateLeakParams().detector_threshold).detect(near)
    return {
        "hog": any(inside(r.dcenter().x / factor, r.dcenter().y / factor) for r in hog),
        "mtcnn": any(inside((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in mtcnn),
        "centerface": any(inside((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in centerface),
    }


def measure_person(job: tuple[str, str, tuple[int, ...]]) -> dict:
    """Every size and method for one person: descriptors, detections and timings."""
    import torch

    from facecast.models.recognition import descriptor, refit
    from facecast.swap.fallback import METHODS, obscure

    torch.set_num_threads(1)
    name, path, sizes = job
    image = read_rgb(path)
    box = source_box(image)
    out: dict = {"name": name, "source_px": float(max(box[2] - box[0], box[3] - box[1])), "sizes": {}}
    for size in sizes:
        frame, fbox = scene(image, box, size)
        original_points = refit(frame, tuple(fbox))
        unobscured = descriptor(frame, original_points)
        row = {
            "centroid": centroid(image, box, size),
            "none": {"gate": unobscured, "chip": unobscured, "found": detected(frame, fbox), "ms": 0.0},
        }
        for method in METHODS:
            obscured = frame.copy()
            start = time.perf_counter()
            obscure(obscured, tuple(fbox), method)
            ms = 1000 * (time.perf_counter() - start)
            row[method] = {
                "gate": descriptor(obscured, refit(obscured, tuple(fbox))),
                "chip": descriptor(obscured, original_points),
                "found": detected(obscured, fbox),
                "ms": ms,
            }
        blank = np.empty_like(frame)
        blank[:] = np.rint(frame.reshape(-1, 3).mean(axis=0)).astype(np.uint8)
        row["floor"] = {
            "gate": descriptor(blank, refit(blank, tuple(fbox))),
            "chip": descriptor(blank, original_points),
            "found": detected(blank, fbox),
            "ms": 0.0,
        }
        out["sizes"][size] = row
    return out


def table(results: list[dict], sizes: tuple[int, ...]) -> list[str]:
    from facecast.models.recognition import ranks
    from facecast.swap.fallback import METHODS

    lines = []
    header = (
        f"{'size':>4} {'method':<9} {'n':>3} {'HOG':>7} {'MTCNN':>7} {'CF':>7} "
        f"{'gate p5':>7} {'median':>6} {'<0.6':>4} {'chip p5':>7} {'median':>6} {'rank1':>5} {'ms/face':>7} "
        f"{'p5/blur':>7}"
    )
    lines.append(header)
    for size in sizes:
        gallery = np.stack([r["sizes"][size]["centroid"] for r in results])
        truth = np.arange(len(results))
        n = len(results)
        blur_p5 = None
        rows = []
        for method in ("none", *METHODS, "floor"):
            cells = [r["sizes"][size][method] for r in results]
            gate = np.stack([c["gate"] for c in cells])
            chip = np.stack([c["chip"] for c in cells])
            d_gate = np.linalg.norm(gate - gallery, axis=1)
            d_chip = np.linalg.norm(chip - gallery, axis=1)
            rank1 = int((ranks(gate, gallery, truth) == 1).sum())
            found = {k: sum(c["found"][k] for c in cells) for k in ("hog", "mtcnn", "centerface")}
            p5 = float(np.percentile(d_gate, 5))
            if method == "blur":
                blur_p5 = p5
            rows.append((method, found, p5, d_gate, d_chip, rank1, cells))
        for method, found, p5, d_gate, d_chip, rank1, cells in rows:
            ratio = "" if method in ("none", "floor") or not blur_p5 else f"{p5 / blur_p5:7.2f}"
            ms = np.median([c["ms"] for c in cells])
            lines.append(
                f"{size:>4} {method:<9} {n:>3} {found['hog']:>3}/{n:<3} {found['mtcnn']:>3}/{n:<3} "
                f"{found['centerface']:>3}/{n:<3} {p5:7.3f} {np.median(d_gate):6.3f} {(d_gate < DEID_DISTANCE).sum():>4} "
                f"{np.percentile(d_chip, 5):7.3f} {np.median(d_chip):6.3f} {rank1:>5} {ms:7.2f} {ratio:>7}"
            )
        lines.append("")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--people", type=int, default=None, help="only the first N people (a quick look)")
    args = parser.parse_args(argv)
    if not FAIRFACE.is_dir():
        print(f"{FAIRFACE} is missing: the FairFace test faces come through ../shared", file=sys.stderr)
        return 2
    sizes = tuple(args.sizes)
    chosen = people()[: args.people]
    jobs = [(name, path, sizes) for name, path in chosen]
    start = time.perf_counter()
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(measure_person, jobs))
    else:
        results = [measure_person(job) for job in jobs]
    wall = time.perf_counter() - start
    sources = [r["source_px"] for r in results]
    print(
        f"{len(results)} people ({sum(n.startswith('fairface') for n, _ in chosen)} FairFace, the rest openpeople), "
        f"source faces {min(sources):.0f}-{max(sources):.0f} px, {wall:.0f} s"
    )
    print("Images from FairFace (Kärkkäinen and Joo, 2021), CC BY 4.0")
    print("\n".join(table(results, sizes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
