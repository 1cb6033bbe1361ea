#!/usr/bin/env bash
# The scale rows of BENCHMARKS.md, one run after another at nice 10. Usage, from the repository root:
#   bench/baselines/sim/scale/run.sh OUT_DIR RUN...
# where RUN is NAME:STRATEGY:INNER_STEPS:FRAGMENTS:BUDGET (DiLoCo-family, from fmnist-diloco.yaml) or
# NAME:fedavg:0:0:BUDGET (examples/fmnist-sync.yaml). Environment: CP, the CLI's classpath (default the
# repository's cli/target), JAVA (default $JAVA_HOME/bin/java after scripts/java-env.sh), BASE (the
# DiLoCo-family base config, default fmnist-diloco.yaml beside this script), SEED (replaces the config's seed:
# model init, speeds, shuffling and the data split), KEYS (extra strategy keys, e.g.
# KEYS='peer_pull: 1.0, momentum: 0.5', each put under inner_steps), EXTRA (YAML lines appended to every run's
# config, e.g. EXTRA=$'codec: int4:group=256+lossless\nerror_feedback: true\npull_codec: int8').
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
out=${1:?OUT_DIR}; shift
source "$root/scripts/java-env.sh"
cp=${CP:-$root/cli/target/classes:$root/cli/target/lib/*}
java=${JAVA:-$JAVA_HOME/bin/java}
mkdir -p "$out"
export TRIBUTARY_NO_PROGRESS=1
for run in "$@"; do
  IFS=: read -r name strategy h f budget <<<"$run"
  cfg="$out/$name.yaml"
  if [[ $strategy == fedavg ]]; then
    sed -e "s/^budget: .*/budget: {virtual_seconds: $budget}/" "$root/examples/fmnist-sync.yaml" > "$cfg"
  else
    sed -e "s/^  name: diloco/  name: $strategy/" -e "s/^  inner_steps: .*/  inner_steps: $h/" \
        -e "s/^  fragments: .*/  fragments: $f/" -e "s/^budget: .*/budget: {virtual_seconds: $budget}/" \
        "${BASE:-$here/fmnist-diloco.yaml}" > "$cfg"
    [[ $strategy == noloco ]] && sed -i -e '/^  fragments: /d' "$cfg"
    if [[ -n ${KEYS:-} ]]; then
      IFS=, read -ra keys <<<"$KEYS"
      for ((k = ${#keys[@]} - 1; k >= 0; k--)); do
        sed -i -e "s/^  inner_steps: .*/&\n  $(echo "${keys[k]}" | sed 's/^ *//')/" "$cfg"
      done
    fi
  fi
  if [[ -n ${SEED:-} ]]; then
    sed -i -e "s/^seed: .*/seed: $SEED/" "$cfg"
  fi
  [[ -n ${EXTRA:-} ]] && printf '%s\n' "$EXTRA" >> "$cfg"
  echo "# $(date -u +%FT%TZ) $name: load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt"
  /usr/bin/time -f "%e s wall, %M KiB max RSS" -o "$out/$name.time" \
    nice -n 10 "$java" "${TRIBUTARY_JVM_FLAGS[@]}" ${JAVA_OPTS:-} -cp "$cp" \
    dev.tributary.cli.Main simulate --config "$cfg" --report "$out/$name.json" > "$out/$name.txt" 2>&1 || echo "$name failed" | tee -a "$out/machine.txt"
  echo "# $(date -u +%FT%TZ) $name done: $(cat "$out/$name.time" | tail -1)" | tee -a "$out/machine.txt"
done
