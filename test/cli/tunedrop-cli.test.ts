import { validateDataset } from '../../functions/core/dataset.js';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../cli/main.js';
import { chatDataset } from '../support/fakes.js';

const dir = mkdtempSync(join(tmpdir(), 'tunedrop-cli-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const runWith = async (validate: typeof validateDataset, ...argv: string[]) => {
  let out = '';
  let err = '';
  const code = await main(
    argv,
    (text) => void (out += text),
    (text) => void (err += text),
    validate,
  );
  return { code, out, err };
};
const run = (...argv: string[]) => runWith(validateDataset, ...argv);

describe('tunedrop validate', () => {
  it('exits 0 on a valid file and prints the report', async () => {
    const { code, out } = await run('validate', file('good.jsonl', chatDataset(20)));
    expect(code).toBe(0);
    expect(out).toContain('Valid: training will start');
  });

  it('exits 1 on an invalid file, listing each problem with its line', async () => {
    const { code, out } = await run('validate', file('bad.jsonl', `${chatDataset(12)}{oops\n`));
    expect(code).toBe(1);
    expect(out).toMatch(/\| 13 \| not valid JSON at column 2/);
  });

  it('prints the validation.json shape with --json', async () => {
    const { code, out } = await run(
      'validate',
      file('good.jsonl', chatDataset(20)),
      '--json',
      '--model',
      'gpt-4o-mini',
    );
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({
      verdict: 'valid',
      examples: 20,
      estimate: { model: 'gpt-4o-mini-2024-07-18' },
    });
  });

  it('honours the config\'s secretScan: a key in the data fails by default and passes with "off"', async () => {
    const key = `sk-proj-${'a1B2c3D4e5'.repeat(4)}`;
    const keyed = JSON.stringify({
      messages: [
        { role: 'user', content: `please use my key ${key} for billing` },
        { role: 'assistant', content: 'billing' },
      ],
    });
    const lines = [keyed, ...chatDataset(20).trim().split('\n')];
    const data = file('keyed.jsonl', lines.join('\n'));
    const strict = await run('validate', data);
    expect(strict.code).toBe(1);
    expect(strict.out).toContain('secret_in_data');
    expect(strict.out).not.toContain(key);
    const off = await run(
      'validate',
      data,
      '--config',
      file('off.json', JSON.stringify({ secretScan: 'off' })),
    );
    expect(off.code).toBe(0);
  });

  it('reports a config file over 64 KB as config_too_large (exit 1), without reading it', async () => {
    const big = file('big.json', JSON.stringify({ suffix: 'x', padding: 'y'.repeat(70_000) }));
    const { code, out } = await run('validate', file('ok.jsonl', chatDataset(20)), '--config', big, '--json');
    expect(code).toBe(1);
    expect(JSON.parse(out).errors[0]).toMatchObject({ code: 'config_too_large' });
  });

  it("reports a settings file's problems as the pipeline does, with the data still checked (exit 1)", async () => {
    const data = file('data.jsonl', chatDataset(20).replace('"role":"assistant"', '"role":"bot"'));
    const retired = await run(
      'validate',
      data,
      '--json',
      '--config',
      file('r.json', '{"model": "davinci-002"}'),
    );
    expect(retired.code).toBe(1);
    expect(JSON.parse(retired.out).errors.map((e: { code: string }) => e.code)).toEqual([
      'model_not_available',
      'unknown_role',
    ]);
    const bad = await run(
      'validate',
      data,
      '--json',
      '--config',
      file('b.json', '{"validationRatio": 2, "modle": 1}'),
    );
    expect(
      JSON.parse(bad.out).errors.filter((e: { code: string }) => e.code === 'invalid_config'),
    ).toHaveLength(2);
    const notJson = await run('validate', data, '--json', '--config', file('n.json', '{oops'));
    expect(JSON.parse(notJson.out).errors[0]).toMatchObject({ code: 'invalid_config' });
  });

  it('exits 2 on usage errors: no file, unknown command, unknown flag, retired model', async () => {
    const noFile = await run('validate');
    expect(noFile).toMatchObject({ code: 2, err: expect.stringContaining('validate needs a FILE') });
    expect((await run('train', 'x')).code).toBe(2);
    expect((await run('validate', file('good.jsonl', chatDataset(20)), '--fast')).code).toBe(2);
    expect((await run('validate', join(dir, 'missing.jsonl'))).code).toBe(2);
    expect((await run('validate', file('good.jsonl', chatDataset(20)), '--model', 'davinci-002')).code).toBe(
      2,
    );
  });

  it("checks by the chosen provider's rules: --provider, or the settings file's", async () => {
    const good = file('good.jsonl', chatDataset(20));
    const bedrock = await run('validate', good, '--provider', 'bedrock');
    expect(bedrock).toMatchObject({
      code: 0,
      out: expect.stringContaining('| Model | amazon.nova-micro-v1:0:128k |'),
    });
    expect(bedrock.out).toContain('format on upload');
    const reserved = file('reserved.jsonl', chatDataset(20).replace('"content":"', '"content":"User: '));
    expect(await run('validate', reserved, '--provider', 'bedrock')).toMatchObject({
      code: 1,
      out: expect.stringContaining('reserved_word'),
    });
    expect((await run('validate', reserved)).code).toBe(0);
    const settings = file(
      'tunedrop.json',
      JSON.stringify({ provider: 'bedrock', hyperparameters: { nEpochs: 9 } }),
    );
    expect(await run('validate', good, '--config', settings)).toMatchObject({
      code: 1,
      out: expect.stringContaining('setting_out_of_range'),
    });
  });

  it('exits 2 on an unknown provider, or a model the chosen provider does not train', async () => {
    const good = file('good.jsonl', chatDataset(20));
    expect(await run('validate', good, '--provider', 'vertex')).toMatchObject({
      code: 2,
      err: expect.stringContaining('unknown provider "vertex"'),
    });
    expect(await run('validate', good, '--provider', 'bedrock', '--model', 'gpt-4.1-mini')).toMatchObject({
      code: 2,
      err: expect.stringContaining('OpenAI and Azure OpenAI train it'),
    });
  });

  it('exits 1 on a line nested 100,000 deep: a content error at its line, no crash', async () => {
    const deep = `{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}],"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}\n`;
    const { code, out } = await run('validate', file('deep.jsonl', chatDataset(12) + deep), '--json');
    expect(code).toBe(1);
    expect(JSON.parse(out).errors).toEqual([
      expect.objectContaining({ code: 'too_deeply_nested', line: 13 }),
    ]);
  });

  it('exits 3 when the validator crashes, saying it is a bug', async () => {
    const path = file('any.jsonl', chatDataset(12));
    const crashing = () => Promise.reject(new RangeError('Maximum call stack size exceeded'));
    const { code, out, err } = await runWith(crashing, 'validate', path);
    expect(code).toBe(3);
    expect(out).toBe('');
    expect(err).toMatch(
      new RegExp(
        `^tunedrop: internal error while validating ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: RangeError: .*\\(this is a bug; please report it\\)\\n$`,
      ),
    );
  });
});

describe('tunedrop prepare', () => {
  it('writes no validation file when the split holds nothing out (10 examples), as the pipeline', async () => {
    const out = join(dir, 'split-ten');
    const { code, out: said } = await run('prepare', file('ten.jsonl', chatDataset(10)), '--out', out);
    expect(code).toBe(0);
    expect(readFileSync(join(out, 'train.jsonl'), 'utf8').trim().split('\n')).toHaveLength(10);
    expect(existsSync(join(out, 'validation.jsonl'))).toBe(false);
    expect(said).toContain('no validation file');
  });

  it('says a directory is not a file (exit 2)', async () => {
    const { code, err } = await run('validate', dir);
    expect(code).toBe(2);
    expect(err).toContain('is not a file');
  });

  it('writes the same split the pipeline makes', async () => {
    const out = join(dir, 'split');
    const { code } = await run('prepare', file('good.jsonl', chatDataset(50)), '--out', out);
    expect(code).toBe(0);
    const train = readFileSync(join(out, 'train.jsonl'), 'utf8').trim().split('\n');
    const validation = readFileSync(join(out, 'validation.jsonl'), 'utf8').trim().split('\n');
    expect(train.length + validation.length).toBe(50);
    expect(validation.length).toBe(10);
  });

  it('converts a legacy prompt/completion file with --convert and says what changed', async () => {
    const legacy = Array.from({ length: 12 }, (_, i) =>
      JSON.stringify({ prompt: `Q${i} ->`, completion: ` A${i}\n` }),
    ).join('\n');
    const out = join(dir, 'converted');
    const { code, out: printed } = await run(
      'prepare',
      file('legacy.jsonl', `${legacy}\n`),
      '--out',
      out,
      '--convert',
    );
    expect(code).toBe(0);
    expect(printed).toContain('separator " ->" stripped from 12 prompts');
    const first = JSON.parse(readFileSync(join(out, 'train.jsonl'), 'utf8').split('\n')[0]!);
    expect(first.messages).toEqual([
      { role: 'user', content: expect.stringMatching(/^Q\d+$/) },
      { role: 'assistant', content: expect.stringMatching(/^A\d+$/) },
    ]);
  });

  it('refuses an invalid file with exit 1 and writes nothing', async () => {
    const out = join(dir, 'nothing');
    expect((await run('prepare', file('bad.jsonl', '{oops\n'), '--out', out)).code).toBe(1);
    expect(() => readFileSync(join(out, 'train.jsonl'))).toThrow();
  });
});
