"""Stage evaluate: does the recast dataset still teach the labelled task?

Reads ``clips``, ``frames``, ``faces``, ``gates`` and ``published_ids``
(data/interim), the dataset's ``manifest/frames.parquet`` and its images, the
recast frames (data/swapped) and the original footage. A compact classifier
(HOG of the aligned face, or of the whole frame, and a softmax trained with
torch) is cross-validated with subject-grouped folds in four regimes, each
scored on held-out subjects: real -> real, recast -> real, recast -> recast
and real + recast -> real, with recast = the published recast frames, and the
same over every recast frame before gate as a diagnostic. Writes:

* ``metrics/utility.json`` (figures only: :class:`facecast.metrics.UtilityMetrics`):
  the headline utility ratio F1(recast -> real) / F1(real -> real) with its
  bootstrap 95 % interval, every regime's macro-F1, accuracy and per-label F1,
  and label agreement (the real -> real classifier on each published recast
  frame and on its original);
* ``plots/utility/``: a confusion CSV per regime (actual, predicted: DVC's
  confusion template), per-label F1 and per-label agreement bars;
* ``data/interim/utility_frames.parquet``: every held-out prediction, keyed by
  the original clip ids, so it stays internal like the report.

Input that cannot be evaluated (too few subjects for the folds, a single
label, nothing published) is recorded as ``not_evaluated`` with the reason
and the stage exits 0, or stops with that reason when ``evaluate.required``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd
import torch

from facecast import tables
from facecast.errors import InputError
from facecast.evaluate.folds import grouped_folds
from facecast.evaluate.images import descriptors
from facecast.evaluate.regimes import FoldError, cross_validate, parts
from facecast.evaluate.samples import Selection, select
from facecast.evaluate.scores import BEFORE_GATE, REGIMES, Scorer
from facecast.io.atomic import atomic_dir, write_json
from facecast.metrics import REGIME_NAMES, check
from facecast.params import EvaluateParams, ExecutorParams, Params

log = logging.getLogger(__name__)


def classifier_name(params: EvaluateParams) -> str:
    what = "aligned face" if params.input == "face" else "whole frame"
    model = "linear softmax" if not params.hidden else f"MLP ({params.hidden} hidden units)"
    centring = ", each person centred" if params.normalise == "subject" else ""
    return f"HOG of the {what} ({params.hog_cell_px} px cells{centring}), {model}, torch, from scratch"


def _base(params: EvaluateParams, selection: Selection) -> dict:
    return {
        "input": params.input,
        "classifier": classifier_name(params),
        "subjects": int(selection.originals["subject"].nunique()) if len(selection.originals) else 0,
        "folds": params.folds,
        "labels": list(selection.labels),
        "labels_left_out": dict(sorted(selection.left_out.items())),
        "frames": {**selection.counts, "frame_step": params.frame_step},
    }


def not_evaluated(params: EvaluateParams, selection: Selection, reason: str) -> dict:
    if params.required:
        raise InputError(f"not evaluated: {reason} (evaluate.required is true)")
    log.warning("evaluate: not evaluated: %s", reason)
    return {
        "status": "not_evaluated",
        "reason": reason,
        **_base(params, selection),
        "utility_ratio": None,
        "regimes": None,
        "agreement": None,
        "before_gate": None,
    }


def _no_baseline(regimes: dict, labels: list[str]) -> str | None:
    """Why the ratio would mean nothing: the real -> real classifier does not beat chance (1 / labels) on held-out
    subjects, by the lower end of its interval. None when it does."""
    f1 = regimes["real_to_real"]["macro_f1"]
    chance = 1 / len(labels)
    if f1["ci95_low"] is not None and f1["ci95_low"] > chance:
        return None
    return (
        f"the real → real classifier does not learn these labels better than chance on held-out subjects "
        f"(macro-F1 {f1['value']}, 95 % interval {f1['ci95_low']} to {f1['ci95_high']}; chance 1/{len(labels)}): "
        "no baseline to measure the recast against"
    )


def figures(params: EvaluateParams, selection: Selection, table: pd.DataFrame, train: dict, seed: int) -> dict:
    scorer = Scorer(table, selection.labels, params.bootstrap, seed)
    regimes = {name: scorer.regime(col, scored, train[col]) for name, (col, scored) in REGIMES.items()}
    reason = _no_baseline(regimes, selection.labels)
    if reason is not None:
        return not_evaluated(params, selection, reason)
    before = {name: scorer.regime(col, scored, train[col]) for name, (col, scored) in BEFORE_GATE.items()}
    return {
        "status": "evaluated",
        "reason": None,
        **_base(params, selection),
        "utility_ratio": scorer.ratio("by_published"),
        "regimes": regimes,
        "agreement": scorer.agreement("published"),
        "before_gate": {
            "recast_frames": int((table["source"] == "recast").sum()),
            "utility_ratio": scorer.ratio("by_recast"),
            "regimes": before,
            "agreement": scorer.agreement("recast"),
        },
    }


def _plots(table: pd.DataFrame, result: dict, folder: Path) -> None:
    """Per regime a confusion CSV (one row per held-out image), per-label F1 and agreement bars."""
    with atomic_dir(folder) as tmp:
        for name, (column, scored) in REGIMES.items():
            rows = table[(table["source"] == scored) & table[column].notna()]
            rows[["label", column]].set_axis(["actual", "predicted"], axis=1).to_csv(
                tmp / f"confusion_{name}.csv", index=False
            )
        f1_rows = [
            {"bar": f"{label} ({REGIME_NAMES[name]})", "label": label, "regime": REGIME_NAMES[name], "f1": f1}
            for name, scores in (result["regimes"] or {}).items()
            for label, f1 in scores["per_label_f1"].items()
        ]
        pd.DataFrame(f1_rows, columns=["bar", "label", "regime", "f1"]).to_csv(tmp / "per_label_f1.csv", index=False)
        agreement = (result["agreement"] or {}).get("per_label", {})
        pd.DataFrame(list(agreement.items()), columns=["label", "agreement"]).to_csv(tmp / "agreement.csv", index=False)


def measure(
    params: EvaluateParams, seed: int, selection: Selection, clips: pd.DataFrame, executor: ExecutorParams | None = None
) -> tuple[dict, pd.DataFrame]:
    """The figures of a selection (``metrics/utility.json``) and its held-out predictions (``utility_frames``).
    ``executor``: where each clip's images are described (default: ``params.workers`` local processes)."""
    empty = pd.DataFrame(columns=[f.name for f in tables.spec("utility_frames").schema])
    if selection.reason is not None:
        return not_evaluated(params, selection, selection.reason), empty
    original, recast = descriptors(selection.originals, selection.recasts, clips, params, executor)
    frames_per_subject = selection.originals.groupby("subject").size()
    fold_of = grouped_folds({str(k): int(v) for k, v in frames_per_subject.items()}, params.folds, seed)
    sets = parts(selection, original, recast, fold_of, params.normalise)
    threads = torch.get_num_threads()
    torch.set_num_threads(min(2, threads))  # tiny full-batch models: more threads only contend
    try:
        table, train = cross_validate(sets, selection.labels, params.folds, params, seed)
    except FoldError as exc:
        return not_evaluated(params, selection, str(exc)), empty
    finally:
        torch.set_num_threads(threads)
    return figures(params, selection, table, train, seed), table


