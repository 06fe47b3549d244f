import OpenAI, { toFile } from 'openai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startOpenAiEmulator, type RunningEmulator } from '../../local/openai-emulator/server.js';
import { chatDataset } from '../support/fakes.js';
import { expectShape } from '../support/openai-spec.js';
import { expectBatchListShape, expectBatchShape } from './batch-spec.js';

/**
 * The emulator against the official OpenAI OpenAPI spec (../shared/openai/openapi.yaml): every kind of
 * response it gives is validated against the spec's schema (test/support/openai-spec.ts), with the
 * official SDK as the client (a Batch as batch-spec.ts says, for the fields the live API shows null).
 */
const API_KEY = 'sk-contract';
let emulator: RunningEmulator;
let client: OpenAI;
/** Every webhook body the emulator sends for the jobs below, checked against the spec at the end. */
const webhookBodies: string[] = [];
let webhookReceiver: Server;
const raw = async (path: string, init: RequestInit = {}) => {
  const response = await fetch(`${emulator.baseUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${API_KEY}`, ...init.headers },
  });
  return { status: response.status, body: (await response.json()) as unknown };
};

async function waitFor(jobId: string, statuses: string[]) {
  for (let i = 0; i < 400; i++) {
    const job = await client.fineTuning.jobs.retrieve(jobId);
    if (statuses.includes(job.status)) return job;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`job ${jobId} never reached ${statuses.join('/')}`);
}

beforeAll(async () => {
  webhookReceiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      webhookBodies.push(Buffer.concat(chunks).toString('utf8'));
      response.end();
    });
  });
  await new Promise<void>((resolve) => webhookReceiver.listen(0, '127.0.0.1', resolve));
  emulator = await startOpenAiEmulator({
    apiKey: API_KEY,
    timing: { validatingMs: 30, queuedMs: 30, msPerStep: 0 },
    webhookEndpoints: [{ url: `http://127.0.0.1:${(webhookReceiver.address() as AddressInfo).port}/hook` }],
  });
  client = new OpenAI({ apiKey: API_KEY, baseURL: emulator.baseUrl, maxRetries: 0 });
});
afterAll(async () => {
  await emulator.close();
  webhookReceiver.closeAllConnections();
  await new Promise<void>((resolve) => webhookReceiver.close(() => resolve()));
});

describe('the contract validator', () => {
  it('rejects a job without organization_id, so the checks below can fail', () => {
    expect(() => expectShape('FineTuningJob', { object: 'fine_tuning.job', id: 'x' })).toThrow(
      /organization_id/,
    );
  });
});

describe('files', () => {
  it("upload, retrieve, list, download and delete in the spec's shapes", async () => {
    const file = await client.files.create({
      file: await toFile(Buffer.from(chatDataset(12)), 'train.jsonl'),
      purpose: 'fine-tune',
    });
    expectShape('OpenAIFile', file);
    expect(file).toMatchObject({
      filename: 'train.jsonl',
      purpose: 'fine-tune',
      bytes: Buffer.byteLength(chatDataset(12)),
    });
    expectShape('OpenAIFile', await client.files.retrieve(file.id));
    expectShape('ListFilesResponse', (await raw('/files')).body);
    expect(await (await client.files.content(file.id)).text()).toBe(chatDataset(12));
    expectShape('DeleteFileResponse', await client.files.delete(file.id));
    await expect(client.files.retrieve(file.id)).rejects.toMatchObject({ status: 404 });
  });
});

