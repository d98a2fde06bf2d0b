/**
 * Deliberate bugs for `scripts/mutate.ts`. Each is one exact text
 * replacement in one file; `tests` are the test files expected to catch it
 * (run with `--full` to try the whole non-Kafka suite instead). A mutation
 * whose search text no longer occurs exactly once is reported as stale:
 * update it to the code it means to break.
 */

/** One deliberate bug. */
export interface Mutation {
  /** Short unique name, used on the command line. */
  name: string;
  /** What the bug breaks (the promise a test must hold). */
  description: string;
  /** File to change, relative to the repository root. */
  file: string;
  /** Exact text to replace; must occur once. */
  search: string;
  /** Replacement text. */
  replace: string;
  /** Test files that should fail with the bug in place. */
  tests: string[];
  /** Only `tests/kafka/` catches it: run with `--kafka` and a broker. */
  kafka?: boolean;
}

/** Every deliberate bug the suite must catch. */
export const MUTATIONS: Mutation[] = [
  {
    name: "commit-no-flush",
    description: "commit offsets without flushing the producer and tables",
    file: "src/consumer/conductor.ts",
    search: "await this.#host.beforeCommit();",
    replace: "void 0;",
    tests: ["tests/conductor_test.ts"],
  },
  {
    name: "commit-no-producer-flush",
    description: "flush tables before a commit but not the producer",
    file: "src/app.ts",
    search: "  async #flushForCommit(): Promise<void> {\n" +
      "    await this.#producer?.flush();",
    replace: "  async #flushForCommit(): Promise<void> {",
    tests: ["tests/conductor_test.ts"],
  },
  {
    name: "dlq-acked-on-failure",
    description:
      "a failed dead-letter write acks the record instead of crashing",
    file: "src/consumer/conductor.ts",
    search: "this.#host.deadLetter(record, deadLetter).then(",
    replace: "this.#host.deadLetter(record, deadLetter).catch(() => {}).then(",
    tests: ["tests/conductor_test.ts"],
  },
  {
    name: "dlq-error-header-empty",
    description: "the dead-letter error header is empty",
    file: "src/app.ts",
    search: '"faust-dead-letter-error": error.message,',
    replace: '"faust-dead-letter-error": "",',
    tests: ["tests/conductor_test.ts"],
  },
  {
    name: "dlq-partition-is-offset",
    description: "the offset is written into the dead-letter partition header",
    file: "src/app.ts",
    search: '"faust-dead-letter-partition": String(record.partition),',
    replace: '"faust-dead-letter-partition": String(record.offset),',
    tests: ["tests/conductor_test.ts"],
  },
  {
    name: "decode-log-no-position",
    description: "decode errors logged without topic, partition and offset",
    file: "src/consumer/conductor.ts",
    search: '"Cannot decode {tp}@{offset} ({policy}): {error}"',
    replace: '"Cannot decode a record ({policy}): {error}"',
    tests: ["tests/conductor_test.ts"],
  },
  {
    name: "buffer-full-4x",
    description: "a stream buffer counts as full only at 4 x maxsize",
    file: "src/delivery/queue.ts",
    search: "return this.size >= this.maxsize;",
    replace: "return this.size >= 4 * this.maxsize;",
    tests: ["tests/stream_test.ts"],
  },
  {
    name: "send-backpressure-off",
    description: "delivery never pauses for sends waiting on the broker",
    file: "src/app.ts",
    search:
      "this.sends.ebb(Math.max(1000, 4 * this.#conf.streamBufferMaxsize))",
    replace: "undefined",
    tests: ["tests/producer/inflight_test.ts"],
  },
  {
    name: "murmur2-seed",
    description: "murmur2 with another seed (keys land on other partitions)",
    file: "src/producer/partitioner.ts",
    search: "let h = (0x9747b28c ^ length) | 0;",
    replace: "let h = (0x9747b28d ^ length) | 0;",
    tests: ["tests/producer/partitioner_test.ts"],
  },
  {
    name: "commit-every-never",
    description: "brokerCommitEvery never triggers a commit",
    file: "src/consumer/conductor.ts",
    search: "++this.#acksSinceCommit >= this.#host.conf.brokerCommitEvery &&",
    replace: "++this.#acksSinceCommit >= Infinity &&",
    tests: ["tests/conductor_test.ts"],
  },
  {
    name: "crontab-utc",
    description: "crontab jobs run in UTC whatever their timezone",
    file: "src/service/timer.ts",
    search: "      timezone: this.#timezone,\n      protect: true,",
    replace: '      timezone: "UTC",\n      protect: true,',
    tests: ["tests/service_test.ts"],
  },
  {
    name: "rebalance-bound-10x",
    description: "revocation waits for events in hand up to 10 x longer",
    file: "src/consumer/conductor.ts",
    search: "Math.max(1000, this.#host.conf.brokerRebalanceTimeout * 500),",
    replace: "Math.max(1000, this.#host.conf.brokerRebalanceTimeout * 5000),",
    tests: ["tests/kafka/app_test.ts"],
    kafka: true,
  },
  {
    name: "lz4-accepted",
    description: "producerCompressionType lz4 accepted on Kafka",
    file: "src/transport/kafka/options.ts",
    search: 'if (v === "gzip") return CompressionTypes.GZIP;',
    replace:
      'if (v === "gzip") return CompressionTypes.GZIP;\n  if (v === "lz4") return CompressionTypes.LZ4;',
    tests: ["tests/transport/kafka_options_test.ts"],
  },
  {
    name: "reply-topic-fixed",
    description: "replies go to one fixed topic, not f-reply-{uuid}",
    file: "src/rpc/replies.ts",
    search: "this.topic = `${conf.replyToPrefix}${crypto.randomUUID()}`;",
    replace: "this.topic = `${conf.appId}-replies`;",
    tests: ["tests/agent_test.ts"],
  },
  {
    name: "cast-asks",
    description: "agent.cast() asks for a reply (carries reply headers)",
    file: "src/agent.ts",
    search: "  async cast(message: SendMessage<K, V>): Promise<void> {\n" +
      "    await this.channel.send(message);",
    replace: "  async cast(message: SendMessage<K, V>): Promise<void> {\n" +
      "    void this.ask(message as never).catch(() => {});",
    tests: ["tests/agent_test.ts"],
  },
  {
    name: "sliding-swapped",
    description: "table.sliding(before, after) swaps before and after",
    file: "src/table/table.ts",
    search: 'toSeconds(before, "window before"),\n' +
      '      toSeconds(after, "window after"),',
    replace: 'toSeconds(after, "window after"),\n' +
      '      toSeconds(before, "window before"),',
    tests: ["tests/table/windowed_test.ts"],
  },
];
