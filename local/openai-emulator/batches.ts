import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ApiError } from './api-error.js';
import { completeChat } from './chat-completions.js';
import { createEmbeddings } from './embeddings.js';
import type { BatchFault, BatchLineFault, Faults } from './faults.js';
import { page, readJson, type Route } from './http.js';
import { now, type Batch, type BatchError, type BatchStatus, type Store } from './store.js';

/**
 * OpenAI's Batch API (POST/GET /v1/batches, GET /v1/batches/{id}, POST /v1/batches/{id}/cancel) for
 * chat completions and embeddings: a batch's lines are answered by the same function as POST
 * /v1/chat/completions (chat-completions.ts completeChat) or POST /v1/embeddings (embeddings.ts
 * createEmbeddings), so a batch answers exactly as the online route does. Shapes follow
 * CreateBatchRequest, Batch, BatchError and ListBatchesResponse of ../shared/openai/openapi.yaml; the
 * input and output lines and the statuses follow the Batch guide
 * (https://platform.openai.com/docs/guides/batch, read 2026-11-30; docs/evaluation-facts.md 1.2). A
 * batch moves validating → in_progress → finalizing → completed over accelerated time (BatchTiming),
 * or ends failed (its input file refused), expired or cancelled. Lines answered in a batch are counted
 * in the store's batchChatCompletions or batchEmbeddingCalls, apart from the online calls. An embeddings
 * batch has "a maximum of 50,000 embedding inputs across all requests in the batch" (CreateBatchRequest
 * in the spec; docs/embeddings-facts.md 1.5, read 2026-11-30): more fails the batch at validation. The
 * output lines are kept as bytes while the batch runs and joined once into the output file, so a large
 * batch holds its output about twice at the end and nothing else of its answers. When a batch ends, the
 * `onEnded` callback is told (server.ts emits the batch.* webhook).
 * Not emulated: the other endpoints the spec lists (refused at creation), the 200 MB input limit, the
 * queue's token limits, output_expires_after (checked, and the files never expire here).
 */

/** Real milliseconds per stage of a batch, and per request it answers. */
export interface BatchTiming {
  /** From creation until the input file is checked. */
  batchValidatingMs: number;
  /** Per request answered while in_progress. */
  batchMsPerRequest: number;
  /** From the last request answered until the output files are written and the batch completed. */
  batchFinalizingMs: number;
  /** From a cancel until the batch is cancelled ("may take up to 10 minutes", the guide). */
  batchCancellingMs: number;
}

export const DEFAULT_BATCH_TIMING: BatchTiming = {
  batchValidatingMs: 20,
  batchMsPerRequest: 2,
  batchFinalizingMs: 20,
  batchCancellingMs: 20,
};

/** The endpoints whose batches the emulator runs. */
const CHAT_COMPLETIONS = '/v1/chat/completions';
const EMBEDDINGS = '/v1/embeddings';
const RUN_ENDPOINTS: readonly string[] = [CHAT_COMPLETIONS, EMBEDDINGS];
/** "maximum of 50,000 embedding inputs across all requests in the batch" (CreateBatchRequest, the spec). */
export const MAX_EMBEDDING_INPUTS = 50_000;
/** With no time per request, how many requests are answered per turn of the event loop. */
const LINES_PER_TURN = 500;
/** The endpoints CreateBatchRequest.endpoint takes (the spec's enum, 2026-08-21). */
const SPEC_ENDPOINTS = [
  '/v1/responses',
  CHAT_COMPLETIONS,
  EMBEDDINGS,
  '/v1/completions',
  '/v1/moderations',
  '/v1/images/generations',
  '/v1/images/edits',
  '/v1/videos',
] as const;
/** "The file can contain up to 50,000 requests" (CreateBatchRequest.input_file_id in the spec). */
const MAX_REQUESTS = 50_000;
/** The window a batch has: "Currently only `24h` is supported" (CreateBatchRequest.completion_window). */
const WINDOW_SECONDS = 24 * 60 * 60;
/**
 * What an unfinished request of an expired batch is written to the error file with, in the guide's words
 * ("Batch expiration": response null, error {code: batch_expired, message}).
 */
