import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommandLine, UsageError } from '../../cli/args.js';
import { COMMANDS } from '../../cli/commands.js';
import { main } from '../../cli/main.js';

const run = async (...argv: string[]) => {
  let out = '';
  let err = '';
  const code = await main(
    argv,
    (t) => void (out += t),
    (t) => void (err += t),
    undefined,
    {
      connect: () => {
        throw new Error('a usage error or help must not reach the cloud');
      },
    },
  );
  return { code, out, err };
};

describe('tunedrop help', () => {
  it('lists every command with one line each', async () => {
    const { code, out } = await run('help');
    expect(code).toBe(0);
    for (const command of COMMANDS) expect(out).toMatch(new RegExp(`^  ${command.name}\\b.*\\S`, 'm'));
    expect(await run('--help')).toMatchObject({ code: 0, out });
    expect(await run('-h')).toMatchObject({ code: 0, out });
  });

  it.each(COMMANDS.filter((c) => c.name !== 'help').map((c) => c.name))(
    'answers "%s --help" and "help %s" with its usage and options',
    async (name) => {
      const words = name.split(' ');
      const direct = await run(...words, '--help');
      expect(direct.code).toBe(0);
      expect(direct.out).toContain(`Usage: tunedrop ${name}`);
      expect(direct.out).toContain('-h, --help');
      expect((await run('help', ...words)).out).toBe(direct.out);
      expect((await run(...words, '-h')).out).toBe(direct.out);
    },
  );

  it('lists a group\'s commands for "runs --help"', async () => {
    const { code, out } = await run('runs', '--help');
    expect(code).toBe(0);
    expect(out).toContain('tunedrop runs list');
    expect(out).toContain('tunedrop runs watch RUN');
  });

  it('documents the --json shape of every read command', () => {
    for (const name of [
      'runs list',
      'runs show',
      'runs watch',
      'retrain',
      'models list',
      'models show',
      'models delete',
      'cost',
    ])
      expect(COMMANDS.find((c) => c.name === name)!.options.json?.help).toMatch(/[{[]/);
  });
});

describe('usage errors (exit 2)', () => {
  it('names an unknown option and the options the command takes', async () => {
    const { code, err } = await run('runs', 'list', '--famly', 'x');
    expect(code).toBe(2);
    expect(err).toContain('unknown option --famly for "runs list"; it takes --family F');
    expect(err).toContain('"tunedrop runs list --help"');
  });

  it("refuses another command's option as unknown", async () => {
    expect((await run('runs', 'show', 'r1', '--force')).err).toContain(
      'unknown option --force for "runs show"',
    );
  });

  it('names the missing argument and the usage line', async () => {
    expect(await run('runs', 'show')).toMatchObject({
      code: 2,
      err: expect.stringContaining('runs show needs a RUN (usage: tunedrop runs show RUN)'),
    });
    expect((await run('retrain')).err).toContain('retrain needs a FAMILY');
    expect((await run('models', 'delete')).err).toContain('models delete needs a MODEL');
  });

  it('names a missing subcommand, an unknown one, an extra argument and a missing value', async () => {
    expect((await run('runs')).err).toContain('"runs" needs a subcommand: list, show, watch');
    expect((await run('models', 'purge')).err).toContain(
      'unknown command "models purge"; "models" takes list, show, delete',
    );
    expect((await run('runs', 'list', 'extra')).err).toContain(
      'unexpected argument "extra": runs list takes no arguments',
    );
    expect((await run('runs', 'list', '--family')).err).toContain('--family needs a value, e.g. --family F');
    expect((await run()).err).toContain('no command given');
    expect((await run('help', 'nothing')).code).toBe(2);
  });

  it('checks option values before reaching the cloud', async () => {
    expect((await run('runs', 'list', '--limit', '0')).err).toContain(
      '--limit takes a positive whole number',
    );
    expect((await run('runs', 'list', '--status', 'DONE')).err).toContain('unknown status "DONE"');
    expect((await run('runs', 'watch', 'r', '--interval', '0')).err).toContain(
      '--interval takes a number of seconds',
    );
    expect((await run('cost', '--since', 'yesterday')).err).toContain('--since takes a date as YYYY-MM-DD');
    expect((await run('cost', '--by', 'week')).err).toContain(
      '--by takes one of family, model, month, provider',
    );
  });

  it('reads the command words wherever the options stand, an option value never taken for one', () => {
    expect(parseCommandLine(['--family', 'runs', 'runs', 'list'])).toMatchObject({
      kind: 'run',
      command: { name: 'runs list' },
      values: { family: 'runs' },
    });
    expect(() => parseCommandLine(['cost', '--local', '--region', 'eu-west-1'])).not.toThrow(UsageError);
  });
});

describe('startup', () => {
  it('loads neither the AWS SDK, zod nor the core modules before a command runs', () => {
    // The static imports reachable from cli/main.ts: what every call, --help included, pays for.
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../cli');
    const seen = new Set<string>();
    const external: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const [, specifier] of text.matchAll(/^import (?!type )[^;]*?from '([^']+)';/gms)) {
        if (specifier!.startsWith('./')) visit(join(dirname(file), specifier!.replace(/\.js$/, '.ts')));
        else external.push(specifier!);
      }
    };
    visit(join(root, 'main.ts'));
    expect(external.filter((s) => !s.startsWith('node:'))).toEqual([]);
  });
});
