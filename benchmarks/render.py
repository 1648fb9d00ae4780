"""The swap renderer before and after the expression atlas, in one run: expression, sharpness, seam, privacy.

Runs the real ``swap`` stage function twice on the embedded default as
``dvc repro`` built it (data/interim, data/cast), into temporary folders:

* **current**: the renderer before issue 15, i.e. the identity's reference
  face only (``swap.atlas: false``), no expression detail from the frame
  (``expression_detail: never``) and the skin's mean and spread only
  (``light: statistics``), the new face painted over any hair on the forehead
  (``keep_hair: false``);
* **new**: the ``swap`` section of params.yaml as it is.

Both on the same identities (their atlases are used only by ``new``). Then
the real ``gate`` stage function measures each run as ``dvc repro`` would
(parameters: the ``gate`` section; it writes its tables into the temporary
interim folder, which links to the repo's tables), and the table prints, side
by side: the gate's mean expression correlation over clips and the clips it
rejects for expression, de-identification (distance to the original person:
5th percentile; re-identification rank-1 rate), landmark error, faces passed;
the swap stage's sharpness and seam figures (``rendering`` in
metrics/swap.json), flicker against the original's, and frames per second.

``--clips N`` measures the first N clips only (all by default; the whole
embedded default takes about 25 minutes on 2 cores).

Usage: .venv/bin/python benchmarks/render.py [--params params.yaml] [--clips N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from facecast import tables
from facecast.gate.stage import gate
from facecast.params import load
from facecast.reasons import GateReason
from facecast.swap.stage import swap

ROOT = Path(__file__).resolve().parents[1]
INTERIM = ROOT / "data" / "interim"
CAST = ROOT / "data" / "cast"
LINKED = ("frames", "faces", "tracks", "donor_tracks")  # stage tables swap and gate read, linked as they are
CURRENT = {"atlas": False, "expression_detail": "never", "light": "statistics", "keep_hair": False}


def interim_for(folder: Path, clips: int | None) -> Path:
    """A temporary interim folder: links to the repo's tables, and clips.parquet cut to the first ``clips``."""
    folder.mkdir(parents=True)
    for name in LINKED:
        (folder / f"{name}.parquet").symlink_to(INTERIM / f"{name}.parquet")
    table = tables.read_df("clips", INTERIM).sort_values("clip_id")
    if clips is not None:
        table = table.head(clips)
    tables.write("clips", table, folder)
    return folder


def run(name: str, swap_params, gate_params, scratch: Path, clips: int | None) -> dict:
    interim = interim_for(scratch / f"{name}_interim", clips)
    out = scratch / f"{name}_swapped"
    start = time.perf_counter()
    swapped = swap(swap_params, interim, CAST, out=out, metrics=scratch / f"{name}_swap.json")
    seconds = time.perf_counter() - start
    gated = gate(gate_params, interim, CAST, out, metrics=scratch / f"{name}_gates.json", plots=scratch / name)
    faces = tables.read_df("gates", interim)
    by_expression = faces[faces["reason_kinds"].map(lambda kinds: GateReason.EXPRESSION in list(kinds))]
    rejected = int(by_expression["clip_id"].nunique())
    return {"swap": swapped, "gate": gated, "seconds": seconds, "expression_rejected": rejected}


def fmt(value, digits: int = 3) -> str:
    return "-" if value is None else (f"{value:.{digits}f}" if isinstance(value, float) else str(value))


def rows(results: dict[str, dict]) -> list[tuple[str, ...]]:
    def both(get) -> tuple[str, ...]:
        return tuple(fmt(get(r)) for r in results.values())

    return [
        ("mean expression correlation over clips (gate)", *both(lambda r: r["gate"]["expression_mean_pcc"])),
        ("clips rejected for expression", *both(lambda r: r["expression_rejected"])),
        ("distance to the original person, 5th pct", *both(lambda r: r["gate"]["deid_distance"]["p5"])),
        ("re-identification rank-1 rate", *both(lambda r: r["gate"]["reid_rank1_rate"])),
        ("landmark error, median (inter-ocular)", *both(lambda r: r["gate"]["landmark_error"]["median"])),
        ("faces passed by the gate", *both(lambda r: r["gate"]["faces"]["pass_rate"])),
        ("sharpness, swapped / original, median", *both(lambda r: r["swap"]["rendering"]["sharpness_ratio_median"])),
        ("seam gradient ratio, median", *both(lambda r: r["swap"]["rendering"]["seam_ratio_median"])),
        ("  the same on the original frames", *both(lambda r: r["swap"]["rendering"]["seam_ratio_original_median"])),
        ("faces from an expression entry", *both(lambda r: r["swap"]["rendering"]["from_expression_entries"])),
        ("faces with the frame's expression detail", *both(lambda r: r["swap"]["rendering"]["with_expression_detail"])),
        ("faces with hair kept in front", *both(lambda r: r["swap"]["rendering"].get("with_hair_kept"))),
        ("flicker, swapped (original)", *both(lambda r: _flicker(r["swap"]))),
        ("swap frames per second", *both(lambda r: r["swap"]["frames"]["written"] / r["seconds"])),
    ]


def _flicker(metrics: dict) -> str:
    t = metrics["temporal"]
    return f"{t['face_change_swapped']} ({t['face_change_original']})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(ROOT / "params.yaml"))
    parser.add_argument("--clips", type=int, default=None)
    args = parser.parse_args()
    missing = [p for p in (INTERIM / "clips.parquet", CAST / "casting.parquet") if not p.exists()]
    if missing:
        print(f"render benchmark: run `dvc repro` first; missing {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    p = load("swap", "gate", path=args.params)
    settings = {"current": p.swap.model_copy(update=CURRENT), "new": p.swap}
    with tempfile.TemporaryDirectory() as tmp:
        results = {name: run(name, s, p.gate, Path(tmp), args.clips) for name, s in settings.items()}
    table = pd.DataFrame(rows(results), columns=["figure", *results]).set_index("figure")
    print(table.to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
