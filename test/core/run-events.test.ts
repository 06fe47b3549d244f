import { clearRegisteredSecrets, registerSecret } from '../../functions/core/redact.js';
import {
  executionConsoleUrl,
  publishingRunStore,
  RUN_EVENT_SOURCE,
  RUN_STATUS_CHANGE,
  RunEventDetailSchema,
  runEventDetailJsonSchema,
  runEventId,
  runStatusChangeEvent,
  type RunEvent,
} from '../../functions/core/run-events.js';
import { RUN_STATUSES, TERMINAL_STATUSES, type RunRecord, type RunStatus } from '../../functions/core/run.js';
import { memoryRunStore } from '../support/fakes.js';

const EXECUTION_ARN = 'arn:aws:states:eu-west-1:123456789012:execution:Runs:tickets-0123456789abcdef';
const at = (n: number) => `2026-11-30T10:00:0${n}.000Z`;

function runIn(status: RunStatus, fields: Partial<RunRecord> = {}): RunRecord {
  const before: RunStatus =
    status === 'RECEIVED' || status === 'REJECTED'
      ? 'RECEIVED'
      : status === 'COLLECTING'
        ? 'TRAINING'
        : 'COLLECTING';
  return {
    runId: 'tickets-0123456789abcdef',
    family: 'support',
    status,
    history:
      status === 'RECEIVED'
        ? [{ status, at: at(0) }]
        : [
            { status: 'RECEIVED', at: at(0) },
            { status: before, at: at(1) },
            { status, at: at(2) },
          ],
    source: { bucket: 'data', key: 'incoming/support/tickets.jsonl' },
    createdAt: at(0),
    updatedAt: at(2),
    ...fields,
  };
}

