"""Stage report on a small real tree: three clips of openpeople faces, schema-valid manifests, real images.

* P001_expressions (mp4, 8 frames): every frame published, frames 0-3 also as augmented copies; one copy skipped by augment.
* P002_expressions (folder of images, 8 frames): frames 0-4 published (frame 2 has two faces, two identities),
  5-7 rejected by gate for landmarks (6 also for a leak).
* P003_expressions (mp4, 6 frames): rejected whole for expression; swap dropped frame 4.

The swapped frames are another person's faces, so an original and its swap are told apart by their pixels.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from markupsafe import escape

from facecast import tables
from facecast.errors import InputError, TableError
from facecast.evaluate.samples import ORIGINAL_COLUMNS, RECAST_COLUMNS, Selection
from facecast.evaluate.stage import not_evaluated
from facecast.io.clips import iter_frames
from facecast.params import EvaluateParams, ReportParams
from facecast.report.inputs import DISTANCE_COLUMNS
from facecast.report.select import evenly_spaced, shares
from facecast.report.stage import report
from facecast.sample.people import subjects
from held_out import held_out

from conftest import CAST_FIT

REPO = Path(__file__).resolve().parents[1]
PER_CLIP = 3
SIZE = (320, 240)
FEATURES = ("eye_open_left", "eye_open_right", "mouth_open", "mouth_width", "mouth_corners", "brow_height")
CLIPS = {  # clip -> (kind, frames, person whose faces play the swapped frames, identity, split)
    "P001_expressions": ("video", 8, 1, "id_f1", "train"),
    "P002_expressions": ("images", 8, 0, "id_m1", "test"),
    "P003_expressions": ("video", 6, 0, "id_f2", "val"),
}
IDENTITIES = {
    "id_f1": ("female", "train"),
    "id_m1": ("male", "test"),
    "id_f2": ("female", "test"),
}  # declared sex, split
MEASURED = {"id_f1": "female", "id_m1": "male", "id_f2": "male"}  # id_f2's face reads as male
TWO_FACES = ("P002_expressions", 2)  # id_f2 also plays a second face here
LANDMARKS = "landmarks: error 0.212 above the cap 0.15"
LEAK = "leak: 1 face(s) the detector found match no face row"
EXPRESSION = "expression: clip mean PCC 0.310 below 0.5"
DROPPED = "dropped: swap did not write this frame"
FLIP = "flip: label 'happy' has no mirror in augment.label_flip_map"
GATE_REASONS = {  # (clip, frame) -> reasons; the frames not named pass
    **{("P002_expressions", f): [LANDMARKS] for f in (5, 7)},
    ("P002_expressions", 6): [LANDMARKS, LEAK],
    **{("P003_expressions", f): [EXPRESSION] for f in range(6)},
    ("P003_expressions", 4): [EXPRESSION, DROPPED],
}


def jpeg(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])


def square(rgb: np.ndarray, side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = min(h, w)
    return cv2.resize(rgb[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s], (side, side))


def write_clip(path: Path, kind: str, frames: list[np.ndarray]) -> None:
    if kind == "images":
        for i, f in enumerate(frames):
            jpeg(path / f"frame_{i:04d}.jpg", f)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, SIZE)
    for f in frames:
        out.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    out.release()


def typed(reasons: list[str]) -> dict:
    """``"kind: detail"`` reasons as the tables hold them: ``reason_kinds`` and ``reason_details``, in parallel."""
    pairs = [r.split(": ", 1) for r in reasons]
    return {"reason_kinds": [k for k, _ in pairs], "reason_details": [d for _, d in pairs]}


def row_of(name: str, **values) -> dict:
    row = {c: None for c in tables.spec(name).schema.names}
    row.update(values)
    return row


def quantiles(rng: np.random.Generator, mean: float) -> np.ndarray:
    return np.round(np.quantile(rng.normal(mean, 0.05, 200), np.linspace(0, 1, 51)), 5)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A repository-shaped tree holding every input of the report."""
    root = tmp_path_factory.mktemp("report")
    people = subjects(3)
    cells = [[cv2.resize(c, SIZE) for c in p.expression_cells] for p in people]
    for i, identity in enumerate(IDENTITIES):
        png = root / "data" / "cast" / "identities" / identity / "face.png"
        png.parent.mkdir(parents=True)
        assert cv2.imwrite(str(png), cv2.cvtColor(square(people[i].expression_cells[0], 512), cv2.COLOR_RGB2BGR))

    sources, gates, gate_clips, published, rejects, dclips = [], [], [], [], [], []
    for n, (clip, (kind, count, actor, identity, split)) in enumerate(CLIPS.items()):
        path = root / "data" / "sample" / "clips" / (clip if kind == "images" else f"{clip}.mp4")
        write_clip(path, kind, cells[n][:count])
        sources.append(
            row_of(
                "clips",
                clip_id=clip,
                path=str(path),
                kind=kind,
                n_frames=count,
                fps=25.0,
                width=SIZE[0],
                height=SIZE[1],
                sha256="0" * 64,
                subject_id=f"S{n}",
                status="ok",
            )
        )
        for f in range(count):
            reasons = GATE_REASONS.get((clip, f), [])
            image = None if DROPPED in reasons else f"{clip}__v0/{f:06d}.jpg"
            if image:
                jpeg(root / "data" / "swapped" / image, cells[actor][f])
            cast = [identity, "id_f2"] if (clip, f) == TWO_FACES else [identity]
            for track, who in enumerate(cast):
                gates.append(
                    row_of(
                        "gates",
                        clip_id=clip,
                        variant=0,
                        frame_idx=f,
                        track_id=track,
                        identity_id=who,
                        swap_status="dropped" if image is None else "swapped",
                        image=image,
                        deid_distance=0.8,
                        status="reject" if reasons else "pass",
                        **typed(reasons),
                    )
                )
            if reasons:
                rejects.append(
                    row_of("dataset_rejects", clip_id=clip, variant=0, frame_idx=f, stage="gate", **typed(reasons))
                )
                continue
            for copy in (0, 1) if clip == "P001_expressions" and f < 4 else (0,):
                published.append(
                    row_of(
                        "dataset_frames",
                        image=f"images/{split}/{clip}/{f:06d}_c{copy}.jpg",
                        sha256="0" * 64,
                        split=split,
                        clip_id=clip,
                        variant=0,
                        copy=copy,
                        frame_idx=f,
                        timestamp_s=f / 25.0,
                        label="neutral",
                        subject=f"S{n}",
                        identity_ids=cast,
                        declared=[[("sex", IDENTITIES[i][0])] for i in cast],
                        measured=[[("sex", MEASURED[i])] for i in cast],
                        flipped=False,
                        deid_distance_min=0.8 - f / 100,
                        landmark_error_max=0.03,
                        status="published",
                    )
                )
        for feature in (*FEATURES, "mean"):
            pcc = 0.31 if clip == "P003_expressions" else 0.8
            gate_clips.append(
                row_of(
                    "gate_clips",
                    clip_id=clip,
                    variant=0,
                    feature=feature,
                    pcc=pcc,
                    rmse=0.02,
                    frames=count,
                    status="measured",
                )
            )
    rejects.append(
        row_of(
            "dataset_rejects",
            clip_id="P001_expressions",
            variant=0,
            copy=1,
            frame_idx=5,
            stage="augment",
            **typed([FLIP]),
        )
    )
    for clip, (_kind, count, _, _, split) in CLIPS.items():
        n_pub = sum(r["clip_id"] == clip for r in published)
        n_rej = sum(r["clip_id"] == clip for r in rejects)
        dclips.append(
            row_of(
                "dataset_clips",
                clip_id=clip,
                subject=f"S{list(CLIPS).index(clip)}",
                split=split,
                fps=25.0,
                width=SIZE[0],
                height=SIZE[1],
                source_frames=count,
                published_images=n_pub,
                rejected_frames=n_rej,
            )
        )
    images = {i: sum(i in r["identity_ids"] for r in published) for i in IDENTITIES}
    ids = [
        row_of(
            "dataset_identities",
            identity_id=i,
            split=s,
            declared=[("sex", sex)],
            measured_age=30.0,
            measured_sex=MEASURED[i],
            ita_category="intermediate",
            donor_ids=["D1", "D2"],
            images=images[i],
        )
        for i, (sex, s) in IDENTITIES.items()
    ]

    interim, manifest = (root / "data" / "interim", root / "data" / "dataset" / "manifest")
    tables.write("clips", sources, interim / "clips.parquet")
    tables.write("gates", gates, interim / "gates.parquet")
    tables.write("gate_clips", gate_clips, interim / "gate_clips.parquet")
    same = [{"kind": "clip", "original": c, "published": c} for c in sorted({r["clip_id"] for r in dclips})]
    tables.write("published_ids", same, interim / "published_ids.parquet")  # manifest.clip_ids: original
    tables.write("dataset_frames", published, manifest / "frames.parquet")
    tables.write("dataset_rejects", rejects, manifest / "rejects.parquet")
    tables.write("dataset_identities", ids, manifest / "identities.parquet")
    tables.write("dataset_clips", dclips, manifest / "clips.parquet")

    (root / "metrics").mkdir()
    categories = [
        {"attribute": "sex", "category": c, "target": 0.5, "achieved": 0.5, "frame_share": 0.5, "identity_share": 0.5}
        for c in ("female", "male")
    ]
    cast = {"categories": categories, "balance_by": "frames", "fit": CAST_FIT, "refused_by_attributes": {}}
    (root / "metrics" / "cast.json").write_text(json.dumps(cast))
    quota = {
        "balance_by": "published",
        "tolerance": 0.01,
        "left_out_images": 3,
        "largest_gap_declared": 0.004,
        "largest_gap_measured": 0.12,
        "causes": [],
    }
    (root / "metrics" / "dataset.json").write_text(json.dumps({"quota": quota}))
    quant = {"mean": 0.8, "median": 0.8, "p5": 0.7, "p95": 0.9, "n": 22}
    (root / "metrics" / "gates.json").write_text(
        json.dumps(
            {
                "frames": {"total": 22, "passed": 13, "pass_rate": 0.5909},
                "faces": {"total": 23, "passed": 14, "pass_rate": 0.6087},
                "deid_distance": quant,
                "identity_distance": quant,
                "reid_rank1_rate": 0.0,
                "landmark_error": quant,
                "expression_mean_pcc": 0.6367,
                "leaks_in_passed_frames": 0,
                "reject_reasons": {"expression": 6, "landmarks": 3, "leak": 1, "dropped": 1},
            }
        )
    )
    rng = np.random.default_rng(3)
    plots = root / "plots"
    (plots / "landmark_score").mkdir(parents=True)
    share = np.round(np.linspace(0, 1, 51), 4)
    pd.DataFrame(
        {"share": share, **{c: quantiles(rng, m) for c, m in zip(DISTANCE_COLUMNS, (0.3, 0.7, 0.8, 0.4))}}
    ).to_csv(plots / "distances.csv", index=False)
    for clip in CLIPS:
        pd.DataFrame({"share": share, "landmark_score": quantiles(rng, 1.8)}).to_csv(
            plots / "landmark_score" / f"{clip}__v0.csv", index=False
        )
    # each clip a subject and a fold; even frames 'neutral', odd 'happy'; the recast of frame 1 reads 'neutral'
    fold = {clip: i + 1 for i, clip in enumerate(CLIPS)}
    frames = sorted({(r["clip_id"], r["frame_idx"]) for r in published if r["copy"] == 0})
    utility, predictions = held_out(
        [
            (c, f, fold[c], "neutral" if f % 2 == 0 else "happy", "neutral" if f % 2 == 0 or f == 1 else "happy")
            for c, f in frames
        ],
        {"transition": "in evaluate.ignore_labels"},
        1,
    )
    (root / "metrics" / "utility.json").write_text(json.dumps(utility))
    tables.write("utility_frames", predictions, interim / "utility_frames.parquet")
    (root / "params.yaml").write_text(f"seed: 1\nreport:\n  frames_per_clip: {PER_CLIP}\n")
    return root


