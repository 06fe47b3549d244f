import { createHash } from 'node:crypto';
import { familySettings } from './run-settings.js';
import type { ObjectStore } from './ports.js';
import { FAMILY_NAME } from './run.js';

/** A family's retrain schedule in EventBridge Scheduler (functions/adapters/scheduler-family-schedules.ts). */
export interface FamilySchedules {
  /** Creates the family's schedule, or changes it to `expression`. */
  put(family: string, expression: string): Promise<void>;
  /** Deletes the family's schedule; false when it had none. */
  remove(family: string): Promise<boolean>;
}

export type ScheduleSync =
  | { family: string; outcome: 'scheduled'; expression: string }
  | { family: string; outcome: 'unscheduled' | 'none' }
  /** The settings file cannot be read as valid settings: the schedule stays as it was, and the log says why. */
  | { family: string; outcome: 'kept'; problems: string[] };

export interface SyncScheduleDeps {
  store: ObjectStore;
  schedules: FamilySchedules;
  bucket: string;
  defaults: Record<string, unknown>;
}

/**
 * Makes a family's retrain schedule what its tunedrop.json says now: created or changed when the file has
 * a "schedule", deleted when the file has none or is gone. The file is read as it is now, not as the event
 * that woke this saw it, so events that arrive out of order or twice still leave the latest settings in
 * force. Settings that are not valid leave the schedule as it was: a drop into the family reports them.
 */
export async function syncFamilySchedule(
  family: string,
  settingsKey: string,
  deps: SyncScheduleDeps,
): Promise<ScheduleSync> {
  if (!FAMILY_NAME.test(family))
    return {
      family,
      outcome: 'kept',
      problems: [
        `the family folder "${family}" has characters other than letters, digits, "_", "." and "-": rename it (its drops are refused too)`,
      ],
    };
  const exists = await deps.store.head({ bucket: deps.bucket, key: settingsKey });
  const { config, problems } = exists
    ? await familySettings(deps.store, deps.bucket, settingsKey, family, deps.defaults)
    : { config: undefined, problems: [] };
  if (problems.length > 0) return { family, outcome: 'kept', problems };
  if (config?.schedule) {
    await deps.schedules.put(family, config.schedule);
    return { family, outcome: 'scheduled', expression: config.schedule };
  }
  return { family, outcome: (await deps.schedules.remove(family)) ? 'unscheduled' : 'none' };
}

/**
 * A family's schedule name: Scheduler takes 1 to 64 of [0-9a-zA-Z-_.] (CreateSchedule API reference, read
 * 2026-11-29). Family names fit that alphabet (FAMILY_NAME), but may be longer: a long one is cut and
 * told apart by a digest, under a prefix of its own (`retrain.`), so that no short family's name, which
 * may itself end in what looks like a digest, is ever that of a long one.
 */
export function scheduleName(family: string): string {
  const name = `retrain-${family}`;
  if (name.length <= 64) return name;
  const digest = createHash('sha256').update(family).digest('hex').slice(0, 12);
  return `retrain.${family.slice(0, 43)}-${digest}`;
}
