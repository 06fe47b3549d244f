import { Bool, Field, FixedSizeList, Float32, Float64, Schema, Table, tableToIPC, Utf8 } from 'apache-arrow';
import { ByteWriter, ParquetWriter, type ColumnSource, type SchemaElement } from 'hyparquet-writer';
import { InvalidConfigError } from '../core/errors.js';
import type { ObjectWriter } from '../core/ports.js';

/**
 * An embedding run's output, streamed to an object (an ObjectWriter: S3 multipart upload in the cloud):
 * Parquet, written with `hyparquet-writer` (pure JS, maintained; docs/embeddings-facts.md 4, read
 * 2026-11-30), one row group at a time so that memory holds one row group and never the whole file; or
 * JSONL, one line per row. Both keep the rows in the order they are written (the input's).
 *
 * The Parquet schema:
 * - `id`: UTF8, REQUIRED;
 * - one OPTIONAL column per kept metadata field: string → BYTE_ARRAY UTF8, number → DOUBLE, boolean →
 *   BOOLEAN, json → BYTE_ARRAY with converted type JSON (the value's JSON text);
 * - `embedding`: the standard 3-level LIST (`embedding` LIST / repeated group `list` / `element` FLOAT
 *   REQUIRED), OPTIONAL at the top: a row whose request failed has a null vector.
 * Parquet has no fixed-size list type (docs/embeddings-facts.md 4): the size is in the file's key-value
 * metadata as `tunedrop.dimensions`, and every non-null vector is checked to have exactly that many values.
 */

export type MetadataColumnType = 'string' | 'number' | 'boolean' | 'json';

export interface MetadataColumn {
  name: string;
  type: MetadataColumnType;
}

/** One row of the output: the input line's id, its kept metadata and its vector (null: no vector). */
export interface EmbeddingRow {
  id: string;
  metadata: Readonly<Record<string, unknown>>;
  vector: readonly number[] | null;
}

export interface EmbeddingsOutputOptions {
  /** Every non-null vector has exactly this many values. */
  dimensions: number;
  /** The metadata fields kept, in column order; a row's other metadata fields are not written. */
  metadataColumns: readonly MetadataColumn[];
  /** Parquet only: extra key-value metadata of the file (model, run id…); `tunedrop.dimensions` is added. */
  keyValueMetadata?: Readonly<Record<string, string>> | undefined;
  /** Parquet only: rows per row group. @default defaultRowGroupRows(dimensions) */
  rowGroupRows?: number | undefined;
}

export interface EmbeddingsWriter {
  /** Takes rows in output order; resolves once they are accepted (a full row group is written out). */
  write(rows: readonly EmbeddingRow[]): Promise<void>;
  /** Writes what is left and finishes the object: its rows and bytes. */
  close(): Promise<{ rows: number; bytes: number }>;
  /** Gives up: no object is left behind. */
  abort(): Promise<void>;
}

/** The key under which the vectors' size is kept in the Parquet file's key-value metadata. */
export const DIMENSIONS_KEY = 'tunedrop.dimensions';

/** Column names the output uses itself: a metadata field cannot take them. */
const RESERVED = new Set(['id', 'embedding']);

/** The most rows a row group holds when not given (see defaultRowGroupRows). */
export const MAX_ROW_GROUP_ROWS = 2_500;

/**
 * Rows per row group when not given: at most about 4 million vector values (16 MB as float32) and at most
 * MAX_ROW_GROUP_ROWS rows, at least 100: 2,500 rows at 64 to 1536 dimensions, 1,302 at 3072. Encoding a
 * group makes several arrays of its values (levels, pages), and V8 sizes the heap from what is live when
 * it collects: at 64 dimensions, groups of 10,000 rows took Collect's peak RSS 310 MB over its start on
 * 100,000 records, groups of 2,500 rows 110 MB (`npm run bench -- embeddings`, 2026-11-30).
 */
