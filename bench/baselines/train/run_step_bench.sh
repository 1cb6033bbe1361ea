#!/usr/bin/env bash
# DJL training step (StepBench) against the same step in PyTorch from Python (torch_step.py), run
# alternately so that both see the same machine state. Usage, from anywhere in the repository:
#   bench/baselines/train/run_step_bench.sh [ROUNDS] [THREADS] [PYTHON]
# Needs JDK 25 (JAVA_HOME) and a Python with torch (default /opt/tvenv/bin/python). StepBench is compiled
# on its own against the train module, so the rest of the bench module need not build.
set -euo pipefail
rounds=${1:-3}
threads=${2:-2}
python=${3:-/opt/tvenv/bin/python}
bin=${JAVA_HOME:+$JAVA_HOME/bin/}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$root"
mvn -B -q -pl train compile dependency:build-classpath -Dmdep.includeScope=runtime \
  -Dmdep.outputFile="$work/cp" >/dev/null
# Snapshot the project's own jars and classes: a rebuild during the run must not swap them underneath.
mkdir -p "$work/lib"
cp -r "$root/train/target/classes" "$work/train-classes"
classpath="$work/train-classes"
for jar in $(tr ':' ' ' < "$work/cp"); do
  case "$jar" in
    */dev/tributary/*) cp "$jar" "$work/lib/" && classpath="$classpath:$work/lib/$(basename "$jar")" ;;
    *) classpath="$classpath:$jar" ;;
  esac
done
"${bin}javac" -d "$work/classes" -cp "$classpath" bench/src/main/java/dev/tributary/bench/train/StepBench.java
echo "# $(date -u +%FT%TZ) $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg);" \
  "$("${bin}java" -version 2>&1 | head -1); torch $("$python" -c 'import torch; print(torch.__version__)')"
for r in $(seq 1 "$rounds"); do
  echo "# round $r"
  "${bin}java" --enable-native-access=ALL-UNNAMED -cp "$work/classes:$classpath" \
    dev.tributary.bench.train.StepBench --threads "$threads" 2> >(grep -v SLF4J >&2)
  "$python" "$here/torch_step.py" --threads "$threads"
done
