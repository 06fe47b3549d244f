import { get_encoding, type Tiktoken } from 'tiktoken';
import { z } from 'zod';
import { FILE_KIND_PROBLEMS, sniffFileKind } from './encoding.js';
import { embeddingCostUsd, embeddingPricePerMillion } from './embedding-catalog.js';
import {
  EMBEDDING_ISSUE_CODES,
  readEmbeddingRecords,
  type EmbeddingIssueCode,
  type EmbeddingReadStats,
  type MetadataValue,
} from './embedding-input.js';
import { chooseEmbeddingMode, type ResolvedEmbeddingSettings } from './embedding-settings.js';
import { FirstLineByHash } from './hash-table.js';

/**
 * Validation of an embedding run's input (#15): every record read once, streamed, with flat memory.
 * What it accepts, the provider embeds; what it refuses, it explains with the line and a fix. Every
 * problem refuses the run: an embedding file is not partly embeddable without the output's ids and
 * order no longer matching the input's.
 */

/** Occurrences kept per code in the report; the count says how many there were in all. */
export const MAX_OCCURRENCES_PER_CODE = 20;
/**
 * Distinct metadata fields kept at most. Each becomes a Parquet column; past a hundred, the data is
 * usually a wide export whose columns nobody chose, and a column-per-field file gets slow to write.
 */
export const MAX_METADATA_FIELDS = 100;
/** Texts handed to the token counter at once: few enough to hold, many enough to amortize a call. */
const COUNT_BATCH = 256;

export type TokenCounter = (texts: string[]) => number[] | Promise<number[]>;

const MetadataTypeSchema = z.enum(['string', 'number', 'boolean', 'json']);
export type MetadataType = z.infer<typeof MetadataTypeSchema>;

const OccurrenceSchema = z.object({
  line: z.number().int().min(0),
  id: z.string().optional(),
  message: z.string(),
  fix: z.string(),
});

export const EmbeddingValidationReportSchema = z.object({
  schemaVersion: z.literal(1),
  verdict: z.enum(['accepted', 'rejected']),
  format: z.enum(['jsonl', 'csv']),
  model: z.object({
    provider: z.string(),
    id: z.string(),
    /** What requests send as `model` (the Azure deployment there). */
    modelName: z.string(),
    dimensions: z.number().int().positive(),
  }),
  counts: z.object({
    /** Physical lines. */
    lines: z.number().int().min(0),
    /** Records read without a problem in their line (they may still be too long or duplicated). */
    records: z.number().int().min(0),
    blankLines: z.number().int().min(0),
  }),
  tokens: z.object({
    total: z.number().int().min(0),
    max: z.number().int().min(0),
    /** Line of the longest text; null when there is none. */
    maxLine: z.number().int().min(0).nullable(),
    /** Counted with cl100k_base for a model whose own tokenizer is not public (Titan). */
    estimated: z.boolean(),
  }),
  cost: z.object({
    /** For `mode`; null when the price is not known. */
    usd: z.number().min(0).nullable(),
    mode: z.enum(['batch', 'direct']),
    pricePerMillion: z.number().min(0).nullable(),
    /** Where the price comes from. */
    source: z.string().nullable(),
  }),
  budget: z.object({ limitUsd: z.number().positive(), within: z.boolean() }).nullable(),
  issues: z.array(
    z.object({
      code: z.string(),
      count: z.number().int().positive(),
      occurrences: z.array(OccurrenceSchema),
    }),
  ),
  /** The Parquet columns of the metadata, all nullable. */
  metadataColumns: z.array(z.object({ name: z.string(), type: MetadataTypeSchema })),
});

export type EmbeddingValidationReport = z.infer<typeof EmbeddingValidationReportSchema>;

interface Pending {
  line: number;
  id: string;
  text: string;
}

