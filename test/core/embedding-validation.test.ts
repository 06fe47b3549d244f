import { resolveEmbeddingSettings } from '../../functions/core/embedding-settings.js';
import {
  cl100kCounter,
  EmbeddingValidationReportSchema,
  MAX_METADATA_FIELDS,
  MAX_OCCURRENCES_PER_CODE,
  renderEmbeddingValidationMarkdown,
  validateEmbeddingInput,
  type EmbeddingValidationReport,
} from '../../functions/core/embedding-validation.js';
import { chunks } from '../support/fakes.js';

/** One token per whitespace-separated word: easy to reason about in tests. */
const words = (texts: string[]) => texts.map((text) => text.split(/\s+/).filter(Boolean).length);

async function validate(
  text: string | Uint8Array,
  raw: Record<string, unknown> = {},
  format: 'jsonl' | 'csv' = 'jsonl',
): Promise<EmbeddingValidationReport> {
  const settings = resolveEmbeddingSettings(raw, 'embed/docs/tunedrop.json');
  const source =
    typeof text === 'string'
      ? chunks(text, 11)
      : (async function* () {
          yield text;
        })();
  const report = await validateEmbeddingInput(source, settings, { countTokens: words, format });
  return EmbeddingValidationReportSchema.parse(report);
}

const jsonl = (records: object[]) => records.map((r) => JSON.stringify(r)).join('\n') + '\n';
const codes = (report: EmbeddingValidationReport) => report.issues.map((i) => i.code);

describe('validateEmbeddingInput', () => {
  it('accepts a clean file and counts its lines, records, tokens and cost', async () => {
    const report = await validate(
      jsonl([
        { id: 'a', text: 'one two three' },
        { id: 'b', text: 'four' },
      ]) + '\n',
    );
    expect(report.verdict).toBe('accepted');
    expect(report.counts).toEqual({ lines: 3, records: 2, blankLines: 1 });
    expect(report.tokens).toEqual({ total: 4, max: 3, maxLine: 1, estimated: false });
    expect(report.cost.mode).toBe('direct');
    expect(report.cost.pricePerMillion).toBe(0.02);
    expect(report.cost.usd).toBeCloseTo((4 * 0.02) / 1_000_000, 15);
    expect(report.cost.source).toMatch(/^https:/);
  });

  it('names the first line of a duplicated id', async () => {
    const report = await validate(
      jsonl([
        { id: 'a', text: 'x' },
        { id: 'b', text: 'y' },
        { id: 'a', text: 'z' },
      ]),
    );
    expect(report.verdict).toBe('rejected');
    expect(report.issues).toEqual([
      {
        code: 'id_duplicate',
        count: 1,
        occurrences: [
          expect.objectContaining({ line: 3, id: 'a', message: expect.stringContaining('line 1') }),
        ],
      },
    ]);
  });

  it('does not look for duplicates when line numbers are the ids', async () => {
    const report = await validate(jsonl([{ text: 'x' }, { text: 'x' }]), { idField: null });
    expect(report.verdict).toBe('accepted');
  });

  it("refuses a text over the model's token limit, with its line, and leaves it out of the total", async () => {
    const long = Array.from({ length: 8192 }, () => 'w').join(' ');
    const report = await validate(
      jsonl([
        { id: 'a', text: 'short' },
        { id: 'b', text: long },
      ]),
    );
    expect(report.issues[0]).toMatchObject({ code: 'text_too_long', occurrences: [{ line: 2, id: 'b' }] });
    expect(report.tokens.total).toBe(1);
  });

  it("refuses a text over Titan's 50,000 characters and marks Titan's tokens as estimated", async () => {
    const report = await validate(jsonl([{ id: 'a', text: 'x'.repeat(50_001) }]), { provider: 'bedrock' });
    expect(report.issues[0]!.occurrences[0]!.message).toContain('characters');
    expect(report.tokens.estimated).toBe(true);
  });

  it('counts every occurrence of a code but keeps only the first ones', async () => {
    const report = await validate('nope\n'.repeat(MAX_OCCURRENCES_PER_CODE + 5));
    expect(report.issues[0]).toMatchObject({ code: 'line_not_json', count: MAX_OCCURRENCES_PER_CODE + 5 });
    expect(report.issues[0]!.occurrences).toHaveLength(MAX_OCCURRENCES_PER_CODE);
  });

  it('reports an empty file once', async () => {
    expect(codes(await validate('\n\n'))).toEqual(['file_empty']);
  });

  it.each([
    ['gzip', Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0])],
    ['UTF-16', new Uint8Array(Buffer.from('\uFEFF{"id":1}', 'utf16le'))],
  ])('reports a %s file as one file_kind problem and reads no further', async (_, bytes) => {
    const report = await validate(bytes);
    expect(report.issues).toHaveLength(1);
    expect(report.issues[0]).toMatchObject({ code: 'file_kind', count: 1 });
    expect(report.counts.records).toBe(0);
  });

  it('accepts a UTF-8 byte order mark', async () => {
    expect((await validate('\uFEFF' + jsonl([{ id: 1, text: 'x' }]))).verdict).toBe('accepted');
  });

  it('refuses a file whose estimate is over the budget, and one whose price is unknown when a budget is set', async () => {
    const text = jsonl([{ id: 1, text: 'a b c' }]);
    expect(codes(await validate(text, { budgetUsd: 1e-9 }))).toEqual(['budget_exceeded']);
    expect((await validate(text, { budgetUsd: 1 })).budget).toEqual({ limitUsd: 1, within: true });
    const azure = { provider: 'azure-openai', azure: { deployment: 'd' } };
    expect((await validate(text, azure)).verdict).toBe('accepted');
    expect(codes(await validate(text, { ...azure, budgetUsd: 1 }))).toEqual(['budget_price_unknown']);
  });

  it('prices a large OpenAI file at the batch price, since auto mode batches it', async () => {
    const records = Array.from({ length: 2001 }, (_, i) => ({ id: i, text: 'a' }));
    const report = await validate(jsonl(records));
    expect(report.cost).toMatchObject({ mode: 'batch', pricePerMillion: 0.01 });
  });

  it('infers metadata column types, turning mixed types and objects into json', async () => {
    const report = await validate(
      jsonl([
        { id: 1, text: 'x', s: 'a', n: 1, b: true, mixed: 1, obj: { k: 1 }, nul: null },
        { id: 2, text: 'y', s: null, n: 2.5, b: false, mixed: 'one' },
      ]),
    );
    expect(report.metadataColumns).toEqual([
      { name: 's', type: 'string' },
      { name: 'n', type: 'number' },
      { name: 'b', type: 'boolean' },
      { name: 'mixed', type: 'json' },
      { name: 'obj', type: 'json' },
      { name: 'nul', type: 'string' },
    ]);
  });

  it('types every CSV column as string and reports a missing text column once', async () => {
    const ok = await validate('id,text,n\n1,hello,5\n', {}, 'csv');
    expect(ok.metadataColumns).toEqual([{ name: 'n', type: 'string' }]);
    expect(codes(await validate('id,body\n1,a\n2,b\n', {}, 'csv'))).toEqual(['csv_text_column_missing']);
  });

  it(`refuses more than ${MAX_METADATA_FIELDS} metadata fields once`, async () => {
    const wide = Object.fromEntries(Array.from({ length: MAX_METADATA_FIELDS + 3 }, (_, i) => [`f${i}`, i]));
    const report = await validate(jsonl([{ id: 1, text: 'x', ...wide }]));
    expect(report.issues).toEqual([expect.objectContaining({ code: 'too_many_metadata_fields', count: 1 })]);
    expect(report.metadataColumns).toHaveLength(MAX_METADATA_FIELDS);
  });

  it('lists file-level problems before line problems', async () => {
    const report = await validate(
      jsonl([
        { id: 1, text: 'a' },
        { id: 1, text: 'b' },
      ]),
      { budgetUsd: 1e-12 },
    );
    expect(codes(report)).toEqual(['budget_exceeded', 'id_duplicate']);
  });
});