const EXPIRED_MESSAGE = 'This request could not be executed before the completion window expired.';

/**
 * The request's fields with the spec's rules: Metadata (at most 16 pairs, keys up to 64 characters,
 * values up to 512) and BatchFileExpirationAfter (anchor created_at, 3600..2592000 seconds).
 */
const createRequest = z.object({
  input_file_id: z.string().min(1),
  endpoint: z.string().min(1),
  completion_window: z.string().min(1),
  metadata: z
    .record(z.string().max(64), z.string().max(512))
    .refine((pairs) => Object.keys(pairs).length <= 16, 'at most 16 key-value pairs')
    .nullish(),
  output_expires_after: z
    .object({ anchor: z.literal('created_at'), seconds: z.number().int().min(3600).max(2_592_000) })
    .nullish(),
});

/**
 * One line of an input file (the guide's "custom_id, method, url, body"): a unique custom_id, POST, the
 * batch's endpoint as url, and a body naming its model. The body's other fields are the endpoint's own,
 * checked when the line is answered, as the online route checks them.
 */
const inputLine = z.object({
  custom_id: z.string().min(1),
  method: z.string(),
  url: z.string(),
  body: z.looseObject({ model: z.string().min(1) }),
});
type InputLine = z.infer<typeof inputLine>;

/** What the emulator's handle shows of a batch: its status, model and how far it got. */
export interface BatchSummary {
  id: string;
  status: BatchStatus;
  model: string | null;
  /** request_counts.total: the input file's requests, once validated. */
  requests: number;
  completed: number;
  failed: number;
}

interface Run {
  batch: Batch;
  fault: BatchFault;
  /** The input's requests; an answered one is dropped (null), so its body is not held any longer. */
  requests: Array<InputLine | null>;
  /** How many requests have been answered (in the output or the error file). */
  answered: number;
  /** The output file's lines so far, as UTF-8 bytes with their newline. */
  output: Buffer[];
  errors: Buffer[];
}

/** Which statuses end a batch, each with its webhook (webhooks.ts). */
export type BatchEnd = 'completed' | 'failed' | 'expired' | 'cancelled';

/**
 * Runs the store's batches over accelerated time, as the Trainer runs jobs: it answers no request, the
 * routes below read the batches from the store.
 */
