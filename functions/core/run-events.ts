import { createHash } from 'node:crypto';
import { z } from 'zod';
import { redactSecrets } from './redact.js';
import type { RunStore } from './ports.js';
import {
  RUN_KINDS,
  RUN_STATUSES,
  RunEmbeddingSchema,
  RunEvaluationSchema,
  runKeys,
  runKindOf,
  TERMINAL_STATUSES,
  type RunRecord,
} from './run.js';

/**
 * Run events for automation (issue #13, point 4): every move of a run's status is put on the account's
 * default EventBridge bus, so users can wire their own rules (deploy the new model when a run succeeds,
 * post failures to chat). docs/run-events.md documents them; its JSON Schema is generated from
 * RunEventDetailSchema below (`npm run docs`), and a test fails while the two differ.
 *
 * Delivery: an event is published right after the RunStore write that made the move, and only when the
 * write made it (advance returns the record only then; create only the first time), so a retried or
 * duplicated step never publishes twice. A failed PutEvents (after the SDK's retries) is logged and
 * does not fail the step: the run's recorded state is the truth, the event a notice of it. A PutEvents
 * whose answer was lost may be retried by the SDK and delivered twice, and EventBridge itself delivers
 * to targets at least once: `detail.id` (from runId, status and time of the move) is the same on every
 * copy, for consumers that must act once.
 */

/** The event's `source`. */
export const RUN_EVENT_SOURCE = 'tunedrop';
/** The event's `detail-type`: one for every move, filtered on by `detail.status`. */
export const RUN_STATUS_CHANGE = 'Run Status Change';
/** `detail.version`: bumped only by a change a consumer could notice (a field removed or retyped). */
export const RUN_EVENT_VERSION = 1;

