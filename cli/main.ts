import { parseCommandLine, UsageError, type Values } from './args.js';
import { commandLine, type CommandSpec } from './commands.js';
import type { Connection, Context } from './context.js';
import { CommandFailedError, FunctionFailedError, InternalValidationError } from './errors.js';
import type { validateDataset } from '../functions/core/dataset.js';

/**
 * `tunedrop`: the operator CLI (cli/commands.ts lists the commands). This module loads nothing heavy:
 * each command imports zod, the AWS SDK and the core modules it needs when it runs, so `--help`, `help`
 * and usage errors answer at once.
 * Exit codes: 0 done, 1 the command failed (invalid data, a failed run, a refusal, nothing to cancel),
 * 2 usage error, 3 internal error (validation crashed: a bug in tunedrop, not in the file).
 */
export async function main(
  argv: string[],
  out: (text: string) => void = (t) => process.stdout.write(t),
  err: (text: string) => void = (t) => process.stderr.write(t),
  /** The dataset check: the real one unless a test makes it crash. */
  validate?: typeof validateDataset,
  /** How commands reach the cloud and wait: the real ones unless a test passes fakes. */
  overrides: Partial<Pick<Context, 'connect' | 'sleep'>> = {},
): Promise<number> {
  const connections: Connection[] = [];
  const context: Context = {
    out,
    err,
    sleep: overrides.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    async connect(values) {
      const connection = await (overrides.connect ?? connectToCloud)(values);
      connections.push(connection);
      return connection;
    },
  };
  let command: CommandSpec | undefined;
  try {
    const parsed = parseCommandLine(argv);
    if (parsed.kind === 'help') {
      out(`${parsed.text}\n`);
      return 0;
    }
    command = parsed.command;
    return await run(parsed.command.name, parsed.args, parsed.values, context, validate);
  } catch (error) {
    return await failure(error, err, command, connections.at(-1)?.target.description ?? 'AWS');
  } finally {
    for (const connection of connections) connection.services.close();
  }

  /** The connection on AWS or the local cloud; says so on stderr when the local cloud was found on its own. */
  async function connectToCloud(values: Values): Promise<Connection> {
    const [{ chooseTarget }, { awsServices }] = await Promise.all([
      import('./target.js'),
      import('./aws-services.js'),
    ]);
    const chosen = await chooseTarget(values);
    if (chosen.notice && !values.json) err(`tunedrop: ${chosen.notice}\n`);
    return { services: awsServices(chosen.target, chosen.stack), target: chosen.target, stack: chosen.stack };
  }
}

async function run(
  name: string,
  [arg]: string[],
  values: Values,
  context: Context,
  validate: typeof validateDataset | undefined,
): Promise<number> {
  switch (name) {
    case 'validate':
    case 'prepare':
      return (await import('./commands/check.js')).check(name, arg!, values, context, validate);
    case 'runs list':
      return (await import('./commands/runs.js')).runsList(values, context);
    case 'runs show':
      return (await import('./commands/runs.js')).runsShow(arg!, values, context);
    case 'runs watch':
      return (await import('./commands/runs.js')).runsWatch(arg!, values, context);
    case 'cancel':
      return (await import('./commands/cancel.js')).cancel(arg!, values, context);
    case 'retrain':
      return (await import('./commands/retrain.js')).retrain(arg!, values, context);
    case 'models list':
      return (await import('./commands/models.js')).modelsList(values, context);
    case 'models show':
      return (await import('./commands/models.js')).modelsShow(arg!, values, context);
    case 'models delete':
      return (await import('./commands/models.js')).modelsDelete(arg!, values, context);
    case 'models promote':
      return (await import('./commands/models.js')).modelsPromote(arg!, values, context);
    case 'cost':
      return (await import('./commands/cost.js')).cost(values, context);
    case 'redrive':
      return (await import('./commands/redrive.js')).redriveDeadLetters(values, context);
    default:
      throw new UsageError(`unknown command "${name}"; run "tunedrop help" for the list of commands`);
  }
}

/** What each kind of failure prints, and its exit code. */
async function failure(
  error: unknown,
  err: (t: string) => void,
  command: CommandSpec | undefined,
  /** Who refused a call: "AWS" or "the local cloud". */
  where: string,
): Promise<number> {
  if (error instanceof UsageError) {
    const about = error.command ?? command;
    err(
      `tunedrop: ${error.message}\n${
        about ? `Usage: ${commandLine(about)} [options]; "tunedrop ${about.name} --help" lists them.\n` : ''
      }`,
    );
    return 2;
  }
  if (error instanceof InternalValidationError) {
    err(
      `tunedrop: internal error while validating ${error.file}: ${error.message} (this is a bug; please report it)\n`,
    );
    return 3;
  }
  if (error instanceof FunctionFailedError || error instanceof CommandFailedError) {
    err(`tunedrop: ${error.message}\n`);
    return 1;
  }
  if ((error as Error | undefined)?.name === 'ZodError') {
    // An item or answer of the stack that this CLI does not read: versions apart, not the operator's doing.
    err(
      `tunedrop: ${where} answered with data this CLI does not understand (${(error as Error).message.slice(0, 500)})\n` +
        'Fix: use the CLI of the same tunedrop version as the deployed stack.\n',
    );
    return 1;
  }
  const { isAccessDenied, refusalMessage } = await import('./refusals.js');
  if (isAccessDenied(error)) {
    err(refusalMessage(where, error as Error));
    return 1;
  }
  // Only a command that reached for the local cloud can fail so; aws-target.js is loaded by then.
  const { LocalCloudUnavailableError } = await import('./aws-target.js');
  if (error instanceof LocalCloudUnavailableError) {
    err(`tunedrop: ${error.message}\n`);
    return 2;
  }
  throw error;
}
