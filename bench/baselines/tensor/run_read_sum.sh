#!/usr/bin/env bash
# Read-and-sum comparison: Tributary's ReadSum (Java, memory-mapped, SIMD) against PyTorch's
# safetensors.torch.load_file + sum, on the same 2 GiB checkpoint, whole process each time.
#
#   bench/baselines/tensor/run_read_sum.sh [RUNS=5] [SIZE_GIB=2] [DTYPE=float32]
#
# PY_SUM=f64 makes the PyTorch side accumulate in float64 as ReadSum does (t.sum(dtype=torch.float64));
# by default it calls t.sum(), PyTorch's own accumulation, as most users would.
#
# Needs bench/target/benchmarks.jar (mvn -pl bench package), a JDK 25 ($JAVA_HOME, else
# /usr/lib/jvm/temurin-25-jdk-amd64, else java on the PATH) and a Python with torch and safetensors
# ($PYTHON, default /opt/tvenv/bin/python).
# The checkpoint is written once to /tmp and reused. Nothing is dropped from the page cache: the file
# is read once before timing, so every run is warm (the file is served from memory).
set -euo pipefail
cd "$(dirname "$0")/../../.."
RUNS=${1:-5}
SIZE=${2:-2}
DTYPE=${3:-float32}
PYTHON=${PYTHON:-/opt/tvenv/bin/python}
if [ -n "${JAVA_HOME:-}" ]; then JAVA=$JAVA_HOME/bin/java
elif [ -x /usr/lib/jvm/temurin-25-jdk-amd64/bin/java ]; then JAVA=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
else JAVA=java; fi
JAR=${JAR:-bench/target/benchmarks.jar}
CKPT=/tmp/tributary-read-sum-${SIZE}g-${DTYPE}.safetensors

[ -f "$JAR" ] || { echo "missing $JAR: run mvn -pl bench package" >&2; exit 1; }
[ -f "$CKPT" ] || "$PYTHON" bench/baselines/tensor/make_checkpoint.py "$CKPT" "$SIZE" "$DTYPE"
cat "$CKPT" > /dev/null   # warm the page cache for both sides
"$JAVA" -version 2>&1 | head -1
"$PYTHON" -c "import torch, safetensors; print('torch', torch.__version__, 'safetensors', safetensors.__version__, 'threads', torch.get_num_threads())"
echo "cpus: $(nproc), load average: $(cut -d' ' -f1-3 /proc/loadavg)"

now() { date +%s.%N; }
java_times=(); python_times=()
for i in $(seq 1 "$RUNS"); do
  t=$(now); out=$("$JAVA" --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
      -cp "$JAR" dev.tributary.bench.tensor.ReadSum "$CKPT" 2> >(grep -v '^WARNING' >&2)); e=$(now)
  java_times+=("$(echo "$e - $t" | bc -l)"); echo "java   run $i: $(printf '%.3f' "${java_times[-1]}") s  $out"
  t=$(now); out=$("$PYTHON" bench/baselines/tensor/read_sum.py "$CKPT" ${PY_SUM:+--$PY_SUM}); e=$(now)
  python_times+=("$(echo "$e - $t" | bc -l)"); echo "python run $i: $(printf '%.3f' "${python_times[-1]}") s  $out"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
jm=$(median "${java_times[@]}"); pm=$(median "${python_times[@]}")
printf 'checkpoint %s (%s bytes, page cache warm), python sum: %s\n' "$CKPT" "$(stat -c %s "$CKPT")" "${PY_SUM:-default}"
printf 'median wall time over %d runs: java %.3f s, python %.3f s, python/java = %.2fx\n' "$RUNS" "$jm" "$pm" "$(echo "$pm / $jm" | bc -l)"
