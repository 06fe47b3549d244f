import { createHmac, randomBytes } from 'node:crypto';
import { openAiWebhookVerifier } from '../../functions/adapters/openai-webhooks.js';
import { parseWebhookSecret } from '../../functions/adapters/webhook-secret.js';
import { PLACEHOLDER_WEBHOOK_SECRET } from '../../functions/core/config.js';
import { receiveWebhook, type ReceiveWebhookDeps } from '../../functions/webhook/receive-webhook.js';
import { memoryWebhookLog, trainingRunWithJob } from '../support/fakes.js';

/**
 * The webhook receiver with the real verifier (the openai package's webhooks.unwrap) on deliveries signed
 * here as the Standard Webhooks scheme says: base64 HMAC-SHA256 of `id.timestamp.body` with the secret's
 * bytes (the part after `whsec_`, base64-decoded).
 */
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const now = () => Math.floor(Date.now() / 1000);

function delivery(
  event: { type: string; jobId: string },
  options: { id?: string; timestamp?: number; secret?: string } = {},
) {
  const id = options.id ?? `msg_${randomBytes(8).toString('hex')}`;
  const timestamp = options.timestamp ?? now();
  const body = JSON.stringify({
    id: `evt_${randomBytes(8).toString('hex')}`,
    object: 'event',
    created_at: timestamp,
    type: event.type,
    data: { id: event.jobId },
  });
  const key = Buffer.from((options.secret ?? SECRET).slice('whsec_'.length), 'base64');
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return {
    body,
    headers: {
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': `v1,${signature}`,
    },
  };
}

async function world() {
  const { runs, records, parked, tokens, park } = await trainingRunWithJob('ftjob-1');
  const log = memoryWebhookLog();
  const deps: ReceiveWebhookDeps = {
    verify: openAiWebhookVerifier(SECRET),
    log: log.log,
    runs,
    parked,
    tokens: tokens.tokens,
    now,
  };
  return { deps, park, tokens, log, records };
}

describe('receiveWebhook', () => {
  it('wakes the parked run of the job a verified fine_tuning.job.succeeded names', async () => {
    const w = await world();
    const parked = await w.park();
    const outcome = await receiveWebhook(
      delivery({ type: 'fine_tuning.job.succeeded', jobId: 'ftjob-1' }),
      w.deps,
    );
    expect(outcome).toMatchObject({ status: 'woken', runId: 'run-1', resumed: true });
    expect(await parked.output).toEqual({ event: 'fine_tuning.job.succeeded' });
    expect(w.log.state.lastVerifiedAt).toBeGreaterThan(0);
  });

  it('acts once on a duplicated delivery (the same webhook-id)', async () => {
    const w = await world();
    await w.park();
    const once = delivery({ type: 'fine_tuning.job.failed', jobId: 'ftjob-1' });
    await receiveWebhook(once, w.deps);
    expect(await receiveWebhook(once, w.deps)).toMatchObject({ status: 'duplicate' });
    // No wake-up was left behind: the next park waits.
    const next = await w.park();
    expect(w.tokens.completed.has(next.token)).toBe(false);
  });

  it('wakes a run that parks after its event came', async () => {
    const w = await world();
    expect(
      await receiveWebhook(delivery({ type: 'fine_tuning.job.cancelled', jobId: 'ftjob-1' }), w.deps),
    ).toMatchObject({ status: 'woken', resumed: false });
    const parked = await w.park();
    expect(await parked.output).toEqual({ event: 'fine_tuning.job.cancelled' });
  });

  // Timestamps are taken when each test runs: a table built at load time ages while earlier tests run.
  it.each([
    ['signed with another secret', () => ({ secret: `whsec_${randomBytes(24).toString('base64')}` })],
    ['older than the 5-minute tolerance', () => ({ timestamp: now() - 360 })],
    ['from the future beyond the tolerance', () => ({ timestamp: now() + 360 })],
  ])('refuses a delivery %s, and acts on nothing', async (_, options) => {
    const w = await world();
    const parked = await w.park();
    const outcome = await receiveWebhook(
      delivery({ type: 'fine_tuning.job.succeeded', jobId: 'ftjob-1' }, options()),
      w.deps,
    );
    expect(outcome).toMatchObject({ status: 'refused' });
    expect(w.tokens.completed.has(parked.token)).toBe(false);
    expect(w.log.state.lastVerifiedAt).toBeUndefined();
  });

  it('refuses an unsigned delivery and one whose body was changed after signing', async () => {
    const w = await world();
    const signed = delivery({ type: 'fine_tuning.job.succeeded', jobId: 'ftjob-1' });
    const unsigned = { body: signed.body, headers: { 'content-type': 'application/json' } };
    const tampered = { ...signed, body: signed.body.replace('ftjob-1', 'ftjob-2') };
    expect(await receiveWebhook(unsigned, w.deps)).toMatchObject({ status: 'refused' });
    expect(await receiveWebhook(tampered, w.deps)).toMatchObject({ status: 'refused' });
  });

  it('acknowledges events about other jobs and other kinds without acting', async () => {
    const w = await world();
    expect(
      await receiveWebhook(delivery({ type: 'fine_tuning.job.succeeded', jobId: 'ftjob-not-ours' }), w.deps),
    ).toMatchObject({ status: 'ignored' });
    expect(
      await receiveWebhook(delivery({ type: 'batch.completed', jobId: 'batch_1' }), w.deps),
    ).toMatchObject({
      status: 'ignored',
    });
  });

  it('gives the claim back when waking fails, so the provider retry acts', async () => {
    const w = await world();
    await w.park();
    const failing = {
      ...w.deps,
      tokens: { resume: async () => Promise.reject(new Error('ThrottlingException')) },
    };
    const once = delivery({ type: 'fine_tuning.job.succeeded', jobId: 'ftjob-1' });
    await expect(receiveWebhook(once, failing)).rejects.toThrow('ThrottlingException');
    expect(w.log.claims.size).toBe(0);
  });
});

describe('the webhook secret', () => {
  it('is read as plain text or as {"webhookSecret": ...}', () => {
    expect(parseWebhookSecret(SECRET, 'arn:secret')).toBe(SECRET);
    expect(parseWebhookSecret(JSON.stringify({ webhookSecret: SECRET }), 'arn:secret')).toBe(SECRET);
  });

  it('is refused with the command that sets it while it holds the placeholder', () => {
    const placeholder = JSON.stringify({ webhookSecret: PLACEHOLDER_WEBHOOK_SECRET, placeholderNonce: 'x' });
    expect(() => parseWebhookSecret(placeholder, 'arn:secret')).toThrow(/not set in secret arn:secret/);
    try {
      parseWebhookSecret(placeholder, 'arn:secret');
    } catch (error) {
      expect((error as { fix: string }).fix).toContain('put-secret-value --secret-id arn:secret');
    }
  });
});

describe('the webhook secret, once read', () => {
  it('is masked in whatever the container logs or returns afterwards', async () => {
    const { webhookSecretReader } = await import('../../functions/adapters/webhook-secret.js');
    const { redactSecrets } = await import('../../functions/core/redact.js');
    const client = { send: async () => ({ SecretString: SECRET }) };
    await webhookSecretReader(client as never, 'arn:secret')();
    expect(redactSecrets(`verification failed with ${SECRET}`)).toBe(
      'verification failed with [redacted secret]',
    );
  });
});
