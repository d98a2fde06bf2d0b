/**
 * Reading kafkajs errors: kafkajs wraps a broker's protocol error (after
 * its own retries) in `cause`, so the error code may sit a few levels down.
 *
 * @module
 */

/**
 * Whether `error` or one of its causes carries the Kafka error `type`
 * (e.g. `"UNKNOWN_TOPIC_OR_PARTITION"`).
 *
 * @param error What kafkajs threw.
 * @param types Kafka error names to look for.
 * @returns True when one of them is found.
 */
export function hasKafkaErrorType(
  error: unknown,
  ...types: string[]
): boolean {
  let err: unknown = error;
  for (
    let depth = 0;
    err !== undefined && err !== null && depth < 10;
    depth++
  ) {
    const type = (err as { type?: unknown }).type;
    if (typeof type === "string" && types.includes(type)) return true;
    err = (err as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Run `step` again while it fails with a metadata error that a freshly
 * created topic gives until every broker knows it (KRaft propagates topic
 * metadata asynchronously; kafkajs retries only LEADER_NOT_AVAILABLE).
 * Bounded: `attempts` tries, `delayMs` apart, then the last error is thrown.
 *
 * @param step The admin call.
 * @param attempts Tries in all.
 * @param delayMs Pause between tries.
 * @returns What `step` resolved with.
 */
export async function retryWhileTopicPropagates<T>(
  step: () => Promise<T>,
  attempts = 20,
  delayMs = 250,
): Promise<T> {
  for (let i = 1;; i++) {
    try {
      return await step();
    } catch (e) {
      const retriable = hasKafkaErrorType(
        e,
        "UNKNOWN_TOPIC_OR_PARTITION",
        "LEADER_NOT_AVAILABLE",
      );
      if (!retriable || i >= attempts) throw e;
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

const CERT_CODES = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/**
 * What to check when connecting failed, from the error kafkajs threw
 * (appended to the "Cannot connect" message), or "" when nothing specific.
 *
 * @param error What kafkajs threw.
 * @returns A hint naming the setting to look at.
 */
export function connectHint(error: unknown): string {
  let err: unknown = error;
  for (
    let depth = 0;
    err !== undefined && err !== null && depth < 10;
    depth++
  ) {
    const e = err as { code?: unknown; name?: unknown; type?: unknown };
    if (typeof e.code === "string" && CERT_CODES.has(e.code)) {
      return "; the broker's TLS certificate is not trusted: set brokerCredentials.ssl.ca to its CA certificate (PEM)";
    }
    if (e.name === "KafkaJSConnectionClosedError") {
      return "; the broker closed the connection: does this listener need brokerCredentials (sasl or ssl)?";
    }
    if (e.name === "KafkaJSSASLAuthenticationError") {
      return "; check brokerCredentials.sasl (mechanism, username, password)";
    }
    err = (err as { cause?: unknown }).cause;
  }
  return "";
}

/** kafkajs error names that mean "the broker could not be reached". */
const CONNECTION_ERRORS = new Set([
  "KafkaJSConnectionError",
  "KafkaJSConnectionClosedError",
  "KafkaJSBrokerNotFound",
]);

/**
 * Whether `error` (or a cause) says the broker could not be reached: kafkajs
 * gives up on a connection after its own retries and may wrap that in a
 * "non-retriable" error although the broker may be back a moment later.
 *
 * @param error What kafkajs threw.
 * @returns True for connection failures.
 */
export function isConnectionError(error: unknown): boolean {
  let err: unknown = error;
  for (
    let depth = 0;
    err !== undefined && err !== null && depth < 10;
    depth++
  ) {
    const e = err as { name?: unknown; code?: unknown };
    if (typeof e.name === "string" && CONNECTION_ERRORS.has(e.name)) {
      return true;
    }
    if (e.code === "ECONNREFUSED" || e.code === "ECONNRESET") return true;
    err = (err as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Run `step` again while it fails because the broker cannot be reached, for
 * up to `limitMs` (waits of 0.5 s doubling up to 5 s), then throw the last
 * error. For appends: a broker that restarts is unreachable for longer than
 * kafkajs retries, and a failed append makes a table change undurable (the
 * worker must stop). Resending the same records is safe for the idempotent
 * and transactional producers (kafkajs keeps their sequence numbers).
 *
 * @param step The append.
 * @param limitMs How long to keep trying.
 * @param transient Which failures to try again after (default: the broker
 *   unreachable).
 * @returns What `step` resolved with.
 */
export async function retryWhileUnreachable<T>(
  step: () => Promise<T>,
  limitMs = 90_000,
  transient: (error: unknown) => boolean = isConnectionError,
): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (let wait = 500;; wait = Math.min(5000, wait * 2)) {
    try {
      return await step();
    } catch (e) {
      if (!transient(e) || Date.now() + wait > deadline) throw e;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/**
 * Whether a consumer's crash means its group coordinator could not be
 * reached or was not ready yet: kafkajs gives up on the group (no restart)
 * when it finds no coordinator within its retries, which a broker that
 * restarts slowly (loading its group metadata) can take longer than.
 *
 * @param error What kafkajs crashed with.
 * @returns True for errors after which joining again can succeed.
 */
export function isGroupUnavailable(error: unknown): boolean {
  if (isConnectionError(error)) return true;
  if (
    hasKafkaErrorType(
      error,
      "GROUP_COORDINATOR_NOT_AVAILABLE",
      "GROUP_LOAD_IN_PROGRESS",
      "NOT_COORDINATOR_FOR_GROUP",
      "REQUEST_TIMED_OUT",
    )
  ) return true;
  let err: unknown = error;
  for (let depth = 0; err != null && depth < 10; depth++) {
    const name = (err as { name?: unknown }).name;
    if (
      name === "KafkaJSGroupCoordinatorNotFound" ||
      name === "KafkaJSNoBrokerAvailableError" ||
      name === "KafkaJSRequestTimeoutError"
    ) return true;
    err = (err as { cause?: unknown }).cause;
  }
  return false;
}