def run_report(root: Path) -> dict:
    return report(
        ReportParams(frames_per_clip=PER_CLIP),
        dataset=root / "data" / "dataset",
        interim=root / "data" / "interim",
        cast_dir=root / "data" / "cast",
        swapped=root / "data" / "swapped",
        metrics=root / "metrics",
        plots=root / "plots",
        out=root / "reports",
        plot_out=root / "plots" / "dataset",
    )


class Page(HTMLParser):
    """What the tests look at: links, ids, and per clip sheet its figures, their images and row captions."""

    def __init__(self, text: str):
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.ids: set[str] = set()
        self.sheets: dict[str, dict] = {}
        self.clip: str | None = None
        self.depth = 0  # open divs inside the current sheet
        self.caption: list[str] | None = None
        self.svgs: list[list[str]] = []  # the texts of each chart
        self.in_svg = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.links += [(k, v) for k, v in attrs if k in ("src", "href")]
        if "id" in a:
            self.ids.add(a["id"])
            if tag == "h3" and a["id"].startswith("clip-"):
                self.clip = a["id"][5:]
        if tag == "svg":
            self.in_svg = True
            self.svgs.append([])
        sheet = self.sheets.get(self.clip) if self.clip else None
        if tag == "div" and a.get("class") == "sheet" and self.clip:
            self.sheets[self.clip] = {"figures": [], "captions": []}
            self.depth = 1
        elif tag == "div" and sheet is not None and self.depth:
            self.depth += 1
            if a.get("class") == "cap":
                self.caption = []
        elif tag == "figure" and sheet is not None and self.depth:
            sheet["figures"].append([])
        elif tag == "img" and sheet is not None and self.depth:
            sheet["figures"][-1].append(a["src"])

    def handle_endtag(self, tag):
        if tag == "svg":
            self.in_svg = False
        if tag == "div" and self.depth:
            self.depth -= 1
            if self.caption is not None:
                self.sheets[self.clip]["captions"].append("".join(self.caption))
                self.caption = None

    def handle_data(self, data):
        if self.caption is not None:
            self.caption.append(data)
        if self.in_svg:
            self.svgs[-1].append(data)


