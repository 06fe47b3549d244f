import { RESERVED_COLUMN_NAMES } from './embedding-settings.js';

/**
 * Reads an embedding run's input (JSONL or CSV) as records, streamed: one chunk of bytes at a time, so a
 * file of any size is read in flat memory (apart from its longest line or CSV record). UTF-8 characters
 * split across chunks are joined by the streaming decoder, which also drops a leading byte order mark
 * (harmless here: the file is never uploaded as it is). Lines end in LF or CRLF.
 *
 * Problems are yielded in order with the records, each with its physical line (1-based) and a fix; a
 * line with a problem yields no record.
 */

export type MetadataValue = string | number | boolean | null | object;

export interface EmbeddingRecord {
  kind: 'record';
  /** Physical line (1-based) where the record starts (a CSV record may span lines). */
  line: number;
  id: string;
  text: string;
  /** Null-free of prototype tricks: built with Object.fromEntries, so `__proto__` stays a plain key. */
  metadata: Record<string, MetadataValue>;
}

export interface EmbeddingLineIssue {
  kind: 'issue';
  line: number;
  code: EmbeddingIssueCode;
  message: string;
  fix: string;
  /** The record's id, where it was read before the problem was found. */
  id?: string;
}

export interface EmbeddingReadOptions {
  format: 'jsonl' | 'csv';
  textField: string;
  /** null: the line number (as a string) is the id. */
  idField: string | null;
  /** Only these are kept as metadata; absent: every field but the text and the id. */
  metadataFields?: readonly string[] | undefined;
}

/** Filled in while reading: what the report counts besides records and issues. */
export interface EmbeddingReadStats {
  /** Physical lines read. */
  lines: number;
  /** Empty or whitespace-only lines (JSONL), empty lines between records (CSV): skipped. */
  blankLines: number;
}

/**
 * Every problem an embedding input can have, with its usual fix (a check may give a more specific one).
 * `file`: reported once for the whole file (its line is where it shows, or 0).
 */
export const EMBEDDING_ISSUE_CODES = {
  file_kind: { file: true, fix: 'Upload the UTF-8 JSONL or CSV text itself.' },
  file_empty: { file: true, fix: 'Upload a file with at least one record.' },
  line_not_json: { file: false, fix: 'Write one JSON object per line.' },
  line_not_object: { file: false, fix: 'Write one JSON object per line, such as {"id": "1", "text": "…"}.' },
  text_missing: {
    file: false,
    fix: 'Give every record its text, or set "textField" to the field that holds it.',
  },
  text_not_string: { file: false, fix: 'Make the text a JSON string.' },
  text_empty: { file: false, fix: 'Remove the record or give it text: providers refuse empty input.' },
  text_too_long: { file: false, fix: "Split the text into pieces under the model's input limit." },
  id_missing: { file: false, fix: 'Give every record an id, or set "idField": null to use line numbers.' },
  id_invalid: { file: false, fix: 'Make each id a non-empty string or a number.' },
  id_duplicate: {
    file: false,
    fix: 'Give each record its own id, or set "idField": null to use line numbers.',
  },
  csv_column_count: {
    file: false,
    fix: 'Give every row as many columns as the header (quote fields with commas).',
  },
  csv_unclosed_quote: { file: true, fix: 'Close the quoted field (a quote inside a field is written "").' },
  csv_text_column_missing: {
    file: true,
    fix: 'Add the text column to the header, or set "textField" to its name.',
  },
  csv_header_duplicate: { file: true, fix: 'Give every column of the header its own name.' },
  metadata_field_missing: { file: true, fix: 'Remove it from "metadataFields", or add that column.' },
  metadata_name_reserved: {
    file: false,
    fix: 'Rename the field, or set "metadataFields" without it: "id" and "embedding" are the output\'s own columns.',
  },
  too_many_metadata_fields: { file: true, fix: 'Set "metadataFields" to the fields worth keeping.' },
  budget_price_unknown: {
    file: true,
    fix: 'Remove "budgetUsd" to run without a cost guard, or use a provider and mode whose price is known.',
  },
  budget_exceeded: {
    file: true,
    fix: 'Raise "budgetUsd", embed fewer records, or use a cheaper model or mode.',
  },
} as const satisfies Record<string, { file: boolean; fix: string }>;

export type EmbeddingIssueCode = keyof typeof EMBEDDING_ISSUE_CODES;

