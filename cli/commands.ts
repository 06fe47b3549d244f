/**
 * Every command the CLI knows: its words, arguments, options and help. Plain data with no imports, so
 * `--help`, `help` and usage errors answer without loading zod, the AWS SDK or the core modules.
 */

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's placeholder in help, e.g. "F" for --family F. */
  value?: string;
  help: string;
}

export interface CommandSpec {
  /** "validate", or two words for a group: "runs list". */
  name: string;
  /** Positional arguments, by placeholder; all required. */
  args: string[];
  summary: string;
  options: Record<string, OptionSpec>;
  /** More lines for `--help`: what it prints, its exit codes, its --json shape. */
  details?: string;
}

const json = (shape: string): Record<string, OptionSpec> => ({
  json: { type: 'boolean', help: `print JSON for scripts instead of a table: ${shape}` },
});

/** Where the AWS calls go: a deployed stack (your usual AWS settings) or the local cloud. */
export const TARGET_OPTIONS: Record<string, OptionSpec> = {
  stack: { type: 'string', value: 'S', help: 'the deployed stack (default: Tunedrop)' },
  region: { type: 'string', value: 'R', help: "the stack's region (default: AWS_REGION, your profile's)" },
  profile: { type: 'string', value: 'P', help: 'the AWS profile to use (default: AWS_PROFILE)' },
  local: {
    type: 'boolean',
    help: 'the local cloud "npm run local" keeps running (found automatically when it runs and no --stack, --region or --profile is given; TUNEDROP_LOCAL_CLOUD names another connection file)',
  },
};

const CHECK_OPTIONS: Record<string, OptionSpec> = {
  provider: {
    type: 'string',
    value: 'P',
    help: "openai, azure-openai or bedrock: whose rules to check by (default: the config's, else openai)",
  },
  model: {
    type: 'string',
    value: 'M',
    help: "base model to check against (default: the config's, else the provider's default)",
  },
  config: { type: 'string', value: 'F', help: 'a tunedrop.json with run settings (docs/configuration.md)' },
  convert: {
    type: 'boolean',
    help: 'convert a legacy prompt/completion file to chat (the default now; kept for scripts)',
  },
};

export const RUN_JSON_SHAPE =
  '{runId, kind: "fine-tuning" | "embeddings", family, status, history: [{status, at, detail?}], provider?, baseModel?, parentModel?, fineTunedModel?, trainingExamples?, validationExamples?, estimatedTokens?, trainedTokens?, estimatedCostUsd?, costUsd?, embedding?: {model, dimensions, mode: "batch" | "direct", embedded?, failed?, tokens?, batchIds?, outputKey?, manifestKey?}, createdAt, finishedAt?, error?: {name, code?, message, fix?}, source, ...}';
export const MODEL_JSON_SHAPE =
  '{family, model, provider, baseModel, parentModel, runId, trainLoss?, validLoss?, trainAccuracy?, validAccuracy?, trainedTokens?, costUsd?, createdAt, deletedAt?, dataset?, current: boolean}';