def decode(uri: str) -> np.ndarray:
    prefix = "data:image/jpeg;base64,"
    assert uri.startswith(prefix)
    bgr = cv2.imdecode(np.frombuffer(base64.b64decode(uri[len(prefix) :]), np.uint8), cv2.IMREAD_COLOR)
    assert bgr is not None
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def written(tree) -> tuple[dict, str, Page]:
    result = run_report(tree)
    text = (tree / "reports" / "index.html").read_text(encoding="utf-8")
    return result, text, Page(text)


def test_page_is_self_contained_and_says_it_is_internal(written):
    result, text, page = written
    assert result["html"].endswith("reports/index.html") and result["bytes"] == len(text.encode())
    for kind, value in page.links:
        if kind == "href":
            assert value.startswith("#") and value[1:] in page.ids, value
        else:
            decode(value)
    assert "<script" not in text and "url(" not in text and "@import" not in text and "<link" not in text
    assert "INTERNAL — DO NOT PUBLISH" in text and "original faces" in text


def test_one_contact_sheet_per_clip_with_original_swapped_identity_rows(written, tree):
    _, text, page = written
    assert {"clip-P001_expressions", "clip-P002_expressions", "clip-P003_expressions"} <= page.ids
    assert set(page.sheets) == {"P001_expressions", "P002_expressions"}  # P003 published nothing
    p003 = text.split("id='clip-P003_expressions'")[1]
    assert "No frame of this clip was published" in p003 and "held back for expression 6, dropped 1" in p003
    expected = {
        "P001_expressions": evenly_spaced(8, PER_CLIP),
        "P002_expressions": [[0, 1, 2, 3, 4][i] for i in evenly_spaced(5, PER_CLIP)],
    }
    assert expected == {"P001_expressions": [0, 4, 7], "P002_expressions": [0, 2, 4]}
    for clip, frames in expected.items():
        sheet = page.sheets[clip]
        assert len(sheet["figures"]) == 3 * PER_CLIP and all(len(f) == 1 for f in sheet["figures"])
        assert [c.split(" · ")[0] for c in sheet["captions"]] == [f"frame {f}" for f in frames]
        originals = dict(enumerate(iter_frames(*_source(tree, clip))))
        swapped_dir = tree / "data" / "swapped" / f"{clip}__v0"
        for row, f in enumerate(frames):
            original, swapped, identity = (decode(uri[0]) for uri in sheet["figures"][3 * row : 3 * row + 3])
            truth = originals[f].astype(float)
            swap = cv2.cvtColor(cv2.imread(str(swapped_dir / f"{f:06d}.jpg")), cv2.COLOR_BGR2RGB).astype(float)
            # each column holds its own picture: nearer its source than the other column's by a wide margin
            assert np.abs(original - truth).mean() * 4 < np.abs(original - swap).mean()
            assert np.abs(swapped - swap).mean() * 4 < np.abs(swapped - truth).mean()
            faces = 2 if (clip, f) == TWO_FACES else 1
            assert identity.shape[1] == faces * identity.shape[0]
    assert "identity id_m1, id_f2" in page.sheets["P002_expressions"]["captions"][1]
    assert "2 published images" in page.sheets["P001_expressions"]["captions"][0]


