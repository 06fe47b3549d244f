import { parseArgs } from 'node:util';
import {
  commandHelp,
  commandLine,
  COMMANDS,
  findCommand,
  groupHelp,
  GROUPS,
  optionLabel,
  overview,
  type CommandSpec,
} from './commands.js';

/** The command line is wrong: exit 2, with the message naming the fix. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command it is about, whose usage line is printed with the message. */
    readonly command?: CommandSpec,
  ) {
    super(message);
  }
}

export type Values = Record<string, string | boolean | undefined>;

export type Parsed =
  { kind: 'help'; text: string } | { kind: 'run'; command: CommandSpec; args: string[]; values: Values };

/**
 * Which command the words name, and its arguments and options, checked against the command's own
 * options: an option another command takes is as unknown here as a typo, so a mistake never goes unseen.
 */
export function parseCommandLine(argv: string[]): Parsed {
  const wantsHelp = argv.includes('--help') || argv.includes('-h');
  const found = leadingWords(argv);
  const words = found.map((w) => w.word);
  const [first, second] = words;
  if (first === undefined) {
    if (wantsHelp) return { kind: 'help', text: overview() };
    throw new UsageError('no command given; run "tunedrop help" for the list of commands');
  }
  if (first === 'help') {
    const topic = words.slice(1).join(' ');
    if (!topic) return { kind: 'help', text: overview() };
    const command = findCommand(topic);
    if (command) return { kind: 'help', text: commandHelp(command) };
    if (GROUPS.includes(topic)) return { kind: 'help', text: groupHelp(topic) };
    throw new UsageError(`no command "${topic}"; run "tunedrop help" for the list of commands`);
  }
  let name = first;
  if (GROUPS.includes(first)) {
    if (second === undefined || !findCommand(`${first} ${second}`)) {
      if (second === undefined && wantsHelp) return { kind: 'help', text: groupHelp(first) };
      const known = COMMANDS.filter((c) => c.name.startsWith(`${first} `)).map((c) => c.name.split(' ')[1]);
      throw new UsageError(
        second === undefined
          ? `"${first}" needs a subcommand: ${known.join(', ')} (e.g. "tunedrop ${first} ${known[0]}")`
          : `unknown command "${first} ${second}"; "${first}" takes ${known.join(', ')}`,
      );
    }
    name = `${first} ${second}`;
  }
  const command = findCommand(name);
  if (!command)
    throw new UsageError(`unknown command "${first}"; run "tunedrop help" for the list of commands`);
  if (wantsHelp) return { kind: 'help', text: commandHelp(command) };

  // The command's words are the first positionals; drop them wherever they stand among the options.
  const taken = new Set(found.slice(0, name.split(' ').length).map((w) => w.index));
  const rest = argv.filter((_, i) => !taken.has(i));
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(
        Object.entries(command.options).map(([key, option]) => [
          key,
          option.short ? { type: option.type, short: option.short } : { type: option.type },
        ]),
      ),
    });
  } catch (error) {
    throw new UsageError(explainParseError(error as Error & { code?: string }, command), command);
  }
  const args = parsed.positionals;
  if (args.length < command.args.length)
    throw new UsageError(
      `${command.name} needs a ${command.args.slice(args.length).join(' and a ')} (usage: ${commandLine(command)})`,
      command,
    );
  if (args.length > command.args.length)
    throw new UsageError(
      `unexpected argument "${args[command.args.length]}": ${command.name} takes ${
        command.args.length ? command.args.join(' ') : 'no arguments'
      }`,
      command,
    );
  return { kind: 'run', command, args, values: parsed.values as Values };
}

/** Options that take a value, in any command: their value is not a command word. */
const VALUED = new Set(
  COMMANDS.flatMap((c) =>
    Object.entries(c.options)
      .filter(([, o]) => o.type === 'string')
      .map(([k]) => `--${k}`),
  ),
);

/** The words that are not options or option values, in order: the command's words come first. */
function leadingWords(argv: string[]): { word: string; index: number }[] {
  const words: { word: string; index: number }[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (arg.startsWith('-')) {
      if (VALUED.has(arg)) i++;
      continue;
    }
    words.push({ word: arg, index: i });
  }
  return words;
}

/** Node's messages name the problem; ours add which options the command takes instead. */
function explainParseError(error: Error & { code?: string }, command: CommandSpec): string {
  const taken = Object.entries(command.options)
    .map(([key, option]) => optionLabel(key, option))
    .join(', ');
  const option = /'(--?[\w-]+)/.exec(error.message)?.[1];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option ?? ''} for "${command.name}"; it takes ${taken || 'no options'} (see "tunedrop ${command.name} --help")`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const spec = Object.entries(command.options).find(([key]) => option === `--${key}`);
      const example = spec ? optionLabel(spec[0], spec[1]) : `${option} VALUE`;
      if (/ambiguous/.test(error.message))
        return `${option} needs a value; to give one that starts with "-", write ${option}=VALUE`;
      return spec?.[1].type === 'boolean'
        ? `${option} takes no value`
        : `${option ?? 'an option'} needs a value, e.g. ${example}`;
    }
    default:
      return error.message;
  }
}