describe('runStatusChangeEvent', () => {
  it.each(RUN_STATUSES)('builds a valid v1 "Run Status Change" event for %s', (status) => {
    // A rejected run never has an execution; every other has one from its start.
    const event = runStatusChangeEvent(
      runIn(status, status === 'REJECTED' ? {} : { executionArn: EXECUTION_ARN }),
    )!;
    expect(event.source).toBe(RUN_EVENT_SOURCE);
    expect(event.detailType).toBe(RUN_STATUS_CHANGE);
    expect(RunEventDetailSchema.parse(event.detail)).toEqual(event.detail);
    expect(event.detail).toMatchObject({
      version: 1,
      runId: 'tickets-0123456789abcdef',
      family: 'support',
      status,
      terminal: TERMINAL_STATUSES.has(status),
      at: status === 'RECEIVED' ? at(0) : at(2),
      links: { validationReport: 's3://data/runs/tickets-0123456789abcdef/validation.md' },
    });
    expect(event.detail.previousStatus).toBe(
      status === 'RECEIVED'
        ? undefined
        : status === 'REJECTED'
          ? 'RECEIVED'
          : status === 'COLLECTING'
            ? 'TRAINING'
            : 'COLLECTING',
    );
    // No execution before the run is started, nor for a file refused at validation.
    expect(event.detail.links.execution === undefined).toBe(status === 'RECEIVED' || status === 'REJECTED');
  });

  it('carries what is known of the run: model, cost, results and the console page', () => {
    const event = runStatusChangeEvent(
      runIn('SUCCEEDED', {
        provider: 'openai',
        baseModel: 'gpt-4.1-mini-2025-04-14',
        parentModel: 'gpt-4.1-mini-2025-04-14',
        fineTunedModel: 'ft:gpt-4.1-mini:org::abc',
        costUsd: 0.42,
        estimatedCostUsd: 0.4,
        trainedTokens: 1234,
        resultsKey: 'runs/tickets-0123456789abcdef/results.csv',
        reportKey: 'runs/tickets-0123456789abcdef/report.html',
        trigger: 'drop',
        executionArn: EXECUTION_ARN,
      }),
    )!;
    expect(event.detail).toMatchObject({
      fineTunedModel: 'ft:gpt-4.1-mini:org::abc',
      costUsd: 0.42,
      estimatedCostUsd: 0.4,
      trigger: 'drop',
      links: {
        results: 's3://data/runs/tickets-0123456789abcdef/results.csv',
        report: 's3://data/runs/tickets-0123456789abcdef/report.html',
        execution: executionConsoleUrl(EXECUTION_ARN),
      },
    });
    expect(event.detail.links.execution).toMatch(/^https:\/\/eu-west-1\.console\.aws\.amazon\.com\/states\//);
  });

  it('masks keys in the error, and keeps no error name (a code, a message and a fix)', () => {
    clearRegisteredSecrets();
    registerSecret('azure-secret-value-123');
    try {
      const event = runStatusChangeEvent(
        runIn('FAILED', {
          error: {
            name: 'AuthenticationError',
            code: 'invalid_api_key',
            message: 'Incorrect API key provided: sk-proj-abcdefghijklmnop1234 (azure-secret-value-123)',
            fix: 'Replace sk-proj-abcdefghijklmnop1234 in the secret.',
          },
        }),
      )!;
      expect(event.detail.error).toEqual({
        code: 'invalid_api_key',
        message: 'Incorrect API key provided: sk-…[redacted] ([redacted secret])',
        fix: 'Replace sk-…[redacted] in the secret.',
      });
      expect(JSON.stringify(event)).not.toMatch(/sk-proj|azure-secret/);
    } finally {
      clearRegisteredSecrets();
    }
  });

  it('makes no event of a TRAINING progress note (the provider status changed, not the run status)', () => {
    const run = runIn('TRAINING');
    run.history = [
      { status: 'RECEIVED', at: at(0) },
      { status: 'TRAINING', at: at(1), detail: 'queued' },
      { status: 'TRAINING', at: at(2), detail: 'running' },
    ];
    expect(runStatusChangeEvent(run)).toBeUndefined();
  });

  it('gives one id per move: the same for the same move, another for another', () => {
    expect(runEventId('r', 'SUCCEEDED', at(1))).toBe(runEventId('r', 'SUCCEEDED', at(1)));
    expect(runEventId('r', 'SUCCEEDED', at(1))).not.toBe(runEventId('r', 'FAILED', at(1)));
    expect(runEventId('r', 'SUCCEEDED', at(1))).not.toBe(runEventId('r', 'SUCCEEDED', at(2)));
    expect(runStatusChangeEvent(runIn('FAILED'))!.detail.id).toBe(
      runEventId('tickets-0123456789abcdef', 'FAILED', at(2)),
    );
  });
});

describe('publishingRunStore', () => {
  const setup = (fail = false) => {
    const { runs } = memoryRunStore();
    const published: RunEvent[] = [];
    const errors: unknown[] = [];
    const store = publishingRunStore(
      runs,
      {
        published: async (events) => {
          if (fail) throw new Error('AccessDeniedException');
          published.push(...events);
        },
      },
      { onPublishError: (error) => errors.push(error) },
    );
    return { store, published, errors };
  };
  const record = runIn('RECEIVED');

  it('publishes a create once and each move once, never a refused move or a progress note', async () => {
    const { store, published } = setup();
    expect(await store.create(record)).toBe(true);
    expect(await store.create(record)).toBe(false);
    await store.advance(record.runId, 'PREPARING');
    expect(await store.advance(record.runId, 'PREPARING')).toBeUndefined();
    await store.advance(record.runId, 'UPLOADING');
    await store.advance(record.runId, 'TRAINING', { detail: 'queued' });
    await store.advance(record.runId, 'TRAINING', { detail: 'running' });
    await store.amend(record.runId, 'TRAINING', { providerStatus: 'running' });
    await store.advance(record.runId, 'FAILED', { error: { name: 'E', message: 'm' } });
    expect(await store.advance(record.runId, 'SUCCEEDED')).toBeUndefined();
    expect(published.map((e) => e.detail.status)).toEqual([
      'RECEIVED',
      'PREPARING',
      'UPLOADING',
      'TRAINING',
      'FAILED',
    ]);
  });

  it('keeps the move when publishing fails, and says so', async () => {
    const { store, errors } = setup(true);
    await store.create(record);
    const moved = await store.advance(record.runId, 'PREPARING');
    expect(moved?.status).toBe('PREPARING');
    expect((await store.get(record.runId))?.status).toBe('PREPARING');
    expect(errors).toHaveLength(2);
  });
});

describe('docs/run-events.md', () => {
  it('shows the JSON Schema of the detail as the zod schema makes it (`npm run docs` writes it)', async () => {
    const { readFile } = await import('node:fs/promises');
    const doc = await readFile(new URL('../../docs/run-events.md', import.meta.url), 'utf8');
    const block =
      /<!-- run-event-schema:start -->\s*```json\n([\s\S]*?)```\s*<!-- run-event-schema:end -->/.exec(doc);
    expect(block).not.toBeNull();
    expect(JSON.parse(block![1]!)).toEqual(JSON.parse(runEventDetailJsonSchema()));
  });
});
