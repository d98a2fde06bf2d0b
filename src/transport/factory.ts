/**
 * Picks the transport driver by URL scheme. Drivers load lazily, so a
 * `memory://` app never loads lmdb (FFI) or kafkajs.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { Transport, TransportOptions } from "./transport.ts";

/**
 * Create the transport for a broker URL.
 *
 * @param url `memory://[name]`, `local://[path]` or `kafka://host:port[;host:port]`.
 * @param options Driver options.
 * @returns The transport, not yet started.
 */
export async function createTransport(
  url: string,
  options: TransportOptions,
): Promise<Transport> {
  const scheme = url.slice(0, Math.max(0, url.indexOf("://")));
  switch (scheme) {
    case "memory": {
      const { MemoryTransport } = await import("./memory.ts");
      return new MemoryTransport(url, options);
    }
    case "local": {
      const { LocalTransport } = await import("./local.ts");
      return new LocalTransport(url, options);
    }
    case "kafka": {
      const { KafkaTransport } = await import("./kafka.ts");
      return new KafkaTransport(url, options);
    }
    default:
      throw new ConfigError(
        `Invalid setting "broker": ${
          JSON.stringify(url)
        }; supported schemes: kafka://, local://, memory://`,
      );
  }
}
