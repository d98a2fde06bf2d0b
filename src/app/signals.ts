/**
 * The app's signals, declared once: each name with its kind (sync or
 * async) and the arguments after the sender. `App` holds one set on the
 * class (every app) and one per app whose signals also call the class's.
 *
 * @module
 */
import type { SettingsDraft } from "./registrations.ts";
import type { ProduceRecord } from "../transport/transport.ts";
import type { TP } from "../util/types.ts";
import { AsyncSignal, SyncSignal } from "../service/signals.ts";

/** The signals of an app `A` (see `App` for when each is sent). */
export interface AppSignals<A> {
  /** Before the app reads its configuration. */
  readonly onBeforeConfigured: SyncSignal<A>;
  /** With a writable draft of the settings before it becomes `app.conf`. */
  readonly onConfigured: SyncSignal<A, [SettingsDraft]>;
  /** Once the app is configured. */
  readonly onAfterConfigured: SyncSignal<A>;
  /** By the worker before it starts the app. */
  readonly onWorkerInit: SyncSignal<A>;
  /** For every record the app produces. */
  readonly onProduceMessage: SyncSignal<A, [ProduceRecord]>;
  /** After partitions are assigned. */
  readonly onPartitionsAssigned: AsyncSignal<A, [readonly TP[]]>;
  /** When partitions are revoked. */
  readonly onPartitionsRevoked: AsyncSignal<A, [readonly TP[]]>;
  /** When a rebalance finished and tables recovered. */
  readonly onRebalanceComplete: AsyncSignal<A>;
  /** When the app begins to stop. */
  readonly onBeforeShutdown: AsyncSignal<A>;
}

/** The one table: every app signal and its kind. */
const SIGNALS: { readonly [N in keyof AppSignals<unknown>]: "sync" | "async" } =
  {
    onBeforeConfigured: "sync",
    onConfigured: "sync",
    onAfterConfigured: "sync",
    onWorkerInit: "sync",
    onProduceMessage: "sync",
    onPartitionsAssigned: "async",
    onPartitionsRevoked: "async",
    onRebalanceComplete: "async",
    onBeforeShutdown: "async",
  };

/**
 * A set of app signals; with `parents`, each signal also calls its parent
 * (an app's signals call the class's).
 */
export function appSignals<A>(parents?: AppSignals<A>): AppSignals<A> {
  const signals: Record<string, unknown> = {};
  for (const [name, kind] of Object.entries(SIGNALS)) {
    const parent = parents?.[name as keyof AppSignals<A>];
    signals[name] = kind === "sync"
      ? new SyncSignal(name, parent as SyncSignal<A, unknown[]> | undefined)
      : new AsyncSignal(name, parent as AsyncSignal<A, unknown[]> | undefined);
  }
  return signals as unknown as AppSignals<A>;
}
