"""Stage cast: synthesise the identities the quotas ask for, and give every (track, variant) one of them.

Order of work (each step in :mod:`facecast.cast.quotas` or
:mod:`facecast.cast.synthesis`):

1. Gallery: ``donors.csv`` (every column kept) and the faces stage's donor
   tables; every donor that cannot be used (no frontal face, an empty
   attribute, a value no bin covers) is named and the stage stops.
2. Joint targets (IPF, or ``cast.joint``) and whole identity slots per cell;
   with ``cast.match: [age_group]`` each slot also gets an age group, as
   many per group as the tracks of that group need (:func:`fit.split_slots`).
3. Each slot is synthesised from its cell's donors (of its age group) with
   its own generator, ``default_rng([seed, slot number])``, away from every
   donor's centroid and from the identities made before it; with
   ``cast.check_attributes`` a candidate measured as another sex or age group
   than its donors declare is refused (:func:`fit.contradiction`); the
   identity made is audited (age, age group, sex, ITA). With ``cast.atlas``
   it is then rendered in every expression its donors were photographed in
   (:mod:`facecast.cast.atlas`), each entry kept only as far from every donor.
4. A slot whose synthesis fails is recorded with status ``failed`` and the
   reason, and is not cast. If that leaves the quotas unmet (a cell with a
   positive target and no identity; or, with ``balance_by: identities``, any
   failure, since identities are what is counted), ``on_shortfall: error``
   stops naming the failed identities and ``relax`` casts with those that
   were made and reports the gap in the metrics.
5. Casting: tracks whose subject is a donor of the identity, or whose
   centroid lies within ``min_track_distance`` of the identity or one of its
   donors, are excluded; so are the identities a track does not fit
   (``cast.match``, ``cast.max_age_gap_years``: :mod:`facecast.cast.fit`),
   and a track no identity fits is recorded ``no_compatible_identity``;
   :func:`quotas.cast_tracks` balances the rest, the closest presentation
   first (``cast.prefer_same``).
6. ``out/`` (identities/<id>/face.png, mask.png, landmarks.json, atlas/,
   atlas.json, identities.parquet, casting.parquet) is written atomically; the metrics
   hold the share report, the fit report (``fit``), the candidates refused
   for their attributes, and the distance and attempt distributions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist
from tqdm import tqdm

from facecast import tables
from facecast.cast import atlas, fit, quotas
from facecast.cast.donor_pool import frontal_faces, load_donor_faces, unusable_donors
from facecast.cast.identity_files import declared_categories, identity_row, write_atlas, write_identity
from facecast.cast.synthesis import Identity, SynthesisFailed, synthesise
from facecast.io.atomic import atomic_dir, write_json
from facecast.io.donors import read_donors_csv
from facecast.metrics import check as check_metrics
from facecast.models.age_groups import AgeGroups, from_params
from facecast.models.attributes import apparent, audit_face
from facecast.params import AttributesParams, CastParams, Params

FAILED = "failed"


def _donor_centroids(donor_tracks: pd.DataFrame) -> dict[str, np.ndarray]:
    known = donor_tracks[donor_tracks["embedding_centroid"].notna()]
    return {str(d): np.asarray(c, np.float64) for d, c in zip(known["donor_id"], known["embedding_centroid"])}


def _casting_tracks(interim: Path) -> pd.DataFrame:
    """Every track with its clip's subject_id (null when unknown)."""
    tracks = tables.read_df("tracks", interim)
    clips = tables.read_df("clips", interim)[["clip_id", "subject_id"]]
    unknown = sorted(set(tracks["clip_id"]) - set(clips["clip_id"]))
    if unknown:
        raise tables.TableError(
            f"tracks.parquet has clips not in clips.parquet: {', '.join(unknown)} (rerun ingest and faces)"
        )
    return tracks.merge(clips, on="clip_id", how="left")


