import { z } from 'zod';
import {
  OPENAI_EMBEDDING_BATCH,
  type EmbeddingBatchLimits,
  type EmbeddingModelInfo,
} from './embedding-catalog.js';

/**
 * Packs validated records, in input order, into embedding requests written as Batch API lines, and cuts
 * those lines into files, streamed: only the request being filled is held. Each request takes a
 * contiguous run of records, so its custom_id (`rows-<first>-<count>`) says where its answers go
 * without a lookup table.
 *
 * Limits: a request holds at most the model's maxInputsPerRequest inputs and maxTokensPerRequest summed
 * tokens; a file at most maxRequestsPerFile lines, maxBytesPerFile UTF-8 bytes and maxInputsPerBatch
 * inputs (OpenAI's Batch API, spec read 2026-11-30). Providers without a Batch API here get the same
 * files: they are read back for direct calls, and the same cut keeps each file a bounded read.
 */

export const EmbeddingRequestLineSchema = z
  .object({
    custom_id: z.string().regex(/^rows-\d+-\d+$/),
    method: z.literal('POST'),
    url: z.literal('/v1/embeddings'),
    body: z
      .object({
        model: z.string().min(1),
        input: z.array(z.string().min(1)).min(1),
        encoding_format: z.literal('float'),
        dimensions: z.number().int().positive().optional(),
      })
      .strict(),
  })
  .strict();

export type EmbeddingRequestLine = z.infer<typeof EmbeddingRequestLineSchema>;

export type PackedOutput =
  | {
      kind: 'request';
      /** The JSON line and its "\n". */
      line: string;
      customId: string;
      /** 0-based index of the request's first record. */
      first: number;
      count: number;
      tokens: number;
    }
  /** The requests since the previous file end form one file. */
  | { kind: 'file-end'; file: number; requests: number; inputs: number; bytes: number };

export interface RequestPackerOptions {
  /** Sent as `dimensions`; absent: not sent. */
  dimensions?: number | undefined;
  /** Sent as `model`: the Azure deployment's name there, the model id elsewhere. */
  modelName: string;
  /** Overrides the file byte limit (tests: small files without 200 MB of data). */
  maxBytesPerFile?: number;
}

export interface RequestPacker {
  add(record: { text: string; tokens: number }): PackedOutput[];
  finish(): PackedOutput[];
}

export function customIdOf(first: number, count: number): string {
  return `rows-${first}-${count}`;
}

/** The record range a custom_id names; undefined for anything tunedrop did not write. */
export function parseCustomId(id: string): { first: number; count: number } | undefined {
  const match = /^rows-(0|[1-9]\d{0,15})-([1-9]\d{0,15})$/.exec(id);
  if (!match) return undefined;
  const first = Number(match[1]);
  const count = Number(match[2]);
  return Number.isSafeInteger(first) && Number.isSafeInteger(count) ? { first, count } : undefined;
}

export function createRequestPacker(model: EmbeddingModelInfo, options: RequestPackerOptions): RequestPacker {
  const batch: EmbeddingBatchLimits = model.batch ?? OPENAI_EMBEDDING_BATCH;
  const maxBytes = options.maxBytesPerFile ?? batch.maxBytesPerFile;
  // A request never holds more inputs than a whole file may.
  const maxInputs = Math.min(model.maxInputsPerRequest, batch.maxInputsPerBatch);
  let next = 0;
  let texts: string[] = [];
  let tokens = 0;
  const file = { index: 0, requests: 0, inputs: 0, bytes: 0 };

  const endFile = (out: PackedOutput[]) => {
    if (file.requests === 0) return;
    out.push({
      kind: 'file-end',
      file: file.index,
      requests: file.requests,
      inputs: file.inputs,
      bytes: file.bytes,
    });
    Object.assign(file, { index: file.index + 1, requests: 0, inputs: 0, bytes: 0 });
  };

  const flush = (out: PackedOutput[]) => {
    if (texts.length === 0) return;
    const first = next - texts.length;
    const customId = customIdOf(first, texts.length);
    const request: EmbeddingRequestLine = {
      custom_id: customId,
      method: 'POST',
      url: '/v1/embeddings',
      body: {
        model: options.modelName,
        input: texts,
        encoding_format: 'float',
        ...(options.dimensions === undefined ? {} : { dimensions: options.dimensions }),
      },
    };
    const line = `${JSON.stringify(request)}\n`;
    const bytes = Buffer.byteLength(line, 'utf8');
    if (bytes > maxBytes)
      throw new Error(`the request ${customId} takes ${bytes} bytes, more than a file's ${maxBytes}`);
    if (
      file.requests + 1 > batch.maxRequestsPerFile ||
      file.bytes + bytes > maxBytes ||
      file.inputs + texts.length > batch.maxInputsPerBatch
    )
      endFile(out);
    file.requests++;
    file.inputs += texts.length;
    file.bytes += bytes;
    out.push({ kind: 'request', line, customId, first, count: texts.length, tokens });
    texts = [];
    tokens = 0;
  };

  return {
    add(record) {
      if (record.tokens > model.maxTokensPerRequest)
        throw new Error(
          `record ${next} has ${record.tokens} tokens, more than a request's ${model.maxTokensPerRequest}: validation should have refused it`,
        );
      const out: PackedOutput[] = [];
      if (
        texts.length > 0 &&
        (texts.length + 1 > maxInputs ||
          tokens + record.tokens > model.maxTokensPerRequest ||
          // Close the request where the file's input budget ends, so files fill to their limit.
          file.inputs + texts.length === batch.maxInputsPerBatch)
      )
        flush(out);
      texts.push(record.text);
      tokens += record.tokens;
      next++;
      return out;
    },
    finish() {
      const out: PackedOutput[] = [];
      flush(out);
      endFile(out);
      return out;
    },
  };
}