describe('a fine-tuning job', () => {
  let jobId: string;
  let final: OpenAI.FineTuning.FineTuningJob;

  beforeAll(async () => {
    const training = await client.files.create({
      file: await toFile(Buffer.from(chatDataset(40)), 'train.jsonl'),
      purpose: 'fine-tune',
    });
    const validation = await client.files.create({
      file: await toFile(Buffer.from(chatDataset(12)), 'valid.jsonl'),
      purpose: 'fine-tune',
    });
    const job = await client.fineTuning.jobs.create({
      model: 'gpt-4o-mini',
      training_file: training.id,
      validation_file: validation.id,
      suffix: 'contract',
      seed: 7,
      metadata: { runId: 'run-contract' },
      method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 2, batch_size: 4 } } },
    });
    jobId = job.id;
    expectShape('FineTuningJob', job);
    expect(job).toMatchObject({
      status: 'validating_files',
      error: null,
      finished_at: null,
      fine_tuned_model: null,
      trained_tokens: null,
      seed: 7,
      metadata: { runId: 'run-contract' },
    });
    final = await waitFor(job.id, ['succeeded', 'failed']);
  });

  it("succeeds with a model name, trained tokens and a result file, in the spec's shape", () => {
    expectShape('FineTuningJob', final);
    expect(final).toMatchObject({
      status: 'succeeded',
      model: 'gpt-4o-mini-2024-07-18',
      fine_tuned_model: expect.stringMatching(/^ft:gpt-4o-mini-2024-07-18:org-local:contract:/),
      hyperparameters: { n_epochs: 2, batch_size: 4 },
    });
    expect(final.result_files).toHaveLength(1);
    expect(final.trained_tokens).toBeGreaterThan(0);
  });

  it('delivers results.csv base64-encoded, with a loss that falls on repetitive data', async () => {
    const body = await (await client.files.content(final.result_files[0]!)).text();
    const csv = Buffer.from(body, 'base64').toString('utf8');
    const [header, ...rows] = csv.trim().split('\n');
    expect(header).toBe('step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy');
    expect(rows).toHaveLength(20); // 40 examples / batch 4 × 2 epochs
    const loss = rows.map((row) => Number(row.split(',')[1]));
    expect(loss.at(-1)!).toBeLessThan(loss[0]! / 2);
    expect(rows.at(-1)!.split(',')[3]).not.toBe('');
  });

  it("lists events and checkpoints in the spec's shapes", async () => {
    expectShape(
      'ListFineTuningJobEventsResponse',
      (await raw(`/fine_tuning/jobs/${jobId}/events?limit=5`)).body,
    );
    expectShape(
      'ListFineTuningJobCheckpointsResponse',
      (await raw(`/fine_tuning/jobs/${jobId}/checkpoints`)).body,
    );
    const checkpoints = await client.fineTuning.jobs.checkpoints.list(jobId);
    expect(checkpoints.data.map((c) => c.step_number)).toEqual([20, 10]);
  });

  it('is found by its metadata, as tunedrop looks jobs up before creating one', async () => {
    expectShape(
      'ListPaginatedFineTuningJobsResponse',
      (await raw('/fine_tuning/jobs?metadata%5BrunId%5D=run-contract')).body,
    );
    expect(
      (await client.fineTuning.jobs.list({ metadata: { runId: 'run-contract' } })).data.map((j) => j.id),
    ).toEqual([jobId]);
    expect((await client.fineTuning.jobs.list({ metadata: { runId: 'other' } })).data).toEqual([]);
  });

  it('deletes its fine-tuned model once', async () => {
    expectShape('DeleteModelResponse', await client.models.delete(final.fine_tuned_model!));
    await expect(client.models.delete(final.fine_tuned_model!)).rejects.toMatchObject({ status: 404 });
  });
});

