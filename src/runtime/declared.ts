/**
 * The topics an app has declared with the broker and their partition
 * counts: known counts are answered without I/O (the partitioner asks per
 * send), a missing topic is created from its description once.
 *
 * @module
 */
import type { Settings } from "../settings/settings.ts";
import type { Topic } from "../topic.ts";
import type { TopicSpec, Transport } from "../transport/transport.ts";

/** What the declarations read of the runtime. */
export interface DeclaredView {
  /** Settings. */
  readonly conf: Settings;
  /** The transport (throws before start). */
  readonly transport: Transport;
  /** The transport while started, else `undefined`. */
  readonly openTransport: Transport | undefined;
  /** Topic descriptions by name. */
  readonly topics: ReadonlyMap<string, Topic<unknown, unknown>[]>;
}

/** Topics declared with the broker, and their partition counts. */
export class DeclaredTopics {
  readonly #view: DeclaredView;
  #declared = new Map<string, Promise<number>>();
  /** Partition counts of `#declared` that are known (resolved). */
  #partitionCounts = new Map<string, number>();

  /** The declarations of the runtime `view` describes. */
  constructor(view: DeclaredView) {
    this.#view = view;
  }

  /** Forget every declaration (the app stopped). */
  clear(): void {
    this.#declared.clear();
    this.#partitionCounts.clear();
  }

  /** Partition count of a topic; declares it from its description when missing. */
  partitionsOf(topic: string): Promise<number> {
    let p = this.#declared.get(topic);
    if (p === undefined) {
      p = (async () => {
        const n = await this.#view.transport.partitionCount(topic);
        if (n !== undefined) return n;
        const desc = this.#view.topics.get(topic)?.[0];
        const spec = desc?.spec() ??
          { name: topic, partitions: this.#view.conf.topicPartitions };
        await this.#view.transport.createTopic(spec);
        return spec.partitions;
      })();
      const declared = p;
      p.then((n) => {
        if (this.#declared.get(topic) === declared) {
          this.#partitionCounts.set(topic, n);
        }
      }, () => this.#declared.delete(topic));
      this.#declared.set(topic, p);
    }
    return p;
  }

  /** Partition count of a topic when already known, else `undefined`. */
  knownPartitions(topic: string): number | undefined {
    return this.#partitionCounts.get(topic);
  }

  /** Create a topic on the broker (with `topicAllowDeclare`). */
  async declare(spec: TopicSpec): Promise<void> {
    const transport = this.#view.openTransport;
    if (transport === undefined) return;
    if (this.#view.conf.topicAllowDeclare) {
      await transport.createTopic(spec);
    }
    this.#declared.set(spec.name, Promise.resolve(spec.partitions));
    this.#partitionCounts.set(spec.name, spec.partitions);
  }
}