export class BatchRunner {
  private readonly runs = new Map<string, Run>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly timing: BatchTiming,
    private readonly faults: Faults,
    /** Told when a batch reaches a final status, after its files are written. */
    private readonly onEnded: (batch: Batch) => void = () => undefined,
  ) {}

  /** Adds the batch to the store and starts validating its input file. */
  start(batch: Batch): void {
    this.store.addBatch(batch);
    const run: Run = {
      batch,
      fault: this.faults.takeBatchFault(),
      requests: [],
      answered: 0,
      output: [],
      errors: [],
    };
    this.runs.set(batch.id, run);
    this.later(this.timing.batchValidatingMs, () => this.validate(run));
  }

  /**
   * "The batch will be in status `cancelling` for up to 10 minutes, before changing to `cancelled`, where
   * it will have partial results (if any) available in the output file" (cancelBatch in the spec).
   */
  cancel(batch: Batch): void {
    if (batch.status === 'cancelling') return;
    if (batch.status !== 'validating' && batch.status !== 'in_progress')
      // OpenAI's answer to cancelling a finished batch was not found; this one says why.
      throw new ApiError(
        400,
        `Cannot cancel a batch with status '${batch.status}'.`,
        null,
        'batch_not_cancellable',
      );
    batch.status = 'cancelling';
    batch.cancelling_at = now();
    const run = this.runs.get(batch.id)!;
    this.later(this.timing.batchCancellingMs, () => {
      this.writeFiles(run);
      this.end(run, 'cancelled');
    });
  }

  /** Every batch, oldest first, as the handle shows it. */
  summaries(): BatchSummary[] {
    return this.store.allBatches().map((batch) => ({
      id: batch.id,
      status: batch.status,
      model: batch.model,
      requests: batch.request_counts.total,
      completed: batch.request_counts.completed,
      failed: batch.request_counts.failed,
    }));
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(timer);
  }

  private validate(run: Run): void {
    const { batch, fault } = run;
    if (batch.status !== 'validating') return;
    if (fault.failWith) return this.fail(run, [{ ...fault.failWith, param: null, line: null }]);
    const file = this.store.file(batch.input_file_id);
    if (!file)
      return this.fail(run, [
        {
          code: 'file_not_found',
          message: `The input file ${batch.input_file_id} was deleted before the batch was validated.`,
          param: 'input_file_id',
          line: null,
        },
      ]);
    const parsed = parseInputFile(Buffer.from(file.content).toString('utf8'), batch.endpoint);
    if (!Array.isArray(parsed)) return this.fail(run, parsed.errors);
    if (batch.endpoint === EMBEDDINGS) {
      const inputs = parsed.reduce((sum, request) => sum + embeddingInputs(request.body.input), 0);
      // The limit is the spec's; OpenAI's code and wording for this failure were not found. too_many_tasks
      // is its code for the file's other count limit (the requests per file).
      if (inputs > MAX_EMBEDDING_INPUTS)
        return this.fail(run, [
          batchError(
            'too_many_tasks',
            `The input file has ${inputs} embedding inputs across its requests; an /v1/embeddings batch can have at most ${MAX_EMBEDDING_INPUTS}.`,
            null,
            null,
          ),
        ]);
    }
    run.requests = parsed;
    batch.model = parsed[0]!.body.model;
    batch.request_counts.total = parsed.length;
    batch.status = 'in_progress';
    batch.in_progress_at = now();
    this.later(this.timing.batchMsPerRequest, () => this.step(run));
  }

  /**
   * Answers the next request, then the one after, until none is left or the batch stops; with no time
   * per request, up to LINES_PER_TURN of them per turn of the event loop.
   */
  private step(run: Run): void {
    const { batch, fault } = run;
    const perTurn = this.timing.batchMsPerRequest > 0 ? 1 : LINES_PER_TURN;
    for (let i = 0; i < perTurn && run.answered < run.requests.length; i++) {
      if (batch.status !== 'in_progress') return;
      if (fault.expireAfter !== undefined && run.answered >= fault.expireAfter) return this.expire(run);
      this.answer(run, run.requests[run.answered]!);
      run.requests[run.answered] = null;
      run.answered += 1;
    }
    if (batch.status !== 'in_progress') return;
    if (run.answered < run.requests.length)
      return this.later(this.timing.batchMsPerRequest, () => this.step(run));
    batch.status = 'finalizing';
    batch.finalizing_at = now();
    this.later(this.timing.batchFinalizingMs, () => {
      this.writeFiles(run);
      this.end(run, 'completed');
    });
  }

  /**
   * One line answered as POST /v1/chat/completions answers its body. An answer goes to the output file;
   * a refusal (unknown model 404, bad parameter 400) to the error file with its status and error body in
   * `response`, and `error` null: the spec's BatchRequestOutput keeps `error` for "requests that failed
   * with a non-HTTP error" (as copied in openai-struct's batch_request_output.rs, OpenAPI 2.3.0, read
   * 2026-11-30).
   */
  private answer(run: Run, request: InputLine): void {
    const { batch } = run;
    const response = (status_code: number, body: unknown) => ({
      status_code,
      request_id: `req_${randomBytes(16).toString('hex')}`,
      body,
    });
    const lineFault = this.faults.takeBatchLineFault(request.custom_id);
    const answered = lineFault
      ? lineError(lineFault)
      : answerSafely(() =>
          batch.endpoint === EMBEDDINGS
            ? createEmbeddings(request.body)
            : completeChat(this.store, request.body),
        );
    if (answered instanceof ApiError) {
      batch.request_counts.failed += 1;
      run.errors.push(outputLine(request.custom_id, response(answered.status, answered.body()), null));
      return;
    }
    batch.request_counts.completed += 1;
    const usage = batch.usage;
    if ('tokens' in answered) {
      // Embeddings bill input tokens only (docs/embeddings-facts.md 1.4).
      usage.input_tokens += answered.tokens;
      this.store.batchEmbeddingCalls.record(answered.model, {
        inputs: answered.inputs,
        tokens: answered.tokens,
      });
    } else {
      usage.input_tokens += answered.usage.promptTokens;
      usage.output_tokens += answered.usage.completionTokens;
      this.store.batchChatCompletions.record(answered.model, answered.usage);
    }
    usage.total_tokens = usage.input_tokens + usage.output_tokens;
    run.output.push(outputLine(request.custom_id, response(200, answered.body), null));
  }

  /**
   * The guide's "Batch expiration": unfinished requests are cancelled and written to the error file
   * (batch_expired), and the answered ones are in the output file. Whether expired lines count in
   * request_counts.failed is not documented; here they do not, so completed + failed < total tells.
   */
  private expire(run: Run): void {
    for (const request of run.requests.slice(run.answered) as InputLine[])
      run.errors.push(
        outputLine(request.custom_id, null, { code: 'batch_expired', message: EXPIRED_MESSAGE }),
      );
    this.writeFiles(run);
    this.end(run, 'expired');
  }

  private fail(run: Run, errors: BatchError[]): void {
    run.batch.errors = { object: 'list', data: errors };
    this.end(run, 'failed');
  }

  /**
   * The output file holds the answered lines, the error file the refused and expired ones; a file with
   * no line is not made, as a live batch of only failed lines had output_file_id null and an
   * error_file_id (ProjectTech4DevAI/kaapi-backend#723, 2026-03-28).
   */
  private writeFiles(run: Run): void {
    const { batch } = run;
    const write = (lines: Buffer[], kind: 'output' | 'error') =>
      lines.length
        ? this.store.addFile(`batch_${batch.id}_${kind}.jsonl`, 'batch_output', Buffer.concat(lines)).id
        : null;
    batch.output_file_id = write(run.output, 'output');
    run.output = [];
    batch.error_file_id = write(run.errors, 'error');
    run.errors = [];
  }

  private end(run: Run, status: BatchEnd): void {
    run.batch.status = status;
    run.batch[`${status}_at`] = now();
    this.runs.delete(run.batch.id);
    this.onEnded(run.batch);
  }
}