describe('a job continuing a fine-tuned model', () => {
  const upload = async (text: string) =>
    (
      await client.files.create({
        file: await toFile(Buffer.from(text), 'train.jsonl'),
        purpose: 'fine-tune',
      })
    ).id;
  const train = async (model: string, file: string) => {
    const job = await client.fineTuning.jobs.create({
      model,
      training_file: file,
      suffix: 'lineage',
      method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 1, batch_size: 4 } } },
    });
    return waitFor(job.id, ['succeeded', 'failed']);
  };
  const firstLoss = async (job: OpenAI.FineTuning.FineTuningJob) => {
    const csv = Buffer.from(await (await client.files.content(job.result_files[0]!)).text(), 'base64');
    return Number(csv.toString('utf8').trim().split('\n')[1]!.split(',')[1]);
  };

  it('takes the fine-tuned model as its model, names the new one after the base snapshot, and starts from what the parent learned', async () => {
    const data = await upload(chatDataset(24));
    const parent = await train('gpt-4o-mini', data);
    expect(parent.status).toBe('succeeded');
    const child = await train(parent.fine_tuned_model!, data);
    const fresh = await train('gpt-4o-mini', data);
    expectShape('FineTuningJob', child);
    expect(child).toMatchObject({
      status: 'succeeded',
      model: parent.fine_tuned_model,
      fine_tuned_model: expect.stringMatching(/^ft:gpt-4o-mini-2024-07-18:org-local:lineage:/),
    });
    // The child's first step is scored by the parent's model, which has seen this data: far below a fresh start.
    expect(await firstLoss(child)).toBeLessThan((await firstLoss(fresh)) / 2);
  });

  it('refuses a deleted or unknown fine-tuned model as OpenAI refuses an unknown model', async () => {
    const data = await upload(chatDataset(12));
    const parent = await train('gpt-4o-mini', data);
    await client.models.delete(parent.fine_tuned_model!);
    for (const model of [parent.fine_tuned_model!, 'ft:gpt-4o-mini-2024-07-18:org-local:x:nothere'])
      await expect(client.fineTuning.jobs.create({ model, training_file: data })).rejects.toMatchObject({
        status: 400,
        code: 'model_not_available',
      });
  });
});

describe('job lists', () => {
  it('page with after and limit, so the SDK iterator ends', async () => {
    const file = await client.files.create({
      file: await toFile(Buffer.from(chatDataset(12)), 't.jsonl'),
      purpose: 'fine-tune',
    });
    for (let i = 0; i < 5; i++)
      await client.fineTuning.jobs.create({
        model: 'gpt-4.1-mini',
        training_file: file.id,
        metadata: { batch: 'paging' },
      });
    const seen: string[] = [];
    for await (const job of client.fineTuning.jobs.list({ metadata: { batch: 'paging' }, limit: 2 }))
      seen.push(job.id);
    expect(new Set(seen).size).toBe(5);
  });
});

describe('failures', () => {
  it('a bad training file fails the job with invalid_training_file and the line', async () => {
    const file = await client.files.create({
      file: await toFile(Buffer.from(`${chatDataset(11)}{not json\n`), 'bad.jsonl'),
      purpose: 'fine-tune',
    });
    const job = await client.fineTuning.jobs.create({ model: 'gpt-4.1-mini', training_file: file.id });
    const failed = await waitFor(job.id, ['failed', 'succeeded']);
    expectShape('FineTuningJob', failed);
    expect(failed).toMatchObject({
      status: 'failed',
      error: {
        code: 'invalid_training_file',
        param: 'training_file',
        message: expect.stringContaining('line 12'),
      },
    });
  });

  it("a cancelled job is cancelled, in the spec's shape", async () => {
    const file = await client.files.create({
      file: await toFile(Buffer.from(chatDataset(12)), 't.jsonl'),
      purpose: 'fine-tune',
    });
    const job = await client.fineTuning.jobs.create({ model: 'gpt-4.1-mini', training_file: file.id });
    const cancelled = await client.fineTuning.jobs.cancel(job.id);
    expectShape('FineTuningJob', cancelled);
    expect(cancelled.status).toBe('cancelled');
  });

  it("errors have OpenAI's body and status: 401 wrong key, 404 unknown job, 400 retired model", async () => {
    const wrongKey = await fetch(`${emulator.baseUrl}/files`, { headers: { authorization: 'Bearer nope' } });
    expect(wrongKey.status).toBe(401);
    expectShape('ErrorResponse', await wrongKey.json());
    const missing = await raw('/fine_tuning/jobs/ftjob-nope');
    expect(missing.status).toBe(404);
    expectShape('ErrorResponse', missing.body);
    const file = await client.files.create({
      file: await toFile(Buffer.from(chatDataset(12)), 't.jsonl'),
      purpose: 'fine-tune',
    });
    await expect(
      client.fineTuning.jobs.create({ model: 'davinci-002', training_file: file.id }),
    ).rejects.toMatchObject({ status: 400, code: 'model_not_available', param: 'model' });
  });
});

