#!/usr/bin/env bash
# A real Apache Kafka broker for the kafka:// tests and benchmarks.
#
#   scripts/kafka.sh start    fetch (once), format fresh storage, start, wait
#   scripts/kafka.sh stop     stop it and wait until it is gone
#   scripts/kafka.sh status   tell whether it runs and where
#   scripts/kafka.sh kill9    kill -9 the broker (a crash); data stays
#   scripts/kafka.sh resume   start it again on its existing data, wait
#
# One combined broker+controller in KRaft mode on 127.0.0.1:$KAFKA_PORT
# (default 9092; the controller listens on $KAFKA_CONTROLLER_PORT, default
# KAFKA_PORT+1). The same broker also serves, for the security tests:
#
#   SASL_PLAINTEXT on $KAFKA_SASL_PORT (default KAFKA_PORT+2), mechanisms
#     PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, one test user for all three:
#       username "faust", password "faust-secret"
#     (PLAIN from the listener's JAAS config, SCRAM credentials written into
#     the metadata log by `kafka-storage format --add-scram`).
#   SSL on $KAFKA_SSL_PORT (default KAFKA_PORT+3), no client certificates;
#     a throwaway CA and a broker certificate (SAN IP:127.0.0.1,
#     DNS:localhost) are made with openssl at every `start`; clients trust
#     $KAFKA_WORK_DIR/ca.pem (PEM), whose path `start` prints on stderr.
#
# Tests find the CA as
# ${KAFKA_WORK_DIR:-${TMPDIR:-/tmp}/faust-kafka-$KAFKA_PORT}/ca.pem and the
# listeners at KAFKA_PORT+2/+3 (tests/kafka/security_test.ts). Inter-broker
# and controller traffic stay on PLAINTEXT; openssl makes the certificates in
# well under a second, so `start` takes about as long as before.
#
# The jars come from Maven Central via Maven (scripts/kafka/pom.xml,
# `dependency:copy-dependencies`) and are cached in $FAUST_KAFKA_CACHE
# (default ~/.cache/faust-deno/kafka-<version>/), so CI on the same machine
# reuses them; from an empty cache it takes ~10 s.
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
KAFKA_SASL_PORT="${KAFKA_SASL_PORT:-$((KAFKA_PORT + 2))}"
KAFKA_SSL_PORT="${KAFKA_SSL_PORT:-$((KAFKA_PORT + 3))}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${FAUST_KAFKA_CACHE:-$HOME/.cache/faust-deno/kafka-$KAFKA_VERSION}"
WORK="${KAFKA_WORK_DIR:-${TMPDIR:-/tmp}/faust-kafka-$KAFKA_PORT}"
PID_FILE="$WORK/kafka.pid"
LOG_FILE="$WORK/kafka.log"
WAIT_SECONDS="${KAFKA_WAIT_SECONDS:-180}"
CA_FILE="$WORK/ca.pem"
TLS_DIR="$WORK/tls"
# Fixed test credentials (see the header); not secrets.
TEST_USER="faust"
TEST_PASSWORD="faust-secret"
KEYSTORE_PASSWORD="faust-keystore"

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
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT,SASL_PLAINTEXT://127.0.0.1:$KAFKA_SASL_PORT,SSL://127.0.0.1:$KAFKA_SSL_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,SASL_PLAINTEXT://127.0.0.1:$KAFKA_SASL_PORT,SSL://127.0.0.1:$KAFKA_SSL_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL
listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$TEST_USER="$TEST_PASSWORD";
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.ssl.ssl.keystore.type=PKCS12
listener.name.ssl.ssl.keystore.location=$TLS_DIR/broker.p12
listener.name.ssl.ssl.keystore.password=$KEYSTORE_PASSWORD
listener.name.ssl.ssl.key.password=$KEYSTORE_PASSWORD
listener.name.ssl.ssl.client.auth=none
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

