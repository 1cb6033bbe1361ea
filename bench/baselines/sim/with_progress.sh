#!/usr/bin/env bash
# The repository's tributary launcher under a pseudo-terminal, so that simulate's progress line (virtual
# seconds, version, last evaluation's accuracy, updates) goes to stdout even when it is a file: a run
# stopped before its budget still leaves its evaluations in its log (progress_curve.py reads them back).
#   TRIBUTARY=bench/baselines/sim/with_progress.sh bench/baselines/sim/run_scale.sh OUT CELLS SEED
root=$(cd "$(dirname "$0")/../../.." && pwd)
unset TRIBUTARY_NO_PROGRESS
exec script -qfec "$(printf '%q ' "$root/tributary" "$@")" /dev/null
