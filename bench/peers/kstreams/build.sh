#!/usr/bin/env bash
# Builds the Kafka Streams peer (bench/peers/kstreams) once:
#   target/kstreams-peer.jar   PeerApp
#   target/lib/*.jar           kafka-streams 4.4.0 + its runtime deps, jackson, slf4j-simple
# Skips Maven when the jar is newer than pom.xml and every source file.
# Maven's output goes to stderr (and target/mvn.log on failure). The last stdout
# line is the absolute path of run.sh, the script the harness spawns
# (run.sh `exec`s java, so the spawned pid is the JVM).
# Needs: Java 17+ and Maven (reaching Maven Central, or a filled ~/.m2).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
JAR="$HERE/target/kstreams-peer.jar"

log() { echo "kstreams build: $*" >&2; }

up_to_date() {
  [[ -f "$JAR" && -f "$HERE/target/lib/.complete" ]] || return 1
  local newer
  newer="$(find "$HERE/pom.xml" "$HERE/src" -newer "$JAR" -print -quit)"
  [[ -z "$newer" ]]
}

if up_to_date; then
  log "up to date ($JAR)"
else
  command -v java >/dev/null || { log "java not found (need Java 17+)"; exit 1; }
  command -v mvn >/dev/null || { log "mvn not found (needed to build the peer)"; exit 1; }
  log "building with Maven (first run downloads kafka-streams from Maven Central)"
  rm -rf "$HERE/target/lib"
  mkdir -p "$HERE/target"
  started=$SECONDS
  if ! mvn -q -B -f "$HERE/pom.xml" package >"$HERE/target/mvn.log" 2>&1; then
    log "maven failed; last lines of $HERE/target/mvn.log:"
    tail -40 "$HERE/target/mvn.log" >&2
    exit 1
  fi
  cat "$HERE/target/mvn.log" >&2
  touch "$HERE/target/lib/.complete" "$JAR"
  log "built $JAR in $((SECONDS - started)) s"
fi

echo "$HERE/run.sh"