# A throwaway CA ($CA_FILE, PEM, for clients) and a broker certificate
# signed by it, packed with its key into a PKCS12 keystore for the SSL
# listener. openssl only (no JVM start) and EC P-256 keys (RSA key
# generation alone can take a second on a busy machine): ~0.1 s.
write_tls() {
  mkdir -p "$TLS_DIR"
  {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -days 30 -sha256 \
      -subj "/CN=faust-deno test CA $KAFKA_PORT" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$TLS_DIR/ca.key" -out "$CA_FILE"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
      -subj "/CN=127.0.0.1" -keyout "$TLS_DIR/broker.key" -out "$TLS_DIR/broker.csr"
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" \
      "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=serverAuth" >"$TLS_DIR/broker.ext"
    openssl x509 -req -in "$TLS_DIR/broker.csr" -CA "$CA_FILE" \
      -CAkey "$TLS_DIR/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
      -days 30 -sha256 -extfile "$TLS_DIR/broker.ext" -out "$TLS_DIR/broker.crt"
    openssl pkcs12 -export -name broker -in "$TLS_DIR/broker.crt" \
      -inkey "$TLS_DIR/broker.key" -certfile "$CA_FILE" \
      -passout "pass:$KEYSTORE_PASSWORD" -out "$TLS_DIR/broker.p12"
  } >"$TLS_DIR/openssl.log" 2>&1 || {
    log "making the test certificates failed; see $TLS_DIR/openssl.log"
    tail -20 "$TLS_DIR/openssl.log" >&2
    exit 1
  }
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
    if port_open "$KAFKA_PORT" && port_open "$KAFKA_SASL_PORT" &&
      port_open "$KAFKA_SSL_PORT" &&
      grep -q "Kafka Server started" "$LOG_FILE" 2>/dev/null; then
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
    log_listeners
    echo "127.0.0.1:$KAFKA_PORT"
    return 0
  fi
  if port_open "$KAFKA_PORT"; then
    log "port $KAFKA_PORT is in use by another process; set KAFKA_PORT"
    exit 1
  fi
  local p
  for p in "$KAFKA_SASL_PORT" "$KAFKA_SSL_PORT"; do
    if port_open "$p"; then
      log "port $p (SASL is KAFKA_PORT+2, SSL KAFKA_PORT+3) is in use by another process; set KAFKA_PORT"
      exit 1
    fi
  done
  command -v java >/dev/null || { log "java not found (need Java 17+)"; exit 1; }
  command -v openssl >/dev/null || { log "openssl not found (makes the SSL listener's certificates)"; exit 1; }
  command -v mvn >/dev/null || { log "mvn not found (needed once to fetch the jars)"; exit 1; }
  fetch_jars
  rm -rf "$WORK"
  mkdir -p "$WORK/data"
  write_config
  write_tls
  local cluster_id
  cluster_id="$(java_cmd kafka.tools.StorageTool random-uuid 2>>"$LOG_FILE" | tail -1)"
  java_cmd kafka.tools.StorageTool format -t "$cluster_id" \
    -c "$WORK/server.properties" --ignore-formatted \
    --add-scram "SCRAM-SHA-256=[name=$TEST_USER,password=$TEST_PASSWORD]" \
    --add-scram "SCRAM-SHA-512=[name=$TEST_USER,password=$TEST_PASSWORD]" \
    >>"$LOG_FILE" 2>&1 || {
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
  log_listeners
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

# kill -9 (a crash, for the fault tests): the data directory stays, so
# `resume` brings the same broker back with its topics, offsets and
# transactions.
cmd_kill9() {
  if ! is_running; then
    log "not running"
    return 1
  fi
  local pid
  pid="$(cat "$PID_FILE")"
  kill -KILL "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$PID_FILE"
  log "killed pid $pid with SIGKILL (data kept in $WORK/data)"
}

# Start the broker again on the data a `kill9` (or `stop`) left.
cmd_resume() {
  if is_running; then
    log "already running (pid $(cat "$PID_FILE"))"
    echo "127.0.0.1:$KAFKA_PORT"
    return 0
  fi
  if [[ ! -f "$WORK/server.properties" || ! -d "$WORK/data" ]]; then
    log "no broker data in $WORK to resume; use start"
    exit 1
  fi
  # wait_ready looks for the start line in the log: keep the old one aside.
  cat "$LOG_FILE" >>"$WORK/kafka.before-resume.log" 2>/dev/null || true
  : >"$LOG_FILE"
  java_background kafka.Kafka "$WORK/server.properties"
  if ! wait_ready; then
    cmd_stop || true
    exit 1
  fi
  log "Kafka $KAFKA_VERSION resumed (pid $(cat "$PID_FILE"))"
  echo "127.0.0.1:$KAFKA_PORT"
}

# The listeners besides PLAINTEXT, on stderr (stdout stays the address).
log_listeners() {
  if port_open "$KAFKA_SASL_PORT" && port_open "$KAFKA_SSL_PORT" && [[ -f "$CA_FILE" ]]; then
    log "SASL_PLAINTEXT on 127.0.0.1:$KAFKA_SASL_PORT (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; user $TEST_USER, password $TEST_PASSWORD)"
    log "SSL on 127.0.0.1:$KAFKA_SSL_PORT (CA certificate $CA_FILE)"
  else
    log "no SASL_PLAINTEXT/SSL listeners on 127.0.0.1:$KAFKA_SASL_PORT/$KAFKA_SSL_PORT (started by an older kafka.sh?); stop and start the broker to get them"
  fi
}

# "open" or "closed" for a port, for status.
port_state() {
  if port_open "$1"; then echo open; else echo closed; fi
}

cmd_status() {
  if is_running; then
    echo "running: pid $(cat "$PID_FILE"), 127.0.0.1:$KAFKA_PORT, Kafka $KAFKA_VERSION, log $LOG_FILE"
    echo "  PLAINTEXT      127.0.0.1:$KAFKA_PORT ($(port_state "$KAFKA_PORT"))"
    echo "  CONTROLLER     127.0.0.1:$KAFKA_CONTROLLER_PORT ($(port_state "$KAFKA_CONTROLLER_PORT"))"
    echo "  SASL_PLAINTEXT 127.0.0.1:$KAFKA_SASL_PORT ($(port_state "$KAFKA_SASL_PORT")): PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; user $TEST_USER, password $TEST_PASSWORD"
    if [[ -f "$CA_FILE" ]]; then
      echo "  SSL            127.0.0.1:$KAFKA_SSL_PORT ($(port_state "$KAFKA_SSL_PORT")): CA $CA_FILE"
    else
      echo "  SSL            127.0.0.1:$KAFKA_SSL_PORT ($(port_state "$KAFKA_SSL_PORT")): no CA file (started by an older kafka.sh?)"
    fi
  else
    echo "not running (127.0.0.1:$KAFKA_PORT)"
    return 1
  fi
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
kill9) cmd_kill9 ;;
resume) cmd_resume ;;
*)
  echo "usage: $0 start|stop|status|kill9|resume  (env: KAFKA_PORT, KAFKA_CONTROLLER_PORT, KAFKA_SASL_PORT, KAFKA_SSL_PORT, KAFKA_VERSION, KAFKA_WORK_DIR, FAUST_KAFKA_CACHE)" >&2
  exit 2
  ;;
esac
