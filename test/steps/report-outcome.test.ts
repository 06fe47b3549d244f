import { formatErrorMessage, ProviderRejectedError } from '../../functions/core/errors.js';
import type { ObjectStore } from '../../functions/core/ports.js';
import type { RunStatus } from '../../functions/core/run.js';
import type { ExecutionInput, RecordInput } from '../../functions/core/workflow-state.js';
import { reconcileRun } from '../../functions/reconcile/reconcile-run.js';
import { recordOutcome } from '../../functions/record/record-outcome.js';
import { validateUpload } from '../../functions/validate/validate-upload.js';
import {
  chatDataset,
  fakeProvider,
  memoryObjectStore,
  memoryRunStore,
  memorySlots,
  noHandOver,
  providerJob,
  reconcileWith,
  testModels,
} from '../support/fakes.js';

/**
 * A run that passed validation and then ended without a model: its validation report, written by the
 * real Validate step, must stop saying that training will start (issue #10).
 */
async function validatedRun(status: RunStatus = 'TRAINING') {
  const objects = memoryObjectStore({ 'bucket/incoming/support/tickets.jsonl': chatDataset(50) });
  const { runs, records } = memoryRunStore();
  let input: ExecutionInput | undefined;
  const outcome = await validateUpload(
    { bucket: 'bucket', key: 'incoming/support/tickets.jsonl', versionId: 'v1', etag: '"e1"', size: 10 },
    {
      store: objects.store,
      runs,
      startRun: async (_runId, started) => void (input = started),
      executionArn: (runId) => `arn:aws:states:eu-west-1:123456789012:execution:Runs:${runId}`,
      defaults: {},
      incomingPrefix: 'incoming/',
      now: () => new Date('2026-11-24T10:00:00Z'),
    },
  );
  if (outcome.outcome !== 'started' || !input)
    throw new Error(`validation did not start the run: ${outcome.outcome}`);
  const path: RunStatus[] = ['PREPARING', 'UPLOADING', 'TRAINING', 'COLLECTING'];
  for (const step of path.slice(0, path.indexOf(status) + 1)) await runs.advance(input.runId, step);
  const keys = { json: `runs/${input.runId}/validation.json`, md: `runs/${input.runId}/validation.md` };
  const checked = { json: objects.text(keys.json), md: objects.text(keys.md) };
  expect(checked.md).toContain('Valid: training will start');
  const reportErrors: unknown[] = [];
  const deps = {
    runs,
    slots: memorySlots().slots,
    handOver: noHandOver,
    models: testModels(),
    reports: objects.store,
    onReportError: (error: unknown) => void reportErrors.push(error),
  };
  const report = () => ({
    json: JSON.parse(objects.text(keys.json)) as Record<string, unknown>,
    md: objects.text(keys.md),
    raw: [objects.text(keys.json), objects.text(keys.md)],
  });
  return { input, runs, records, objects, keys, checked, deps, report, reportErrors };
}

/** The report below its top: what validation found, which an ending must not change. */
const body = (md: string) => md.slice(md.indexOf('| | |'));

const job = {
  jobId: 'ftjob-1',
  createdAt: 1_700_000_000,
  polls: 3,
  waitSeconds: 30,
};