/**
 * The answering function's answer; an unexpected error is the 500 server_error the route would answer
 * with (http.ts), not an exception thrown out of a timer.
 */
function answerSafely<T>(answer: () => T | ApiError): T | ApiError {
  try {
    return answer();
  } catch (error) {
    return new ApiError(500, (error as Error).message, null, null, 'server_error');
  }
}

/** A failed line's error (faults.ts failNextBatchLines), in OpenAI's error body, as the route answers one. */
function lineError(fault: BatchLineFault): ApiError {
  return new ApiError(
    fault.status,
    fault.message ??
      (fault.status >= 500
        ? 'The server had an error while processing your request. Sorry about that!'
        : `Injected fault: HTTP ${fault.status}`),
    null,
    fault.code ?? null,
    fault.status >= 500
      ? 'server_error'
      : fault.status === 429
        ? 'rate_limit_error'
        : 'invalid_request_error',
  );
}

/**
 * How many embedding inputs a line's `input` holds: a string or one token array is one, an array of
 * strings or of token arrays one per item. A malformed input counts one (its line is refused when answered).
 */
function embeddingInputs(input: unknown): number {
  if (!Array.isArray(input) || input.length === 0 || typeof input[0] === 'number') return 1;
  return input.length;
}

/** A line of the output or error file, in the guide's shape: {id, custom_id, response, error}, as bytes. */
function outputLine(
  customId: string,
  response: { status_code: number; request_id: string; body: unknown } | null,
  error: { code: string; message: string } | null,
): Buffer {
  return Buffer.from(
    `${JSON.stringify({
      id: `batch_req_${randomBytes(16).toString('hex')}`,
      custom_id: customId,
      response,
      error,
    })}\n`,
  );
}

