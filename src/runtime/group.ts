/**
 * The group as this worker sees it: whether partitions come from a group
 * protocol shared with other workers (Kafka), leader election (the owner of
 * partition 0 of the leader topic), and the routing table the member that
 * computes an assignment publishes there (who owns which partitions, with
 * each worker's web URL).
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { errorLine } from "../errors.ts";
import type { Producer } from "../producer/producer.ts";
import {
  decodeRouting,
  encodeRouting,
  type GroupRouting,
  leaderTopic,
  ROUTING_KEY,
} from "../rpc/routing.ts";
import type { Settings } from "../settings/settings.ts";
import type {
  GroupMember,
  TopicSpec,
  Transport,
} from "../transport/transport.ts";
import type { TP } from "../util/types.ts";

/** What the group reads of the runtime (all of it may change over a restart). */
export interface GroupView {
  /** Settings. */
  readonly conf: Settings;
  /** Logger. */
  readonly log: Logger;
  /** The transport while started, else `undefined`. */
  readonly openTransport: Transport | undefined;
  /** The producer while started, else `undefined`. */
  readonly openProducer: Producer | undefined;
  /** Whether the consumer runs (it assigns the leader topic). */
  readonly consuming: boolean;
  /** Partitions assigned to this worker. */
  assignment(): TP[];
  /** True when started with `startClient()`. */
  readonly isClient: boolean;
}

/** Leader election and group routing of one app. */
export class Group {
  readonly #view: GroupView;
  #leader = true;
  #routingCache: { read: number; routing: GroupRouting } | undefined;

  /** The group of the runtime `view` describes. */
  constructor(view: GroupView) {
    this.#view = view;
  }

  /** Whether partitions come from a group protocol shared with other workers (Kafka). */
  get managed(): boolean {
    return this.#view.openTransport?.driver === "kafka";
  }

  /** The leader topic, declared on a group-managed broker. */
  leaderSpec(): TopicSpec {
    return {
      name: leaderTopic(this.#view.conf.appId),
      partitions: 1,
      internal: true,
      compacting: true,
    };
  }

  /**
   * Whether this worker is the leader: on Kafka the owner of partition 0
   * of the leader topic (`{appId}-__assignor-__leader`); otherwise always.
   */
  isLeader(): boolean {
    if (this.managed && this.#view.consuming) {
      const topic = leaderTopic(this.#view.conf.appId);
      return this.#view.assignment().some((tp) =>
        tp.topic === topic && tp.partition === 0
      );
    }
    return this.#leader;
  }

  /** Set by drivers with a group protocol. */
  setLeader(leader: boolean): void {
    this.#leader = leader;
  }

  /** Publish the assignment this member computed (for table routing). */
  publishRouting(members: readonly GroupMember[]): void {
    const producer = this.#view.openProducer;
    if (producer === undefined) return;
    producer.send({
      topic: leaderTopic(this.#view.conf.appId),
      partition: 0,
      key: new TextEncoder().encode(ROUTING_KEY),
      value: encodeRouting(members),
    }).catch((error) =>
      this.#view.log.warn("Could not publish the group routing: {error}", {
        error: errorLine(error),
      })
    );
  }

  /**
   * Who owns which partitions across the group, with each worker's web
   * URL (table routing, `/router/`). On Kafka it is the latest assignment
   * published to the leader topic (read at most once a second); otherwise
   * this worker owns everything it consumes.
   */
  async routing(): Promise<GroupRouting> {
    const view = this.#view;
    const self: GroupRouting = {
      group: this.managed && !view.isClient,
      at: 0,
      members: [{
        url: view.conf.canonicalUrl,
        active: view.assignment(),
        standby: [],
      }],
    };
    const transport = view.openTransport;
    if (transport === undefined || !this.managed || view.isClient) {
      return self;
    }
    const cached = this.#routingCache;
    if (cached !== undefined && performance.now() - cached.read < 1000) {
      return cached.routing;
    }
    const tp = { topic: leaderTopic(view.conf.appId), partition: 0 };
    const end = await transport.highWatermark(tp);
    const records = end > 0
      ? await transport.read(tp, Math.max(0, end - 10), 10)
      : [];
    let routing: GroupRouting | undefined;
    for (const r of records) routing = decodeRouting(r.value) ?? routing;
    this.#routingCache = { read: performance.now(), routing: routing ?? self };
    return routing ?? self;
  }
}
