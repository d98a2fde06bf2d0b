/**
 * The partition assigner the Kafka consumer uses. For now kafkajs' round
 * robin; Faust's assignor (co-partitioning sources with changelogs, table
 * standbys, members' web URLs in the subscription user data) will replace it
 * here without touching the consumer.
 *
 * @module
 */
import { type PartitionAssigner, PartitionAssigners } from "kafkajs";

/**
 * The assigners to give kafkajs, in preference order.
 *
 * @param _memberMetadata What this member publishes to the others (not sent yet).
 * @returns kafkajs partition assigners.
 */
export function partitionAssigners(
  _memberMetadata: Readonly<Record<string, string>> = {},
): PartitionAssigner[] {
  return [PartitionAssigners.roundRobin];
}
