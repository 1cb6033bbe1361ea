#!/usr/bin/env bash
# Learner throughput (experience ingest, training steps) beside the actors' env steps, 1, 4 and 8 actors.
# Usage: bench/baselines/rl/run_learner_throughput.sh [--actors 1,4,8] [--seconds 40] [--warmup 15]
set -euo pipefail
cd "$(dirname "$0")/../../.."
source scripts/java-env.sh
./tributary --help >/dev/null   # builds the CLI when sources changed
exec python3 bench/baselines/rl/learner_throughput.py --java "$JAVA_HOME/bin/java" "$@"
