#!/usr/bin/env bash
# Defaults that scale: examples/fmnist-sync.yaml against examples/fmnist-async.yaml (FedBuff on its
# defaults) at other population sizes and skews, changing only clients, the Dirichlet alpha and the
# budget. Usage, from anywhere:
#   bench/baselines/sim/run_scale.sh OUT_DIR "CLIENTS:ALPHA:BUDGET ..." [SEED]
# e.g. run_scale.sh out "20:0.3:600 100:0.3:300" 3. Environment: TRIBUTARY (default the repository's
# launcher), PARALLEL (runs at once, default 2).
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
configure() { # example clients alpha budget -> config file
  local name=$1 clients=$2 alpha=$3 budget=$4 file="$out/$1-$2-$3.yaml"
  sed -e "s/^clients: .*/clients: $clients/" \
      -e "s/^partition: .*/partition: {kind: dirichlet, alpha: $alpha}/" \
      -e "s/^budget: .*/budget: {virtual_seconds: $budget}/" \
      "$root/examples/fmnist-$name.yaml" > "$file"
  echo "$file"
}
jobs_list=()
for cell in $cells; do
  IFS=: read -r clients alpha budget <<<"$cell"
  for kind in sync async; do
    jobs_list+=("$kind $clients $alpha $budget")
  done
done
run_one() {
  read -r kind clients alpha budget <<<"$1"
  local cfg; cfg=$(configure "$kind" "$clients" "$alpha" "$budget")
  local tag="$kind-$clients-$alpha-s$seed"
  /usr/bin/time -f "%e s wall, %M KiB max RSS" -o "$out/$tag.time" \
    "$tributary" simulate --config "$cfg" --seed "$seed" --report "$out/$tag.json" > "$out/$tag.txt" 2>&1
}
export -f run_one configure
export out root tributary seed
printf '%s\n' "${jobs_list[@]}" | xargs -P "${PARALLEL:-2}" -I{} bash -c 'run_one "{}"'
