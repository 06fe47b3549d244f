import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { once } from 'node:events';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeExecutionCommand, SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { checkModel, PROVIDERS } from '../functions/core/catalog.js';
import { MAX_CONFIG_BYTES, resolveRunConfig, type RunConfig } from '../functions/core/config.js';
import {
  validateDataset,
  validationOptionsFor,
  type DatasetIssue,
  type ValidationReport,
} from '../functions/core/dataset.js';
import { CONFIG_TOO_LARGE, modelForRun, settingsFromFile } from '../functions/core/run-settings.js';
import { readJsonlLines } from '../functions/core/jsonl.js';
import { count, renderValidationMarkdown, withRunIssues } from '../functions/core/report.js';
import { splitDataset } from '../functions/core/split.js';
import { tokenCounterFor } from '../functions/core/token-counter.js';
import { awsRedriveDeps } from '../functions/adapters/aws-redrive.js';
import { redrive } from '../functions/core/redrive.js';
import {
  LOCAL_CONNECTION_FILE,
  LocalCloudUnavailableError,
  localCloudTarget,
  REAL_AWS,
  type AwsTarget,
} from './aws-target.js';

/**
 * `tunedrop`: the pipeline's checks on your own machine, with the same core code as the Lambdas.
 *   tunedrop validate FILE [--provider P] [--model M] [--config tunedrop.json] [--convert] [--json]
 *   tunedrop prepare FILE --out DIR [--provider P] [--model M] [--config tunedrop.json] [--convert]
 *   tunedrop cancel RUN [--stack Tunedrop | --state-machine ARN] [--local]
 *   tunedrop redrive [--stack Tunedrop | --queue URL] [--local]
 * Exit codes: 0 valid/done, 1 invalid data, nothing to cancel or dead letters kept, 2 usage error,
 * 3 internal error (validation crashed: a bug in tunedrop, not in the file).
 */
const USAGE = `Usage:
  tunedrop validate FILE [--provider P] [--model M] [--config tunedrop.json] [--convert] [--json]
  tunedrop prepare FILE --out DIR [--provider P] [--model M] [--config tunedrop.json] [--convert]
  tunedrop cancel RUN [--stack Tunedrop | --state-machine ARN] [--local]
  tunedrop redrive [--stack Tunedrop | --queue URL] [--local]

  --provider P   openai, azure-openai or bedrock: whose rules to check by (default: the config's, else openai)
  --model M      base model to check against (default: the config's, else the provider's default)
  --config F     a tunedrop.json with run settings (docs/configuration.md)
  --convert      convert a legacy prompt/completion file to chat (the default now; kept for scripts)
  --json         print the report as JSON (validation.json schema, docs/validation-report.md)
  --out DIR      where prepare writes train.jsonl and validation.jsonl
  --stack S      the deployed stack to cancel a run of or redrive (default: Tunedrop; uses your AWS credentials)
  --state-machine ARN  the run workflow's ARN, instead of looking it up in the stack
  --queue URL    the dead-letter queue's URL, instead of looking it up in the stack
  --local        act on the local cloud "npm run local" keeps running (its ${LOCAL_CONNECTION_FILE};
                 TUNEDROP_LOCAL_CLOUD names another file), not on AWS`;

class UsageError extends Error {}

/** Checking the file crashed: a bug in tunedrop, reported as such with exit code 3. */
class InternalValidationError extends Error {
  constructor(
    readonly file: string,
    readonly original: unknown,
  ) {
    super(original instanceof Error ? `${original.name}: ${original.message}` : String(original));
  }
}

export async function main(
  argv: string[],
  out: (text: string) => void = (t) => process.stdout.write(t),
  err: (text: string) => void = (t) => process.stderr.write(t),
  /** The dataset check: the real one unless a test makes it crash. */
  validate: typeof validateDataset = validateDataset,
): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        provider: { type: 'string' },
        model: { type: 'string' },
        config: { type: 'string' },
        convert: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        out: { type: 'string' },
        stack: { type: 'string', default: 'Tunedrop' },
        'state-machine': { type: 'string' },
        queue: { type: 'string' },
        local: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      out(`${USAGE}\n`);
      return 0;
    }
    const [command, file, ...rest] = positionals;
    const target = values.local
      ? await localCloudTarget(process.env.TUNEDROP_LOCAL_CLOUD ?? LOCAL_CONNECTION_FILE)
      : REAL_AWS;
    if (command === 'redrive') {
      if (file) throw new UsageError('redrive takes no arguments');
      return await refusalsExplained(target, err, async () =>
        redriveDeadLetters(
          target,
          values.queue ?? (await stackOutput(target, values.stack, 'DeadLetterQueueUrl', '--queue URL')),
          out,
        ),
      );
    }
    if (!command || !['validate', 'prepare', 'cancel'].includes(command))
      throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
    if (command === 'cancel') {
      if (!file || rest.length) throw new UsageError('cancel needs exactly one RUN id');
      return await refusalsExplained(target, err, async () =>
        cancel(
          target,
          file,
          values['state-machine'] ??
            (await stackOutput(target, values.stack, 'StateMachineArn', '--state-machine ARN')),
          out,
          err,
        ),
      );
    }
    if (!file) throw new UsageError(`${command} needs a FILE`);
    if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}"`);
    if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
    if (!statSync(file).isFile())
      throw new UsageError(`${file} is not a file (a directory?); give one JSONL file`);
    if (command === 'prepare' && !values.out) throw new UsageError('prepare needs --out DIR');

    if (values.provider && !(PROVIDERS as readonly string[]).includes(values.provider))
      throw new UsageError(`unknown provider "${values.provider}"; choose one of: ${PROVIDERS.join(', ')}`);
    const flags = {
      ...(values.provider ? { provider: values.provider } : {}),
      ...(values.model ? { model: values.model } : {}),
      ...(values.convert ? { convertLegacyFormat: true } : {}),
    };
    // The command line's own mistakes are usage errors (exit 2); the settings file's are problems of
    // the run, reported with the data's as the pipeline reports them (exit 1).
    const { config, issues: runIssues } = await loadConfig(values.config, flags);
    const today = new Date().toISOString().slice(0, 10);
    if (values.model) {
      const flagged = checkModel(values.model, today, config.provider);
      if (!flagged.ok) throw new UsageError(`${flagged.message}. ${flagged.fix}`);
    }
    const { model, issues: modelIssues } = modelForRun(config, today, values.config);
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
    return await prepare(file, values.out!, config, report, out);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      err(`tunedrop: ${(error as Error).message}\n\n${USAGE}\n`);
      return 2;
    }
    if (error instanceof LocalCloudUnavailableError) {
      err(`tunedrop: ${error.message}\n`);
      return 2;
    }
    if (error instanceof InternalValidationError) {
      err(
        `tunedrop: internal error while validating ${error.file}: ${error.message} (this is a bug; please report it)\n`,
      );
      return 3;
    }
    throw error;
  }
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