def evaluate(
    params: EvaluateParams,
    seed: int,
    interim: Path,
    dataset: Path,
    swapped: Path,
    metrics: Path,
    plots: Path,
    table_out: Path,
    executor: ExecutorParams | None = None,
) -> dict:
    """Run the stage; returns the metrics it wrote."""
    start = time.perf_counter()
    manifest = dataset / "manifest"
    clips = tables.read_df("clips", interim)
    selection = select(
        params,
        clips=clips,
        frames=tables.read_df("frames", interim),
        faces=tables.read_df("faces", interim),
        gates=tables.read_df("gates", interim),
        dataset_frames=tables.read_df("dataset_frames", manifest),
        published_ids=tables.read_df("published_ids", interim),
        dataset=dataset,
        swapped=swapped,
    )
    result, table = measure(params, seed, selection, clips, executor)
    write_json(metrics, check("utility", result))
    _plots(table, result, plots)
    tables.write("utility_frames", table, table_out)
    log.info("evaluate: %s in %.1f s", result["status"], time.perf_counter() - start)
    return result


SECTIONS = ("evaluate", "executor")  # the sections of params.yaml this stage reads (and seed)


def run(p: Params) -> dict:
    """The stage as ``dvc repro`` runs it: the project's own folders (:mod:`facecast.tables`)."""
    return evaluate(
        p.evaluate,
        p.seed,
        interim=tables.INTERIM,
        dataset=tables.DATASET,
        swapped=tables.SWAPPED,
        metrics=tables.METRICS / "utility.json",
        plots=tables.PLOTS / "utility",
        table_out=tables.INTERIM,
        executor=p.executor,
    )
