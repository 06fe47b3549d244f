import { checkModel, DEFAULT_MODELS, findModel, modelNotices, type ModelInfo } from './catalog.js';
import { MAX_CONFIG_BYTES, resolveRunConfig, type RunConfig } from './config.js';
import { providerSettingIssues } from './provider-settings.js';
import { issue, type DatasetIssue } from './issue-list.js';

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
