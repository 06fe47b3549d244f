import { tableFromIPC, type Table } from 'apache-arrow';
import fc from 'fast-check';
import { readParquet } from 'parquet-wasm';
import {
  createEmbeddingsJsonlWriter,
  createEmbeddingsParquetWriter,
  defaultRowGroupRows,
  DIMENSIONS_KEY,
  MAX_ROW_GROUP_ROWS,
  type EmbeddingRow,
  type MetadataColumn,
} from '../../functions/adapters/embeddings-output.js';
import type { ObjectWriter } from '../../functions/core/ports.js';

/**
 * The embeddings' output writers, read back with an independent reader: the Parquet written by
 * hyparquet-writer (pure JS) is read by parquet-wasm (Rust's arrow-rs `parquet` crate) into Apache Arrow.
 */

/** An ObjectWriter into memory that records each chunk it is handed, and whether it was closed or aborted. */
function memorySink() {
  const chunks: Uint8Array[] = [];
  const sink = {
    closed: false,
    aborted: false,
    chunks,
    async write(chunk: string | Uint8Array) {
      chunks.push(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk);
    },
    async close() {
      sink.closed = true;
    },
    async abort() {
      sink.aborted = true;
    },
    bytes(): Uint8Array {
      const total = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
      const out = new Uint8Array(total);
      let offset = 0;
      for (const chunk of chunks) {
        out.set(chunk, offset);
        offset += chunk.byteLength;
      }
      return out;
    },
  };
  return sink satisfies ObjectWriter;
}

function readBack(bytes: Uint8Array): Table {
  return tableFromIPC(readParquet(bytes).intoIPCStream());
}

/** The file's key-value metadata, read by parquet-wasm (arrow-rs keeps it as the schema's metadata). */
function keyValues(table: Table): Map<string, string> {
  return table.schema.metadata;
}

const vectorOf = (table: Table, row: number): number[] | null => {
  const value = table.getChild('embedding')!.get(row) as { toArray(): Float32Array } | null;
  return value === null ? null : Array.from(value.toArray());
};

const asFloat32 = (vector: readonly number[]) => Array.from(Float32Array.from(vector));

const COLUMNS: MetadataColumn[] = [
  { name: 'title', type: 'string' },
  { name: 'score', type: 'number' },
  { name: 'public', type: 'boolean' },
  { name: 'tags', type: 'json' },
];

