import { awaitJob } from '../../functions/await-job/await-job.js';
import type { ReconcileDeps } from '../../functions/reconcile/reconcile-run.js';
import { findModel } from '../../functions/core/catalog.js';
import {
  validateDataset,
  type ValidationOptions,
  type ValidationReport,
} from '../../functions/core/dataset.js';
import {
  canTransition,
  TERMINAL_STATUSES,
  type RunRecord,
  type RunStatus,
} from '../../functions/core/run.js';
import {
  deadHolders,
  queueOrder,
  VANISHED_HOLDER_GRACE_MS,
  type HandOver,
} from '../../functions/core/slots.js';
import { phaseOf } from '../../functions/core/workflow-state.js';
import {
  CURRENT_MODEL_KEY,
  ModelEntrySchema,
  type CurrentModel,
  type CurrentModelParameters,
  type ModelEntry,
  type ModelRegistry,
} from '../../functions/core/registry.js';
import type {
  CreateJobRequest,
  FineTuningProvider,
  ObjectRef,
  ObjectStore,
  ProviderJob,
  ParkedRuns,
  ProviderSlots,
  SlotLane,
  TaskTokens,
  WebhookLog,
  RunStore,
} from '../../functions/core/ports.js';

/** In-memory ports for step tests. They keep the contracts of the real adapters (conditional writes). */
export function memoryObjectStore(initial: Record<string, string> = {}) {
  const objects = new Map<string, Uint8Array>(
    Object.entries(initial).map(([key, text]) => [key, new TextEncoder().encode(text)]),
  );
  const id = (ref: ObjectRef) => `${ref.bucket}/${ref.key}`;
  const tags = new Map<string, Readonly<Record<string, string>>>();
  const store: ObjectStore = {
    async head(ref) {
      const bytes = objects.get(id(ref));
      return bytes && { size: bytes.length, etag: `"${bytes.length}"` };
    },
    async *read(ref) {
      const bytes = objects.get(id(ref));
      if (!bytes) throw Object.assign(new Error(`NoSuchKey ${id(ref)}`), { name: 'NoSuchKey' });
      // Small chunks, so line splitting across chunk boundaries is exercised.
      for (let i = 0; i < bytes.length; i += 7) yield bytes.subarray(i, i + 7);
    },
    async readText(ref) {
      const bytes = objects.get(id(ref));
      return bytes && new TextDecoder().decode(bytes);
    },
    async write(ref, body) {
      objects.set(id(ref), typeof body === 'string' ? new TextEncoder().encode(body) : body);
    },
    async readRange(ref, start, end) {
      const bytes = objects.get(id(ref));
      if (!bytes) throw Object.assign(new Error(`NoSuchKey ${id(ref)}`), { name: 'NoSuchKey' });
      return bytes.slice(start, end + 1);
    },
    createWriter(ref, _contentType, objectTags) {
      const chunks: Buffer[] = [];
      if (objectTags) tags.set(id(ref), objectTags);
      return {
        write: async (chunk) => void chunks.push(Buffer.from(chunk)),
        close: async () => void objects.set(id(ref), new Uint8Array(Buffer.concat(chunks))),
        abort: async () => undefined,
      };
    },
  };
  return {
    store,
    text: (key: string, bucket = 'bucket') => new TextDecoder().decode(objects.get(`${bucket}/${key}`)),
    bytes: (key: string, bucket = 'bucket') => objects.get(`${bucket}/${key}`),
    has: (key: string, bucket = 'bucket') => objects.has(`${bucket}/${key}`),
    tagsOf: (key: string, bucket = 'bucket') => tags.get(`${bucket}/${key}`),
  };
}

export function memoryRunStore() {
  const links = new Map<string, string>();
  const records = new Map<string, RunRecord>();
  const runs: RunStore = {
    async create(record) {
      if (records.has(record.runId)) return false;
      records.set(record.runId, structuredClone(record));
      return true;
    },
    async get(runId) {
      return structuredClone(records.get(runId));
    },
    async advance(runId, status, fields = {}) {
      const current = records.get(runId);
      if (!current || !canTransition(current.status, status)) return undefined;
      const at = new Date().toISOString();
      const { detail, ...rest } = fields;
      const next: RunRecord = {
        ...current,
        ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)),
        status,
        updatedAt: at,
        history: [...current.history, detail === undefined ? { status, at } : { status, at, detail }],
        ...(TERMINAL_STATUSES.has(status) ? { finishedAt: at } : {}),
      };
      records.set(runId, next);
      return structuredClone(next);
    },
    async recordLateJob(runId, job) {
      const current = records.get(runId);
      if (!current || !TERMINAL_STATUSES.has(current.status)) return undefined;
      const next: RunRecord = { ...current, ...job, updatedAt: new Date().toISOString() };
      records.set(runId, next);
      return structuredClone(next);
    },
    async amend(runId, status, fields) {
      const current = records.get(runId);
      if (!current || current.status !== status) return undefined;
      const { detail: _detail, ...rest } = fields;
      const next: RunRecord = {
        ...current,
        ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)),
        updatedAt: new Date().toISOString(),
      };
      records.set(runId, next);
      return structuredClone(next);
    },
    async findByProviderJob(providerJobId) {
      return (
        links.get(providerJobId) ??
        [...records.values()].find((r) => r.providerJobId === providerJobId)?.runId
      );
    },
    async linkProviderJob(runId, providerJobId) {
      links.set(providerJobId, runId);
    },
    async listFamily(family) {
      return [...records.values()]
        .filter((r) => r.family === family)
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    },
  };
  return { runs, records };
}

