import fc from 'fast-check';
import { findEmbeddingModel, type EmbeddingModelInfo } from '../../functions/core/embedding-catalog.js';
import {
  createRequestPacker,
  EmbeddingRequestLineSchema,
  parseCustomId,
  type PackedOutput,
} from '../../functions/core/embedding-requests.js';

const SMALL = findEmbeddingModel('openai', 'text-embedding-3-small')!;

interface Packed {
  files: Array<{ lines: string[]; end: Extract<PackedOutput, { kind: 'file-end' }> }>;
  requests: Array<Extract<PackedOutput, { kind: 'request' }>>;
}

function pack(
  model: EmbeddingModelInfo,
  records: Array<{ text: string; tokens: number }>,
  options: { dimensions?: number; modelName?: string; maxBytesPerFile?: number } = {},
): Packed {
  const packer = createRequestPacker(model, { modelName: options.modelName ?? model.id, ...options });
  const outputs = [...records.flatMap((record) => packer.add(record)), ...packer.finish()];
  const packed: Packed = { files: [], requests: [] };
  let lines: string[] = [];
  for (const output of outputs) {
    if (output.kind === 'request') {
      packed.requests.push(output);
      lines.push(output.line);
    } else {
      packed.files.push({ lines, end: output });
      lines = [];
    }
  }
  expect(lines).toEqual([]); // Every request is inside a file.
  return packed;
}

const inputsOf = (line: string) => EmbeddingRequestLineSchema.parse(JSON.parse(line)).body.input;

/** A model with small limits, so that every limit is reached by small inputs. */
const tinyModel = fc
  .record({
    maxInputsPerRequest: fc.integer({ min: 1, max: 5 }),
    maxTokensPerRequest: fc.integer({ min: 1, max: 40 }),
    maxRequestsPerFile: fc.integer({ min: 1, max: 4 }),
    maxInputsPerBatch: fc.integer({ min: 1, max: 9 }),
    maxBytesPerFile: fc.integer({ min: 1_000, max: 3_000 }),
  })
  .map((limits): EmbeddingModelInfo => ({
    ...SMALL,
    maxInputsPerRequest: limits.maxInputsPerRequest,
    maxTokensPerRequest: limits.maxTokensPerRequest,
    batch: {
      maxRequestsPerFile: limits.maxRequestsPerFile,
      maxBytesPerFile: limits.maxBytesPerFile,
      maxInputsPerBatch: limits.maxInputsPerBatch,
    },
  }));

const packCase = tinyModel.chain((model) =>
  fc.record({
    model: fc.constant(model),
    records: fc.array(
      fc.record({
        text: fc.string({ minLength: 1, maxLength: 20, unit: 'binary' }),
        tokens: fc.integer({ min: 1, max: model.maxTokensPerRequest }),
      }),
      { maxLength: 60 },
    ),
  }),
);