const s3Uri = z.string().regex(/^s3:\/\//);

export const RunEventDetailSchema = z
  .object({
    version: z.literal(RUN_EVENT_VERSION).describe('The detail schema version.'),
    id: z
      .string()
      .regex(/^[0-9a-f]{32}$/)
      .describe(
        'The same for every copy of one move (derived from runId, status and at): consumers dedupe on it.',
      ),
    runId: z.string().describe('The run (also the Step Functions execution name).'),
    family: z
      .string()
      .describe(
        'The family: the folder under incoming/ the file was dropped in (an embedding run: the collection under embed/).',
      ),
    kind: z
      .enum(RUN_KINDS)
      .describe("What the run makes: a fine-tuned model, or a collection's embeddings (#15)."),
    embedding: RunEmbeddingSchema.optional().describe(
      "An embedding run's model, dimensions, mode and, once collected, counts, tokens and output.",
    ),
    status: z.enum(RUN_STATUSES).describe('The status the run moved to.'),
    previousStatus: z
      .enum(RUN_STATUSES)
      .optional()
      .describe('The status it moved from; absent on RECEIVED (the run was just created).'),
    at: z.string().describe('When the move was recorded (ISO 8601, UTC), as in the run item history.'),
    terminal: z.boolean().describe('True when the run has ended (SUCCEEDED, REJECTED, FAILED, ...).'),
    trigger: z.enum(['drop', 'schedule', 'operator']).optional().describe('What started the run.'),
    provider: z.string().optional().describe('openai, azure-openai or bedrock, once known.'),
    baseModel: z.string().optional(),
    parentModel: z.string().optional().describe('The model the job trained from, once known.'),
    providerJobId: z.string().optional(),
    fineTunedModel: z
      .string()
      .optional()
      .describe('The new model (on SUCCEEDED, and on SUCCEEDED_NOT_PROMOTED unless it was deleted).'),
    trainedTokens: z.number().optional(),
    costUsd: z.number().optional().describe('What the job cost (on SUCCEEDED and SUCCEEDED_NOT_PROMOTED).'),
    evaluation: RunEvaluationSchema.optional().describe(
      "The new model's evaluation beside the current (or base) model and the promotion decision, once made: " +
        'a deployment rule should act on SUCCEEDED (promoted) only.',
    ),
    estimatedCostUsd: z.number().optional().describe('The estimate made before training.'),
    error: z
      .object({
        code: z.string().optional(),
        message: z.string(),
        fix: z.string().optional(),
      })
      .optional()
      .describe('Why the run ended without a model (REJECTED, FAILED, CANCELLED, TIMED_OUT); keys masked.'),
    links: z
      .object({
        validationReport: s3Uri.describe('The validation report (validation.md).'),
        report: s3Uri.optional().describe("The run's report, once written."),
        results: s3Uri.optional().describe('results.csv (on SUCCEEDED).'),
        summary: s3Uri.optional().describe('summary.json (on SUCCEEDED).'),
        output: s3Uri.optional().describe("An embedding run's embeddings.parquet (or .jsonl), on SUCCEEDED."),
        manifest: s3Uri.optional().describe("An embedding run's manifest.json, on SUCCEEDED."),
        execution: z
          .string()
          .url()
          .optional()
          .describe(
            "The Step Functions console page of the run's execution (not before it is started, nor for a rejected run).",
          ),
      })
      .describe('Where to read more.'),
  })
  .describe('The detail of a tunedrop "Run Status Change" event (source "tunedrop").');
export type RunEventDetail = z.infer<typeof RunEventDetailSchema>;

/** One event as it goes to PutEvents (Source, DetailType, Detail as an object). */
export interface RunEvent {
  source: typeof RUN_EVENT_SOURCE;
  detailType: typeof RUN_STATUS_CHANGE;
  detail: RunEventDetail;
}

/** Where run events go: EventBridge in production, a list in tests. */
export interface RunEvents {
  /** Publishes the events; throws when any was not accepted. */
  published(events: readonly RunEvent[]): Promise<void>;
}

/** `runId|status|at` → 32 hex characters: the same move gives the same id, another move another. */
export function runEventId(runId: string, status: string, at: string): string {
  return createHash('sha256').update(`${runId}|${status}|${at}`).digest('hex').slice(0, 32);
}

/** The Step Functions console page of an execution (its ARN's region picks the console's). */
export function executionConsoleUrl(executionArn: string): string {
  const region = executionArn.split(':')[3] ?? 'us-east-1';
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${encodeURIComponent(executionArn)}`;
}

/** The execution of a run: the state machine's ARN with `execution` and the run id as its name. */
export function executionArnOf(stateMachineArn: string, runId: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${runId}`;
}

/**
 * The event of the run's latest move (the last entry of its history), or undefined when that entry
 * does not change the status (a TRAINING progress note: the provider's own status changed; not an event).
 */
export function runStatusChangeEvent(run: RunRecord): RunEvent | undefined {
  const last = run.history.at(-1);
  if (!last || last.status !== run.status) return undefined;
  const previous = run.history.at(-2)?.status;
  if (previous === run.status) return undefined;
  const keys = runKeys(run.runId);
  const uri = (key: string) => `s3://${run.source.bucket}/${key}`;
  const ended = TERMINAL_STATUSES.has(run.status);
  const mask = (text: string | undefined) => (text === undefined ? undefined : redactSecrets(text));
  const detail: RunEventDetail = {
    version: RUN_EVENT_VERSION,
    id: runEventId(run.runId, run.status, last.at),
    runId: run.runId,
    family: run.family,
    kind: runKindOf(run),
    ...(run.embedding ? { embedding: run.embedding } : {}),
    status: run.status,
    ...(previous ? { previousStatus: previous } : {}),
    at: last.at,
    terminal: ended,
    ...(run.trigger ? { trigger: run.trigger } : {}),
    ...(run.provider ? { provider: run.provider } : {}),
    ...(run.baseModel ? { baseModel: run.baseModel } : {}),
    ...(run.parentModel ? { parentModel: run.parentModel } : {}),
    ...(run.providerJobId ? { providerJobId: run.providerJobId } : {}),
    ...(run.fineTunedModel ? { fineTunedModel: run.fineTunedModel } : {}),
    ...(run.trainedTokens !== undefined ? { trainedTokens: run.trainedTokens } : {}),
    ...(run.costUsd !== undefined ? { costUsd: run.costUsd } : {}),
    ...(run.estimatedCostUsd !== undefined ? { estimatedCostUsd: run.estimatedCostUsd } : {}),
    ...(run.evaluation ? { evaluation: run.evaluation } : {}),
    ...(run.error && ended
      ? {
          error: {
            ...(run.error.code ? { code: mask(run.error.code)! } : {}),
            message: mask(run.error.message)!,
            ...(run.error.fix ? { fix: mask(run.error.fix)! } : {}),
          },
        }
      : {}),
    links: {
      validationReport: uri(run.validationReportKey ?? keys.validationMarkdown),
      ...(run.resultsKey ? { results: uri(run.resultsKey) } : {}),
      ...(run.summaryKey ? { summary: uri(run.summaryKey) } : {}),
      ...(run.reportKey ? { report: uri(run.reportKey) } : {}),
      ...(run.embedding?.outputKey ? { output: uri(run.embedding.outputKey) } : {}),
      ...(run.embedding?.manifestKey ? { manifest: uri(run.embedding.manifestKey) } : {}),
      // The run item says which execution is the run's (every workflow function can link it, though
      // none knows the state machine's ARN: that would be a cycle in the template).
      ...(run.executionArn && run.status !== 'RECEIVED'
        ? { execution: executionConsoleUrl(run.executionArn) }
        : {}),
    },
  };
  return {
    source: RUN_EVENT_SOURCE,
    detailType: RUN_STATUS_CHANGE,
    detail: RunEventDetailSchema.parse(detail),
  };
}

export interface PublishingOptions {
  /** Told when publishing failed; the run's recorded state stands (the step goes on). */
  onPublishError?(error: unknown, events: readonly RunEvent[]): void;
}

/**
 * The RunStore the steps get (functions/adapters/deps.ts): `store`, publishing each move it makes. Only
 * `create` (the first time) and `advance` (when the move happened) publish, so a retried step publishes
 * nothing twice and no step can forget to.
 */
export function publishingRunStore(
  store: RunStore,
  events: RunEvents,
  options: PublishingOptions = {},
): RunStore {
  const publish = async (run: RunRecord) => {
    const event = runStatusChangeEvent(run);
    if (!event) return;
    try {
      await events.published([event]);
    } catch (error) {
      options.onPublishError?.(error, [event]);
    }
  };
  return {
    get: (runId) => store.get(runId),
    amend: (runId, status, fields) => store.amend(runId, status, fields),
    recordLateJob: (runId, job) => store.recordLateJob(runId, job),
    findByProviderJob: (providerJobId) => store.findByProviderJob(providerJobId),
    linkProviderJob: (runId, providerJobId) => store.linkProviderJob(runId, providerJobId),
    listFamily: (family) => store.listFamily(family),
    async create(record) {
      const created = await store.create(record);
      if (created) await publish(record);
      return created;
    },
    async advance(runId, status, fields) {
      const run = await store.advance(runId, status, fields);
      if (run) await publish(run);
      return run;
    },
  };
}

/** The JSON Schema of `detail` (docs/run-events.md shows it; `npm run docs` writes it there). */
export function runEventDetailJsonSchema(): string {
  return JSON.stringify(z.toJSONSchema(RunEventDetailSchema, { io: 'output' }), null, 2);
}
