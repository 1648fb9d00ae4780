"""DATASET_CARD.md: what the dataset is, how it was made, what is in it, how useful it is, and what it cannot
promise.

Everything printed comes from the manifest's figures (``metrics/dataset.json``),
the validated parameters, the gate, cast and utility metrics and the donors'
declared licences; nothing is written by hand per run. The ``input`` section is left
out on purpose: it holds paths on the machine that made the dataset.

The card is ``templates/card.md.j2``. Markdown has no autoescape, so the
environment's ``finalize`` is :func:`md`: every value a template prints is
escaped to show as plain text (it can start no link, image, HTML tag, heading
or list, and end no table cell or row) unless it is :class:`Raw`, the markup
that the :func:`code` and :func:`fenced` filters build around their text.
"""

from __future__ import annotations

import html
import re

import pandas as pd
import yaml
from jinja2 import Environment, PackageLoader, StrictUndefined

from facecast import tables
from facecast.metrics import REGIME_NAMES, WHOLE_DATASET
from facecast.models.attributes import calibration

_LICENCE = re.compile(r"^licen[cs]e$", re.IGNORECASE)
_ATTRIBUTION = re.compile(r"attribution|source|credit|author|copyright|url", re.IGNORECASE)
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|])")  # < > & are HTML-escaped instead


class Raw(str):
    """Markdown the card prints as it is: built by a filter around text it made safe."""


def _one_line(value: object) -> str:
    return " ".join(str(value).splitlines())


def md(value: object) -> str:
    """``value`` as Markdown that shows exactly its text: on one line (newlines as spaces), ``& < >`` as HTML
    entities and every other Markdown special backslashed. :class:`Raw` as it is."""
    if isinstance(value, Raw):
        return value
    return _SPECIAL.sub(r"\\\1", html.escape(_one_line(value), quote=False))


def code(value: object) -> Raw:
    """An inline code span (verbatim, so not backslash-escaped), fenced by more backticks than any run inside.

    A ``|`` is backslashed so the span can stand in a table cell (GitHub drops the backslash there).
    """
    text = _one_line(value).replace("|", "\\|")
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return Raw(f"{fence}{pad}{text}{pad}{fence}")


def fenced(text: str, info: str = "") -> Raw:
    """A fenced code block whose fence is longer than any backtick run in ``text``, so no line of it closes the block."""
    fence = "`" * max(3, max(map(len, re.findall("`+", text)), default=0) + 1)
    body = text.rstrip("\n")
    return Raw(f"{fence}{info}\n{body}\n{fence}")


def pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def num(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def quantiles(d: dict | None, keys: tuple[str, ...] = ("median", "p5", "p95")) -> str:
    """``median 0.720, p5 0.700, p95 0.730``: the named statistics of a metrics block that has them."""
    return "n/a" if not d else ", ".join(f"{k} {num(d.get(k))}" for k in keys if k in d)


_ENV = Environment(
    loader=PackageLoader("facecast.card", "templates"),
    autoescape=False,  # Markdown: md() is the escape, as finalize
    finalize=md,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_ENV.filters.update(code=code, fenced=fenced, pct=pct, num=num, quantiles=quantiles)


def _per_split(by_split: dict[str, dict], splits: list[str], names) -> list[tuple[str, list[dict | None]]]:
    """One row per name: its count and share in each split (None where it has none)."""
    return [(name, [by_split[s].get(name) for s in splits]) for name in names]


def _labels(result: dict, splits: list[str]) -> list[tuple[str, list[dict | None]]]:
    """Per label: its source frames (before), then its published images in each split."""
    labels = result["labels"]
    names = sorted(set(labels["source_frames"]) | {k for s in splits for k in labels["published"][s]})
    return [
        (name, [labels["source_frames"].get(name), *cells])
        for name, cells in _per_split(labels["published"], splits, names)
    ]


def _categories(result: dict, splits: list[str]) -> list[tuple[str, str, list]]:
    """(attribute, declared or measured, rows per category) of each per-split category table."""
    out = []
    for kind in ("declared", "measured"):
        for attribute, by_split in result["categories"][kind].items():
            names = sorted({c for s in splits for c in by_split[s]})
            out.append((attribute, kind, _per_split(by_split, splits, names)))
    return out


def _donors(donors: pd.DataFrame, identities: pd.DataFrame) -> tuple[list[str], list[tuple], list[str]]:
    """(attribution columns, rows, donors without a licence); a row: (donor, its identities, licence, attributions).

    A row's licence is None where donors.csv declares none.
    """
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
        cells = [row[c] if row is not None and isinstance(row[c], str) else "" for c in attribution]
        rows.append((donor_id, ", ".join(sorted(used[donor_id])), "; ".join(lic) or None, cells))
    return attribution, rows, unlicensed


def _agreement_rows(utility: dict) -> list[tuple[str, float | None]]:
    """(label, agreement) of an evaluated dataset, lowest agreement first (labels without a figure last)."""
    per_label = (utility.get("agreement") or {}).get("per_label", {})
    return sorted(per_label.items(), key=lambda kv: (kv[1] is None, kv[1] if kv[1] is not None else 0.0, kv[0]))


def _text(value: object) -> str:
    return "n/a" if value is None or (isinstance(value, float) and value != value) else str(value)


def _identity_rows(identities: pd.DataFrame, images: dict[str, int], refused: dict[str, int]) -> list[dict]:
    """Per identity made: declared and measured sex and age group, apparent age, skin tone, published images."""
    rows = []
    for r in identities[identities["status"] == "ok"].itertuples(index=False):
        declared = dict(r.declared)
        sex_conf = r.measured_sex_confidence
        group_p = r.measured_age_group_probability
        rows.append(
            {
                "identity_id": r.identity_id,
                "sex": _text(declared.get("sex")),
                "measured_sex": _text(r.measured_sex) + ("" if pd.isna(sex_conf) else f" ({sex_conf:.0f} %)"),
                "age_group": _text(declared.get("age_group")),
                "measured_age_group": _text(r.measured_age_group)
                + ("" if pd.isna(group_p) else f" ({100 * group_p:.0f} %)"),
                "age": "n/a" if pd.isna(r.measured_age) else f"{r.measured_age:.0f}",
                "ita": "n/a" if pd.isna(r.ita_deg) else f"{_text(r.ita_category)} ({r.ita_deg:.0f}°)",
                "images": images.get(r.identity_id, 0),
                "refused": refused.get(r.identity_id, 0),
            }
        )
    return rows


# where the inputs lay and which machines ran the stages: neither changes what was made
NOT_SHOWN = ("input", "executor")


def render_card(
    result: dict,
    recipe: dict,
    donors: pd.DataFrame,
    identities: pd.DataFrame,
    clips: pd.DataFrame,
    gate_metrics: dict,
    utility: dict,
    manifests: dict[str, str],
    cast_metrics: dict,
) -> str:
    attribution, donor_rows, unlicensed = _donors(donors, identities)
    cast_recipe = recipe.get("cast", {})
    attributes = recipe.get("attributes", {})
    splits = [WHOLE_DATASET, *result["splits"]["per_split"]]
    shown = {k: v for k, v in recipe.items() if k not in NOT_SHOWN}
    return _ENV.get_template("card.md.j2").render(
        r=result,
        splits=splits,
        labels=_labels(result, splits),
        categories=_categories(result, splits),
        balance_by=cast_metrics["balance_by"],
        fit=cast_metrics["fit"],
        match=cast_recipe.get("match", []),
        prefer=cast_recipe.get("prefer_same", []),
        protect_probability=attributes.get("protect_probability"),
        min_sex_confidence=attributes.get("min_sex_confidence"),
        identity_rows=_identity_rows(
            identities, result.get("identity_images", {}), cast_metrics.get("refused_by_attributes", {})
        ),
        calibration=calibration(),
        gate=gate_metrics,
        utility=utility,
        regime_names=REGIME_NAMES,
        agreement_rows=_agreement_rows(utility),
        attribution=attribution,
        donors=donor_rows,
        unlicensed=unlicensed,
        params=yaml.safe_dump(shown, sort_keys=False, default_flow_style=None, width=110),
        files=[(f, t, tables.spec(t).version, tables.spec(t).doc) for f, t in manifests.items()],
        unreadable=list(clips[clips["status"] != "ok"].itertuples(index=False)),
        clip_pseudonyms=recipe.get("manifest", {}).get("clip_ids", "pseudonym") != "original",
    )