describe('createRequestPacker (properties)', () => {
  it('puts every record in exactly one request, in order, and the files give back the input', () => {
    fc.assert(
      fc.property(packCase, ({ model, records }) => {
        const { files, requests } = pack(model, records);
        let expected = 0;
        for (const request of requests) {
          expect(request.first).toBe(expected);
          expected += request.count;
        }
        expect(expected).toBe(records.length);
        const inputs = files.flatMap((file) => file.lines.flatMap(inputsOf));
        expect(inputs).toEqual(records.map((record) => record.text));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps every request and every file within every limit', () => {
    fc.assert(
      fc.property(packCase, ({ model, records }) => {
        const { files, requests } = pack(model, records);
        for (const request of requests) {
          expect(request.count).toBeLessThanOrEqual(model.maxInputsPerRequest);
          expect(request.tokens).toBeLessThanOrEqual(model.maxTokensPerRequest);
          const tokens = records
            .slice(request.first, request.first + request.count)
            .reduce((s, r) => s + r.tokens, 0);
          expect(request.tokens).toBe(tokens);
        }
        for (const { lines, end } of files) {
          const bytes = lines.reduce((sum, line) => sum + Buffer.byteLength(line, 'utf8'), 0);
          const inputs = lines.reduce((sum, line) => sum + inputsOf(line).length, 0);
          expect(lines.length).toBeGreaterThan(0);
          expect(end).toMatchObject({ requests: lines.length, bytes, inputs });
          expect(lines.length).toBeLessThanOrEqual(model.batch!.maxRequestsPerFile);
          expect(bytes).toBeLessThanOrEqual(model.batch!.maxBytesPerFile);
          expect(inputs).toBeLessThanOrEqual(model.batch!.maxInputsPerBatch);
        }
        expect(files.map((file) => file.end.file)).toEqual(files.map((_, i) => i));
      }),
      { numRuns: 300 },
    );
  });

  it('writes custom ids that parse back to the range of records of their request', () => {
    fc.assert(
      fc.property(packCase, ({ model, records }) => {
        for (const request of pack(model, records).requests) {
          const line = EmbeddingRequestLineSchema.parse(JSON.parse(request.line));
          expect(line.custom_id).toBe(request.customId);
          expect(parseCustomId(line.custom_id)).toEqual({ first: request.first, count: request.count });
          expect(line.body.input).toEqual(
            records.slice(request.first, request.first + request.count).map((r) => r.text),
          );
        }
      }),
      { numRuns: 200 },
    );
  });

  it('makes a request of a single record at the token cap', () => {
    fc.assert(
      fc.property(tinyModel, fc.integer({ min: 0, max: 5 }), (model, before) => {
        const records = [
          ...Array.from({ length: before }, () => ({ text: 'a', tokens: 1 })),
          { text: 'cap', tokens: model.maxTokensPerRequest },
          { text: 'b', tokens: 1 },
        ];
        const capped = pack(model, records).requests.find(
          (r) => r.first <= before && before < r.first + r.count,
        )!;
        expect(capped.tokens).toBe(model.maxTokensPerRequest);
        expect(capped.count).toBe(1);
      }),
    );
  });
});

describe('createRequestPacker', () => {
  it('writes the Batch API line with the model name and dimensions asked for', () => {
    const { requests } = pack(
      SMALL,
      [
        { text: 'a', tokens: 1 },
        { text: 'b', tokens: 1 },
      ],
      { modelName: 'my-deployment', dimensions: 256 },
    );
    expect(requests.map((r) => r.line)).toEqual([
      '{"custom_id":"rows-0-2","method":"POST","url":"/v1/embeddings","body":{"model":"my-deployment","input":["a","b"],"encoding_format":"float","dimensions":256}}\n',
    ]);
  });

  it('leaves dimensions out when none is asked for', () => {
    const { requests } = pack(SMALL, [{ text: 'a', tokens: 1 }]);
    expect(JSON.parse(requests[0]!.line).body).not.toHaveProperty('dimensions');
  });

  it('cuts OpenAI requests at 2048 inputs and at 300,000 tokens', () => {
    const many = pack(
      SMALL,
      Array.from({ length: 2049 }, () => ({ text: 'x', tokens: 1 })),
    );
    expect(many.requests.map((r) => r.count)).toEqual([2048, 1]);
    const heavy = pack(
      SMALL,
      Array.from({ length: 40 }, () => ({ text: 'x', tokens: 8191 })),
    );
    expect(heavy.requests.map((r) => r.count)).toEqual([36, 4]);
  });

  it('starts a new file at 50,000 inputs, filling the first one exactly', () => {
    const { files } = pack(
      SMALL,
      Array.from({ length: 50_001 }, () => ({ text: 'x', tokens: 1 })),
    );
    expect(files.map((f) => f.end.inputs)).toEqual([50_000, 1]);
  });

  it('sends Titan one text per request, and still cuts its files', () => {
    const titan = findEmbeddingModel('bedrock', 'amazon.titan-embed-text-v2:0')!;
    const { requests, files } = pack(
      titan,
      Array.from({ length: 5 }, (_, i) => ({ text: `t${i}`, tokens: 2 })),
      { maxBytesPerFile: 300 },
    );
    expect(requests.map((r) => r.count)).toEqual([1, 1, 1, 1, 1]);
    expect(files.length).toBeGreaterThan(1);
  });

  it('refuses a record over the request token cap instead of writing a request the provider refuses', () => {
    const packer = createRequestPacker(SMALL, { modelName: SMALL.id });
    expect(() => packer.add({ text: 'x', tokens: 300_001 })).toThrow(/300000/);
  });

  it('writes nothing for no records', () => {
    expect(pack(SMALL, [])).toEqual({ files: [], requests: [] });
  });
});

describe('parseCustomId', () => {
  it.each([
    ['rows-0-1', { first: 0, count: 1 }],
    ['rows-120-36', { first: 120, count: 36 }],
  ])('reads %s', (id, range) => expect(parseCustomId(id)).toEqual(range));

  it.each(['rows-1-0', 'rows-01-2', 'rows--1-2', 'row-1-2', 'rows-1-2-3', 'rows-99999999999999999-1', ''])(
    'refuses %j',
    (id) => expect(parseCustomId(id)).toBeUndefined(),
  );
});