export function fakeProvider(overrides: Partial<FineTuningProvider> = {}) {
  const created: CreateJobRequest[] = [];
  const jobs = new Map<string, ProviderJob>();
  const provider: FineTuningProvider = {
    name: 'openai',
    uploadFile: async ({ fileName }) => ({ fileId: `file-${fileName}`, bytes: 1 }),
    async createJob(request) {
      created.push(request);
      const job = providerJob({ id: `ftjob-${created.length}`, model: request.model });
      jobs.set(job.id, job);
      return job;
    },
    findJobByRunId: async (runId) => [...jobs.values()].find((_, i) => created[i]?.runId === runId),
    getJob: async (id) => jobs.get(id)!,
    async cancelJob(id) {
      const job = jobs.get(id)!;
      // As the emulator: a job that has finished cannot be cancelled.
      if (phaseOf(job.status) !== 'running') throw new Error(`Job ${id} has already ${job.status}.`);
      const cancelled = { ...job, status: 'cancelled' };
      jobs.set(id, cancelled);
      return { ...cancelled };
    },
    resultFile: async () => undefined,
    deleteModel: async () => undefined,
    ...overrides,
  };
  return { provider, created, jobs };
}

export function providerJob(fields: Partial<ProviderJob> = {}): ProviderJob {
  return {
    id: 'ftjob-1',
    status: 'validating_files',
    model: 'gpt-4.1-mini-2025-04-14',
    fineTunedModel: null,
    trainedTokens: null,
    resultFileIds: [],
    error: null,
    createdAt: 1_700_000_000,
    finishedAt: null,
    estimatedFinish: null,
    epochs: null,
    ...fields,
  };
}

/** A small valid chat dataset: `n` support tickets labelled with one of three classes. */
export function chatDataset(n: number): string {
  const labels = ['billing', 'bug', 'account'];
  const lines = [];
  for (let i = 0; i < n; i++) {
    lines.push(
      JSON.stringify({
        messages: [
          { role: 'system', content: 'Classify the support ticket.' },
          { role: 'user', content: `Ticket ${i}: something about ${labels[i % 3]} number ${i * 7}` },
          { role: 'assistant', content: labels[i % 3] },
        ],
      }),
    );
  }
  return `${lines.join('\n')}\n`;
}

export async function* chunks(text: string, size = 5): AsyncGenerator<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/**
 * ProviderSlots in memory, with the same rules as the DynamoDB adapter: `holders` maps each holder to
 * when it acquired, `queue` each waiting run to when it joined; with `runs`, a full set of slots gives
 * back those of ended and vanished runs.
 */
export function memorySlots(options: { runs?: RunStore; now?: () => number; vanishedGraceMs?: number } = {}) {
  const holders = new Map<string, number>();
  const queue = new Map<string, number>();
  const now = options.now ?? Date.now;
  const freeOne = async (limit: number) => {
    if (holders.size >= limit && options.runs) {
      const statuses = new Map<string, RunStatus | undefined>();
      for (const holder of holders.keys()) statuses.set(holder, (await options.runs.get(holder))?.status);
      const held = [...holders].map(([id, acquiredAt]) => ({ runId: id, acquiredAt }));
      const grace = options.vanishedGraceMs ?? VANISHED_HOLDER_GRACE_MS;
      for (const dead of deadHolders(held, statuses, now(), grace)) holders.delete(dead.runId);
    }
    return holders.size < limit;
  };
  const slots: ProviderSlots = {
    async acquire(runId, limit) {
      if (holders.has(runId)) return true;
      if (!(await freeOne(limit))) return false;
      holders.set(runId, now());
      return true;
    },
    async release(runId) {
      holders.delete(runId);
    },
    async holds(runId) {
      return holders.has(runId);
    },
    async holders() {
      return [...holders.keys()];
    },
    async enqueue(runId, queuedAt) {
      if (!queue.has(runId)) queue.set(runId, queuedAt ?? now());
    },
    async waiting() {
      return [...queue].map(([runId, queuedAt]) => ({ runId, queuedAt })).sort(queueOrder);
    },
    async grant(runId, limit) {
      if (!queue.has(runId)) return false;
      if (!holders.has(runId)) {
        if (!(await freeOne(limit))) return false;
        holders.set(runId, now());
      }
      queue.delete(runId);
      return true;
    },
    async dequeue(runId) {
      queue.delete(runId);
    },
  };
  return { slots, holders, queue };
}

