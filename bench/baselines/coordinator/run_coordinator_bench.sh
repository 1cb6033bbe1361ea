#!/usr/bin/env bash
# Coordinator throughput over loopback: update ingest with fsync durability and PullModel, each beside
# the physical limit measured in the same run (disk append+fsync, memcpy, raw loopback TCP).
# Usage: bench/baselines/coordinator/run_coordinator_bench.sh [--params N] [--seconds S] [--pushers P] [--pullers Q] [--dir DIR]
# DIR (default: the JVM's temp folder) must be on the disk being measured; it is emptied and removed.
set -euo pipefail
cd "$(dirname "$0")/../../.."
JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
if [[ ! -f bench/target/benchmarks.jar ]]; then
  MAVEN_OPTS="--sun-misc-unsafe-memory-access=allow" JAVA_HOME=$JAVA_HOME mvn -B -q -pl bench -am package -DskipTests
fi
exec "$JAVA_HOME/bin/java" --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  --sun-misc-unsafe-memory-access=allow -Xmx6g \
  -cp bench/target/benchmarks.jar dev.tributary.bench.coordinator.CoordinatorBench "$@"