def _synthesise_slot(
    slot_number: int,
    donors: dict,
    params: CastParams,
    seed: int,
    avoid: dict,
    made: dict,
    accept: Callable[[np.ndarray, np.ndarray], str | None] | None,
    atlas_entries: bool = False,
) -> tuple[Identity, str | None]:
    """The slot's identity and None, or the best failed candidate and why it failed. ``atlas_entries``: its
    donors will give it an expression atlas, so it is searched ``cast.atlas_margin`` further from them."""
    rng = np.random.default_rng([seed, slot_number])
    k = min(params.donors_per_identity, len(donors))
    try:
        return synthesise(
            donors,
            k,
            rng,
            avoid=avoid,
            identities=made,
            size=params.face_size,
            min_donor_distance=params.min_donor_distance + (params.atlas_margin if atlas_entries else 0.0),
            min_identity_distance=params.min_identity_distance,
            max_attempts=params.max_attempts,
            method=params.method,
            accept=accept,
        ), None
    except SynthesisFailed as exc:
        return exc.best, str(exc)


def _nearest_identities(rows: list[dict]) -> None:
    """Set each ok identity's nearest other ok identity (made before or after it)."""
    ok = [r for r in rows if r["status"] == quotas.OK]
    for r in rows:
        if r["status"] != quotas.OK:
            continue
        others = [o for o in ok if o is not r]
        if not others:
            r["nearest_identity_id"], r["nearest_identity_distance"] = None, None
            continue
        d = cdist([r["embedding"]], [o["embedding"] for o in others])[0]
        j = int(np.argmin(d))
        r["nearest_identity_id"], r["nearest_identity_distance"] = (others[j]["identity_id"], float(d[j]))


def _check_failures(rows: list[dict], slots: pd.DataFrame, targets: quotas.Targets, params: CastParams) -> dict:
    """What the failed identities do to the quotas; raises ShortfallError under ``on_shortfall: error``."""
    failed = [r for r in rows if r["status"] == FAILED]
    ok_cells = {tuple(r["declared"][a] for a in targets.attributes) for r in rows if r["status"] == quotas.OK}
    empty = [
        quotas.cell_label(targets.attributes, cell)
        for cell, share in zip(targets.cells, targets.shares)
        if share > 0 and cell not in ok_cells
    ]
    unmet = bool(empty) or (bool(failed) and params.balance_by == "identities") or len(failed) == len(rows)
    if unmet and params.on_shortfall == "error":
        lines = [f"identity {r['identity_id']}: {r['reason']}" for r in failed]
        if empty:
            lines.append("cells with a target and no identity: " + "; ".join(empty))
        raise quotas.ShortfallError(
            f"{len(failed)} of {len(slots)} identities could not be synthesised, so the quotas cannot be met "
            "(cast.on_shortfall: error; relax casts those that were made and reports the gap):\n  " + "\n  ".join(lines)
        )
    return {"failed": [r["identity_id"] for r in failed], "cells_without_identity": empty, "quotas_unmet": unmet}


def _spread(values) -> dict | None:
    v = np.asarray([x for x in values if x is not None], float)
    if not len(v):
        return None
    return {"min": float(v.min()), "median": float(np.median(v)), "max": float(v.max())}


def _slot_groups(
    slots: pd.DataFrame,
    targets: quotas.Targets,
    g: quotas.Gallery,
    donor_groups: dict,
    presented: list[fit.Presentation],
    frames: np.ndarray,
    k: int,
    groups: AgeGroups,
) -> list[str | None]:
    """Each slot's age group (``cast.match`` has age_group): the cell's donors of one group make it, as many per
    group as the tracks of that group (declared or measured, as casting reads them) have frames."""
    cells = [tuple(slot[a] for a in targets.attributes) for _, slot in slots.iterrows()]
    counts: dict[tuple, dict[str, int]] = {}
    for cell in dict.fromkeys(cells):
        for donor in g.donors_of(cell):
            group = donor_groups.get(donor)
            if group is not None:
                counts.setdefault(cell, {}).setdefault(group, 0)
                counts[cell][group] += 1
    sizes = {cell: len(g.donors_of(cell)) for cell in dict.fromkeys(cells)}
    demand: dict[str, float] = {}
    for p, n in zip(presented, frames):
        if p.age_group is not None:
            demand[p.age_group] = demand.get(p.age_group, 0.0) + float(n)
    return fit.split_slots(cells, counts, sizes, demand, k, groups.names)


