import { checkModel, DEFAULT_MODELS, findModel, modelNotices, type ModelInfo } from './catalog.js';
import { MAX_CONFIG_BYTES, resolveRunConfig, type RunConfig } from './config.js';
import { providerSettingIssues } from './provider-settings.js';
import { issue, type DatasetIssue } from './issue-list.js';
import type { ObjectStore } from './ports.js';
import { AZURE_SUFFIX_MAX } from './config.js';

/** A settings file over MAX_CONFIG_BYTES, known by its size and never read whole. */
export const CONFIG_TOO_LARGE = Symbol('config too large');

/**
 * A family's settings file as the run's settings, read the same way by the pipeline and the CLI: a
 * file that is too large, not JSON or not valid gives the run's issues (config_too_large,
 * invalid_config), and `layers` without the file stand in so that the data is still checked.
 * `layers` lists the settings in order, with `'file'` where the file's go.
 */
export function settingsFromFile(
  text: string | typeof CONFIG_TOO_LARGE | undefined,
  where: string,
  layers: Array<Record<string, unknown> | 'file'>,
): { config: RunConfig; issues: DatasetIssue[] } {
  const without = resolveRunConfig(...layers.map((layer) => (layer === 'file' ? undefined : layer)));
  if (!without.ok)
    throw new Error(`the settings without ${where} are invalid: ${without.problems.join('; ')}`);
  const fallback = (...issues: DatasetIssue[]) => ({ config: without.config, issues });
  if (text === undefined) return fallback();
  if (text === CONFIG_TOO_LARGE) {
    return fallback(
      issue(
        'config_too_large',
        `${where} is larger than ${MAX_CONFIG_BYTES / 1024} KB, the most tunedrop reads of run settings; it was not read`,
        `Keep only the settings you need in ${where} (docs/configuration.md lists them; a few hundred bytes is typical), or delete it to use the defaults.`,
      ),
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return fallback(
      issue(
        'invalid_config',
        `${where} is not valid JSON: ${(error as Error).message}`,
        `Fix the JSON in ${where}.`,
      ),
    );
  }
  const fromFile = parsed as Record<string, unknown>;
  const resolved = resolveRunConfig(...layers.map((layer) => (layer === 'file' ? fromFile : layer)));
  if (resolved.ok) return { config: resolved.config, issues: [] };
  const fix = `Correct ${where}; docs/configuration.md lists every setting.`;
  return fallback(
    ...resolved.problems.map((problem) => issue('invalid_config', `${where}: ${problem}`, fix)),
  );
}

/**
 * The model a run's settings name, at its provider, on `today`, with what the run must be told about it:
 * not available (unknown, retired, closed), its notices (retiring, shutdown, access), and settings out of
 * the model's range. When the model is not available, the checks go on with the provider's default so
 * that the data is still checked. `where` prefixes the unavailability (the settings file's name).
 */
export function modelForRun(
  config: RunConfig,
  today: string,
  where?: string,
): { model: ModelInfo; issues: DatasetIssue[] } {
  const check = checkModel(config.model, today, config.provider);
  if (!check.ok)
    return {
      model:
        findModel(config.model, config.provider) ??
        findModel(DEFAULT_MODELS[config.provider], config.provider)!,
      issues: [issue('model_not_available', where ? `${where}: ${check.message}` : check.message, check.fix)],
    };
  return {
    model: check.model,
    issues: [
      ...modelNotices(check.model, today).map((notice) => issue(notice.code, notice.message, notice.fix)),
      ...providerSettingIssues(config, check.model),
    ],
  };
}

/**
 * An object's text, or CONFIG_TOO_LARGE without reading past `maxBytes` (the size S3 reports is checked first,
 * and the read stops at the limit whatever it said), or undefined when there is no such object.
 */
export async function readSmallObject(
  store: ObjectStore,
  ref: { bucket: string; key: string },
  maxBytes: number,
): Promise<string | typeof CONFIG_TOO_LARGE | undefined> {
  const head = await store.head(ref);
  if (!head) return undefined;
  if (head.size !== undefined && head.size > maxBytes) return CONFIG_TOO_LARGE;
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of store.read(ref)) {
      size += chunk.length;
      if (size > maxBytes) return CONFIG_TOO_LARGE; // leaving the loop closes the stream
      chunks.push(chunk);
    }
  } catch (error) {
    // Deleted between the two calls: as if it had never been there.
    if ((error as Error).name === 'NoSuchKey') return undefined;
    throw error;
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/**
 * The fine-tuned model's name carries the family, so models are easy to tell apart. At most
 * AZURE_SUFFIX_MAX characters, so that the default fits every provider.
 */
export function suffixFor(family: string): string {
  return family.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, AZURE_SUFFIX_MAX) || 'tunedrop';
}

/**
 * A family's run settings as a run that is not a drop sees them (a retrain, a schedule): the stack's
 * defaults, the family name as suffix, and the family's tunedrop.json; `problems` when the file is too
 * large, not JSON or not valid (the drop's report lists them the same way).
 */
export async function familySettings(
  store: ObjectStore,
  bucket: string,
  settingsKey: string,
  family: string,
  defaults: Record<string, unknown>,
): Promise<{ config: RunConfig; problems: string[] }> {
  const text = await readSmallObject(store, { bucket, key: settingsKey }, MAX_CONFIG_BYTES);
  const { config, issues } = settingsFromFile(text, settingsKey, [
    defaults,
    { suffix: suffixFor(family) },
    'file',
  ]);
  return { config, problems: issues.map((i) => i.message) };
}