/** A hand-over for steps whose tests are about something else: nobody waits. */
export const noHandOver = async (): Promise<HandOver> => ({ delivered: [], granted: [], skipped: [] });

/** ParkedRuns in memory, with the adapter's rules; `items` maps run ids that exist to their tokens. */
export function memoryParkedRuns(runs?: RunStore) {
  const items = new Map<
    string,
    { slotToken?: string; turnToken?: string; jobToken?: string; jobWake?: string }
  >();
  const attribute = (lane: SlotLane = 'provider') => (lane === 'family' ? 'turnToken' : 'slotToken');
  const item = async (runId: string) => {
    if (runs && !(await runs.get(runId))) return undefined;
    if (!items.has(runId)) items.set(runId, {});
    return items.get(runId)!;
  };
  const parked: ParkedRuns = {
    async parkForSlot(runId, token, lane) {
      const found = await item(runId);
      if (found) found[attribute(lane)] = token;
    },
    async slotToken(runId, lane) {
      return (await item(runId))?.[attribute(lane)];
    },
    async clearSlotToken(runId, token, lane) {
      const found = await item(runId);
      if (found?.[attribute(lane)] === token) delete found[attribute(lane)];
    },
    async parkForJob(runId, token) {
      const found = await item(runId);
      if (!found) return undefined;
      if (found.jobWake !== undefined) {
        const event = found.jobWake;
        delete found.jobWake;
        return event;
      }
      found.jobToken = token;
      return undefined;
    },
    async wakeForJob(runId, event) {
      const found = await item(runId);
      if (!found) return undefined;
      const token = found.jobToken;
      if (token !== undefined) delete found.jobToken;
      else found.jobWake = event;
      return token;
    },
  };
  return { parked, items };
}

/**
 * Task tokens as Step Functions keeps them: `wait(token)` is a parked task; `resume` completes it once.
 * Tokens never issued, or already completed, answer false (TaskTimedOut / InvalidToken).
 */
export function memoryTaskTokens() {
  const open = new Map<string, (output: object) => void>();
  const completed = new Map<string, object>();
  const tokens: TaskTokens = {
    async resume(token, output) {
      const settle = open.get(token);
      if (!settle) return false;
      open.delete(token);
      completed.set(token, output);
      settle(output);
      return true;
    },
  };
  let next = 0;
  return {
    tokens,
    completed,
    /** Issues a token for a parked task; the promise settles with its output. */
    issue(): { token: string; output: Promise<object> } {
      const token = `token-${++next}`;
      const output = new Promise<object>((resolve) => open.set(token, resolve));
      return { token, output };
    },
    /** Ends a parked task without output (it timed out, or its execution ended). */
    expire(token: string) {
      open.delete(token);
    },
  };
}

export function memoryWebhookLog(lastVerifiedAt?: number) {
  const claims = new Set<string>();
  const state = { lastVerifiedAt };
  const log: WebhookLog = {
    async claim(webhookId) {
      if (claims.has(webhookId)) return false;
      claims.add(webhookId);
      return true;
    },
    async unclaim(webhookId) {
      claims.delete(webhookId);
    },
    async noteVerified(at) {
      if (state.lastVerifiedAt === undefined || state.lastVerifiedAt < at) state.lastVerifiedAt = at;
    },
    async lastVerifiedAt() {
      return state.lastVerifiedAt;
    },
  };
  return { log, claims, state };
}

/** The validation settings the core tests share: gpt-4.1-mini (the default model), seed 42, 20% validation, auto epochs. */
export const testValidationOptions: ValidationOptions = {
  model: findModel('gpt-4.1-mini')!,
  seed: 42,
  validationRatio: 0.2,
  maxValidationExamples: 1000,
  nEpochs: 'auto',
};

/** A minimal valid chat line, different for each `i`. */
export const minimalChatLine = (i: number) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: `q${i}` },
      { role: 'assistant', content: `a${i}` },
    ],
  });

