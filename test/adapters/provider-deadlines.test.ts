import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAiProvider } from '../../functions/adapters/openai-provider.js';
import { startOpenAiEmulator, type RunningEmulator } from '../../local/openai-emulator/server.js';
import { chatDataset, trainingUpload } from '../support/fakes.js';

/** The OpenAI adapter against the emulator: calls end before the invocation does, whatever the provider does. */
let emulator: RunningEmulator;
let dir: string;
let small: string;

beforeAll(async () => {
  emulator = await startOpenAiEmulator({ apiKey: 'sk-test' });
  dir = await mkdtemp(join(tmpdir(), 'tunedrop-deadlines-'));
  small = join(dir, 'train.jsonl');
  await writeFile(small, chatDataset(20));
});
afterAll(async () => {
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => emulator.faults.clear());

/** An invocation that has `ms` left from now, as Lambda's context reports it. */
function invocationEndingIn(ms: number) {
  const deadline = Date.now() + ms;
  return { remainingTimeMs: () => deadline - Date.now(), deadline };
}

describe('the OpenAI adapter within an invocation', () => {
  it('retries an upload whose first attempt hangs, and succeeds before the invocation ends', async () => {
    emulator.faults.onRequest({ method: 'POST', path: '/files', fault: { kind: 'slow', delayMs: 2_500 } });
    const { remainingTimeMs, deadline } = invocationEndingIn(6_000);
    const provider = openAiProvider({
      apiKey: 'sk-test',
      baseURL: emulator.baseUrl,
      remainingTimeMs,
      reserveMs: 500,
    });
    const uploaded = await provider.uploadFile({ ...trainingUpload, path: small });
    expect(uploaded.fileId).toMatch(/^file-/);
    expect(emulator.faults.applied).toEqual([{ method: 'POST', path: '/files', fault: 'slow' }]);
    expect(Date.now()).toBeLessThan(deadline);
  });

  it('gives up on an upload that never answers before the invocation ends, with a retryable error', async () => {
    emulator.faults.onRequest({
      method: 'POST',
      path: '/files',
      fault: { kind: 'slow', delayMs: 2_500 },
      times: 3,
    });
    const { remainingTimeMs, deadline } = invocationEndingIn(6_000);
    const provider = openAiProvider({
      apiKey: 'sk-test',
      baseURL: emulator.baseUrl,
      remainingTimeMs,
      reserveMs: 500,
    });
    await expect(provider.uploadFile({ ...trainingUpload, path: small })).rejects.toMatchObject({
      name: 'ProviderUnavailableError',
    });
    expect(emulator.faults.applied).toHaveLength(3);
    expect(Date.now()).toBeLessThan(deadline);
  });

  it('ends a call that a long Retry-After would stretch past the invocation', async () => {
    emulator.faults.onRequest({
      method: 'GET',
      path: '/fine_tuning/jobs/*',
      fault: { kind: 'status', status: 429, retryAfterSeconds: 30 },
    });
    const { remainingTimeMs, deadline } = invocationEndingIn(6_000);
    const provider = openAiProvider({
      apiKey: 'sk-test',
      baseURL: emulator.baseUrl,
      remainingTimeMs,
      reserveMs: 500,
    });
    await expect(provider.getJob('ftjob-missing')).rejects.toMatchObject({
      name: 'ProviderUnavailableError',
    });
    expect(emulator.faults.applied).toEqual([
      { method: 'GET', path: '/fine_tuning/jobs/ftjob-missing', fault: 'status' },
    ]);
    expect(Date.now()).toBeLessThan(deadline);
  });

  it('does not start a call it has no time to finish', async () => {
    emulator.faults.onRequest({ method: 'POST', path: '/files', fault: { kind: 'status', status: 500 } });
    const provider = openAiProvider({
      apiKey: 'sk-test',
      baseURL: emulator.baseUrl,
      remainingTimeMs: () => 2_000,
      reserveMs: 1_000,
    });
    await expect(provider.uploadFile({ ...trainingUpload, path: small })).rejects.toMatchObject({
      name: 'ProviderUnavailableError',
      message: expect.stringContaining('Too little time'),
    });
    expect(emulator.faults.applied).toEqual([]);
  });
});

describe('the emulated file upload', () => {
  it("refuses a file over OpenAI's 512 MB limit with OpenAI's error, and the fix says to split the data", async () => {
    // A sparse file: 512 MiB + 1 byte of zeros that take no disk space.
    const big = join(dir, 'too-big.jsonl');
    await writeFile(big, '');
    await truncate(big, 512 * 2 ** 20 + 1);
    const provider = openAiProvider({ apiKey: 'sk-test', baseURL: emulator.baseUrl });
    await expect(
      provider.uploadFile({ ...trainingUpload, fileName: 'too-big.jsonl', path: big }),
    ).rejects.toMatchObject({
      name: 'ProviderRejectedError',
      message: expect.stringContaining('File is too large.'),
      fix: expect.stringContaining('512 MB'),
    });
    await rm(big);
  });

  it('keeps the bytes of an accepted file exactly', async () => {
    const provider = openAiProvider({ apiKey: 'sk-test', baseURL: emulator.baseUrl });
    const { fileId, bytes } = await provider.uploadFile({ ...trainingUpload, path: small });
    expect(bytes).toBe(Buffer.byteLength(chatDataset(20)));
    const content = await fetch(`${emulator.baseUrl}/files/${fileId}/content`, {
      headers: { authorization: 'Bearer sk-test' },
    });
    expect(await content.text()).toBe(chatDataset(20));
  });
});