describe('createEmbeddingsParquetWriter', () => {
  it('writes ids, typed metadata with nulls and float32 vectors that another implementation reads back in order', async () => {
    const sink = memorySink();
    const writer = createEmbeddingsParquetWriter(sink, {
      dimensions: 3,
      metadataColumns: COLUMNS,
      keyValueMetadata: { 'tunedrop.model': 'text-embedding-3-small', [DIMENSIONS_KEY]: 'ignored' },
    });
    const rows: EmbeddingRow[] = [
      {
        id: 'a',
        metadata: { title: 'Hello', score: 1.5, public: true, tags: ['x', 1] },
        vector: [0.1, 0.2, 0.3],
      },
      { id: 'b', metadata: { score: -2, extra: 'not kept' }, vector: null },
      {
        id: 'c',
        metadata: { title: 'Ünïcødé ✓', public: false, tags: { nested: { n: null } } },
        vector: [1, -1, 1e-7],
      },
    ];
    await writer.write(rows.slice(0, 2));
    await writer.write(rows.slice(2));
    expect(await writer.close()).toEqual({ rows: 3, bytes: sink.bytes().byteLength });
    expect(sink.closed).toBe(true);

    const table = readBack(sink.bytes());
    expect(table.numRows).toBe(3);
    expect(table.schema.fields.map((field) => field.name)).toEqual([
      'id',
      'title',
      'score',
      'public',
      'tags',
      'embedding',
    ]);
    // A fixed-size list to Arrow readers (the file's ARROW:schema), a LIST of FLOAT in Parquet's own schema.
    expect(String(table.schema.fields.find((f) => f.name === 'embedding')!.type)).toBe(
      'FixedSizeList[3]<Float32>',
    );
    expect(table.schema.fields.find((f) => f.name === 'id')!.nullable).toBe(false);
    expect(table.schema.fields.find((f) => f.name === 'embedding')!.nullable).toBe(true);
    expect(keyValues(table).get(DIMENSIONS_KEY)).toBe('3');
    expect(keyValues(table).get('tunedrop.model')).toBe('text-embedding-3-small');

    expect([...table.getChild('id')!]).toEqual(['a', 'b', 'c']);
    expect([...table.getChild('title')!]).toEqual(['Hello', null, 'Ünïcødé ✓']);
    expect([...table.getChild('score')!]).toEqual([1.5, -2, null]);
    expect([...table.getChild('public')!]).toEqual([true, null, false]);
    // JSON is a string column to Arrow (arrow-rs reads the JSON converted type as UTF8): its text parses back.
    expect(
      [...table.getChild('tags')!].map((text) => (text === null ? null : JSON.parse(text as string))),
    ).toEqual([['x', 1], null, { nested: { n: null } }]);
    expect(vectorOf(table, 0)).toEqual(asFloat32([0.1, 0.2, 0.3]));
    expect(vectorOf(table, 1)).toBeNull();
    expect(vectorOf(table, 2)).toEqual(asFloat32([1, -1, 1e-7]));
  });

  it('hands the object one row group at a time: many rows make several row groups, read back in order', async () => {
    const sink = memorySink();
    const dimensions = 8;
    const writer = createEmbeddingsParquetWriter(sink, {
      dimensions,
      metadataColumns: [{ name: 'n', type: 'number' }],
      rowGroupRows: 1000,
    });
    const total = 4_321;
    const vector = (i: number) => Array.from({ length: dimensions }, (_, d) => Math.sin(i * 31 + d));
    for (let start = 0; start < total; start += 500) {
      const before = sink.chunks.length;
      await writer.write(
        Array.from({ length: Math.min(500, total - start) }, (_, k) => ({
          id: `row-${start + k}`,
          metadata: { n: start + k },
          vector: (start + k) % 97 === 0 ? null : vector(start + k),
        })),
      );
      // A row group is handed over as soon as it is full (start 500, 1500…: the 1000th, 2000th… row).
      if ((start + 500) % 1000 === 0 && start + 500 <= total) expect(sink.chunks.length).toBe(before + 1);
    }
    const { rows } = await writer.close();
    expect(rows).toBe(total);

    const bytes = sink.bytes();
    const table = readBack(bytes);
    expect(table.numRows).toBe(total);
    // 5 groups (4 × 1000 + 321): parquet-wasm reads them as the IPC stream's record batches.
    expect(table.batches.length).toBe(5);
    const ids = [...table.getChild('id')!];
    expect(ids).toEqual(Array.from({ length: total }, (_, i) => `row-${i}`));
    expect([...table.getChild('n')!]).toEqual(Array.from({ length: total }, (_, i) => i));
    for (const i of [0, 1, 96, 97, 999, 1000, 2500, total - 1])
      expect(vectorOf(table, i)).toEqual(i % 97 === 0 ? null : asFloat32(vector(i)));
  });

  it('writes a file with no rows: the magic at both ends around the footer', async () => {
    // Not read back with parquet-wasm: 0.8.0 cannot read a file with no row groups and a LIST column
    // written without an ARROW:schema ("Expected list element type of Struct but got Byte"), while it
    // reads the same schema with one row. An embedding run has at least one row (validation refuses an
    // empty input), so this is the writer's edge only.
    const sink = memorySink();
    const writer = createEmbeddingsParquetWriter(sink, { dimensions: 4, metadataColumns: COLUMNS });
    expect(await writer.close()).toMatchObject({ rows: 0 });
    const bytes = sink.bytes();
    const magic = (at: number) => new TextDecoder().decode(bytes.subarray(at, at + 4));
    expect(magic(0)).toBe('PAR1');
    expect(magic(bytes.length - 4)).toBe('PAR1');
    const footer = new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.length - 8, true);
    expect(footer).toBeGreaterThan(0);
    expect(footer).toBe(bytes.length - 12);
  });

  it('refuses a vector of another size, a metadata value of another type, and a reserved column name', async () => {
    const wrongSize = createEmbeddingsParquetWriter(memorySink(), { dimensions: 3, metadataColumns: [] });
    await expect(wrongSize.write([{ id: 'x', metadata: {}, vector: [1, 2] }])).rejects.toThrow(
      /"x" has 2 values, not the 3 dimensions/,
    );
    await expect(wrongSize.write([{ id: 'y', metadata: {}, vector: [1, 2, 3] }])).rejects.toThrow(/failed/);

    const notFinite = createEmbeddingsParquetWriter(memorySink(), { dimensions: 2, metadataColumns: [] });
    await expect(notFinite.write([{ id: 'x', metadata: {}, vector: [1, Number.NaN] }])).rejects.toThrow(
      /not a finite number/,
    );

    const wrongType = createEmbeddingsParquetWriter(memorySink(), {
      dimensions: 1,
      metadataColumns: [{ name: 'score', type: 'number' }],
    });
    await expect(wrongType.write([{ id: 'x', metadata: { score: '7' }, vector: [1] }])).rejects.toThrow(
      /"score" of "x" is a string, not a number/,
    );

    expect(() =>
      createEmbeddingsParquetWriter(memorySink(), {
        dimensions: 1,
        metadataColumns: [{ name: 'embedding', type: 'string' }],
      }),
    ).toThrow(/cannot be a column/);
  });

  it('aborts the object when told to', async () => {
    const sink = memorySink();
    const writer = createEmbeddingsParquetWriter(sink, { dimensions: 1, metadataColumns: [] });
    await writer.write([{ id: 'a', metadata: {}, vector: [1] }]);
    await writer.abort();
    expect(sink.aborted).toBe(true);
    expect(sink.closed).toBe(false);
    await expect(writer.write([{ id: 'b', metadata: {}, vector: [1] }])).rejects.toThrow(/aborted/);
  });

  it('round-trips random rows, metadata and dimensions (property)', async () => {
    const columnType = fc.constantFrom('string', 'number', 'boolean', 'json') as fc.Arbitrary<
      MetadataColumn['type']
    >;
    const valueOf: Record<MetadataColumn['type'], fc.Arbitrary<unknown>> = {
      string: fc.string({ unit: 'grapheme' }),
      number: fc.double({ noNaN: true, noDefaultInfinity: true }),
      boolean: fc.boolean(),
      json: fc.oneof(
        fc.array(fc.integer()),
        fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer(), fc.boolean())),
      ),
    };
    const scenario = fc
      .record({
        dimensions: fc.integer({ min: 1, max: 12 }),
        columns: fc.uniqueArray(
          fc.record({ name: fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/), type: columnType }),
          {
            selector: (column) => column.name,
            maxLength: 4,
          },
        ),
        rowGroupRows: fc.integer({ min: 1, max: 7 }),
      })
      .filter(({ columns }) => columns.every(({ name }) => name !== 'id' && name !== 'embedding'))
      .chain(({ dimensions, columns, rowGroupRows }) =>
        fc.record({
          dimensions: fc.constant(dimensions),
          columns: fc.constant(columns),
          rowGroupRows: fc.constant(rowGroupRows),
          rows: fc.uniqueArray(
            fc.record({
              id: fc.string({ unit: 'grapheme', maxLength: 12 }),
              metadata: fc.record(
                Object.fromEntries(columns.map(({ name, type }) => [name, fc.option(valueOf[type])])),
              ),
              vector: fc.option(
                fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), {
                  minLength: dimensions,
                  maxLength: dimensions,
                }),
              ),
            }),
            { selector: (row) => row.id, minLength: 1, maxLength: 30 },
          ),
        }),
      );
    await fc.assert(
      fc.asyncProperty(scenario, async ({ dimensions, columns, rowGroupRows, rows }) => {
        const sink = memorySink();
        const writer = createEmbeddingsParquetWriter(sink, {
          dimensions,
          metadataColumns: columns,
          rowGroupRows,
        });
        await writer.write(rows);
        await writer.close();
        const table = readBack(sink.bytes());
        expect(table.numRows).toBe(rows.length);
        expect(keyValues(table).get(DIMENSIONS_KEY)).toBe(String(dimensions));
        expect([...(table.getChild('id') ?? [])]).toEqual(rows.map((row) => row.id));
        for (const { name, type } of columns) {
          const read = [...table.getChild(name)!].map((value) =>
            value === null ? null : type === 'json' ? JSON.parse(value as string) : value,
          );
          expect(read).toEqual(rows.map((row) => row.metadata[name] ?? null));
        }
        rows.forEach((row, i) =>
          expect(vectorOf(table, i)).toEqual(row.vector === null ? null : asFloat32(row.vector)),
        );
      }),
      { numRuns: 60 },
    );
  });
});