function issue(
  line: number,
  code: EmbeddingIssueCode,
  message: string,
  fix: string = EMBEDDING_ISSUE_CODES[code].fix,
  id?: string,
): EmbeddingLineIssue {
  return id === undefined
    ? { kind: 'issue', line, code, message, fix }
    : { kind: 'issue', line, code, message, fix, id };
}

const RESERVED: ReadonlySet<string> = new Set(RESERVED_COLUMN_NAMES);

export async function* readEmbeddingRecords(
  chunks: AsyncIterable<Uint8Array>,
  options: EmbeddingReadOptions,
  stats: EmbeddingReadStats = { lines: 0, blankLines: 0 },
): AsyncGenerator<EmbeddingRecord | EmbeddingLineIssue> {
  if (options.format === 'jsonl') yield* readJsonl(chunks, options, stats);
  else yield* readCsv(chunks, options, stats);
}

// --- JSONL ---------------------------------------------------------------------------------------

/** Physical lines of UTF-8 text, without their LF or CRLF; a long line is collected in parts. */
export async function* decodeLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let parts: string[] = [];
  const take = (text: string): string[] => {
    const lines: string[] = [];
    let start = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
      parts.push(text.slice(start, newline));
      lines.push(parts.length === 1 ? parts[0]! : parts.join(''));
      parts = [];
      start = newline + 1;
    }
    if (start < text.length) parts.push(text.slice(start));
    return lines;
  };
  const strip = (line: string) => (line.endsWith('\r') ? line.slice(0, -1) : line);
  for await (const chunk of chunks)
    for (const line of take(decoder.decode(chunk, { stream: true }))) yield strip(line);
  for (const line of take(decoder.decode())) yield strip(line);
  if (parts.length > 0) yield strip(parts.join(''));
}

async function* readJsonl(
  chunks: AsyncIterable<Uint8Array>,
  options: EmbeddingReadOptions,
  stats: EmbeddingReadStats,
): AsyncGenerator<EmbeddingRecord | EmbeddingLineIssue> {
  let line = 0;
  for await (const text of decodeLines(chunks)) {
    line++;
    stats.lines = line;
    if (text.trim() === '') {
      stats.blankLines++;
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      yield issue(line, 'line_not_json', `line ${line} is not JSON (${(error as Error).message})`);
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      const what = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
      yield issue(line, 'line_not_object', `line ${line} is ${what}, not a JSON object`);
      continue;
    }
    yield* jsonlRecord(line, value as Record<string, unknown>, options);
  }
}

function* jsonlRecord(
  line: number,
  object: Record<string, unknown>,
  { textField, idField, metadataFields }: EmbeddingReadOptions,
): Generator<EmbeddingRecord | EmbeddingLineIssue> {
  const has = (key: string) => Object.prototype.hasOwnProperty.call(object, key);
  let problems = 0;
  let id: string | undefined;
  if (idField === null) id = String(line);
  else if (!has(idField) || object[idField] === null) {
    problems++;
    yield issue(line, 'id_missing', `line ${line} has no "${idField}"`);
  } else {
    const raw = object[idField];
    if (typeof raw === 'string' && raw.length > 0) id = raw;
    else if (typeof raw === 'number' && Number.isFinite(raw)) id = String(raw);
    else {
      problems++;
      yield issue(
        line,
        'id_invalid',
        `line ${line}: "${idField}" is ${typeof raw === 'string' ? 'an empty string' : describe(raw)}, not a non-empty string or a number`,
      );
    }
  }
  const text = object[textField];
  if (!has(textField) || text === null) {
    problems++;
    yield issue(line, 'text_missing', `line ${line} has no "${textField}"`, undefined, id);
  } else if (typeof text !== 'string') {
    problems++;
    yield issue(
      line,
      'text_not_string',
      `line ${line}: "${textField}" is ${describe(text)}, not a string`,
      undefined,
      id,
    );
  } else if (text.trim() === '') {
    problems++;
    yield issue(
      line,
      'text_empty',
      `line ${line}: "${textField}" is empty or only whitespace`,
      undefined,
      id,
    );
  }
  const names = metadataFields ?? Object.keys(object).filter((key) => key !== textField && key !== idField);
  for (const name of names)
    if (RESERVED.has(name)) {
      problems++;
      yield issue(
        line,
        'metadata_name_reserved',
        `line ${line}: the field "${name}" would be kept as metadata, but "${name}" is an output column`,
        undefined,
        id,
      );
    }
  if (problems > 0) return;
  const metadata = Object.fromEntries(
    names.map((name): [string, MetadataValue] => [name, has(name) ? (object[name] as MetadataValue) : null]),
  );
  yield { kind: 'record', line, id: id!, text: text as string, metadata };
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'number') return `the number ${value}`;
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

