/**
 * Agent RPC of one app: `agent.ask()` sends a request with a reply-to
 * header and waits for the reply; an actor that yields for a request
 * replies through here.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Event } from "../delivery/event.ts";
import type { Producer } from "../producer/producer.ts";
import { Replies } from "../rpc/replies.ts";
import type { Settings } from "../settings/settings.ts";
import type { Transport } from "../transport/transport.ts";
import type { RpcPort } from "./port.ts";

/** What RPC reads of the runtime. */
export interface RpcView {
  /** Settings. */
  readonly conf: Settings;
  /** Logger. */
  readonly log: Logger;
  /** The transport (throws before start). */
  readonly transport: Transport;
  /** The producer while started, else `undefined`. */
  readonly openProducer: Producer | undefined;
}

/** Requests to agents and their replies. */
export class Rpc implements RpcPort {
  readonly #view: RpcView;
  #replies: Replies | undefined;

  /** RPC of the runtime `view` describes. */
  constructor(view: RpcView) {
    this.#view = view;
  }

  /** Create the reply topic when `replyCreateTopic` is set. */
  async prepare(): Promise<void> {
    if (this.#view.conf.replyCreateTopic) await this.#repliesOf().prepare();
  }

  /** Stop waiting for replies. */
  async stop(): Promise<void> {
    await this.#replies?.stop();
  }

  /** Forget the replies (the app stopped). */
  reset(): void {
    this.#replies = undefined;
  }

  /** Reply to an RPC request. */
  async reply(event: Event, value: unknown): Promise<void> {
    if (this.#view.openProducer === undefined) return;
    await this.#repliesOf().reply(event, value);
  }

  /** Send an RPC request and wait for the reply. */
  async ask(
    target: string,
    send: (headers: Record<string, string>) => Promise<unknown>,
    timeout?: number,
  ): Promise<unknown> {
    const { headers, reply, cancel } = await this.#repliesOf().request(
      timeout,
    );
    const sending = send(headers);
    // The timeout covers the send too: while the send is blocked (a full
    // buffer, a slow broker) the reply may time out first. Whichever fails
    // first is the caller's error; neither may reject unobserved.
    reply.catch(() => {});
    sending.catch((error) =>
      this.#view.log.debug("Request to agent {agent} failed: {error}", {
        agent: target,
        error,
      })
    );
    try {
      await Promise.race([sending, reply]);
    } catch (error) {
      cancel();
      throw error;
    }
    return await reply;
  }

  #repliesOf(): Replies {
    const view = this.#view;
    return this.#replies ??= new Replies(
      view.conf,
      () => view.transport,
      () => view.openProducer!,
      view.log,
    );
  }
}