/** Validates bytes or text as one chunk, with the shared test options and any overrides. */
export const validateBytes = (
  input: Uint8Array | string,
  overrides: Partial<ValidationOptions> = {},
): Promise<ValidationReport> =>
  validateDataset(
    async function* () {
      yield typeof input === 'string' ? new TextEncoder().encode(input) : input;
    },
    { ...testValidationOptions, ...overrides },
  );

/**
 * Reconcile's dependencies for a test of one provider: `provider` and `slots` stand for every provider
 * (a run's item names OpenAI, or nothing).
 */
export function reconcileWith(
  deps: Omit<ReconcileDeps, 'provider' | 'providers' | 'slots'> & {
    provider?: FineTuningProvider;
    slots: ProviderSlots;
  },
): ReconcileDeps {
  const { provider, slots, ...rest } = deps;
  return {
    ...rest,
    provider: async () => provider ?? fakeProvider().provider,
    providers: ['openai'],
    slots: () => slots,
  };
}

/**
 * A run TRAINING on `providerJobId`, in memory, and how it parks in Wait for job (as the workflow's
 * Await job does): for the tests of what wakes it (webhooks, Bedrock's events).
 */
export async function trainingRunWithJob(providerJobId: string, provider?: string) {
  const { runs, records } = memoryRunStore();
  await runs.create({
    runId: 'run-1',
    family: 'support',
    status: 'TRAINING',
    history: [],
    source: { bucket: 'b', key: 'incoming/support/a.jsonl' },
    createdAt: '2026-11-29T10:00:00.000Z',
    updatedAt: '2026-11-29T10:00:00.000Z',
    ...(provider ? { provider } : {}),
    providerJobId,
  });
  const { parked } = memoryParkedRuns(runs);
  const tokens = memoryTaskTokens();
  const park = async () => {
    const { token, output } = tokens.issue();
    await awaitJob({ runId: 'run-1', taskToken: token }, { parked, tokens: tokens.tokens });
    return { token, output };
  };
  return { runs, records, parked, tokens, park };
}

/** An upload request as the Upload step makes it (tests name their own file and path). */
export const trainingUpload = {
  runId: 'run-1',
  purpose: 'training',
  fileName: 'train.jsonl',
  model: 'gpt-4.1-mini-2025-04-14',
} as const;

/** ModelRegistry in memory, with the adapter's rules (the pointer never moves back to an older model). */
export function memoryModelRegistry() {
  const models = new Map<string, ModelEntry>();
  const pointers = new Map<string, CurrentModel>();
  const registry: ModelRegistry = {
    async register(entry) {
      if (models.get(entry.model)?.deletedAt) return false; // a deleted model stays deleted
      models.set(entry.model, ModelEntrySchema.parse(entry));
      return true;
    },
    async promote(entry, at, options = {}) {
      const stored = models.get(entry.model);
      if (!stored || stored.deletedAt) return false; // never point applications at a deleted model
      const pointer = pointers.get(entry.family);
      if (!options.force && pointer && pointer.updatedAt > at) return false;
      pointers.set(entry.family, {
        family: entry.family,
        model: CURRENT_MODEL_KEY,
        currentModel: entry.model,
        provider: entry.provider,
        baseModel: entry.baseModel,
        runId: entry.runId,
        updatedAt: at,
      });
      return true;
    },
    async current(family) {
      return pointers.get(family);
    },
    async find(model) {
      return models.get(model);
    },
    async families() {
      return [...new Set([...models.values()].map((m) => m.family))].sort();
    },
    async list(family) {
      return [...models.values()]
        .filter((m) => family === undefined || m.family === family)
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    },
    async markDeleted(_family, model, at) {
      const entry = models.get(model);
      if (entry && !entry.deletedAt) entry.deletedAt = at;
    },
    async clearCurrent(family, model) {
      if (pointers.get(family)?.currentModel !== model) return false;
      pointers.delete(family);
      return true;
    },
  };
  const parameters = new Map<string, string>();
  const currentModelParameters: CurrentModelParameters = {
    async put(family, model) {
      parameters.set(family, model);
    },
    async remove(family) {
      parameters.delete(family);
    },
  };
  return { registry, models, pointers, parameters, currentModelParameters };
}

/** Record's registry and parameter, in memory: `models` of RecordDeps. */
export function testModels() {
  const memory = memoryModelRegistry();
  return { registry: memory.registry, parameters: memory.currentModelParameters, memory };
}

/** A model registered and made its family's current one as of its creation, as a run that was promoted leaves it. */
export async function registerPromoted(registry: ModelRegistry, entry: ModelEntry): Promise<boolean> {
  return (await registry.register(entry)) && registry.promote(entry, entry.createdAt);
}