// --- CSV -----------------------------------------------------------------------------------------

export interface CsvRow {
  /** Physical line (1-based) where the row starts. */
  line: number;
  fields: string[];
  /** An empty physical line: no characters, no quotes. */
  blank: boolean;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

/**
 * RFC 4180 rows from text pieces: quoted fields may hold commas, newlines and "" for a quote; rows end in
 * LF or CRLF (a CR outside quotes and before LF is part of the line end, elsewhere it is text). It is
 * lenient where the RFC is silent: a quote inside an unquoted field, or text after a closing quote, is
 * kept as text. Text is copied in runs (slices), not character by character.
 */
export class CsvRowReader {
  private fields: string[] = [];
  private field = '';
  private inQuotes = false;
  /** Inside quotes, a quote was just read: it closes the field unless another quote follows. */
  private quotePending = false;
  /** Outside quotes, a CR was just read: the line ends if LF follows. */
  private crPending = false;
  private atFieldStart = true;
  private rowHadQuote = false;
  private line = 1;
  private rowLine = 1;
  private quoteLine = 0;

  /** The line being read (1-based): one more than the lines ended so far. */
  get lines(): number {
    return this.line;
  }

  push(text: string): CsvRow[] {
    const rows: CsvRow[] = [];
    let run = -1;
    const flush = (end: number) => {
      if (run >= 0) {
        this.field += text.slice(run, end);
        run = -1;
      }
    };
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.quotePending) {
        this.quotePending = false;
        if (c === QUOTE) {
          run = i; // "" inside quotes: one literal quote, starting a new run.
          continue;
        }
        this.inQuotes = false;
      }
      if (this.inQuotes) {
        if (c === QUOTE) {
          flush(i);
          this.quotePending = true;
        } else {
          if (run < 0) run = i;
          if (c === LF) this.line++;
        }
        continue;
      }
      if (this.crPending) {
        this.crPending = false;
        if (c === LF) {
          rows.push(this.endRow());
          continue;
        }
        this.field += '\r';
        this.atFieldStart = false;
      }
      if (c === COMMA) {
        flush(i);
        this.fields.push(this.field);
        this.field = '';
        this.atFieldStart = true;
      } else if (c === LF) {
        flush(i);
        rows.push(this.endRow());
      } else if (c === CR) {
        flush(i);
        this.crPending = true;
      } else if (c === QUOTE && this.atFieldStart) {
        this.inQuotes = true;
        this.rowHadQuote = true;
        this.quoteLine = this.line;
        this.atFieldStart = false;
      } else {
        if (run < 0) run = i;
        this.atFieldStart = false;
      }
    }
    flush(text.length);
    return rows;
  }

  /** The last row, if the text did not end with a line end; or the line where an unclosed quote opened. */
  end(): { row?: CsvRow; unclosedQuoteLine?: number } {
    if (this.quotePending) {
      this.quotePending = false;
      this.inQuotes = false;
    }
    if (this.inQuotes) return { unclosedQuoteLine: this.quoteLine };
    if (this.crPending) this.crPending = false; // A final CR ends the last line like CRLF would.
    const empty = this.fields.length === 0 && this.field === '' && !this.rowHadQuote;
    if (empty) return {};
    return { row: this.endRow() };
  }

  private endRow(): CsvRow {
    this.fields.push(this.field);
    const row: CsvRow = {
      line: this.rowLine,
      fields: this.fields,
      blank: this.fields.length === 1 && this.field === '' && !this.rowHadQuote,
    };
    this.fields = [];
    this.field = '';
    this.atFieldStart = true;
    this.rowHadQuote = false;
    this.line++;
    this.rowLine = this.line;
    return row;
  }
}