def _source(tree: Path, clip: str) -> tuple[Path, str]:
    c = tables.read_df("clips", tree / "data" / "interim" / "clips.parquet").set_index("clip_id").loc[clip]
    return Path(c["path"]), c["kind"]


def test_rejects_are_grouped_by_reason_with_every_reason(written, tree):
    result, text, page = written
    assert result["reject_reasons"] == {"expression": 6, "landmarks": 3, "leak": 1, "dropped": 1, "flip": 1}
    for kind in result["reject_reasons"]:
        assert f"reject-{kind}" in page.ids
    rejects = text.split("id='rejects'")[1].split("id='sheets'")[0]
    for reason in (LANDMARKS, LEAK, EXPRESSION, DROPPED, FLIP):
        assert f"<li>{escape(reason)}</li>" in rejects
    assert "6 held back · 6 shown" in rejects and "no image: swap did not write this frame" in rejects
    assert "held back by augment" in rejects and "copy 1" in rejects
    csv = pd.read_csv(tree / "plots" / "dataset" / "rejects.csv")
    assert dict(zip(csv["reason"], csv["rejected"])) == result["reject_reasons"]


def test_plots_expression_table_and_shares_are_drawn(written, tree):
    _, text, page = written
    quality = text.split("id='quality'")[1].split("</section>")[0]
    assert quality.count("<svg") == 2 and quality.count("<polyline") == len(DISTANCE_COLUMNS) + len(CLIPS)
    legends = [" ".join(s) for s in page.svgs]
    assert any("swapped face vs the original person" in t and "0.6: same person" in t for t in legends)
    assert any(all(f"{c}__v0" in t for c in CLIPS) for t in legends)
    expression = text.split("id='expression'")[1].split("</section>")[0]
    assert expression.count("<tr>") == 1 + len(CLIPS) and ">0.31</span>" in expression
    assert "<td class='num'>6</td></tr>" in expression  # P003: every frame held back for expression
    bars = pd.read_csv(tree / "plots" / "dataset" / "shares.csv").set_index("bar")["share"].to_dict()
    # faces in published images: P001 12 x female, P002 5 x male and one female (two faces in frame 2); id_f2 is measured male
    assert bars == {
        "sex: female (target)": 0.5,
        "sex: female (cast plan)": 0.5,
        "sex: female (published, declared)": round(13 / 18, 4),
        "sex: female (published, measured)": round(12 / 18, 4),
        "sex: male (target)": 0.5,
        "sex: male (cast plan)": 0.5,
        "sex: male (published, declared)": round(5 / 18, 4),
        "sex: male (published, measured)": round(6 / 18, 4),
    }
    demographics = text.split("id='demographics'")[1].split("</section>")[0]
    assert (
        "72.2 %" in demographics
        and "+22.2 pp" in demographics
        and demographics.count("class='identity'") == len(IDENTITIES)
    )
    # metrics/dataset.json's quota, as manifest wrote it
    assert "3 image(s) the gate passed were left out" in demographics and "by measured category 12.0 %" in demographics