describe('batches of chat completions', () => {
  /** A batch input file of chat requests to a base model, one line per custom_id. */
  const batchFile = async (customIds: string[], model = 'gpt-4o-mini') =>
    client.files.create({
      file: await toFile(
        Buffer.from(
          customIds
            .map((custom_id) =>
              JSON.stringify({
                custom_id,
                method: 'POST',
                url: '/v1/chat/completions',
                body: { model, messages: [{ role: 'user', content: custom_id }], max_completion_tokens: 3 },
              }),
            )
            .join('\n'),
        ),
        'batch.jsonl',
      ),
      purpose: 'batch',
    });
  const create = async (inputFileId: string) =>
    client.batches.create({
      input_file_id: inputFileId,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { runId: 'run-contract' },
    });
  async function waitForBatch(id: string, statuses: string[]) {
    for (let i = 0; i < 400; i++) {
      const batch = await client.batches.retrieve(id);
      if (statuses.includes(batch.status)) return batch;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`batch ${id} never reached ${statuses.join('/')}`);
  }

  it("create, retrieve, list, and the output and error files, in the spec's shapes", async () => {
    const input = await batchFile(['a', 'b']);
    expectShape('OpenAIFile', input);
    expect(input.purpose).toBe('batch');
    const created = await create(input.id);
    expectBatchShape(created);
    expect(created).toMatchObject({
      status: 'validating',
      input_file_id: input.id,
      completion_window: '24h',
    });
    const completed = await waitForBatch(created.id, ['completed', 'failed']);
    expectBatchShape(completed);
    expect(completed).toMatchObject({ status: 'completed', request_counts: { total: 2, completed: 2 } });
    const list = await raw('/batches?limit=5');
    expectBatchListShape(list.body as { data: object[] });
    const output = await client.files.retrieve(completed.output_file_id!);
    expectShape('OpenAIFile', output);
    expect(output.purpose).toBe('batch_output');
    const lines = (await (await client.files.content(output.id)).text()).trim().split('\n');
    for (const line of lines)
      expectShape(
        'CreateChatCompletionResponse',
        (JSON.parse(line) as { response: { body: unknown } }).response.body,
      );

    const unknown = await waitForBatch((await create((await batchFile(['x'], 'gpt-9')).id)).id, [
      'completed',
    ]);
    const [refused] = (await (await client.files.content(unknown.error_file_id!)).text()).trim().split('\n');
    expectShape('ErrorResponse', (JSON.parse(refused!) as { response: { body: unknown } }).response.body);
  });

  it("a failed batch's errors, a cancelled batch, and a refused create, in the spec's shapes", async () => {
    const duplicate = await batchFile(['same', 'same']);
    const failed = await waitForBatch((await create(duplicate.id)).id, ['failed', 'completed']);
    expectBatchShape(failed);
    expect(failed.errors!.data).toEqual([
      expect.objectContaining({ code: 'duplicate_custom_id', line: 2, param: 'custom_id' }),
    ]);
    const cancelling = await client.batches.cancel(
      (await create((await batchFile(Array.from({ length: 50 }, (_, i) => `c-${i}`))).id)).id,
    );
    expectBatchShape(cancelling);
    expectBatchShape(await waitForBatch(cancelling.id, ['cancelled']));
    const refused = await raw('/batches', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        input_file_id: duplicate.id,
        endpoint: '/v1/responses',
        completion_window: '24h',
      }),
    });
    expect(refused.status).toBe(400);
    expectShape('ErrorResponse', refused.body);
  });
});