describe('cl100kCounter', () => {
  it("counts with cl100k_base, whose tokens differ from o200k_base's", async () => {
    const count = cl100kCounter();
    // "hello world" is two tokens in both; 32 spaces and a word show the encoder is really used.
    expect(await count(['hello world', ''])).toEqual([2, 0]);
    expect((await count(['antidisestablishmentarianism']))[0]).toBeGreaterThan(1);
  });
});

describe('renderEmbeddingValidationMarkdown', () => {
  it('puts the verdict first and every problem with its line and fix', async () => {
    const report = await validate(
      jsonl([
        { id: 'a', text: '' },
        { id: 'a`b', text: ' ' },
      ]) + 'nope\n',
    );
    const markdown = renderEmbeddingValidationMarkdown(report, { source: 'embed/docs/data.jsonl' });
    const lines = markdown.split('\n');
    expect(lines[0]).toBe('# Embedding input check: `embed/docs/data.jsonl`');
    expect(lines[2]).toBe(
      '**Rejected: 3 problems.** Nothing was sent to the provider. Fix the lines below and drop the file again.',
    );
    expect(markdown).toContain('- line 1: "text" is empty or only whitespace (id `a`). Fix: ');
    expect(markdown).toContain('- line 3 is not JSON');
    expect(markdown).toContain('(id `a b`)');
  });

  it('says how many records an accepted file sends, and its cost', async () => {
    const report = await validate(jsonl([{ id: 'a', text: 'x y' }]));
    const markdown = renderEmbeddingValidationMarkdown(report, { source: 'k' });
    expect(markdown).toContain(
      '**Accepted.** 1 records will be embedded with text-embedding-3-small (1536 dimensions, direct mode).',
    );
    expect(markdown).toContain('- under $0.000001 in direct mode, at $0.02 per 1M tokens');
    expect(markdown).not.toContain('## Problems');
  });
});