def test_usefulness_shows_the_regimes_the_labels_and_the_frames_the_recast_changed(written, tree):
    _, text, page = written
    section = text.split("id='usefulness'")[1].split("</section>")[0]
    utility = json.loads((tree / "metrics" / "utility.json").read_text())
    assert f"<div class='v'>{utility['utility_ratio']['value']:.3f}</div>" in section
    for name in ("real → real", "recast → real", "recast → recast", "real + recast → real"):
        assert f"<td>{name}</td>" in section, name
    assert section.count("<h3>Confusion,") == 2
    # one example per label whose prediction the recast changed: 'happy' (frame 1 of the first clip)
    figure = section.split("<div class='gallery'>")[1]
    assert figure.count("<figure>") == 1 and figure.count("<img") == 2
    assert "frame 1: labelled happy; original read as happy, recast as neutral" in figure
    assert "Labels not scored: transition (in evaluate.ignore_labels)." in section


def test_an_unevaluated_dataset_says_why(tree, tmp_path):
    root = tmp_path / "tree"
    shutil.copytree(tree, root, ignore=shutil.ignore_patterns("reports"))
    empty = Selection(pd.DataFrame(columns=ORIGINAL_COLUMNS), pd.DataFrame(columns=RECAST_COLUMNS), [])
    reason = "a single label (neutral): nothing to tell apart"
    (root / "metrics" / "utility.json").write_text(json.dumps(not_evaluated(EvaluateParams(), empty, reason)))
    tables.write("utility_frames", tables.empty("utility_frames"), root / "data" / "interim" / "utility_frames.parquet")
    run_report(root)
    section = (root / "reports" / "index.html").read_text().split("id='usefulness'")[1].split("</section>")[0]
    assert f"Not evaluated: {reason}." in section and "<table" not in section


