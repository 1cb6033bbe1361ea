#!/usr/bin/env bash
# Compression on real training: the async FMNIST example in f32, int4 + EF and top-k 1% + int8 + EF
# (async-int4-lossless: int4 + a lossless stage; async-int4-int8pull: int4 pushes, int8 pulls), then
# DiLoCo and Streaming DiLoCo in f32 and int4 + EF, one run after the other, niced. Every run
# also counts what version-delta pulls would cost (delta_pulls: true; lossless, so the training is the
# same as with full pulls). Usage, from anywhere:
#   bench/baselines/sim/compression/run.sh [OUT_DIR]      (SEEDS="0 1" for more seeds; RUNS to pick)
# BUDGET=400 replaces every config's 1,000 virtual seconds (the budget the tables were run with on a
# loaded machine); NICE (default 5) is the niceness.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
out=${1:-$root/bench/results/sim-compression}
seeds=${SEEDS:-0}
runs=${RUNS:-async-f32 async-int4 async-topk diloco-f32 diloco-int4 streaming-f32 streaming-int4}
tributary=${TRIBUTARY:-$root/tributary}
mkdir -p "$out"
cd "$root"
config() {  # the run's YAML: a shipped config plus delta_pulls (and the codec for the DiLoCo ones)
  case "$1" in
    async-f32) cat examples/fmnist-async.yaml ;;
    async-int4) cat examples/fmnist-async-int4.yaml ;;
    async-topk) cat examples/fmnist-async-topk.yaml ;;
    async-int4-lossless) sed 's/^codec: int4:group=256 /codec: int4:group=256+lossless /' examples/fmnist-async-int4.yaml ;;
    async-int4-int8pull) cat examples/fmnist-async-int4.yaml; printf 'pull_codec: int8\n' ;;
    diloco-f32) cat "$here/fmnist-diloco.yaml" ;;
    streaming-f32) cat "$here/fmnist-streaming-diloco.yaml" ;;
    diloco-int4) cat "$here/fmnist-diloco.yaml"; printf 'codec: int4:group=256\nerror_feedback: true\n' ;;
    streaming-int4) cat "$here/fmnist-streaming-diloco.yaml"; printf 'codec: int4:group=256\nerror_feedback: true\n' ;;
  esac
  printf 'delta_pulls: true\nthreads: 2\n'
}
budget=${BUDGET:-1000}
for seed in $seeds; do
  for run in $runs; do
    config "$run" | sed "s/^budget: {virtual_seconds: 1000}/budget: {virtual_seconds: $budget}/" > "$out/$run.yaml"
    echo "# $(date -u +%FT%TZ) $run seed $seed: $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt"
    TRIBUTARY_NO_PROGRESS=1 nice -n "${NICE:-5}" "$tributary" simulate --config "$out/$run.yaml" --seed "$seed" \
      --report "$out/$run-$seed.json" | tee "$out/$run-$seed.txt"
  done
done
echo "# $(date -u +%FT%TZ) done, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt"