export function defaultRowGroupRows(dimensions: number): number {
  return Math.max(100, Math.min(MAX_ROW_GROUP_ROWS, Math.floor(4_000_000 / dimensions)));
}

function checkOptions(options: EmbeddingsOutputOptions): void {
  const { dimensions, metadataColumns, rowGroupRows } = options;
  if (!Number.isInteger(dimensions) || dimensions < 1)
    throw new RangeError(`dimensions must be a positive integer, not ${dimensions}`);
  if (rowGroupRows !== undefined && (!Number.isInteger(rowGroupRows) || rowGroupRows < 1))
    throw new RangeError(`rowGroupRows must be a positive integer, not ${rowGroupRows}`);
  const seen = new Set<string>();
  for (const { name } of metadataColumns) {
    if (RESERVED.has(name) || seen.has(name))
      throw new InvalidConfigError(
        `the metadata field "${name}" cannot be a column of the embeddings output (${RESERVED.has(name) ? 'the output uses that name itself' : 'it is named twice'})`,
        'Rename the field in the input file, or leave it out of the kept metadata.',
      );
    seen.add(name);
  }
}

/** The vector as written: checked to have `dimensions` finite numbers, a plain array (what the writer takes). */
function checkedVector(row: EmbeddingRow, dimensions: number): number[] | null {
  const { vector } = row;
  if (vector === null || vector === undefined) return null;
  if (vector.length !== dimensions)
    throw new RangeError(
      `the vector of "${row.id}" has ${vector.length} values, not the ${dimensions} dimensions of the output`,
    );
  const values = Array.isArray(vector) ? (vector as number[]) : Array.from(vector);
  for (const value of values)
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new RangeError(`the vector of "${row.id}" has a value that is not a finite number: ${value}`);
  return values;
}

/** A metadata value as its column holds it: absent is null, and a value of another type is refused. */
function checkedValue(row: EmbeddingRow, column: MetadataColumn): unknown {
  const value = row.metadata[column.name];
  if (value === null || value === undefined) return null;
  const ok =
    column.type === 'json' ||
    (column.type === 'number' ? typeof value === 'number' : typeof value === column.type);
  if (!ok)
    throw new TypeError(
      `the metadata "${column.name}" of "${row.id}" is a ${typeof value}, not a ${column.type} as its column`,
    );
  return value;
}

function checkedId(row: EmbeddingRow): string {
  if (typeof row.id !== 'string') throw new TypeError(`a row's id must be a string, not ${typeof row.id}`);
  return row.id;
}

