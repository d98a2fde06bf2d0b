#!/usr/bin/env bash
# Starts the Kafka Streams peer; run `bash build.sh` first. Arguments go to
# PeerApp unchanged (see bench_protocol: --workload forward|count --bootstrap
# --input --output --app-id --expect --warmup --state-dir).
#
# `exec` makes the harness's spawned pid the JVM itself, so /proc/<pid>/stat and
# /proc/<pid>/status measure Kafka Streams and not a shell.
#
# JVM flags (override with KSTREAMS_JAVA_OPTS):
#   -Xms256m -Xmx1g   fixed-ish heap: room for RocksDB's JNI side (off-heap, not
#                     limited by -Xmx) and the record batches; peak RSS counts both.
#   -XX:+UseG1GC      Java 17's default collector, stated so the run is explicit.
#   -XX:+ExitOnOutOfMemoryError  fail fast instead of limping on.
# Logging: slf4j-simple to stderr at WARN (KSTREAMS_LOG_LEVEL=info for more).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
JAR="$HERE/target/kstreams-peer.jar"
if [[ ! -f "$JAR" ]]; then
  echo "kstreams run.sh: $JAR is missing; run bash $HERE/build.sh first" >&2
  exit 1
fi

# shellcheck disable=SC2086 # KSTREAMS_JAVA_OPTS is a list of flags
exec java ${KSTREAMS_JAVA_OPTS:--Xms256m -Xmx1g -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError} \
  -Dorg.slf4j.simpleLogger.defaultLogLevel="${KSTREAMS_LOG_LEVEL:-warn}" \
  -Dorg.slf4j.simpleLogger.showDateTime=true \
  -Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS \
  -cp "$JAR:$HERE/target/lib/*" \
  dev.faustdeno.bench.PeerApp "$@"
