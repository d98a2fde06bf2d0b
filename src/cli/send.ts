/**
 * `send ENTITY [VALUE]`: send a value to an agent (`@name`) or a topic from
 * the command line, through a client-only app; prints the record metadata
 * of each send as a JSON line.
 *
 * @module
 */
import { type Command, Option } from "commander";
import type { App } from "../app.ts";
import { ConfigError } from "../errors.ts";
import { isRecordType, type TypeSpec } from "../models.ts";
import type { Topic } from "../topic.ts";
import type { CliContext } from "./context.ts";

/** Options of `send`. */
interface SendOptions {
  create?: boolean;
  key?: string;
  partition?: number;
  repeat: number;
  keySerializer?: string;
  valueSerializer?: string;
  minLatency: number;
  maxLatency: number;
}

/**
 * A command-line value as sent: text as is for `"string"` types, else the
 * JSON value it parses as, else the text as a JSON string.
 *
 * @param text What was typed.
 * @param type The topic's key or value type.
 * @returns The value to send.
 */
export function parseCliValue(
  text: string,
  type: TypeSpec | undefined,
): unknown {
  if (type === "string" || type === "bytes") return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** What the app sends to and reads from, for error messages. */
function declared(app: App): string {
  const topics = [...app.topics.entries()]
    .filter(([, ts]) => ts.some((t) => t.options.internal !== true))
    .map(([name]) => name);
  const agents = [...app.agents.keys()].map((n) => `@${n}`);
  return `topics of app "${app.id}": ${topics.join(", ") || "none"}; agents: ${
    agents.join(", ") || "none"
  }`;
}

/** The type of a key or value as the error messages name it. */
function typeName(type: TypeSpec | undefined): string {
  if (type === undefined) return "untyped";
  if (typeof type === "string") return `"${type}"`;
  if (isRecordType(type)) return `${type.name} records`;
  return "values of its zod schema";
}

/**
 * Encode the key and value once before anything is sent, so a value the
 * topic's type does not accept is a usage error naming the topic, not a
 * crash of the agent that reads it. `null` passes only on untyped and
 * `"json"` topics (elsewhere it would reach the agent unchecked).
 */
function checkValues(
  topic: Topic<unknown, unknown>,
  key: unknown,
  value: unknown,
): void {
  const type = topic.valueType;
  if (value === null && type !== undefined && type !== "json") {
    throw new ConfigError(
      `Topic "${topic.name}" takes ${
        typeName(type)
      }; give a VALUE (send ${topic.name} VALUE): null is not one`,
    );
  }
  const check = (what: "key" | "value", fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      throw new ConfigError(
        `Invalid ${what} for topic "${topic.name}" (${
          typeName(what === "key" ? topic.keyType : type)
        }): ${(error as Error).message}`,
        { cause: error },
      );
    }
  };
  if (key !== undefined && key !== null) {
    check("key", () => topic.keySerde.encode(key));
  }
  if (value !== null) check("value", () => topic.valueSerde.encode(value));
}

function resolveTopic(
  app: App,
  entity: string,
  opts: SendOptions,
): Topic<unknown, unknown> {
  let topic: Topic<unknown, unknown> | undefined;
  if (entity.startsWith("@")) {
    const name = entity.slice(1);
    const agent = app.agents.get(name);
    if (agent === undefined) {
      throw new ConfigError(
        `Unknown agent "${entity}"; agents: ${
          [...app.agents.keys()].map((n) => `@${n}`).join(", ") || "none"
        }`,
      );
    }
    if (!agent.channel.isTopic) {
      throw new ConfigError(
        `Agent "${entity}" reads from a local channel: only agents on topics can be sent to from the CLI`,
      );
    }
    topic = agent.channel as Topic<unknown, unknown>;
  } else {
    topic = app.topics.get(entity)?.[0];
  }
  if (
    topic === undefined || opts.keySerializer !== undefined ||
    opts.valueSerializer !== undefined
  ) {
    const base = topic?.options ?? {};
    topic = app.topic(topic?.name ?? entity, {
      ...base,
      ...(opts.keySerializer !== undefined
        ? { keySerializer: opts.keySerializer }
        : {}),
      ...(opts.valueSerializer !== undefined
        ? { valueSerializer: opts.valueSerializer }
        : {}),
    }) as Topic<unknown, unknown>;
  }
  return topic;
}

function int(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) {
      throw new ConfigError(
        `Invalid ${name}: ${
          JSON.stringify(value)
        }; expected an integer >= ${min}`,
      );
    }
    return n;
  };
}

function seconds(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) {
      throw new ConfigError(
        `Invalid ${name}: ${JSON.stringify(value)}; expected seconds >= 0`,
      );
    }
    return n;
  };
}

/**
 * Add the `send` command.
 *
 * @param program The root command.
 * @param ctx The CLI context.
 */
export function addSendCommand(program: Command, ctx: CliContext): void {
  program.command("send")
    .description("Send message to agent/topic")
    .argument("<entity>", "@agent or topic name")
    .argument(
      "[value]",
      "Value: JSON, or any other text (sent as a JSON string); none sends null (untyped and json topics only)",
    )
    .option("-k, --key <key>", "Key (JSON, or any other text)")
    .addOption(
      new Option(
        "--partition <n>",
        "Partition (default: chosen by key, else round-robin)",
      ).argParser(int("--partition", 0)),
    )
    .addOption(
      new Option("-r, --repeat <n>", "Send the value this many times")
        .argParser(int("--repeat", 1)).default(1),
    )
    .option(
      "--key-serializer <codec>",
      "Codec for the key, e.g. raw, json, binary|json",
    )
    .option("--value-serializer <codec>", "Codec for the value")
    .option(
      "--create",
      "Create the topic when neither the app nor the broker has it",
    )
    .addOption(
      new Option("--min-latency <seconds>", "Minimum delay between repeats")
        .argParser(seconds("--min-latency")).default(0),
    )
    .addOption(
      new Option("--max-latency <seconds>", "Maximum delay between repeats")
        .argParser(seconds("--max-latency")).default(0),
    )
    .action(
      async (entity: string, value: string | undefined, opts: SendOptions) => {
        const app = ctx.requireApp();
        const known = entity.startsWith("@") || app.topics.has(entity);
        const described = declared(app);
        const topic = resolveTopic(app, entity, opts);
        const key = opts.key === undefined
          ? undefined
          : parseCliValue(opts.key, topic.keyType ?? "string");
        const payload = value === undefined
          ? null
          : parseCliValue(value, topic.valueType);
        checkValues(topic, key, payload);
        await app.startClient();
        try {
          if (
            !known && opts.create !== true &&
            await app.transport.partitionCount(topic.name) === undefined
          ) {
            throw new ConfigError(
              `Unknown topic "${entity}": neither the app nor the broker has it ` +
                `(to an agent: send @NAME; to create the topic: --create); ${described}`,
            );
          }
          for (let i = 0; i < opts.repeat; i++) {
            if (i > 0 && opts.maxLatency > 0) {
              const lo = Math.min(opts.minLatency, opts.maxLatency);
              const delay = lo + Math.random() * (opts.maxLatency - lo);
              await new Promise((r) => setTimeout(r, delay * 1000));
            }
            const md = await topic.send({
              value: payload,
              ...(key !== undefined ? { key } : {}),
              ...(opts.partition !== undefined
                ? { partition: opts.partition }
                : {}),
            });
            ctx.out(JSON.stringify(md));
          }
        } finally {
          await app.stop();
        }
      },
    );
}