def test_shares_need_one_map_per_identity(tree):
    frames = tables.read_df("dataset_frames", tree / "data" / "dataset" / "manifest" / "frames.parquet")
    category = {"attribute": "sex", "category": "male", "target": 1.0, "achieved": 1.0}
    rows = shares({"categories": [category]}, frames)
    assert [(r.category, r.target, round(r.published, 4)) for r in rows] == [
        ("male", 1.0, round(5 / 18, 4)),
        ("female", None, round(13 / 18, 4)),
    ]
    frames.loc[0, "declared"] = []
    with pytest.raises(InputError, match="1 identity_ids but 0 'declared' maps"):
        shares({"categories": [category]}, frames)


def test_nothing_published_still_reports_every_clip_and_reject(tree, tmp_path):
    root = tmp_path / "tree"
    shutil.copytree(tree, root, ignore=shutil.ignore_patterns("reports"))
    manifest = root / "data" / "dataset" / "manifest"
    tables.write("dataset_frames", tables.empty("dataset_frames"), manifest / "frames.parquet")
    result = run_report(root)
    text = (root / "reports" / "index.html").read_text(encoding="utf-8")
    assert (
        result["sheet_rows"] == 0
        and result["clips"] == len(CLIPS)
        and text.count("No frame of this clip was published") == len(CLIPS)
    )
    assert "No image was published" in text and "<li>" + LANDMARKS + "</li>" in text
    assert pd.read_csv(root / "plots" / "dataset" / "shares.csv")["series"].tolist() == ["target", "cast plan"] * 2


HOSTILE = "<script>alert(1)</script> [x](javascript:alert(1)) a|b</td><td>\n# not a heading"


