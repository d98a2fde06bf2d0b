#!/usr/bin/env bash
# A real Apache Kafka broker for the kafka:// tests and benchmarks.
#
#   scripts/kafka.sh start    fetch (once), format fresh storage, start, wait
#   scripts/kafka.sh stop     stop it and wait until it is gone
#   scripts/kafka.sh status   tell whether it runs and where
#
# One combined broker+controller in KRaft mode on 127.0.0.1:$KAFKA_PORT
# (default 9092; the controller listens on $KAFKA_CONTROLLER_PORT, default
# KAFKA_PORT+1). The jars come from Maven Central via Maven
# (scripts/kafka/pom.xml, `dependency:copy-dependencies`) and are cached in
# $FAUST_KAFKA_CACHE (default ~/.cache/faust-deno/kafka-<version>/), so CI on
# the same machine reuses them; from an empty cache it takes ~10 s.
# Data and logs live in $KAFKA_WORK_DIR (default ${TMPDIR:-/tmp}/faust-kafka-$KAFKA_PORT),
# wiped by every `start`: each CI run gets a fresh broker.
#
# Version: Kafka 4.4.0 (the newest on Maven Central here; runs on Java 17).
# Kafka 4.0 dropped old protocol versions (KIP-896: e.g. Produce v0-2,
# Fetch v0-3) and the v0/v1 message formats, but kafkajs 2.2.4 negotiates
# through ApiVersions and its highest versions (Produce v7, Fetch v11,
# JoinGroup v5, OffsetCommit v5, OffsetFetch v4, ListOffsets v3, Metadata v6,
# CreateTopics v3, InitProducerId v1, AddPartitionsToTxn v1,
# AddOffsetsToTxn v1, TxnOffsetCommit v1, EndTxn v1) are all still served:
# tests/kafka/ pass on it, transactions with sendOffsets included. Set
# KAFKA_VERSION=3.9.1 to run an older broker (needs a matching cache dir).
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${FAUST_KAFKA_CACHE:-$HOME/.cache/faust-deno/kafka-$KAFKA_VERSION}"
WORK="${KAFKA_WORK_DIR:-${TMPDIR:-/tmp}/faust-kafka-$KAFKA_PORT}"
PID_FILE="$WORK/kafka.pid"
LOG_FILE="$WORK/kafka.log"
WAIT_SECONDS="${KAFKA_WAIT_SECONDS:-90}"

log() { echo "kafka.sh: $*" >&2; }

# Resolve the broker's jars into $CACHE/libs (once; a marker file says done).
fetch_jars() {
  if [[ -f "$CACHE/libs/.complete" ]]; then return 0; fi
  log "fetching Kafka $KAFKA_VERSION from Maven Central into $CACHE/libs"
  rm -rf "$CACHE/libs.tmp"
  mkdir -p "$CACHE/libs.tmp"
  mvn -q -B -f "$HERE/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$CACHE/libs.tmp" >"$CACHE/mvn.log" 2>&1 || {
    log "maven failed; see $CACHE/mvn.log"
    tail -20 "$CACHE/mvn.log" >&2
    exit 1
  }
  touch "$CACHE/libs.tmp/.complete"
  rm -rf "$CACHE/libs"
  mv "$CACHE/libs.tmp" "$CACHE/libs"
}

is_running() {
  [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

write_config() {
  cat >"$WORK/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$WORK/data
num.partitions=8
default.replication.factor=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
delete.topic.enable=true
num.network.threads=2
num.io.threads=4
log.flush.interval.messages=9223372036854775807
log.retention.check.interval.ms=60000
EOF
  cat >"$WORK/log4j2.properties" <<EOF
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
}

java_cmd() {
  java -Xms128m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$WORK/log4j2.properties" \
    -cp "$CACHE/libs/*" "$@"
}

# Same JVM flags, as a new background process (nohup cannot run a function).
java_background() {
  nohup java -Xms128m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$WORK/log4j2.properties" \
    -cp "$CACHE/libs/*" "$@" >>"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
}

# Waits until the broker answers: the port is open, the log says the server
# started, and a real Metadata request (scripts/kafka/Ping.java, Kafka's own
# AdminClient) lists the topics.
wait_ready() {
  local deadline=$((SECONDS + WAIT_SECONDS))
  while ((SECONDS < deadline)); do
    if ! is_running; then
      log "broker exited during start; last log lines:"
      tail -40 "$LOG_FILE" >&2 || true
      return 1
    fi
    if port_open "$KAFKA_PORT" && grep -q "Kafka Server started" "$LOG_FILE" 2>/dev/null; then
      if metadata_ok; then return 0; fi
    fi
    sleep 0.5
  done
  log "broker did not answer within ${WAIT_SECONDS}s; last log lines:"
  tail -40 "$LOG_FILE" >&2 || true
  return 1
}

# A real Metadata request with kafka-clients' AdminClient (10 s timeout).
metadata_ok() {
  java -Xmx128m -cp "$CACHE/libs/*" -Dlog4j2.level=OFF "$HERE/kafka/Ping.java" \
    "127.0.0.1:$KAFKA_PORT" >>"$WORK/ping.log" 2>&1
}

cmd_start() {
  if is_running; then
    log "already running (pid $(cat "$PID_FILE")) on 127.0.0.1:$KAFKA_PORT"
    echo "127.0.0.1:$KAFKA_PORT"
    return 0
  fi
  if port_open "$KAFKA_PORT"; then
    log "port $KAFKA_PORT is in use by another process; set KAFKA_PORT"
    exit 1
  fi
  command -v java >/dev/null || { log "java not found (need Java 17+)"; exit 1; }
  command -v mvn >/dev/null || { log "mvn not found (needed once to fetch the jars)"; exit 1; }
  fetch_jars
  rm -rf "$WORK"
  mkdir -p "$WORK/data"
  write_config
  local cluster_id
  cluster_id="$(java_cmd kafka.tools.StorageTool random-uuid 2>>"$LOG_FILE" | tail -1)"
  java_cmd kafka.tools.StorageTool format -t "$cluster_id" \
    -c "$WORK/server.properties" --ignore-formatted >>"$LOG_FILE" 2>&1 || {
    log "formatting storage failed; see $LOG_FILE"
    tail -20 "$LOG_FILE" >&2
    exit 1
  }
  java_background kafka.Kafka "$WORK/server.properties"
  if ! wait_ready; then
    cmd_stop || true
    exit 1
  fi
  log "Kafka $KAFKA_VERSION ready (pid $(cat "$PID_FILE"), log $LOG_FILE)"
  echo "127.0.0.1:$KAFKA_PORT"
}

cmd_stop() {
  if ! is_running; then
    log "not running"
    rm -f "$PID_FILE"
    return 0
  fi
  local pid
  pid="$(cat "$PID_FILE")"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.3; done
  if kill -0 "$pid" 2>/dev/null; then
    log "broker did not stop within 30s; killing pid $pid"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  if is_running; then
    echo "running: pid $(cat "$PID_FILE"), 127.0.0.1:$KAFKA_PORT, Kafka $KAFKA_VERSION, log $LOG_FILE"
  else
    echo "not running (127.0.0.1:$KAFKA_PORT)"
    return 1
  fi
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*)
  echo "usage: $0 start|stop|status  (env: KAFKA_PORT, KAFKA_VERSION, KAFKA_WORK_DIR, FAUST_KAFKA_CACHE)" >&2
  exit 2
  ;;
esac