def _accept(sex: str | None, group: str | None, groups: AgeGroups) -> Callable[[np.ndarray, np.ndarray], str | None]:
    """A synthesis check refusing a candidate whose measured sex or age group contradicts these declared ones."""

    def check(face: np.ndarray, landmarks: np.ndarray) -> str | None:
        return fit.contradiction(apparent(face, landmarks.reshape(-1)), sex, group, groups)

    return check


def _fit_report(
    tracks: pd.DataFrame,
    presented: list[fit.Presentation],
    casting: pd.DataFrame,
    identities: dict[str, fit.Presentation],
    cast_ids: pd.DataFrame,
    targets: quotas.Targets,
    ok: np.ndarray,
    excluded: dict[str, set[tuple[str, int]]],
) -> dict:
    """How casting fitted the people: tracks per measured group and sex, those no identity fits, casts that
    cross presentation (``sex_no_choice``: of those across a sex that counts, the ones no identity of their own
    sex could play, being made from them or looking like them), and quota cells no track can be cast into under
    ``cast.match``."""
    keys = list(zip(tracks["clip_id"].astype(str), tracks["track_id"].astype(int)))
    frames = dict(zip(keys, tracks["n_frames"].astype(int)))
    by_key = dict(zip(keys, presented))
    subjects = dict(zip(keys, tracks["subject_id"]))
    crossed = {a: {"tracks": 0, "frames": 0} for a in ("sex", "sex_no_choice", "sex_uncertain", "age_group")}

    def own_sex_may_play(key: tuple[str, int], sex: str) -> bool:
        return any(
            identities[i].sex == sex and key not in excluded.get(i, set()) and subjects[key] not in set(donors)
            for i, donors in zip(cast_ids["identity_id"], cast_ids["donors"])
        )

    for r in casting[casting["status"] == quotas.OK].itertuples(index=False):
        key = (str(r.clip_id), int(r.track_id))
        across = fit.across(by_key[key], identities[r.identity_id])
        across["sex_no_choice"] = across["sex"] and not own_sex_may_play(key, str(by_key[key].sex))
        for attribute, yes in across.items():
            if yes:
                crossed[attribute]["tracks"] += 1
                crossed[attribute]["frames"] += int(r.frames)
    unfit = casting[casting["status"] == quotas.NO_COMPATIBLE]
    id_cells = [tuple(r) for r in cast_ids[list(targets.attributes)].itertuples(index=False)]
    impossible = []
    for cell, share in zip(targets.cells, targets.shares):
        columns = [j for j, c in enumerate(id_cells) if c == cell]
        if share > 0 and (not columns or not ok[:, columns].any()):
            impossible.append(quotas.cell_label(targets.attributes, cell))

    def count(column: str) -> dict:
        values = tracks[column].fillna("not measured")
        return {
            str(v): {"tracks": int(n), "frames": int(f)}
            for v, (n, f) in tracks.assign(v=values).groupby("v")["n_frames"].agg(["size", "sum"]).iterrows()
        }

    return {
        "tracks_by_age_group": count("age_group"),
        "tracks_by_sex": count("sex"),
        "no_compatible_identity": {
            "tracks": int(unfit[["clip_id", "track_id"]].drop_duplicates().shape[0]),
            "frames": int(
                sum(
                    frames[(str(c), int(t))]
                    for c, t in unfit[["clip_id", "track_id"]].drop_duplicates().itertuples(index=False)
                )
            ),
        },
        "across_presentation": crossed,
        "cells_impossible_under_match": impossible,
    }