export const COMMANDS: CommandSpec[] = [
  {
    name: 'validate',
    args: ['FILE'],
    summary: "check a JSONL file by the pipeline's rules, on your machine",
    options: { ...CHECK_OPTIONS, ...json('the validation.json schema, docs/validation-report.md') },
    details: 'Exit codes: 0 valid, 1 invalid (data or settings file), 2 usage error, 3 internal error.',
  },
  {
    name: 'prepare',
    args: ['FILE'],
    summary: 'write the train/validation split the pipeline would make',
    options: {
      ...CHECK_OPTIONS,
      out: {
        type: 'string',
        value: 'DIR',
        help: 'where to write train.jsonl and validation.jsonl (required)',
      },
    },
  },
  {
    name: 'runs list',
    args: [],
    summary: 'list runs, newest first',
    options: {
      family: { type: 'string', value: 'F', help: "only the family's runs" },
      status: { type: 'string', value: 'S', help: 'only runs in this status (SUCCEEDED, TRAINING, ...)' },
      kind: {
        type: 'string',
        value: 'K',
        help: "only runs of this kind: fine-tuning or embeddings (default: both; an embedding run's family is its collection)",
      },
      limit: { type: 'string', value: 'N', help: 'at most N runs (default: 20)' },
      ...json(`{runs: [${RUN_JSON_SHAPE}]}`),
      ...TARGET_OPTIONS,
    },
  },
  {
    name: 'runs show',
    args: ['RUN'],
    summary:
      "a run's history, tokens, cost, files and loss curve (an embedding run's model, counts and output)",
    options: {
      ...json(
        `{run: ${RUN_JSON_SHAPE}, files: {source, validationReport?, results?, summary?, report?, output?, manifest?} (s3:// URIs; output and manifest: an embedding run's), loss: [{step, trainLoss, validLoss}] | null (null for an embedding run)}`,
      ),
      ...TARGET_OPTIONS,
    },
    details: 'Exit codes: 0 shown, 1 no such run.',
  },
  {
    name: 'runs watch',
    args: ['RUN'],
    summary: 'print each status change of a run until it ends',
    options: {
      interval: { type: 'string', value: 'SECONDS', help: 'how often to look (default: 5)' },
      ...json('one line per status change: {runId, status, at, detail?}'),
      ...TARGET_OPTIONS,
    },
    details:
      'Exit codes: 0 the run SUCCEEDED, 1 it ended otherwise (or does not exist), 3 it trained a model its evaluation kept out (SUCCEEDED_NOT_PROMOTED).',
  },
  {
    name: 'cancel',
    args: ['RUN'],
    summary: "stop a run's workflow; it is recorded CANCELLED and its provider job cancelled",
    options: {
      'state-machine': {
        type: 'string',
        value: 'ARN',
        help: "the run workflow's ARN, instead of looking it up in the stack",
      },
      ...TARGET_OPTIONS,
    },
    details: 'Exit codes: 0 stopped, 1 nothing to cancel.',
  },
  {
    name: 'retrain',
    args: ['FAMILY'],
    summary: 'retrain a family on all its data now, if a file arrived since its current model',
    options: {
      force: { type: 'boolean', help: 'retrain even when no file arrived since the current model' },
      ...json('{outcome: "started" | "nothing_new" | "under_way" | "no_data" | "refused", runId?, message}'),
      ...TARGET_OPTIONS,
    },
    details:
      'Exit codes: 0 started or nothing to do (nothing new, a run under way, no data), 1 refused (settings or model).',
  },
  {
    name: 'models list',
    args: [],
    summary: 'list the fine-tuned models, the current one of each family marked',
    options: {
      family: { type: 'string', value: 'F', help: "only the family's models" },
      ...json(`{models: [${MODEL_JSON_SHAPE}]}`),
      ...TARGET_OPTIONS,
    },
  },
  {
    name: 'models show',
    args: ['MODEL'],
    summary: "a model's lineage, run, dataset, losses, tokens and cost",
    options: { ...json(`{model: ${MODEL_JSON_SHAPE}}`), ...TARGET_OPTIONS },
    details: 'Exit codes: 0 shown, 1 no such model.',
  },
  {
    name: 'models delete',
    args: ['MODEL'],
    summary: "delete a model at its provider (refuses the family's current one without --force)",
    options: {
      force: { type: 'boolean', help: "delete it even if it is its family's current model" },
      ...json(
        '{outcome: "deleted" | "refused_current" | "not_found" | "already_deleted" | "not_supported", message, family?}',
      ),
      ...TARGET_OPTIONS,
    },
    details: 'Exit codes: 0 deleted (or already deleted), 1 refused, not found or not supported.',
  },
  {
    name: 'models promote',
    args: ['MODEL'],
    summary: "make a model its family's current one, whatever its evaluation said",
    options: {
      ...json('{outcome: "promoted" | "already_current" | "not_found" | "deleted", message, family?}'),
      ...TARGET_OPTIONS,
    },
    details:
      'Overrides the promotion policy: the registry points to the model and the SSM parameter applications read names it. Exit codes: 0 promoted (or current already), 1 not found or deleted.',
  },
  {
    name: 'cost',
    args: [],
    summary: 'what the runs cost (fine-tuning and embedding runs), grouped; tokens and run counts',
    options: {
      since: { type: 'string', value: 'DATE', help: 'only runs created on or after DATE (YYYY-MM-DD)' },
      by: {
        type: 'string',
        value: 'KEY',
        help: 'group by family (default; a collection for embedding runs), model, month, provider or kind',
      },
      ...json(
        '{since, by, groups: [{key, runs, costUsd, evaluationCostUsd, estimatedCostUsd, runsWithoutCost, trainedTokens, embeddingTokens}], total: {runs, costUsd, evaluationCostUsd, estimatedCostUsd, runsWithoutCost, trainedTokens, embeddingTokens}}',
      ),
      ...TARGET_OPTIONS,
    },
    details:
      "costUsd sums the actual costs, training, evaluation and embedding (evaluationCostUsd is the evaluations' part); estimatedCostUsd sums the estimates of runs without an actual cost (runsWithoutCost of them). trainedTokens sums the fine-tuning runs' trained tokens, embeddingTokens the embedding runs' billed input tokens.",
  },
  {
    name: 'redrive',
    args: [],
    summary: 'send the dead-letter queue back to the functions it failed in',
    options: {
      queue: {
        type: 'string',
        value: 'URL',
        help: "the dead-letter queue's URL, instead of looking it up in the stack",
      },
      ...TARGET_OPTIONS,
    },
    details: 'Exit codes: 0 all redriven, 1 some kept.',
  },
  {
    name: 'help',
    args: [],
    summary: 'list the commands, or `tunedrop help COMMAND` for one',
    options: {},
  },
];

