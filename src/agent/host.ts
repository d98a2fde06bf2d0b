/**
 * What an agent needs from its app (kept apart so agents do not import the app).
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Settings } from "../settings/settings.ts";
import type { Monitor } from "../sensors/monitor.ts";
import type { Event } from "../delivery/event.ts";
import type { Agent, AskMessage } from "../agent.ts";

/**
 * The app as seen by an agent (the runtime implements it for the app).
 */
export interface AgentHost {
  /** Settings. */
  readonly conf: Settings;
  /** Logger. */
  readonly log: Logger;
  /** Counters. */
  readonly monitor: Monitor;
  /** Stop the app because of `error` (supervisor `crashing`). */
  crash(error: Error): void;
  /** Send `value` back if `event` is an RPC request. */
  reply(event: Event, value: unknown): Promise<void>;
  /** Send an RPC request to `agent` and wait for the reply. */
  ask(
    agent: Agent<unknown, unknown, unknown>,
    message: AskMessage<unknown, unknown>,
    timeout?: number,
  ): Promise<unknown>;
}