describe('webhooks', () => {
  it("for the jobs above that succeeded, failed and were cancelled, are in the spec's shapes", async () => {
    await emulator.webhooksSettled();
    const schemaOf: Record<string, string> = {
      'fine_tuning.job.succeeded': 'WebhookFineTuningJobSucceeded',
      'fine_tuning.job.failed': 'WebhookFineTuningJobFailed',
      'fine_tuning.job.cancelled': 'WebhookFineTuningJobCancelled',
    };
    const types = new Set<string>();
    for (const body of webhookBodies) {
      const event = JSON.parse(body) as { type: string };
      types.add(event.type);
      expectShape(schemaOf[event.type] ?? `unknown event type ${event.type}`, event);
    }
    expect([...types].sort()).toEqual(Object.keys(schemaOf).sort());
  });
});

/**
 * Issue #10: what OpenAI refuses, the emulator refuses, in the same way — a 400 at creation for what the
 * request says (suffix, method against model), a job that fails while validating files for what the
 * files hold. Sources are with the checks (local/openai-emulator/training-file.ts, job-request.ts and routes.ts).
 */
describe('what OpenAI refuses', () => {
  const chatLine = (i: number, extra: Record<string, unknown> = {}, user: unknown = `Question ${i}`) =>
    JSON.stringify({
      messages: [
        { role: 'user', content: user },
        { role: 'assistant', content: `Answer ${i}` },
      ],
      ...extra,
    });
  const preferenceLine = (i: number) =>
    JSON.stringify({
      input: { messages: [{ role: 'user', content: `Question ${i}` }] },
      preferred_output: [{ role: 'assistant', content: `A good answer ${i}` }],
      non_preferred_output: [{ role: 'assistant', content: `A poor answer ${i}` }],
    });
  const lines = (n: number, line: (i: number) => string) =>
    `${Array.from({ length: n }, (_, i) => line(i)).join('\n')}\n`;
  const upload = async (text: string) =>
    (
      await client.files.create({
        file: await toFile(Buffer.from(text), 'data.jsonl'),
        purpose: 'fine-tune',
      })
    ).id;
  /** Creates a job on the file and waits for its end, checking the job's shape against the spec. */
  const train = async (
    text: string,
    params: Partial<OpenAI.FineTuning.JobCreateParams> = {},
  ): Promise<OpenAI.FineTuning.FineTuningJob> => {
    const job = await client.fineTuning.jobs.create({
      model: 'gpt-4.1-mini',
      training_file: await upload(text),
      ...params,
    });
    const ended = await waitFor(job.id, ['succeeded', 'failed']);
    expectShape('FineTuningJob', ended);
    return ended;
  };
  const dpo = { method: { type: 'dpo' as const, dpo: { hyperparameters: {} } } };
  const fileError = (message: string | RegExp) => ({
    status: 'failed',
    error: { code: 'invalid_training_file', param: 'training_file', message: expect.stringMatching(message) },
  });
  /** A user message with `count` images, as data URLs of `type` holding `bytes` bytes each. */
  const withImages = (count: number, type = 'image/png', bytes = 16) => [
    { type: 'text', text: 'What is this?' },
    ...Array.from({ length: count }, () => ({
      type: 'image_url',
      image_url: { url: `data:${type};base64,${Buffer.alloc(bytes, 7).toString('base64')}` },
    })),
  ];

  describe('the number of examples', () => {
    it('fails a job whose training file has 9 examples with invalid_n_examples, in OpenAI words', async () => {
      expect(await train(lines(9, (i) => chatLine(i)))).toMatchObject({
        status: 'failed',
        error: {
          code: 'invalid_n_examples',
          param: 'training_file',
          message: 'Training file has 9 example(s), but must have at least 10 examples',
        },
      });
    });

    it('trains on exactly 10 training examples with a validation file of one', async () => {
      const validation = await upload(lines(1, (i) => chatLine(100 + i)));
      expect(
        await train(
          lines(10, (i) => chatLine(i)),
          { validation_file: validation },
        ),
      ).toMatchObject({
        status: 'succeeded',
      });
    });

    it('fails a job whose validation file is empty, naming the validation file', async () => {
      const validation = await upload('\n');
      expect(
        await train(
          lines(10, (i) => chatLine(i)),
          { validation_file: validation },
        ),
      ).toMatchObject({
        status: 'failed',
        error: { code: 'invalid_n_examples', param: 'validation_file' },
      });
    });
  });

  describe("the file's format against the job's method", () => {
    it('fails a chat file under dpo as the live API did: fine-tune-chat format, provided method=dpo', async () => {
      const job = await train(
        lines(12, (i) => chatLine(i)),
        dpo,
      );
      expect(job).toMatchObject(
        fileError(
          /Input file file-\S+ is in the fine-tune-chat format, but the specified fine-tuning job is not using 'supervised' as the training method \(provided method=dpo\)/,
        ),
      );
    });

    it('fails a preference file under supervised: fine-tune-preference format, provided method=supervised', async () => {
      expect(await train(lines(12, preferenceLine))).toMatchObject(
        fileError(/fine-tune-preference format.*provided method=supervised/),
      );
    });

    it('fails a supervised file whose line has empty messages, saying messages is missing or empty', async () => {
      const text = `${lines(11, (i) => chatLine(i))}${JSON.stringify({ messages: [] })}\n`;
      expect(await train(text)).toMatchObject(fileError(/line 12: "messages" is missing or empty/));
    });

    it('trains a preference file under dpo, and refuses an output of two messages', async () => {
      expect(await train(lines(12, preferenceLine), dpo)).toMatchObject({ status: 'succeeded' });
      const two = JSON.stringify({
        ...(JSON.parse(preferenceLine(0)) as object),
        preferred_output: [
          { role: 'assistant', content: 'a' },
          { role: 'assistant', content: 'b' },
        ],
      });
      expect(await train(`${lines(11, preferenceLine)}${two}\n`, dpo)).toMatchObject(
        fileError(/line 12: preferred_output must hold exactly one assistant message/),
      );
    });
  });

  describe('the method against the model', () => {
    it('refuses dpo, and supervised, on a model that only takes reinforcement, with a 400 on method.type', async () => {
      const file = await upload(lines(12, preferenceLine));
      const refused = await raw('/fine_tuning/jobs', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'o4-mini-2025-04-16', training_file: file, ...dpo }),
      });
      expect(refused.status).toBe(400);
      expectShape('ErrorResponse', refused.body);
      expect(refused.body).toMatchObject({ error: { param: 'method.type', code: 'invalid_method' } });
      await expect(
        client.fineTuning.jobs.create({ model: 'o4-mini', training_file: file }),
      ).rejects.toMatchObject({ status: 400, param: 'method.type' });
    });

    it('takes dpo on the 4.1 family and gpt-4o, and refuses it on gpt-4o-mini (no DPO on record)', async () => {
      const file = await upload(lines(12, preferenceLine));
      for (const model of ['gpt-4.1', 'gpt-4.1-mini', 'gpt-4o'])
        await expect(
          client.fineTuning.jobs.create({ model, training_file: file, ...dpo }),
        ).resolves.toMatchObject({ status: 'validating_files' });
      await expect(
        client.fineTuning.jobs.create({ model: 'gpt-4o-mini', training_file: file, ...dpo }),
      ).rejects.toMatchObject({ status: 400 });
    });
  });

  describe('the suffix', () => {
    it('refuses an empty suffix with a 400 on suffix, in the spec error shape', async () => {
      const file = await upload(lines(12, (i) => chatLine(i)));
      const refused = await raw('/fine_tuning/jobs', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4.1-mini', training_file: file, suffix: '' }),
      });
      expect(refused.status).toBe(400);
      expectShape('ErrorResponse', refused.body);
      expect(refused.body).toMatchObject({ error: { param: 'suffix' } });
      await expect(
        client.fineTuning.jobs.create({ model: 'gpt-4.1-mini', training_file: file, suffix: 'x'.repeat(65) }),
      ).rejects.toMatchObject({ status: 400, param: 'suffix' });
    });
  });

  describe('images, audio and files in a training file', () => {
    const imageFile = (images: unknown, at = 11) =>
      `${lines(at, (i) => chatLine(i))}${chatLine(at, {}, images)}\n`;

    it('trains images on gpt-4o-2024-08-06, ten to an example, JPEG, PNG and WEBP', async () => {
      const text = `${lines(10, (i) => chatLine(i, {}, withImages(10)))}${chatLine(10, {}, withImages(1, 'image/jpeg'))}\n${chatLine(11, {}, withImages(1, 'image/webp'))}\n`;
      expect(await train(text, { model: 'gpt-4o-2024-08-06' })).toMatchObject({ status: 'succeeded' });
    });

    it('fails images on a model that cannot be fine-tuned on images', async () => {
      expect(await train(imageFile(withImages(1)), { model: 'gpt-4o-mini' })).toMatchObject(
        fileError(/line 12: .*image.*cannot be fine-tuned on images/),
      );
    });

    it('fails eleven images in an example, a GIF, and an image over 10 MB', async () => {
      const vision = { model: 'gpt-4o-2024-08-06' };
      expect(await train(imageFile(withImages(11)), vision)).toMatchObject(fileError(/more than 10 images/));
      expect(await train(imageFile(withImages(1, 'image/gif')), vision)).toMatchObject(
        fileError(/JPEG, PNG or WEBP/),
      );
      expect(await train(imageFile(withImages(1, 'image/png', 10 * 1024 * 1024 + 1)), vision)).toMatchObject(
        fileError(/larger than 10 MB/),
      );
    });

    it('fails an image in an assistant message, and an image in a DPO file', async () => {
      const assistantImage = JSON.stringify({
        messages: [
          { role: 'user', content: 'Draw' },
          { role: 'assistant', content: withImages(1) },
        ],
      });
      expect(
        await train(`${lines(11, (i) => chatLine(i))}${assistantImage}\n`, { model: 'gpt-4o-2024-08-06' }),
      ).toMatchObject(fileError(/only user messages may hold images/));
      const dpoImage = JSON.stringify({
        ...(JSON.parse(preferenceLine(0)) as object),
        input: { messages: [{ role: 'user', content: withImages(1) }] },
      });
      expect(
        await train(`${lines(11, preferenceLine)}${dpoImage}\n`, { model: 'gpt-4o-2024-08-06', ...dpo }),
      ).toMatchObject(fileError(/DPO trains on text only/));
    });

    it('fails audio and file parts, even on the vision model', async () => {
      const audio = [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }];
      const file = [{ type: 'file', file: { file_id: 'file-abc' } }];
      for (const parts of [audio, file])
        expect(await train(imageFile(parts), { model: 'gpt-4o-2024-08-06' })).toMatchObject(
          fileError(/of type (input_audio|file)/),
        );
    });
  });

  describe('tool names', () => {
    const tool = (name: string) => ({
      tools: [{ type: 'function', function: { name, parameters: { type: 'object', properties: {} } } }],
    });

    it('trains tools named with letters, digits, _ and - up to 64 characters', async () => {
      const text = lines(12, (i) => chatLine(i, tool(i % 2 ? 'get_weather-2' : 'x'.repeat(64))));
      expect(await train(text)).toMatchObject({ status: 'succeeded' });
    });

    it('fails a tool name with a space, a dot, or 65 characters, and a function name likewise', async () => {
      for (const name of ['get weather', 'get.weather', 'x'.repeat(65), ''])
        expect(await train(`${lines(11, (i) => chatLine(i))}${chatLine(11, tool(name))}\n`)).toMatchObject(
          fileError(/line 12: tools\[0\]\.function\.name .* must match/),
        );
      const functions = { functions: [{ name: 'bad name', parameters: {} }] };
      expect(await train(`${lines(11, (i) => chatLine(i))}${chatLine(11, functions)}\n`)).toMatchObject(
        fileError(/functions\[0\]\.name/),
      );
    });
  });
});
