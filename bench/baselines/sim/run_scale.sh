#!/usr/bin/env bash
# Defaults that scale: examples/fmnist-sync.yaml against examples/fmnist-async.yaml (FedBuff on its
# defaults) at other population sizes and skews, changing only clients, the Dirichlet alpha and the
# budget, and optionally the concurrency limit. Usage, from anywhere:
#   bench/baselines/sim/run_scale.sh OUT_DIR "CLIENTS:ALPHA:BUDGET[:CONCURRENCY] ..." [SEED]
# e.g. run_scale.sh out "20:0.3:600 100:0.3:300" 3. BUDGET is virtual seconds for both, or SYNC/ASYNC
# (e.g. 1500/300) when the async run needs less; CONCURRENCY adds `participation: {concurrency: C}`
# (async: at most C clients train at once; sync: C clients sampled per round). Environment: TRIBUTARY
# (default the repository's launcher), PARALLEL (runs at once, default 2), KINDS (default "sync async";
# one of them runs that side of each cell only), HEAP (e.g. 4g: runs with -Xmx of it, a GC log beside
# the report, and /usr/bin/time -v).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:?OUT_DIR}
cells=${2:?cells}
seed=${3:-3}
tributary=${TRIBUTARY:-$root/tributary}
mkdir -p "$out"
export TRIBUTARY_NO_PROGRESS=1
echo "# $(date -u +%FT%TZ) $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt"
configure() { # example clients alpha budget concurrency tag -> config file
  local name=$1 clients=$2 alpha=$3 budget=$4 concurrency=$5 file="$out/$6.yaml"
  sed -e "s/^clients: .*/clients: $clients/" \
      -e "s/^partition: .*/partition: {kind: dirichlet, alpha: $alpha}/" \
      -e "s/^budget: .*/budget: {virtual_seconds: $budget}/" \
      "$root/examples/fmnist-$name.yaml" > "$file"
  if [[ -n $concurrency ]]; then
    echo "participation: {concurrency: $concurrency}" >> "$file"
  fi
  echo "$file"
}
jobs_list=()
for cell in $cells; do
  IFS=: read -r clients alpha budget concurrency <<<"$cell"
  for kind in ${KINDS:-sync async}; do
    b=${budget%/*}
    [[ $kind == async ]] && b=${budget#*/}
    jobs_list+=("$kind $clients $alpha $b ${concurrency:-}")
  done
done
run_one() {
  read -r kind clients alpha budget concurrency <<<"$1"
  local tag="$kind-$clients-$alpha${concurrency:+-c$concurrency}-s$seed"
  local cfg; cfg=$(configure "$kind" "$clients" "$alpha" "$budget" "${concurrency:-}" "$tag")
  local fmt="%e s wall, %M KiB max RSS" opts=${JAVA_OPTS:-}
  if [[ -n ${HEAP:-} ]]; then
    fmt=""
    opts="$opts -Xmx$HEAP -Xlog:gc:file=$out/$tag.gc.log"
  fi
  JAVA_OPTS=$opts /usr/bin/time ${HEAP:+-v} ${fmt:+-f "$fmt"} -o "$out/$tag.time" \
    "$tributary" simulate --config "$cfg" --seed "$seed" --report "$out/$tag.json" > "$out/$tag.txt" 2>&1
}
export -f run_one configure
export out root tributary seed
printf '%s\n' "${jobs_list[@]}" | xargs -P "${PARALLEL:-2}" -I{} bash -c 'run_one "{}"'
