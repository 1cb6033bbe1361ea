#!/usr/bin/env bash
# DJL training step (StepBench) against the same step in PyTorch from Python (torch_step.py), run
# alternately so that both see the same machine state. Usage, from the repository root:
#   bench/baselines/train/run_step_bench.sh [ROUNDS] [PYTHON]
# Needs JDK 25 (JAVA_HOME) and a Python with torch (default /opt/tvenv/bin/python).
set -euo pipefail
rounds=${1:-3}
python=${2:-/opt/tvenv/bin/python}
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cp_file=$(mktemp)
trap 'rm -f "$cp_file"' EXIT

cd "$root"
mvn -B -q -pl bench compile dependency:build-classpath -Dmdep.outputFile="$cp_file" >/dev/null
classpath="bench/target/classes:$(cat "$cp_file")"
echo "# $(date -u +%FT%TZ) $(nproc) cpus; $("$java" -version 2>&1 | head -1); torch $("$python" -c 'import torch; print(torch.__version__)')"
for r in $(seq 1 "$rounds"); do
  echo "# round $r"
  "$java" --enable-native-access=ALL-UNNAMED -Dai.djl.pytorch.num_threads=2 -Dai.djl.pytorch.num_interop_threads=1 \
    -cp "$classpath" dev.tributary.bench.train.StepBench 2> >(grep -v SLF4J >&2)
  "$python" "$here/torch_step.py" --threads 2
done
