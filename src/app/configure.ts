/**
 * Configuration of an app: `onConfigured` handlers adjust a draft of the
 * settings, and what they changed is validated into the final settings.
 *
 * @module
 */
import type { SettingsDraft } from "./registrations.ts";
import { ConfigError } from "../errors.ts";
import {
  type Settings,
  type SettingsInput,
  withOverrides,
} from "../settings/settings.ts";
import type { SyncSignal } from "../service/signals.ts";

/**
 * Send `onConfigured` with a draft of `conf` and return the settings with
 * what the handlers assigned (validated), or `conf` when they changed
 * nothing. `conf` itself is left as it was, so a handler reading the app's
 * settings sees the draft's origin.
 *
 * @throws {ConfigError} When a handler changed the app id, or assigned an invalid setting.
 */
export function applyConfigured<A>(
  app: A,
  id: string,
  conf: Settings,
  onConfigured: SyncSignal<A, [SettingsDraft]>,
): Settings {
  const draft: SettingsDraft = { ...conf };
  onConfigured.send(app, draft);
  const before = conf as unknown as Record<string, unknown>;
  const changed: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(draft)) {
    if (!Object.is(v, before[k])) changed[k] = v;
  }
  if ("id" in changed || "appId" in changed) {
    throw new ConfigError(
      `onConfigured handler of app "${id}" changed the app id; set version instead, or create the App with another id`,
    );
  }
  if (Object.keys(changed).length > 0) {
    return withOverrides(conf, changed as SettingsInput);
  }
  return conf;
}
