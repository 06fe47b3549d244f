import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { checkModel, PROVIDERS } from '../../functions/core/catalog.js';
import { MAX_CONFIG_BYTES, resolveRunConfig, type RunConfig } from '../../functions/core/config.js';
import {
  validateDataset,
  validationOptionsFor,
  type DatasetIssue,
  type ValidationReport,
} from '../../functions/core/dataset.js';
import { CONFIG_TOO_LARGE, modelForRun, settingsFromFile } from '../../functions/core/run-settings.js';
import { readJsonlLines } from '../../functions/core/jsonl.js';
import { count, renderValidationMarkdown, withRunIssues } from '../../functions/core/report.js';
import { splitDataset } from '../../functions/core/split.js';
import { tokenCounterFor } from '../../functions/core/token-counter.js';
import { UsageError, type Values } from '../args.js';
import type { Context } from '../context.js';
import { InternalValidationError } from '../errors.js';

/**
 * `validate` and `prepare`: the pipeline's checks (and split) on a local file, with the same core code
 * as the Lambdas. No AWS.
 */
export async function check(
  command: 'validate' | 'prepare',
  file: string,
  values: Values,
  context: Context,
  validate: typeof validateDataset = validateDataset,
): Promise<number> {
  const out = context.out;
  if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
  if (!statSync(file).isFile())
    throw new UsageError(`${file} is not a file (a directory?); give one JSONL file`);
  if (command === 'prepare' && typeof values.out !== 'string')
    throw new UsageError('prepare needs --out DIR (where to write train.jsonl and validation.jsonl)');
  const provider = typeof values.provider === 'string' ? values.provider : undefined;
  const modelFlag = typeof values.model === 'string' ? values.model : undefined;
  const configPath = typeof values.config === 'string' ? values.config : undefined;
  if (provider && !(PROVIDERS as readonly string[]).includes(provider))
    throw new UsageError(`unknown provider "${provider}"; choose one of: ${PROVIDERS.join(', ')}`);
  const flags = {
    ...(provider ? { provider: provider } : {}),
    ...(modelFlag ? { model: modelFlag } : {}),
    ...(values.convert === true ? { convertLegacyFormat: true } : {}),
  };
  // The command line's own mistakes are usage errors (exit 2); the settings file's are problems of
  // the run, reported with the data's as the pipeline reports them (exit 1).
  const { config, issues: runIssues } = await loadConfig(configPath, flags);
  const today = new Date().toISOString().slice(0, 10);
  if (modelFlag) {
    const flagged = checkModel(modelFlag, today, config.provider);
    if (!flagged.ok) throw new UsageError(`${flagged.message}. ${flagged.fix}`);
  }
  const { model, issues: modelIssues } = modelForRun(config, today, configPath);
  runIssues.push(...modelIssues);

  // Tokenizing dominates: large files are tokenized on every core while this thread parses and checks.
  const counter = tokenCounterFor(statSync(file).size, availableParallelism());
  const checked = await validate(() => createReadStream(file), {
    ...validationOptionsFor(config, model),
    counter,
    sizeBytes: statSync(file).size,
  })
    .catch((error: unknown) => {
      // The file could not be read (permissions, a disk error): the system's word, not a bug.
      if ((error as { syscall?: unknown } | null)?.syscall) throw error;
      throw new InternalValidationError(file, error);
    })
    .finally(() => counter.close());
  const report = withRunIssues(checked, runIssues);
  const verdictCode = report.verdict === 'valid' ? 0 : 1;
  if (command === 'validate' || report.verdict === 'invalid') {
    out(values.json ? `${JSON.stringify(report, null, 2)}\n` : describe(report, file));
    return verdictCode;
  }
  return await prepare(file, values.out as string, config, report, out);
}

/**
 * The run's settings from a settings file and the flags. A file that cannot be read is a usage error;
 * its content's problems are the run's issues, as in the pipeline (core/run-settings.ts).
 */
async function loadConfig(
  path: string | undefined,
  flags: Record<string, unknown>,
): Promise<{ config: RunConfig; issues: DatasetIssue[] }> {
  const usable = resolveRunConfig(flags);
  if (!usable.ok) throw new UsageError(usable.problems.join('; '));
  if (!path) return { config: usable.config, issues: [] };
  let text: string | typeof CONFIG_TOO_LARGE;
  try {
    // As in the bucket: a settings file is small, and refused before it is read whole.
    text = statSync(path).size > MAX_CONFIG_BYTES ? CONFIG_TOO_LARGE : await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
  }
  return settingsFromFile(text, path, ['file', flags]);
}

async function prepare(
  file: string,
  dir: string,
  config: RunConfig,
  report: ValidationReport,
  out: (t: string) => void,
): Promise<number> {
  await mkdir(dir, { recursive: true });
  const paths = { training: join(dir, 'train.jsonl'), validation: join(dir, 'validation.jsonl') };
  const streams = {
    training: createWriteStream(paths.training),
    validation: createWriteStream(paths.validation),
  };
  const counts = await splitDataset(
    readJsonlLines(createReadStream(file)),
    {
      seed: config.seed,
      threshold: report.split.threshold,
      classThresholds: report.split.classThresholds ?? null,
      trainHashes: report.split.trainHashes ?? null,
      conversion: report.conversion ?? null,
    },
    async (side, text) => {
      if (!streams[side].write(text)) await once(streams[side], 'drain');
    },
  );
  await Promise.all(Object.values(streams).map((s) => new Promise((resolve) => s.end(resolve))));
  // As the pipeline does: no validation file when nothing was held out (the provider refuses an empty one).
  if (counts.validation === 0) await rm(paths.validation);
  const validationNote =
    counts.validation === 0
      ? 'no validation file (too few examples to hold any out)'
      : `${paths.validation} (${count(counts.validation, 'example')})`;
  out(
    `${describe(report, file)}\nWrote ${paths.training} (${count(counts.training, 'example')}) and ${validationNote}.\n`,
  );
  if (report.conversion) {
    const c = report.conversion;
    out(
      `Converted from prompt/completion: separator ${JSON.stringify(c.separator)} stripped from ${c.separatorStripped} prompts, end token ${JSON.stringify(c.endToken)} from ${c.endTokenStripped} completions, leading space from ${c.leadingSpaceRemoved}.\n`,
    );
  }
  return 0;
}

function describe(report: ValidationReport, file: string): string {
  return renderValidationMarkdown({
    schemaVersion: 1,
    runId: '(local check)',
    source: { bucket: 'local', key: basename(file) },
    checkedAt: new Date().toISOString(),
    ...report,
  });
}