describe('createEmbeddingsJsonlWriter', () => {
  it('writes one line per row with the kept metadata and the vector, in order', async () => {
    const sink = memorySink();
    const writer = createEmbeddingsJsonlWriter(sink, {
      dimensions: 2,
      metadataColumns: [
        { name: 'title', type: 'string' },
        { name: 'tags', type: 'json' },
      ],
    });
    await writer.write([
      { id: 'a', metadata: { title: 'x', tags: [1], other: 'dropped' }, vector: [0.5, 0.25] },
      { id: 'b', metadata: {}, vector: null },
    ]);
    const { rows, bytes } = await writer.close();
    const text = new TextDecoder().decode(sink.bytes());
    expect(rows).toBe(2);
    expect(bytes).toBe(sink.bytes().byteLength);
    expect(
      text
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown),
    ).toEqual([
      { id: 'a', metadata: { title: 'x', tags: [1] }, embedding: [0.5, 0.25] },
      { id: 'b', metadata: { title: null, tags: null }, embedding: null },
    ]);
    await expect(
      createEmbeddingsJsonlWriter(memorySink(), { dimensions: 2, metadataColumns: [] }).write([
        { id: 'c', metadata: {}, vector: [1] },
      ]),
    ).rejects.toThrow(/1 values, not the 2 dimensions/);
  });
});

