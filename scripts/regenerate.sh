#!/usr/bin/env bash
# Regenerate the dataset and report what changed against a base revision.
#
#   scripts/regenerate.sh [BASE_REF] [OUT_DIR]
#
# BASE_REF  git revision to compare with (default: $REGENERATE_BASE, else origin/main)
# OUT_DIR   where the report and the plots go (default: $REGENERATE_OUT, else
#           $RUNNER_TEMP/facecast-regenerate, else $TMPDIR or /tmp)
#
# Steps: `dvc pull` when a default DVC remote is configured (missing or unreachable
# data is tolerated: `dvc repro` rebuilds it), `dvc repro`, then OUT_DIR/report.md
# with `dvc params diff`, `dvc metrics diff --md` and where `dvc plots diff` wrote
# its HTML (OUT_DIR/plots/index.html). The report is also printed.
# Exit status: 0 when the pipeline is reproduced and reported; 1 when `dvc repro`
# or a report command fails (the report then says which and shows the log's end);
# 2 for bad usage (unknown BASE_REF, not a DVC repository, dvc not found).
# The GitHub workflow .github/workflows/regenerate.yml runs this script.
set -euo pipefail

usage() {
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
}

die() {  # die STATUS MESSAGE
    echo "regenerate: error: $2" >&2
    exit "$1"
}

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    usage
    exit 0
fi
if (($# > 2)); then
    usage >&2
    die 2 "expected at most two arguments (BASE_REF OUT_DIR), got $#"
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [[ -x "$ROOT/.venv/bin/dvc" ]]; then
    export PATH="$ROOT/.venv/bin:$PATH"
fi
command -v dvc >/dev/null || die 2 "dvc is not on PATH and $ROOT/.venv/bin/dvc does not exist (run \`make install\`)"
[[ -d .dvc ]] || die 2 "$ROOT is not a DVC repository (no .dvc/ folder)"

BASE="${1:-${REGENERATE_BASE:-origin/main}}"
OUT="${2:-${REGENERATE_OUT:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/facecast-regenerate}}"
if ! git rev-parse --verify --quiet "$BASE^{commit}" >/dev/null; then
    hint=""
    if [[ $(git rev-parse --is-shallow-repository 2>/dev/null) == true ]]; then
        hint=" (this is a shallow clone: fetch the full history, e.g. actions/checkout with fetch-depth: 0)"
    fi
    die 2 "base revision '$BASE' is not a commit in this repository$hint"
fi
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
REPORT="$OUT/report.md"
PLOTS="$OUT/plots"
LOGS="$OUT/logs"
mkdir -p "$LOGS"

log() { echo "regenerate: $*" >&2; }

# The report is written section by section, so a failure leaves what was known.
{
    echo "# Dataset regeneration"
    echo
    echo "Base: \`$BASE\` ($(git rev-parse --short "$BASE^{commit}")); workspace: $(git rev-parse --short HEAD)$(git diff --quiet HEAD 2>/dev/null || echo ' with uncommitted changes')."
    echo
} >"$REPORT"

finish() {  # finish STATUS: print the report and leave with STATUS
    cat "$REPORT"
    exit "$1"
}

failed() {  # failed COMMAND STATUS LOGFILE: the report says so, with the end of the log
    {
        echo "**\`$1\` failed (exit status $2).** The last lines of its output ($3):"
        echo
        echo '```'
        tail -n 40 "$3"
        echo '```'
    } >>"$REPORT"
    log "\`$1\` failed with exit status $2; its output is in $3"
    finish 1
}

# 1. Data from the remote, when there is one. A cold or unreachable remote is not an
#    error: whatever is missing is rebuilt by `dvc repro`.
if remote="$(dvc remote default 2>/dev/null)" && [[ -n $remote ]]; then
    log "dvc pull from remote '$remote'"
    if dvc pull --allow-missing >"$LOGS/pull.log" 2>&1; then
        echo "Pulled from DVC remote \`$remote\` (what it did not hold is rebuilt)." >>"$REPORT"
    else
        status=$?
        log "dvc pull failed (exit status $status, see $LOGS/pull.log); going on: dvc repro rebuilds what is missing"
        echo "\`dvc pull\` from \`$remote\` failed (exit status $status); every missing output is rebuilt." >>"$REPORT"
    fi
else
    log "no default DVC remote configured: nothing to pull"
    echo "No default DVC remote: nothing pulled." >>"$REPORT"
fi
echo >>"$REPORT"

# 2. Reproduce; the output goes to the log and, as it comes, to stderr (the CI log).
log "dvc repro"
set +e
dvc repro 2>&1 | tee "$LOGS/repro.log" >&2
status=${PIPESTATUS[0]}
set -e
if ((status != 0)); then
    failed "dvc repro" "$status" "$LOGS/repro.log"
fi
ran="$(sed -n "s/^Running stage '\(.*\)':.*/\1/p" "$LOGS/repro.log" | paste -sd, - | sed 's/,/, /g')"
{
    echo "\`dvc repro\` succeeded; stages run: ${ran:-none, everything was up to date}."
    echo
} >>"$REPORT"

# 3. What changed against the base.
section() {  # section TITLE TEXT_IF_EMPTY LOGNAME COMMAND...
    local title="$1" empty="$2" logfile="$LOGS/$3.log" text status
    shift 3
    log "$*"
    text="$("$@" 2>"$logfile")" || {
        status=$?
        cat "$logfile" >&2
        failed "$*" "$status" "$logfile"
    }
    {
        echo "## $title"
        echo
        echo "${text:-$empty}"
        echo
    } >>"$REPORT"
}
section "Parameters changed since \`$BASE\`" "No parameter changed." params dvc params diff "$BASE" --md
section "Metrics diff against \`$BASE\`" "No metric changed." metrics dvc metrics diff "$BASE" --md

log "dvc plots diff $BASE -o $PLOTS"
rm -rf "$PLOTS"
dvc plots diff "$BASE" -o "$PLOTS" >"$LOGS/plots.log" 2>&1 || failed "dvc plots diff $BASE -o $PLOTS" $? "$LOGS/plots.log"
{
    echo "## Plots"
    echo
    if [[ -f $PLOTS/index.html ]]; then
        echo "\`dvc plots diff $BASE\` drew the base and the workspace side by side: \`$PLOTS/index.html\`."
    else
        echo "\`dvc plots diff $BASE\` found no plot to draw."
    fi
    echo
} >>"$REPORT"
log "report written to $REPORT"
finish 0