export async function validateEmbeddingInput(
  chunks: AsyncIterable<Uint8Array>,
  settings: ResolvedEmbeddingSettings,
  { countTokens, format }: { countTokens: TokenCounter; format: 'jsonl' | 'csv' },
): Promise<EmbeddingValidationReport> {
  const { model } = settings;
  const issues = new IssueCollector();
  const stats: EmbeddingReadStats = { lines: 0, blankLines: 0 };
  const tokens = { total: 0, max: 0, maxLine: null as number | null };
  const schema = new MetadataSchema(format);
  const firstLineOf = new FirstLineByHash();
  let records = 0;

  const { head, rest } = await peekHead(chunks, 4096);
  const kind = sniffFileKind(head);
  if (kind !== 'text' && kind !== 'utf8_bom') {
    const problem = FILE_KIND_PROBLEMS[kind];
    issues.add('file_kind', 0, `${problem.message}`, problem.fix.replace('.jsonl', `.${format}`));
  } else {
    let pending: Pending[] = [];
    const countPending = async () => {
      const counts = await countTokens(pending.map((p) => p.text));
      pending.forEach(({ line, id }, i) => {
        const count = counts[i]!;
        if (count > model.maxInputTokens) {
          issues.add(
            'text_too_long',
            line,
            `line ${line}: the text has ${count} tokens; ${model.id} takes at most ${model.maxInputTokens}`,
            `Split the text into pieces of at most ${model.maxInputTokens} tokens.`,
            id,
          );
          return;
        }
        tokens.total += count;
        if (count > tokens.max) {
          tokens.max = count;
          tokens.maxLine = line;
        }
      });
      pending = [];
    };
    const reading = readEmbeddingRecords(
      rest,
      {
        format,
        textField: settings.textField,
        idField: settings.idField,
        metadataFields: settings.metadataFields,
      },
      stats,
    );
    for await (const item of reading) {
      if (item.kind === 'issue') {
        issues.add(item.code, item.line, item.message, item.fix, item.id);
        continue;
      }
      records++;
      const { line, id, text } = item;
      // Ids are remembered as 53-bit hashes: two different ids share one with odds of about n²/2⁵⁴
      // (under 10⁻⁶ for 100,000 ids), and a false duplicate names both lines, so a person can see it.
      if (settings.idField !== null) {
        const first = firstLineOf.firstOrRemember(hash53(id), line);
        if (first !== undefined)
          issues.add(
            'id_duplicate',
            line,
            `line ${line}: the id "${id}" is also the id on line ${first}`,
            undefined,
            id,
          );
      }
      const tooMany = schema.observe(item.metadata);
      if (tooMany !== undefined)
        issues.add(
          'too_many_metadata_fields',
          line,
          `line ${line} brings the field "${tooMany}", past ${MAX_METADATA_FIELDS} metadata fields`,
        );
      if (model.maxInputChars !== undefined && text.length > model.maxInputChars) {
        issues.add(
          'text_too_long',
          line,
          `line ${line}: the text has ${text.length} characters; ${model.id} takes at most ${model.maxInputChars}`,
          `Split the text into pieces of at most ${model.maxInputChars} characters.`,
          id,
        );
        continue;
      }
      pending.push({ line, id, text });
      if (pending.length >= COUNT_BATCH) await countPending();
    }
    if (pending.length > 0) await countPending();
    if (records === 0 && issues.isEmpty())
      issues.add('file_empty', 0, 'the file has no records', EMBEDDING_ISSUE_CODES.file_empty.fix);
  }

  const mode = chooseEmbeddingMode(settings, records);
  const usd = embeddingCostUsd(model, tokens.total, mode);
  let budget: EmbeddingValidationReport['budget'] = null;
  if (settings.budgetUsd !== undefined) {
    // A budget is a promise not to spend more: with no known price it cannot be kept, so the run is
    // refused rather than run on a guess (Azure's prices, ada-002's batch price: not confirmed).
    const within = usd !== null && usd <= settings.budgetUsd;
    budget = { limitUsd: settings.budgetUsd, within };
    if (usd === null)
      issues.add(
        'budget_price_unknown',
        0,
        `"budgetUsd" is ${settings.budgetUsd} but the price of ${model.id} at this provider in ${mode} mode is not known`,
      );
    else if (!within)
      issues.add(
        'budget_exceeded',
        0,
        `the estimated cost, ${formatUsd(usd)} for ${tokens.total} tokens, is over "budgetUsd" ($${settings.budgetUsd})`,
      );
  }

  const priceSource = model.sources.find((source) => /price|\$/.test(source.note ?? ''));
  return {
    schemaVersion: 1,
    verdict: issues.isEmpty() ? 'accepted' : 'rejected',
    format,
    model: {
      provider: model.provider,
      id: model.id,
      modelName: settings.modelName,
      dimensions: settings.outputDimensions,
    },
    counts: { lines: stats.lines, records, blankLines: stats.blankLines },
    tokens: { ...tokens, estimated: model.tokenizer === 'none' },
    cost: {
      usd,
      mode,
      pricePerMillion: embeddingPricePerMillion(model, mode),
      source: priceSource?.url ?? null,
    },
    budget,
    issues: issues.list(),
    metadataColumns: schema.columns(),
  };
}