def test_hostile_text_is_shown_as_text(tree, tmp_path):
    """A label, a subject and a category that look like markup are escaped: no tag, link or table cell of theirs."""
    root = tmp_path / "tree"
    shutil.copytree(tree, root, ignore=shutil.ignore_patterns("reports"))
    manifest = root / "data" / "dataset" / "manifest"
    frames = tables.read_df("dataset_frames", manifest / "frames.parquet")
    tables.write("dataset_frames", frames.assign(label=HOSTILE), manifest / "frames.parquet")
    clips = tables.read_df("dataset_clips", manifest / "clips.parquet")
    tables.write("dataset_clips", clips.assign(subject=HOSTILE), manifest / "clips.parquet")
    cast = json.loads((root / "metrics" / "cast.json").read_text())
    cast["categories"].append({**cast["categories"][0], "category": HOSTILE})
    (root / "metrics" / "cast.json").write_text(json.dumps(cast))
    run_report(root)
    text = (root / "reports" / "index.html").read_text(encoding="utf-8")
    page = Page(text)
    assert "<script" not in text and "</td><td>\n" not in text
    assert all(v.startswith(("#", "data:image/jpeg;base64,")) for _, v in page.links)
    # the parser reads each back whole, as text: in every caption, in the bar chart, in the tables
    captions = [c for sheet in page.sheets.values() for c in sheet["captions"]]
    assert captions and all(f" · label {HOSTILE} · " in c for c in captions)
    assert any(f"sex: {HOSTILE}" in "".join(t) for t in page.svgs)
    clip_table = text.split("id='clips'")[1].split("</section>")[0]
    assert clip_table.count("<td") == 9 * len(CLIPS) and clip_table.count(str(escape(HOSTILE))) == len(CLIPS)
    demographics = text.split("id='demographics'")[1].split("</section>")[0]
    assert f"<td>{escape(HOSTILE)}</td>" in demographics


MISSING = {
    "metrics/gates.json": (InputError, "metrics/gates.json: metrics file not found"),
    "metrics/utility.json": (InputError, r"metrics/utility.json: metrics file not found \(run stage evaluate\)"),
    "data/dataset/manifest/rejects.parquet": (TableError, "table 'dataset_rejects' not found"),
    "data/cast/identities/id_m1/face.png": (InputError, "face of cast identity 'id_m1' not found"),
    "data/swapped/P001_expressions__v0/000004.jpg": (
        InputError,
        "swapped frame of P001_expressions variant 0 frame 4 not found",
    ),
    "plots/landmark_score": (InputError, "plots/landmark_score: plot folder not found"),
    "data/sample/clips/P002_expressions": (InputError, "original clip 'P002_expressions' not found"),
}


@pytest.mark.parametrize("missing", list(MISSING))
def test_a_missing_input_is_named(tree, tmp_path, missing):
    root = tmp_path / "tree"
    shutil.copytree(tree, root, ignore=shutil.ignore_patterns("reports"))
    sources = tables.read_df("clips", root / "data" / "interim" / "clips.parquet")
    sources["path"] = sources["path"].str.replace(str(tree), str(root), regex=False)
    tables.write("clips", sources, root / "data" / "interim" / "clips.parquet")
    target = root / missing
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    error, message = MISSING[missing]
    with pytest.raises(error, match=message):
        run_report(root)
    assert not (root / "reports").exists()


def test_stage_script_writes_the_page_or_exits_2(tree, tmp_path):
    script = [sys.executable, str(REPO / "stages" / "report.py")]
    done = subprocess.run(script, cwd=tree, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tree / "reports" / "index.html").is_file() and (tree / "plots" / "dataset" / "shares.csv").is_file()
    (tmp_path / "params.yaml").write_text("seed: 1\nreport:\n  frames_per_clip: 0\n")
    failed = subprocess.run(script, cwd=tmp_path, capture_output=True, text=True)
    assert failed.returncode == 2 and failed.stderr.startswith("facecast report: params.yaml: invalid parameters")
    (tmp_path / "params.yaml").write_text("seed: 1\n")
    failed = subprocess.run(script, cwd=tmp_path, capture_output=True, text=True)
    assert failed.returncode == 2
    assert failed.stderr.startswith(
        "facecast report: data/dataset/manifest/frames.parquet: table 'dataset_frames' not found"
    )


def test_a_dataset_with_nothing_held_back_gets_its_page(tree, tmp_path):
    """Every frame passed: rejects.parquet is empty, and the page says nothing was held back."""
    root = tmp_path / "tree"
    shutil.copytree(tree, root, ignore=shutil.ignore_patterns("reports"))
    manifest = root / "data" / "dataset" / "manifest"
    tables.write("dataset_rejects", tables.read_df("dataset_rejects", manifest).iloc[0:0], manifest)
    run_report(root)
    text = (root / "reports" / "index.html").read_text(encoding="utf-8")
    assert "Nothing was held back: every swapped frame passed the gate." in text
    assert Page(text).sheets