/** CSV rows from bytes, streamed; an unclosed quote at the end is reported as a row-less marker. */
export async function* readCsvRows(
  chunks: AsyncIterable<Uint8Array>,
  stats?: EmbeddingReadStats,
): AsyncGenerator<CsvRow | { unclosedQuoteLine: number }> {
  const decoder = new TextDecoder('utf-8');
  const reader = new CsvRowReader();
  for await (const chunk of chunks) {
    yield* reader.push(decoder.decode(chunk, { stream: true }));
    if (stats) stats.lines = reader.lines - 1;
  }
  yield* reader.push(decoder.decode());
  const { row, unclosedQuoteLine } = reader.end();
  if (stats) stats.lines = unclosedQuoteLine !== undefined ? reader.lines : reader.lines - 1;
  if (row) yield row;
  if (unclosedQuoteLine !== undefined) yield { unclosedQuoteLine };
}

async function* readCsv(
  chunks: AsyncIterable<Uint8Array>,
  { textField, idField, metadataFields }: EmbeddingReadOptions,
  stats: EmbeddingReadStats,
): AsyncGenerator<EmbeddingRecord | EmbeddingLineIssue> {
  let header: { names: string[]; text: number; id: number; kept: Array<[string, number]> } | undefined;
  for await (const row of readCsvRows(chunks, stats)) {
    if ('unclosedQuoteLine' in row) {
      const at = row.unclosedQuoteLine;
      yield issue(at, 'csv_unclosed_quote', `the quoted field opened on line ${at} is never closed`);
      return;
    }
    if (row.blank) {
      stats.blankLines++;
      continue;
    }
    if (!header) {
      const names = row.fields;
      const problem = headerProblem(row.line, names, textField, idField, metadataFields);
      if (problem) {
        yield problem;
        return;
      }
      const keptNames = metadataFields ?? names.filter((name) => name !== textField && name !== idField);
      for (const name of keptNames.filter((name) => RESERVED.has(name)))
        yield issue(
          row.line,
          'metadata_name_reserved',
          `the column "${name}" would be kept as metadata, but "${name}" is an output column`,
        );
      header = {
        names,
        text: names.indexOf(textField),
        id: idField === null ? -1 : names.indexOf(idField),
        kept: keptNames.filter((name) => !RESERVED.has(name)).map((name) => [name, names.indexOf(name)]),
      };
      continue;
    }
    const { fields, line } = row;
    if (fields.length !== header.names.length) {
      yield issue(
        line,
        'csv_column_count',
        `the row on line ${line} has ${fields.length} columns, the header ${header.names.length}`,
      );
      continue;
    }
    let id: string | undefined;
    if (idField === null) id = String(line);
    else if (fields[header.id] === '')
      yield issue(line, 'id_missing', `the row on line ${line} has an empty "${idField}"`);
    else id = fields[header.id]!;
    const text = fields[header.text]!;
    if (text.trim() === '') {
      yield issue(
        line,
        'text_empty',
        `the row on line ${line}: "${textField}" is empty or only whitespace`,
        undefined,
        id,
      );
      continue;
    }
    if (id === undefined) continue;
    const metadata = Object.fromEntries(
      header.kept.map(([name, index]): [string, string] => [name, fields[index]!]),
    );
    yield { kind: 'record', line, id, text, metadata };
  }
}

function headerProblem(
  line: number,
  names: string[],
  textField: string,
  idField: string | null,
  metadataFields: readonly string[] | undefined,
): EmbeddingLineIssue | undefined {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name))
      return issue(
        line,
        'csv_header_duplicate',
        `the header (line ${line}) names the column "${name}" twice`,
      );
    seen.add(name);
  }
  const list = names.map((name) => `"${name}"`).join(', ');
  if (!seen.has(textField))
    return issue(
      line,
      'csv_text_column_missing',
      `the header (line ${line}) has no "${textField}" column; it has ${list}`,
      `Set "textField" to the column holding the text (one of ${list}), or rename that column "${textField}".`,
    );
  if (idField !== null && !seen.has(idField))
    return issue(
      line,
      'id_missing',
      `the header (line ${line}) has no "${idField}" column; it has ${list}`,
      `Set "idField" to the column holding the ids, or "idField": null to use line numbers.`,
    );
  const absent = (metadataFields ?? []).find((name) => !seen.has(name));
  if (absent !== undefined)
    return issue(
      line,
      'metadata_field_missing',
      `"metadataFields" lists "${absent}", which the header (line ${line}) does not have; it has ${list}`,
    );
  return undefined;
}