/**
 * Stops the run's workflow execution (named after the run). Step Functions then reports it stopped,
 * and the reconcile function records the run CANCELLED and cancels its provider job, exactly as when
 * the execution is stopped from the console.
 */
async function cancel(
  target: AwsTarget,
  runId: string,
  stateMachineArn: string,
  out: (t: string) => void,
  err: (t: string) => void,
): Promise<number> {
  const sfn = new SFNClient(target.client('SFN'));
  const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${runId}`;
  try {
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (execution.status !== 'RUNNING') {
      err(`tunedrop: run ${runId} has already ended (${execution.status}); nothing to cancel.\n`);
      return 1;
    }
    await sfn.send(
      new StopExecutionCommand({ executionArn, error: 'CancelledByUser', cause: 'tunedrop cancel' }),
    );
    out(`Stopped run ${runId}. It is recorded CANCELLED, and its provider job cancelled, within moments.\n`);
    return 0;
  } catch (error) {
    if ((error as Error).name === 'ExecutionDoesNotExist') {
      err(`tunedrop: no run ${runId} in ${stateMachineArn} (a rejected file has no workflow to cancel).\n`);
      return 1;
    }
    throw error;
  } finally {
    sfn.destroy();
  }
}

/** Sends every dead letter back to the function it failed in (see functions/core/redrive.ts). */
async function redriveDeadLetters(
  target: AwsTarget,
  queueUrl: string,
  out: (t: string) => void,
): Promise<number> {
  const sqs = new SQSClient(target.client('SQS'));
  const lambda = new LambdaClient(target.client('LAMBDA'));
  try {
    const result = await redrive(awsRedriveDeps(sqs, lambda, queueUrl));
    out(`Redrove ${result.redriven} event${result.redriven === 1 ? '' : 's'}.\n`);
    for (const kept of result.kept) out(`Kept message ${kept.id}: ${kept.reason}.\n`);
    return result.kept.length === 0 ? 0 : 1;
  } finally {
    sqs.destroy();
    lambda.destroy();
  }
}

/** A stack output; `instead` is the option that gives the value without the stack, for the fix. */
async function stackOutput(target: AwsTarget, stack: string, key: string, instead: string): Promise<string> {
  const cloudFormation = new CloudFormationClient(target.client('CLOUDFORMATION'));
  try {
    const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stack }));
    const value = Stacks?.[0]?.Outputs?.find((output) => output.OutputKey === key)?.OutputValue;
    if (!value)
      throw new UsageError(`stack ${stack} has no ${key} output; deploy the latest stack or pass ${instead}`);
    return value;
  } catch (error) {
    if (error instanceof UsageError || isAccessDenied(error)) throw error;
    throw new UsageError(
      `cannot read stack ${stack} (${(error as Error).message}); pass --stack NAME or ${instead}`,
    );
  } finally {
    cloudFormation.destroy();
  }
}

function isAccessDenied(error: unknown): boolean {
  return /^AccessDenied(Exception)?$/.test((error as Error).name);
}

/** A call AWS refuses is the operator's permissions, not a bug: say which and how to get them. */
async function refusalsExplained(
  target: AwsTarget,
  err: (t: string) => void,
  command: () => Promise<number>,
): Promise<number> {
  try {
    return await command();
  } catch (error) {
    if (!isAccessDenied(error)) throw error;
    err(
      `tunedrop: ${target.description} refused the call: ${(error as Error).message}\n` +
        `Fix: attach the stack's operator policy (stack output OperatorPolicyArn) to your IAM user or role; README "Deploy to AWS" lists what each command needs.\n`,
    );
    return 1;
  }
}
