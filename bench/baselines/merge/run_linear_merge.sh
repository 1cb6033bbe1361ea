#!/usr/bin/env bash
# Linear merge of 4 f32 checkpoints of 512 MiB each: tributary (java -Xmx256m, MergeRunner through the
# MergeYaml bench main) against linear_merge.py (PyTorch, safe_open + stack + save_file as mergekit does)
# and linear_merge_inplace.py (PyTorch, safe_open + in-place adds + save_file + fsync, the same durability
# as tributary's), run alternately, each under /usr/bin/time -v with its anonymous memory sampled
# (measure.py), and, when MERGEKIT_PYTHON names a Python with mergekit installed from its source,
# mergekit's own run_merge (mergekit_linear.py). Each side prints where its time went; a last tributary
# run with --read-pass separates reading the inputs from computing. The load average is printed before
# each round (the machine is often shared).
# Usage, from the repository root:
#   bench/baselines/merge/run_linear_merge.sh [ROUNDS] [PYTHON]
# Needs JDK 25 (JAVA_HOME), ~3 GiB free in $WORK (default /tmp/tributary-merge-bench), a Python with torch.
set -euo pipefail
rounds=${1:-3}
python=${2:-/opt/tvenv/bin/python}
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
work=${WORK:-/tmp/tributary-merge-bench}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cp_file=$(mktemp)
trap 'rm -f "$cp_file"' EXIT

cd "$root"
mvn -B -q -o -Dstyle.color=never -pl bench -am compile dependency:build-classpath -Dmdep.outputFile="$cp_file" >/dev/null
classpath="bench/target/classes:$(cat "$cp_file")"

mkdir -p "$work"
if [ ! -f "$work/in/m3.safetensors" ]; then
  "$python" "$here/make_inputs.py" "$work/in"
fi
cat > "$work/linear.yaml" <<YAML
models:
  - model: in/m0.safetensors
    parameters: {weight: 0.4}
  - model: in/m1.safetensors
    parameters: {weight: 0.3}
  - model: in/m2.safetensors
    parameters: {weight: 0.2}
  - model: in/m3.safetensors
    parameters: {weight: 0.1}
merge_method: linear
YAML
cat "$work"/in/*.safetensors > /dev/null   # both sides start from a warm page cache

java_cmd=("$java" -Xmx256m --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED
          -cp "$classpath" dev.tributary.bench.merge.MergeYaml "$work/linear.yaml" "$work/out-java")
inputs=("$work/in/m0.safetensors" "$work/in/m1.safetensors" "$work/in/m2.safetensors" "$work/in/m3.safetensors")
py_cmd=("$python" "$here/linear_merge.py" --out "$work/out-torch" --weights 0.4 0.3 0.2 0.1 -- "${inputs[@]}")
fsync_cmd=("$python" "$here/linear_merge_inplace.py" --out "$work/out-fsync" --weights 0.4 0.3 0.2 0.1 --
           "${inputs[@]}")

echo "# $(date -u +%FT%TZ) $(nproc) cpus, $(free -g | awk '/Mem/ {print $2}') GiB; $("$java" -version 2>&1 | head -1); torch $("$python" -c 'import torch; print(torch.__version__)')"
results=$(mktemp)
for r in $(seq 1 "$rounds"); do
  echo "round $r: load average $(cut -d' ' -f1-3 /proc/loadavg)"
  rm -rf "$work/out-java" "$work/out-torch" "$work/out-fsync"
  j=$(python3 "$here/measure.py" -- "${java_cmd[@]}")
  echo "tributary $j"; echo "tributary $j" >> "$results"
  t=$(python3 "$here/measure.py" -- "${py_cmd[@]}")
  echo "pytorch   $t"; echo "pytorch $t" >> "$results"
  f=$(python3 "$here/measure.py" -- "${fsync_cmd[@]}")
  echo "pytorch-fsync $f"; echo "pytorch-fsync $f" >> "$results"
  if [ -n "${MERGEKIT_PYTHON:-}" ]; then
    rm -rf "$work/out-mergekit"
    k=$(HF_HUB_OFFLINE=1 python3 "$here/measure.py" -- "$MERGEKIT_PYTHON" "$here/mergekit_linear.py" \
        --out "$work/out-mergekit" --work "$work/mergekit-in" --weights 0.4 0.3 0.2 0.1 -- "${inputs[@]}")
    echo "mergekit  $k"; echo "mergekit $k" >> "$results"
  fi
done
rm -rf "$work/out-java-phases"
echo "tributary --read-pass: $("${java_cmd[@]:0:${#java_cmd[@]}-1}" "$work/out-java-phases" --read-pass | tr '\n' ' ')"
"$python" "$here/compare.py" "$work/out-java/model.safetensors" "$work/out-torch/model.safetensors" 1e-6 1e-6
"$python" "$here/compare.py" "$work/out-java/model.safetensors" "$work/out-fsync/model.safetensors" 1e-6 1e-6
if [ -n "${MERGEKIT_PYTHON:-}" ]; then
  "$python" "$here/compare.py" "$work/out-java/model.safetensors" "$work/out-mergekit/model.safetensors" 1e-6 1e-6
fi
python3 - "$results" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    who, js = line.split(" ", 1)
    rows.setdefault(who, []).append(json.loads(js))
med = {w: {k: statistics.median(r[k] for r in rs) for k in ("wall_s", "max_rss_mib", "peak_rss_anon_mib")}
       for w, rs in rows.items()}
for w, m in med.items():
    print(f"median {w:13s}: {m['wall_s']:.2f} s wall, peak RSS {m['max_rss_mib']:.0f} MiB, "
          f"peak anonymous {m['peak_rss_anon_mib']:.0f} MiB")
for other in [w for w in ("pytorch", "pytorch-fsync", "mergekit") if w in med]:
    print(f"ratio tributary/{other} wall time: {med['tributary']['wall_s'] / med[other]['wall_s']:.2f}")
PY
rm -f "$results"