/**
 * The input file's requests, or every problem found with the line it is on (1-based). The codes are those
 * OpenAI reports in errors.data: invalid_json_line ("This line is not parseable as valid JSON.", as
 * observed), duplicate_custom_id, url_mismatch, model_mismatch, empty_file and too_many_tasks, as listed in
 * stdapi-ai/stdapi.ai#240 (2026-09-10); their other messages were not found, these say the rule. A
 * missing field or a method other than POST has no code on record; missing_required_parameter and
 * invalid_value are OpenAI's codes for those elsewhere.
 */
export function parseInputFile(text: string, endpoint: string): InputLine[] | { errors: BatchError[] } {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (!lines.length)
    return { errors: [batchError('empty_file', 'The input file has no requests.', null, null)] };
  if (lines.length > MAX_REQUESTS)
    return {
      errors: [
        batchError(
          'too_many_tasks',
          `The input file has ${lines.length} requests; a batch can have at most ${MAX_REQUESTS}.`,
          null,
          null,
        ),
      ],
    };
  const errors: BatchError[] = [];
  const requests: InputLine[] = [];
  const seen = new Set<string>();
  let model: string | undefined;
  lines.forEach((text, index) => {
    const line = index + 1;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return errors.push(
        batchError('invalid_json_line', 'This line is not parseable as valid JSON.', null, line),
      );
    }
    const parsed = inputLine.safeParse(raw);
    if (!parsed.success) {
      const { param, missing, message } = firstIssue(parsed.error, raw);
      return errors.push(
        missing
          ? batchError('missing_required_parameter', `Missing required parameter: '${param}'.`, param, line)
          : batchError('invalid_value', `Invalid '${param}': ${message}.`, param || null, line),
      );
    }
    const request = parsed.data;
    if (seen.has(request.custom_id))
      return errors.push(
        batchError(
          'duplicate_custom_id',
          `The custom_id '${request.custom_id}' is used by an earlier line; each must be unique.`,
          'custom_id',
          line,
        ),
      );
    seen.add(request.custom_id);
    if (request.method !== 'POST')
      return errors.push(
        batchError(
          'invalid_value',
          `Invalid 'method': ${request.method}; only POST is supported.`,
          'method',
          line,
        ),
      );
    if (request.url !== endpoint)
      return errors.push(
        batchError(
          'url_mismatch',
          `The url '${request.url}' does not match the batch's endpoint '${endpoint}'.`,
          'url',
          line,
        ),
      );
    model ??= request.body.model;
    if (request.body.model !== model)
      return errors.push(
        batchError(
          'model_mismatch',
          `The model '${request.body.model}' differs from the file's first model '${model}'; each input file can only include requests to a single model.`,
          'body.model',
          line,
        ),
      );
    requests.push(request);
  });
  return errors.length ? { errors } : requests;
}

/** The first problem zod found: the parameter's dotted path, and whether the value is missing from `raw`. */
function firstIssue(error: z.ZodError, raw: unknown): { param: string; missing: boolean; message: string } {
  const issue = error.issues[0]!;
  let value: unknown = raw;
  for (const key of issue.path)
    value =
      value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  return { param: issue.path.map(String).join('.'), missing: value === undefined, message: issue.message };
}

const batchError = (
  code: string,
  message: string,
  param: string | null,
  line: number | null,
): BatchError => ({
  code,
  message,
  param,
  line,
});

