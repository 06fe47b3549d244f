import type { RunRecord } from '../../functions/core/run.js';
import { STATE } from '../../lib/workflow.js';
import { signWebhook } from '../../local/openai-emulator/webhooks.js';
import { SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';

/**
 * The event-driven path end to end: the emulator's signed webhooks reach the stack's function URL, the
 * receiver verifies them with the secret stored as the README says, and wakes the run parked in Wait
 * for job. Faults: a lost webhook (the safety-net timeout finishes the run), a duplicated one (one
 * resume), forged, stale and replayed ones (refused or acknowledged without acting).
 */
let h: LocalHarness;
let drops = 0;
/** Every line the functions logged. */
const logs: string[] = [];

beforeAll(async () => {
  // Jobs train for about half a second (500 scaled seconds): long enough to park before they end.
  h = await startLocalHarness({
    apiKey: 'sk-test-webhooks',
    timing: { validatingMs: 10, queuedMs: 500, msPerStep: 0 },
    cloud: { logLevel: 'INFO', onLog: (_fn, _stream, line) => void logs.push(line) },
  });
  // A first run: its webhook, once verified, tells later runs that webhooks arrive.
  expect((await drop()).status).toBe('SUCCEEDED');
}, 60_000);
afterAll(async () => {
  await h?.close();
});

async function drop(): Promise<RunRecord> {
  return h.dropAndWait(SAMPLE, `incoming/webhooks/run-${++drops}.jsonl`);
}

/** The Wait for job events of a run's execution, by type. */
function waitEvents(run: RunRecord) {
  const execution = h.cloud.stepFunctions.list().find((e) => e.name === run.runId)!;
  const events = execution.history.filter((e) => e.stateName === STATE.wait).map((e) => e.type);
  return {
    parked: events.filter((t) => t === 'TaskSubmitted').length,
    woken: events.filter((t) => t === 'TaskSucceeded').length,
    timedOut: events.filter((t) => t === 'TaskTimedOut').length,
  };
}

const deliveriesFor = (jobId: string) => h.emulator.webhookDeliveries.filter((d) => d.jobId === jobId);
const webhookUrl = () => h.cloud.plan.outputs.WebhookUrl!.value;
const secret = () => h.emulator.webhookEndpoints[0]!.secret;

describe('a run whose job ends', () => {
  it('is woken by the webhook and ends as its job does, without a timeout passing', async () => {
    const run = await drop();
    expect(run.status).toBe('SUCCEEDED');
    expect(waitEvents(run)).toEqual({ parked: 1, woken: 1, timedOut: 0 });
    const job = await h.openai.fineTuning.jobs.retrieve(run.providerJobId!);
    const collecting = run.history.find((h) => h.status === 'COLLECTING')!.at;
    const lateMs = Date.parse(collecting) - job.finished_at! * 1000;
    // finished_at is in whole seconds; the run collects its results within a second and a half of it, in
    // real time (then evaluates the model, which takes as long as its calls do).
    expect(lateMs).toBeLessThan(1_500);
    expect(deliveriesFor(run.providerJobId!)).toEqual([expect.objectContaining({ status: 200, attempt: 1 })]);
  });

  it('ends at the safety-net timeout when its webhook is lost', async () => {
    h.emulator.faults.onNextWebhook({ lose: true });
    const run = await drop();
    expect(run.status).toBe('SUCCEEDED');
    expect(waitEvents(run)).toMatchObject({ woken: 0, timedOut: 1 });
    expect(deliveriesFor(run.providerJobId!)).toEqual([]);
  });

  it('is resumed once when its webhook is delivered twice', async () => {
    h.emulator.faults.onNextWebhook({ duplicate: true });
    const run = await drop();
    await h.emulator.webhooksSettled();
    expect(run.status).toBe('SUCCEEDED');
    expect(waitEvents(run)).toEqual({ parked: 1, woken: 1, timedOut: 0 });
    const deliveries = deliveriesFor(run.providerJobId!);
    expect(deliveries).toHaveLength(2);
    expect(new Set(deliveries.map((d) => d.webhookId)).size).toBe(1);
    expect(deliveries.every((d) => d.status === 200)).toBe(true);
  });
});

describe('the webhook endpoint', () => {
  const post = (body: string, headers: Record<string, string>) =>
    fetch(webhookUrl(), {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', ...headers },
    });
  const event = (jobId: string) =>
    JSON.stringify({
      id: 'evt_forged',
      object: 'event',
      created_at: Math.floor(Date.now() / 1000),
      type: 'fine_tuning.job.succeeded',
      data: { id: jobId },
    });

  it('refuses unsigned, forged and stale deliveries with 400', async () => {
    const body = event('ftjob-anything');
    const now = Math.floor(Date.now() / 1000);
    const forger = `whsec_${Buffer.from('not the endpoint secret, 32 bytes').toString('base64')}`;
    const answers = await Promise.all([
      post(body, {}),
      post(body, signWebhook(forger, { id: 'wh_forged', timestamp: now, body })),
      post(body, signWebhook(secret(), { id: 'wh_stale', timestamp: now - 600, body })),
    ]);
    expect(answers.map((a) => a.status)).toEqual([400, 400, 400]);
  });

  it('acknowledges a replayed delivery without acting on it again', async () => {
    const delivered = h.emulator.webhookEvents.at(-1)!;
    const replay = await post(
      delivered.body,
      signWebhook(secret(), {
        id: delivered.webhookId,
        timestamp: Math.floor(Date.now() / 1000),
        body: delivered.body,
      }),
    );
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual({ status: 'duplicate' });
  });

  it('logs nothing of a refused delivery body', async () => {
    const secretMarker = 'body-marker-that-must-not-be-logged';
    const body = JSON.stringify({
      id: 'evt_x',
      type: 'fine_tuning.job.succeeded',
      data: { id: secretMarker },
    });
    expect(
      (await post(body, { 'webhook-id': 'wh_x', 'webhook-timestamp': '1', 'webhook-signature': 'v1,x' }))
        .status,
    ).toBe(400);
    expect(logs.join('\n')).toContain('"status":"refused"');
    expect(logs.join('\n')).not.toContain(secretMarker);
  });
});

describe('before the webhook secret is set', () => {
  it('answers deliveries 503, so the provider retries them, and runs still end by polling', async () => {
    const early = await startLocalHarness({
      apiKey: 'sk-test-webhooks-unset',
      timing: {
        validatingMs: 10,
        queuedMs: 100,
        msPerStep: 0,
        webhookRetryBaseMs: 20,
        webhookMaxAttempts: 3,
      },
      webhooks: false,
      cloud: { logLevel: 'INFO', onLog: (_fn, _stream, line) => void logs.push(line) },
    });
    try {
      // Registered at the provider, but its secret not stored yet: the README's second step is missing.
      early.emulator.registerWebhookEndpoint(early.cloud.plan.outputs.WebhookUrl!.value);
      const run = await early.dropAndWait(SAMPLE, 'incoming/unset/tickets.jsonl');
      await early.emulator.webhooksSettled();
      expect(run.status).toBe('SUCCEEDED');
      const deliveries = early.emulator.webhookDeliveries.filter((d) => d.jobId === run.providerJobId);
      expect(deliveries.map((d) => [d.attempt, d.status])).toEqual([
        [1, 503],
        [2, 503],
        [3, 503],
      ]);
      expect(logs.join('\n')).toContain('put-secret-value --secret-id');
    } finally {
      await early.close();
    }
  }, 60_000);
});