describe('defaultRowGroupRows', () => {
  it('keeps row groups to 2,500 rows and about 4 million values, at least 100 rows', () => {
    expect(defaultRowGroupRows(64)).toBe(MAX_ROW_GROUP_ROWS);
    expect(defaultRowGroupRows(1536)).toBe(2_500);
    expect(defaultRowGroupRows(3072)).toBe(1_302);
    expect(defaultRowGroupRows(100_000)).toBe(100);
  });

  it('bounds what the Parquet writer buffers: a full group is handed to the sink as it fills', async () => {
    const sink = memorySink();
    const writer = createEmbeddingsParquetWriter(sink, { dimensions: 4, metadataColumns: [] });
    const rows = (from: number, count: number): EmbeddingRow[] =>
      Array.from({ length: count }, (_, i) => ({
        id: `r${from + i}`,
        metadata: {},
        vector: [1, 2, 3, from + i],
      }));
    await writer.write(rows(0, MAX_ROW_GROUP_ROWS - 1));
    expect(sink.chunks).toHaveLength(0);
    await writer.write(rows(MAX_ROW_GROUP_ROWS - 1, MAX_ROW_GROUP_ROWS + 2));
    // Two full groups written out; the three rows left wait for the next group or close.
    expect(sink.chunks).toHaveLength(2);
    await writer.close();
    const table = readBack(sink.bytes());
    expect(table.numRows).toBe(2 * MAX_ROW_GROUP_ROWS + 1);
    expect(table.getChild('id')!.get(2 * MAX_ROW_GROUP_ROWS)).toBe(`r${2 * MAX_ROW_GROUP_ROWS}`);
    expect(vectorOf(table, 2 * MAX_ROW_GROUP_ROWS)).toEqual([1, 2, 3, 2 * MAX_ROW_GROUP_ROWS]);
  });
});