/** Words that start a two-word command. */
export const GROUPS = [
  ...new Set(COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0]!)),
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((command) => command.name === name);
}

export function commandLine(command: CommandSpec): string {
  return ['tunedrop', command.name, ...command.args].join(' ');
}

/** `tunedrop help`: every command, one line each. */
export function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => [c.name, ...c.args].join(' ').length));
  const lines = COMMANDS.map((c) => `  ${[c.name, ...c.args].join(' ').padEnd(width)}  ${c.summary}`);
  return [
    'Usage: tunedrop COMMAND [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run "tunedrop COMMAND --help" for a command\'s options.',
    'Exit codes: 0 done, 1 the command failed (invalid data, a failed run, a refusal), 2 usage error, 3 internal error.',
  ].join('\n');
}

/** A group's commands, for `tunedrop runs --help`. */
export function groupHelp(group: string): string {
  const members = COMMANDS.filter((c) => c.name.startsWith(`${group} `));
  const width = Math.max(...members.map((c) => commandLine(c).length));
  return [
    `Commands of tunedrop ${group}:`,
    ...members.map((c) => `  ${commandLine(c).padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

export function optionLabel(name: string, option: OptionSpec): string {
  return `${option.short ? `-${option.short}, ` : ''}--${name}${option.value ? ` ${option.value}` : ''}`;
}

/** `tunedrop COMMAND --help`. */
export function commandHelp(command: CommandSpec): string {
  const options = Object.entries(command.options).map(([name, option]) => [
    optionLabel(name, option),
    option.help,
  ]);
  options.push(['-h, --help', 'show this help']);
  const width = Math.max(...options.map(([label]) => label!.length));
  return [
    `Usage: ${commandLine(command)}${Object.keys(command.options).length ? ' [options]' : ''}`,
    '',
    command.summary.charAt(0).toUpperCase() + command.summary.slice(1) + '.',
    '',
    'Options:',
    ...options.map(([label, help]) => `  ${label!.padEnd(width)}  ${help}`),
    ...(command.details ? ['', command.details] : []),
  ].join('\n');
}