def cast(
    donors_dir: Path,
    params: CastParams,
    seed: int,
    interim: Path,
    out: Path,
    metrics: Path,
    attributes: AttributesParams | None = None,
) -> dict:
    """Run the stage (see the module docstring); returns the metrics written to ``metrics``. ``attributes``:
    how age groups and sex are read (default: the defaults of params.yaml's ``attributes`` section)."""
    start = time.perf_counter()
    attributes = attributes or AttributesParams()
    groups = from_params(attributes)
    donors_dir, interim, out = Path(donors_dir), Path(interim), Path(out)
    declared = read_donors_csv(donors_dir)
    donor_faces = tables.read_df("donor_faces", interim)
    centroids = _donor_centroids(tables.read_df("donor_tracks", interim))
    tracks = _casting_tracks(interim)

    ids = declared["donor_id"].tolist()
    unusable = unusable_donors(ids, donor_faces, params.frontal_max_deg)
    unusable.update(
        {d: "no embedding centroid in donor_tracks.parquet" for d in ids if d not in centroids and d not in unusable}
    )
    g = quotas.gallery(declared, params, unusable)
    quotas.check_gallery(g)
    targets = quotas.joint_targets(g, params)
    slots = quotas.identity_slots(targets, params)
    frontal = frontal_faces(donor_faces, params.frontal_max_deg)
    category_columns = [c for c in g.donors.columns if c not in ("donor_id", "cell", "status", "reason")]
    donor_categories = {r["donor_id"]: {a: r[a] for a in category_columns} for _, r in g.donors.iterrows()}
    donor_groups = fit.donor_age_groups(declared, groups)
    donor_sexes = {str(d): fit.declared_sex(v) for d, v in zip(declared["donor_id"], declared.get("sex", []))}
    by_group = "age_group" in params.match and any(v is not None for v in donor_groups.values())
    presented = fit.track_presentations(tracks, attributes)
    slot_groups = (
        _slot_groups(
            slots,
            targets,
            g,
            donor_groups,
            presented,
            tracks["n_frames"].to_numpy(),
            params.donors_per_identity,
            groups,
        )
        if by_group
        else [None] * len(slots)
    )

    rows: list[dict] = []
    refused: dict[str, int] = {}  # candidates per identity refused for contradicting their declared attributes
    made: dict[str, np.ndarray] = {}
    atlases: dict[str, dict] = {}  # identity -> its expression atlas' kept and dropped entries
    donors_by_pool: dict[tuple, dict] = {}
    with atomic_dir(out) as tmp:
        folder = tmp / "identities"
        folder.mkdir()
        slot_iter = tqdm(list(slots.iterrows()), desc="cast identities", unit="identity", disable=None)
        for number, ((_, slot), slot_group) in enumerate(zip(slot_iter, slot_groups), 1):
            identity_id = slot["identity_id"]
            cell = tuple(slot[a] for a in targets.attributes)
            # a slot with no age group (no group of its cell has enough donors): all the cell's donors
            pool = [d for d in g.donors_of(cell) if slot_group is None or donor_groups.get(d) == slot_group]
            if (cell, slot_group) not in donors_by_pool:  # each pool's donor images are read once
                donors_by_pool[(cell, slot_group)] = load_donor_faces(donors_dir, frontal, pool or g.donors_of(cell))
            donors = donors_by_pool[(cell, slot_group)]
            sexes = {donor_sexes.get(d) for d in donors}
            sex = next(iter(sexes)) if len(sexes) == 1 else None
            group = slot_group or _common({donor_groups.get(d) for d in donors})
            accept = _accept(sex, group, groups) if params.check_attributes else None
            with_atlas = params.atlas and atlas.has_expressions(donors)
            identity, failure = _synthesise_slot(number, donors, params, seed, centroids, made, accept, with_atlas)
            refused[identity_id] = sum(a.refused for a in identity.attempts)
            categories = declared_categories(
                dict(zip(targets.attributes, cell)), identity.donor_ids, identity.weights, donor_categories
            )
            if group is not None:
                categories["age_group"] = group
            if failure is None:
                made[identity_id] = identity.embedding
                audit = audit_face(identity.face, identity.landmarks.reshape(-1))
                face_path = write_identity(folder, identity_id, identity)
                if params.atlas:
                    entries = atlas.build(donors, identity, params.face_size, centroids, params.min_donor_distance)
                    atlases[identity_id] = write_atlas(folder, identity_id, entries)
                rows.append(
                    identity_row(
                        identity_id, params.method, categories, identity, audit, face_path, quotas.OK, None, groups
                    )
                )
            else:
                rows.append(identity_row(identity_id, params.method, categories, identity, None, None, FAILED, failure))
        _nearest_identities(rows)
        failures = _check_failures(rows, slots, targets, params)

        ok_rows = [r for r in rows if r["status"] == quotas.OK]
        cast_ids = pd.DataFrame(
            {
                "identity_id": pd.Series([r["identity_id"] for r in ok_rows], dtype=object),
                "donors": [r["donor_ids"] for r in ok_rows],
                "embedding": [np.asarray(r["embedding"]) for r in ok_rows],
                **{a: [r["declared"][a] for r in ok_rows] for a in targets.attributes},
            }
        )
        identity_looks = {
            r["identity_id"]: fit.Presentation(
                sex=fit.declared_sex(r["declared"].get("sex")),
                # declared, checked against the face with cast.check_attributes; else as measured on it
                age_group=r["declared"].get("age_group") or r["measured_age_group"],
                age=r["measured_age"],
                ita=r["ita_deg"],
            )
            for r in ok_rows
        }
        looks = [identity_looks[i] for i in cast_ids["identity_id"]]
        ok = fit.compatible(presented, looks, params.match, params.max_age_gap_years)
        reasons = [
            None if ok[t].any() else fit.incompatible_reason(p, looks, params.match, params.max_age_gap_years)
            for t, p in enumerate(presented)
        ]
        excluded = quotas.excluded_tracks(tracks, cast_ids, centroids, params.min_track_distance)
        casting = quotas.cast_tracks(
            tracks,
            cast_ids,
            targets,
            variants=params.variants_per_track,
            balance_by=params.balance_by,
            seed=seed,
            excluded=excluded,
            compatible=ok,
            incompatible=reasons,
            cost=fit.distances(presented, looks, params.prefer_same),
        )
        tables.write("identities", rows, tmp)
        tables.write("casting", casting, tmp)

    report = quotas.share_report(casting, cast_ids, targets, params.balance_by)
    result = {
        **report,
        "identities_requested": int(len(slots)),
        "identities_made": len(ok_rows),
        **failures,
        "gallery": {
            "donors": len(ids),
            "usable_per_cell": {quotas.cell_label(g.attributes, c): int(n) for c, n in zip(g.cells, g.donor_counts)},
        },
        "quota_fit": targets.report.to_dict(orient="records"),
        "fit": _fit_report(tracks, presented, casting, identity_looks, cast_ids, targets, ok, excluded),
        "refused_by_attributes": refused,
        "atlas": _atlas_report(atlases, params.atlas),
        "nearest_donor_distance": _spread(r["nearest_donor_distance"] for r in ok_rows),
        "nearest_identity_distance": _spread(r["nearest_identity_distance"] for r in ok_rows),
        "attempts": _spread(r["attempts"] for r in rows),
        "tracks": int(len(tracks)),
        "casting_rows": int(len(casting)),
        "excluded_pairs": int(sum(len(v) for v in excluded.values())),
        "seconds": round(time.perf_counter() - start, 2),
    }
    write_json(metrics, check_metrics("cast", result))
    return result


def _atlas_report(atlases: dict[str, dict], built: bool) -> dict:
    """metrics/cast.json ``atlas``: entries per identity, and each dropped entry with its reason."""
    return {
        "built": built,
        "entries": {i: len(a["kept"]) for i, a in atlases.items()},
        "dropped": {i: a["dropped"] for i, a in atlases.items() if a["dropped"]},
    }


def _common(values: set) -> str | None:
    """The one value of a set, or None when it holds several (or none)."""
    known = {v for v in values if v is not None}
    return next(iter(known)) if len(known) == 1 else None


SECTIONS = ("input", "attributes", "cast")  # the sections of params.yaml this stage reads (and seed)


def run(p: Params) -> dict:
    """The stage as ``dvc repro`` runs it: the project's own folders (:mod:`facecast.tables`)."""
    return cast(
        Path(p.input.donors),
        p.cast,
        p.seed,
        interim=tables.INTERIM,
        out=tables.CAST,
        metrics=tables.METRICS / "cast.json",
        attributes=p.attributes,
    )