const METADATA_ELEMENT: Record<MetadataColumnType, Omit<SchemaElement, 'name'>> = {
  string: { type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  number: { type: 'DOUBLE', repetition_type: 'OPTIONAL' },
  boolean: { type: 'BOOLEAN', repetition_type: 'OPTIONAL' },
  json: { type: 'BYTE_ARRAY', converted_type: 'JSON', repetition_type: 'OPTIONAL' },
};

/**
 * Parquet has no fixed-size list type: the vectors are a LIST of FLOAT. Arrow readers (pyarrow, arrow-rs and
 * so parquet-wasm, polars) read the column back as what it is, `FixedSizeList<Float32>[dimensions]`, when the
 * file carries the Arrow schema it was written from: the `ARROW:schema` key-value metadata, the base64 of an
 * IPC schema message, which Arrow's own Parquet writers store ("ARROW:schema" in the Parquet format's
 * Arrow integration, as arrow-rs' ArrowWriter writes it; checked here with parquet-wasm 0.8.0, arrow-rs,
 * in test/adapters/embeddings-output.test.ts). Other readers (DuckDB, Spark) ignore it and read a list.
 */
export const ARROW_SCHEMA_KEY = 'ARROW:schema';

export function arrowSchemaHint(metadataColumns: readonly MetadataColumn[], dimensions: number): string {
  const arrowType = {
    string: () => new Utf8(),
    number: () => new Float64(),
    boolean: () => new Bool(),
    json: () => new Utf8(),
  };
  const schema = new Schema([
    new Field('id', new Utf8(), false),
    ...metadataColumns.map(({ name, type }) => new Field(name, arrowType[type](), true)),
    new Field('embedding', new FixedSizeList(dimensions, new Field('element', new Float32(), false)), true),
  ]);
  // An IPC stream of no rows: its first message is the schema (continuation marker, length, flatbuffer).
  const stream = tableToIPC(new Table(schema), 'stream');
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  const length = view.getInt32(4, true);
  return Buffer.from(stream.subarray(0, 8 + length)).toString('base64');
}

/** The file's schema, flattened depth-first as Parquet's footer lists it. */
export function embeddingsSchema(metadataColumns: readonly MetadataColumn[]): SchemaElement[] {
  return [
    { name: 'root', num_children: 2 + metadataColumns.length },
    { name: 'id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
    ...metadataColumns.map(({ name, type }) => ({ name, ...METADATA_ELEMENT[type] })),
    { name: 'embedding', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    { name: 'element', type: 'FLOAT', repetition_type: 'REQUIRED' },
  ];
}

/**
 * hyparquet-writer's Writer over an ObjectWriter: the bytes encoded since the last flush are handed to the
 * sink after each row group (ParquetWriter calls `flush()` and awaits the Promise it returns before
 * encoding the next group) and at the end. `offset` keeps counting the whole file (the footer's offsets);
 * `index`, the bytes not yet handed over, returns to 0, so the buffer holds at most one row group.
 */
class SinkWriter extends ByteWriter {
  bytes = 0;
  constructor(private readonly sink: ObjectWriter) {
    super(64 * 1024);
  }
  private handOver(): Promise<void> {
    if (this.index === 0) return Promise.resolve();
    // A copy: the buffer is written over by the next row group while the sink may still hold the chunk.
    const chunk = new Uint8Array(this.buffer.slice(0, this.index));
    this.index = 0;
    this.bytes += chunk.byteLength;
    return this.sink.write(chunk);
  }
  flush(): Promise<void> {
    return this.handOver();
  }
  override finish(): Promise<void> {
    return this.handOver();
  }
  override getBuffer(): ArrayBuffer {
    throw new Error('the Parquet bytes go to the object as they are written, not to a buffer');
  }
  override getBytes(): Uint8Array<ArrayBuffer> {
    throw new Error('the Parquet bytes go to the object as they are written, not to a buffer');
  }
}

/** The writer's lifecycle, shared by both formats: one close or abort, no write after either. */
function lifecycle() {
  let state: 'open' | 'closed' | 'aborted' | 'failed' = 'open';
  return {
    assertOpen(what: string) {
      if (state !== 'open') throw new Error(`cannot ${what}: the embeddings writer is ${state}`);
    },
    set(next: 'closed' | 'aborted' | 'failed') {
      state = next;
    },
    get state() {
      return state;
    },
  };
}

/**
 * The embeddings as Parquet, streamed to `sink`: rows are buffered up to `rowGroupRows`, then encoded as a
 * row group (snappy-compressed) and handed to the sink; `close()` writes the last group and the footer.
 * A row that breaks the schema (wrong vector size, a metadata value of another type) throws from `write`
 * and leaves the writer failed: abort it.
 */
export function createEmbeddingsParquetWriter(
  sink: ObjectWriter,
  options: EmbeddingsOutputOptions,
): EmbeddingsWriter {
  checkOptions(options);
  const { dimensions, metadataColumns } = options;
  const rowGroupRows = options.rowGroupRows ?? defaultRowGroupRows(dimensions);
  const writer = new SinkWriter(sink);
  const parquet = new ParquetWriter({
    writer,
    schema: embeddingsSchema(metadataColumns),
    kvMetadata: [
      ...Object.entries(options.keyValueMetadata ?? {})
        .filter(([key]) => key !== DIMENSIONS_KEY)
        .map(([key, value]) => ({ key, value })),
      { key: DIMENSIONS_KEY, value: String(dimensions) },
      { key: ARROW_SCHEMA_KEY, value: arrowSchemaHint(metadataColumns, dimensions) },
    ],
    createdBy: 'tunedrop (hyparquet-writer 0.17.0)',
  });
  const life = lifecycle();
  let rows = 0;
  let ids: string[] = [];
  let metadata: unknown[][] = metadataColumns.map(() => []);
  let vectors: Array<number[] | null> = [];

  const writeGroup = async () => {
    if (ids.length === 0) return;
    const columnData: ColumnSource[] = [
      { name: 'id', data: ids },
      ...metadataColumns.map(({ name }, i) => ({ name, data: metadata[i]! as ColumnSource['data'] })),
      // PLAIN floats, no min/max: a dictionary of random floats never pays, and every Parquet reader
      // reads PLAIN FLOAT pages.
      { name: 'embedding', data: vectors as ColumnSource['data'], encoding: 'PLAIN', statistics: false },
    ];
    const count = ids.length;
    ids = [];
    metadata = metadataColumns.map(() => []);
    vectors = [];
    await parquet.write({ columnData, rowGroupSize: count });
    rows += count;
  };

  const guarded = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    life.assertOpen(what);
    try {
      return await work();
    } catch (error) {
      life.set('failed');
      throw error;
    }
  };

  return {
    write: (batch) =>
      guarded('write rows', async () => {
        for (const row of batch) {
          const vector = checkedVector(row, dimensions);
          const values = metadataColumns.map((column) => checkedValue(row, column));
          ids.push(checkedId(row));
          values.forEach((value, i) => metadata[i]!.push(value));
          vectors.push(vector);
          if (ids.length >= rowGroupRows) await writeGroup();
        }
      }),
    close: () =>
      guarded('close', async () => {
        await writeGroup();
        await parquet.finish();
        await sink.close();
        life.set('closed');
        return { rows, bytes: writer.bytes };
      }),
    async abort() {
      if (life.state === 'closed' || life.state === 'aborted') return;
      life.set('aborted');
      ids = [];
      vectors = [];
      await sink.abort();
    },
  };
}

/**
 * The embeddings as JSONL, streamed to `sink`: one line per row, `{"id", "metadata": {…the kept fields},
 * "embedding": [...] | null}`, each `write` handed over as one chunk. The same checks as the Parquet
 * writer; `keyValueMetadata` and `rowGroupRows` do not apply.
 */
export function createEmbeddingsJsonlWriter(
  sink: ObjectWriter,
  options: EmbeddingsOutputOptions,
): EmbeddingsWriter {
  checkOptions(options);
  const { dimensions, metadataColumns } = options;
  const life = lifecycle();
  const encoder = new TextEncoder();
  let rows = 0;
  let bytes = 0;
  return {
    async write(batch) {
      life.assertOpen('write rows');
      try {
        let text = '';
        for (const row of batch) {
          const embedding = checkedVector(row, dimensions);
          const kept: Record<string, unknown> = {};
          for (const column of metadataColumns) kept[column.name] = checkedValue(row, column);
          text += `${JSON.stringify({ id: checkedId(row), metadata: kept, embedding })}\n`;
        }
        if (text === '') return;
        const chunk = encoder.encode(text);
        await sink.write(chunk);
        rows += batch.length;
        bytes += chunk.byteLength;
      } catch (error) {
        life.set('failed');
        throw error;
      }
    },
    async close() {
      life.assertOpen('close');
      await sink.close();
      life.set('closed');
      return { rows, bytes };
    },
    async abort() {
      if (life.state === 'closed' || life.state === 'aborted') return;
      life.set('aborted');
      await sink.abort();
    },
  };
}