class IssueCollector {
  private readonly byCode = new Map<
    string,
    { count: number; occurrences: EmbeddingValidationReport['issues'][number]['occurrences'] }
  >();

  add(code: EmbeddingIssueCode, line: number, message: string, fix?: string, id?: string): void {
    let entry = this.byCode.get(code);
    if (!entry) this.byCode.set(code, (entry = { count: 0, occurrences: [] }));
    entry.count++;
    if (entry.occurrences.length < MAX_OCCURRENCES_PER_CODE) {
      const occurrence = { line, message, fix: fix ?? EMBEDDING_ISSUE_CODES[code].fix };
      entry.occurrences.push(id === undefined ? occurrence : { ...occurrence, id });
    }
  }

  isEmpty(): boolean {
    return this.byCode.size === 0;
  }

  /** File-level problems first (they explain the rest), then by the first line each code shows on. */
  list(): EmbeddingValidationReport['issues'] {
    const entries = [...this.byCode].map(([code, entry]) => ({ code, ...entry }));
    const rank = (code: string) => (EMBEDDING_ISSUE_CODES[code as EmbeddingIssueCode].file ? 0 : 1);
    return entries.sort(
      (a, b) => rank(a.code) - rank(b.code) || a.occurrences[0]!.line - b.occurrences[0]!.line,
    );
  }
}

/** Infers each metadata field's Parquet type from its values: mixed types, objects and arrays → json. */
class MetadataSchema {
  private readonly types = new Map<string, MetadataType | undefined>();
  constructor(private readonly format: 'jsonl' | 'csv') {}

  /** Records the record's fields; returns the first field past MAX_METADATA_FIELDS, if any. */
  observe(metadata: Record<string, MetadataValue>): string | undefined {
    let tooMany: string | undefined;
    for (const name of Object.keys(metadata)) {
      const known = this.types.has(name);
      if (!known && this.types.size >= MAX_METADATA_FIELDS) {
        tooMany ??= name;
        continue;
      }
      const value = metadata[name];
      const type = this.format === 'csv' ? 'string' : typeOf(value);
      const before = this.types.get(name);
      if (type === undefined) {
        if (!known) this.types.set(name, undefined);
      } else this.types.set(name, before === undefined || before === type ? type : 'json');
    }
    return tooMany;
  }

  /** Fields that were only ever null are strings (any type holds nulls; string is the plainest). */
  columns(): Array<{ name: string; type: MetadataType }> {
    return [...this.types].map(([name, type]) => ({ name, type: type ?? 'string' }));
  }
}

function typeOf(value: MetadataValue | undefined): MetadataType | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return 'string';
  if (typeof value === 'number') return 'number';
  if (typeof value === 'boolean') return 'boolean';
  return 'json';
}

/** A 53-bit hash of a string (two 32-bit multiply-xorshift lanes): fits a FirstLineByHash key exactly. */
export function hash53(text: string): number {
  let a = 0xdeadbeef;
  let b = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 2654435761);
    b = Math.imul(b ^ c, 1597334677);
  }
  a = Math.imul(a ^ (a >>> 16), 2246822507) ^ Math.imul(b ^ (b >>> 13), 3266489909);
  b = Math.imul(b ^ (b >>> 16), 2246822507) ^ Math.imul(a ^ (a >>> 13), 3266489909);
  return 4294967296 * (2097151 & b) + (a >>> 0);
}

/** The first `size` bytes (or all there are), and the whole stream again, without reading it twice. */
async function peekHead(
  chunks: AsyncIterable<Uint8Array>,
  size: number,
): Promise<{ head: Uint8Array; rest: AsyncIterable<Uint8Array> }> {
  const iterator = chunks[Symbol.asyncIterator]();
  const seen: Uint8Array[] = [];
  let bytes = 0;
  let done = false;
  while (bytes < size) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    seen.push(next.value);
    bytes += next.value.length;
  }
  const head = Buffer.concat(seen).subarray(0, size);
  async function* rest(): AsyncGenerator<Uint8Array> {
    yield* seen;
    if (done) return;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  return { head, rest: rest() };
}