function createBatch(store: Store, batches: BatchRunner, raw: unknown): Batch {
  const parsed = createRequest.safeParse(raw);
  if (!parsed.success) {
    const { param, missing, message } = firstIssue(parsed.error, raw);
    if (missing)
      throw new ApiError(400, `Missing required parameter: '${param}'.`, param, 'missing_required_parameter');
    throw new ApiError(400, `Invalid '${param}': ${message}.`, param || null, 'invalid_value');
  }
  const request = parsed.data;
  // OpenAI's wording for these refusals was not found; each message names the parameter and the rule.
  if (request.completion_window !== '24h')
    throw new ApiError(
      400,
      `Invalid 'completion_window': '${request.completion_window}'. Currently only '24h' is supported.`,
      'completion_window',
      'invalid_value',
    );
  if (!(SPEC_ENDPOINTS as readonly string[]).includes(request.endpoint))
    throw new ApiError(
      400,
      `Invalid 'endpoint': '${request.endpoint}'. Supported values are: ${SPEC_ENDPOINTS.join(', ')}.`,
      'endpoint',
      'invalid_value',
    );
  if (!RUN_ENDPOINTS.includes(request.endpoint))
    throw new ApiError(
      400,
      `This emulator runs only ${RUN_ENDPOINTS.join(' and ')} batches; OpenAI runs ${request.endpoint} batches, the emulator does not.`,
      'endpoint',
      'unsupported_value',
    );
  const file = store.file(request.input_file_id);
  // As the files routes answer an unknown file.
  if (!file) throw new ApiError(404, `No such File object: ${request.input_file_id}`, 'input_file_id');
  // "must be uploaded with the purpose `batch`" (CreateBatchRequest.input_file_id in the spec).
  if (file.purpose !== 'batch')
    throw new ApiError(
      400,
      `The input file ${file.id} has purpose '${file.purpose}'; a batch's input file must be uploaded with purpose 'batch'.`,
      'input_file_id',
      'invalid_value',
    );
  const createdAt = now();
  const batch: Batch = {
    id: `batch_${randomBytes(16).toString('hex')}`,
    object: 'batch',
    endpoint: request.endpoint,
    model: null,
    errors: null,
    input_file_id: file.id,
    completion_window: '24h',
    status: 'validating',
    output_file_id: null,
    error_file_id: null,
    created_at: createdAt,
    in_progress_at: null,
    expires_at: createdAt + WINDOW_SECONDS,
    finalizing_at: null,
    completed_at: null,
    failed_at: null,
    expired_at: null,
    cancelling_at: null,
    cancelled_at: null,
    request_counts: { total: 0, completed: 0, failed: 0 },
    // "Only populated on batches created after September 7, 2025" (Batch.usage in the spec): all of these.
    usage: {
      input_tokens: 0,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 0,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 0,
    },
    metadata: request.metadata ?? null,
  };
  batches.start(batch);
  return batch;
}

function getBatch(store: Store, id: string): Batch {
  const batch = store.batch(id);
  // OpenAI's wording was not found; this is the files routes' answer to an unknown id.
  if (!batch) throw new ApiError(404, `No such Batch object: ${id}`, 'batch_id');
  return batch;
}

export const batchRoutes: Route = async ({ store, batches }, { method, path, url, request }) => {
  if (path === '/batches') {
    if (method === 'POST') return { json: await createBatch(store, batches, await readJson(request)) };
    if (method === 'GET') return { json: page(store.allBatches().reverse(), url) };
    return undefined;
  }
  const m = /^\/batches\/([^/]+)(\/cancel)?$/.exec(path);
  if (!m) return undefined;
  const batch = getBatch(store, decodeURIComponent(m[1]!));
  if (method === 'GET' && !m[2]) return { json: batch };
  if (method === 'POST' && m[2]) {
    batches.cancel(batch);
    return { json: batch };
  }
  return undefined;
};
