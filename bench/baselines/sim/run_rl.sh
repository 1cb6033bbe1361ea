#!/usr/bin/env bash
# The actor-learner benchmark: examples/cartpole-sync.yaml against examples/cartpole-async.yaml (8 PPO
# actors, 10x speed spread, 500k env steps) for seeds that tuning did not use, each run stopped once the
# mean return of the last 100 episodes reaches 475. One run at a time, at nice 10; sync first, so that the
# async run's plot shows both. Prints the table of BENCHMARKS.md's actor-learner section. Usage:
#   bench/baselines/sim/run_rl.sh [OUT_DIR]
# Environment: SEEDS (default "1 2 3"), TRIBUTARY (default the repository's launcher).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:-$root/bench/results/rl}
seeds=${SEEDS:-1 2 3}
tributary=${TRIBUTARY:-$root/tributary}
mkdir -p "$out"
cd "$root"
echo "# $(date -u +%FT%TZ) $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt"
for mode in sync async; do
  { cat "examples/cartpole-$mode.yaml"; echo "stop_at_target: true"; } > "$out/cartpole-$mode.yaml"
done
for seed in $seeds; do
  for mode in sync async; do
    overlay=()
    [[ $mode == async ]] && overlay=(--overlay "$out/sync-$seed.json")
    # script(1) gives the run a terminal, so that its progress line is kept in the .log file.
    script -qfec "nice -n 10 $tributary simulate --config $out/cartpole-$mode.yaml --seed $seed \
      --report $out/$mode-$seed.json ${overlay[*]}" "$out/$mode-$seed.log" > /dev/null
    tail -n 6 "$out/$mode-$seed.log" | tr -d '\r'
    echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg) after $mode seed $seed" | tee -a "$out/machine.txt"
  done
done
python3 "$here/summarize_rl.py" "$out" $seeds
# All runs on one chart (the docs/ figure): java -cp "cli/target/classes:cli/target/lib/*" \
#   bench/baselines/sim/PlotRlReports.java docs/sim-cartpole-sync-vs-async.png TITLE OUT_DIR/*-[0-9].json