describe('a run that passed validation and then ended without a model', () => {
  it('has its report say the provider refused the file, with the cause and the fix, when Record records the failure', async () => {
    const run = await validatedRun('UPLOADING');
    const error = new ProviderRejectedError(
      'OpenAI refused the training file: it has examples over the context length',
      'Shorten the examples it names, then drop the file again.',
      'invalid_file',
    );
    const failure = {
      Error: error.name,
      Cause: JSON.stringify({ errorType: error.name, errorMessage: formatErrorMessage(error) }),
    };
    expect(await recordOutcome({ ...run.input, failure }, run.deps)).toEqual({
      runId: run.input.runId,
      status: 'FAILED',
    });

    const { json, md } = run.report();
    expect(md).toContain(
      '**❌ Validation passed, but the run FAILED at the provider: OpenAI refused the training file: it has examples over the context length.** Shorten the examples it names, then drop the file again.',
    );
    expect(md).not.toContain('training will start');
    expect(body(md)).toBe(body(run.checked.md));
    expect(json).toEqual({
      ...JSON.parse(run.checked.json),
      outcome: {
        status: 'FAILED',
        code: 'invalid_file',
        message: 'OpenAI refused the training file: it has examples over the context length',
        fix: 'Shorten the examples it names, then drop the file again.',
        at: run.records.get(run.input.runId)!.finishedAt,
        atProvider: true,
      },
    });
    expect(run.reportErrors).toEqual([]);
  });

  it("says the job failed at the provider with the provider's reason (a quota, here)", async () => {
    const run = await validatedRun('TRAINING');
    const input: RecordInput = {
      ...run.input,
      job: {
        ...job,
        status: 'failed',
        phase: 'failed',
        error: { code: 'quota_exceeded', message: 'the organization is over its training quota' },
      },
    };
    await recordOutcome(input, run.deps);
    const { json, md } = run.report();
    expect(md).toContain(
      '**❌ Validation passed, but the run FAILED at the provider: provider job ftjob-1 failed: the organization is over its training quota.**',
    );
    expect(json.outcome).toMatchObject({ status: 'FAILED', code: 'quota_exceeded', atProvider: true });
  });

  it('says the job was cancelled at the provider, or timed out past maxTrainingHours', async () => {
    const cancelled = await validatedRun('TRAINING');
    await recordOutcome(
      { ...cancelled.input, job: { ...job, status: 'cancelled', phase: 'cancelled', error: null } },
      cancelled.deps,
    );
    expect(cancelled.report().md).toContain(
      '**❌ Validation passed, but the run was CANCELLED at the provider: provider job ftjob-1 was cancelled.** Drop the file again to start a new run.',
    );

    const timedOut = await validatedRun('TRAINING');
    await recordOutcome(
      { ...timedOut.input, job: { ...job, status: 'cancelled', phase: 'timed_out', error: null } },
      timedOut.deps,
    );
    expect(timedOut.report().md).toContain(
      '**❌ Validation passed, but the run TIMED OUT: provider job ftjob-1 took too long.** Raise "maxTrainingHours"',
    );
    expect(timedOut.report().json.outcome).toMatchObject({ status: 'TIMED_OUT', atProvider: false });
  });

  it('writes the same report when Record runs again and when reconcile follows it', async () => {
    const run = await validatedRun('TRAINING');
    const input: RecordInput = {
      ...run.input,
      job: { ...job, status: 'failed', phase: 'failed', error: { code: 'job_failed', message: 'boom' } },
    };
    await recordOutcome(input, run.deps);
    const first = run.report().raw;
    await recordOutcome(input, run.deps);
    expect(run.report().raw).toEqual(first);
    // Record failure ends the execution FAILED, so reconcile sees the run too; it keeps the recorded end.
    const { provider } = fakeProvider({ findJobByRunId: async () => undefined });
    await reconcileRun(
      { runId: run.input.runId, status: 'FAILED' },
      reconcileWith({ ...run.deps, provider }),
    );
    expect(run.report().raw).toEqual(first);
  });

  it('is still recorded when the report cannot be rewritten, and the failure is told, not thrown', async () => {
    const run = await validatedRun('TRAINING');
    const broken: ObjectStore = {
      ...run.objects.store,
      write: async () => {
        throw Object.assign(new Error('Access Denied'), { name: 'AccessDenied' });
      },
    };
    const input: RecordInput = {
      ...run.input,
      job: { ...job, status: 'failed', phase: 'failed', error: { code: 'job_failed', message: 'boom' } },
    };
    await expect(recordOutcome(input, { ...run.deps, reports: broken })).resolves.toEqual({
      runId: run.input.runId,
      status: 'FAILED',
    });
    expect(run.records.get(run.input.runId)).toMatchObject({
      status: 'FAILED',
      error: { code: 'job_failed' },
    });
    expect(run.reportErrors).toEqual([expect.objectContaining({ name: 'AccessDenied' })]);
    expect(run.report().md).toBe(run.checked.md);

    // Reconcile, which follows Record failure, amends it then.
    const { provider } = fakeProvider({ findJobByRunId: async () => undefined });
    await reconcileRun(
      { runId: run.input.runId, status: 'FAILED' },
      reconcileWith({ ...run.deps, provider }),
    );
    expect(run.report().md).toContain(
      'Validation passed, but the run FAILED at the provider: provider job ftjob-1 failed: boom.',
    );
  });

  it('has its report say it was stopped when reconcile ends it', async () => {
    const run = await validatedRun('TRAINING');
    await run.runs.advance(run.input.runId, 'TRAINING', { providerJobId: 'ftjob-9' });
    const { provider } = fakeProvider({
      getJob: async (id) => providerJob({ id, status: 'running' }),
      cancelJob: async (id) => providerJob({ id, status: 'cancelled' }),
    });
    expect(
      await reconcileRun(
        { runId: run.input.runId, status: 'ABORTED' },
        reconcileWith({ ...run.deps, provider }),
      ),
    ).toMatchObject({ status: 'CANCELLED', changed: true });
    const { json, md } = run.report();
    expect(md).toContain(
      '**❌ Validation passed, but the run was CANCELLED: the run was stopped (its Step Functions execution was stopped).** Drop the file again to start a new run.',
    );
    expect(body(md)).toBe(body(run.checked.md));
    expect(json.outcome).toMatchObject({ status: 'CANCELLED', code: 'execution_stopped', atProvider: false });
  });
});

describe('a run that succeeded', () => {
  it('keeps the report as validation wrote it', async () => {
    const run = await validatedRun('COLLECTING');
    const results = {
      resultsKey: 'r',
      summaryKey: 's',
      fineTunedModel: 'ft:x',
      trainedTokens: 10,
      costUsd: 0.5,
    };
    await recordOutcome({ ...run.input, results }, run.deps);
    expect(run.report().raw).toEqual([run.checked.json, run.checked.md]);
  });
});