let cl100k: Tiktoken | undefined;

/**
 * Counts texts with tiktoken's cl100k_base, the tokenizer of OpenAI's embedding models (llamaindex's
 * model table, 3p, read 2026-11-30; not confirmed from an OpenAI page). One encoder is kept for the
 * process (its WASM memory is freed only with the process, as tokens.ts does with o200k_base): building
 * one costs more than a whole small file's counting.
 */
export function cl100kCounter(): TokenCounter {
  return (texts) => {
    const encoder = (cl100k ??= get_encoding('cl100k_base'));
    return texts.map((text) => (text.length === 0 ? 0 : encoder.encode_ordinary(text).length));
  };
}

/** Dollars with cents, or to the millionth for small files (embeddings cost $0.00002 per 1,000 tokens). */
function formatUsd(usd: number): string {
  if (usd > 0 && usd < 0.000001) return 'under $0.000001';
  return `$${usd < 0.01 ? usd.toFixed(6) : usd.toFixed(2)}`;
}

/** The report a person reads (`validation.md`): verdict first, then counts, tokens, cost, every problem. */
export function renderEmbeddingValidationMarkdown(
  report: EmbeddingValidationReport,
  { source }: { source: string },
): string {
  const out: string[] = [];
  const problems = report.issues.reduce((sum, entry) => sum + entry.count, 0);
  out.push(`# Embedding input check: \`${code(source)}\``, '');
  if (report.verdict === 'accepted')
    out.push(
      `**Accepted.** ${report.counts.records} records will be embedded with ${report.model.id}` +
        ` (${report.model.dimensions} dimensions, ${report.cost.mode} mode).`,
    );
  else
    out.push(
      `**Rejected: ${problems} problem${problems === 1 ? '' : 's'}.** Nothing was sent to the provider. ` +
        'Fix the lines below and drop the file again.',
    );
  out.push('', '## Counts', '', '| lines | records | blank lines |', '| --- | --- | --- |');
  out.push(`| ${report.counts.lines} | ${report.counts.records} | ${report.counts.blankLines} |`, '');
  out.push('## Tokens', '');
  const estimate = report.tokens.estimated
    ? ' (estimated with cl100k_base: the model’s tokenizer is not public)'
    : '';
  out.push(`- total: ${report.tokens.total}${estimate}`);
  if (report.tokens.maxLine !== null)
    out.push(`- longest text: ${report.tokens.max} tokens, on line ${report.tokens.maxLine}`);
  out.push('', '## Cost estimate', '');
  const { cost } = report;
  if (cost.usd === null)
    out.push(`- unknown: the ${cost.mode} price of ${report.model.id} here is not confirmed`);
  else
    out.push(
      `- ${formatUsd(cost.usd)} in ${cost.mode} mode, at $${cost.pricePerMillion} per 1M tokens` +
        (cost.source ? ` (price: ${cost.source})` : ''),
    );
  if (report.budget)
    out.push(`- budget: $${report.budget.limitUsd}, ${report.budget.within ? 'within it' : 'not within it'}`);
  if (report.issues.length > 0) {
    out.push('', '## Problems', '');
    for (const entry of report.issues) {
      out.push(`### \`${entry.code}\`: ${entry.count}`, '');
      for (const o of entry.occurrences) {
        // Messages name their line themselves ("line 3: …", "the header (line 1) …").
        const id = o.id === undefined ? '' : ` (id \`${code(o.id)}\`)`;
        out.push(`- ${o.message}${id}. Fix: ${o.fix}`);
      }
      const more = entry.count - entry.occurrences.length;
      if (more > 0) out.push(`- … and ${more} more`);
      out.push('');
    }
  }
  if (report.metadataColumns.length > 0) {
    out.push('', '## Metadata columns', '', '| name | type |', '| --- | --- |');
    for (const column of report.metadataColumns) out.push(`| ${cell(column.name)} | ${column.type} |`);
  }
  return `${out.join('\n').trimEnd()}\n`;
}

/** Text safe inside backticks on one line. */
function code(text: string): string {
  return text.replace(/[`\r\n]/g, ' ');
}

function cell(text: string): string {
  return code(text).replace(/\|/g, '\\|');
}
