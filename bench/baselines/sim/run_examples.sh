#!/usr/bin/env bash
# The simulation benchmark: examples/fmnist-sync.yaml against examples/fmnist-async.yaml for seeds
# 0 1 2 (same clients, data split, speeds, local training and budget within a seed), then 1,000 clients
# in one process under -Xmx4g. Prints the tables of the simulation section of BENCHMARKS.md. Usage, from anywhere:
#   bench/baselines/sim/run_examples.sh [OUT_DIR]
# Environment: SEEDS (default "0 1 2"), TRIBUTARY (the command, default the repository's launcher),
# SKIP_THOUSAND=1 to leave out the 1,000-client run, ASYNC_CONFIG (default the hand-tuned
# fmnist-async-tuned.yaml these tables were measured with; examples/fmnist-async.yaml for the defaults).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:-$root/bench/results/sim}
seeds=${SEEDS:-0 1 2}
tributary=${TRIBUTARY:-$root/tributary}
mkdir -p "$out"
export TRIBUTARY_NO_PROGRESS=1
cd "$root"
echo "# $(date -u +%FT%TZ) $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out/machine.txt"
for seed in $seeds; do
  "$tributary" simulate --config examples/fmnist-sync.yaml --seed "$seed" --report "$out/sync-$seed.json" \
    | tee "$out/sync-$seed.txt"
  # The async run's chart also shows the sync curve of the same seed.
  "$tributary" simulate --config "${ASYNC_CONFIG:-$here/fmnist-async-tuned.yaml}" --seed "$seed" --report "$out/async-$seed.json" \
    --overlay "$out/sync-$seed.json" | tee "$out/async-$seed.txt"
done
if [[ -z "${SKIP_THOUSAND:-}" ]]; then
  JAVA_OPTS="-Xmx4g -Xlog:gc:file=$out/thousand-gc.log" /usr/bin/time -v -o "$out/thousand-time.txt" \
    "$tributary" simulate --config "$here/fmnist-1000-clients.yaml" --report "$out/thousand.json" \
    | tee "$out/thousand.txt"
fi
python3 "$here/summarize.py" "$out"
