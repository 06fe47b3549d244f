import type { ProviderName } from './catalog.js';
import type { AzureSettings, BedrockSettings } from './config.js';
import type { RunRecord, RunStatus, RunError } from './run.js';
import type { Arrival } from './slots.js';
import type { ActiveRun } from './stuck-runs.js';

/**
 * The interfaces the steps need from the outside world. Adapters implement them on AWS and on the
 * provider's API; tests implement them in memory. Nothing here imports an SDK.
 */

export interface ObjectRef {
  bucket: string;
  key: string;
  versionId?: string | undefined;
}

export interface ObjectStore {
  /** The object's current version, or undefined when there is none. */
  head(ref: ObjectRef): Promise<{ versionId?: string; etag?: string; size?: number } | undefined>;
  read(ref: ObjectRef): AsyncIterable<Uint8Array>;
  readText(ref: ObjectRef): Promise<string | undefined>;
  /** Bytes `start` to `end` (inclusive) of an object that exists: one piece of a large file, not all of it. */
  readRange(ref: ObjectRef, start: number, end: number): Promise<Uint8Array>;
  write(ref: ObjectRef, body: string | Uint8Array, contentType: string): Promise<void>;
  /** Opens an object for writing piece by piece, without holding the body in memory; `tags` are object tags. */
  createWriter(ref: ObjectRef, contentType: string, tags?: Readonly<Record<string, string>>): ObjectWriter;
}

export interface ObjectWriter {
  /** Resolves when the chunk is accepted (backpressure). */
  write(chunk: string | Uint8Array): Promise<void>;
  /** Finishes the object; it exists only after this resolves. */
  close(): Promise<void>;
  /** Gives up; no object is left behind. */
  abort(): Promise<void>;
}

export interface RunStore {
  /** Creates the run; returns false (and changes nothing) when it exists already. */
  create(record: RunRecord): Promise<boolean>;
  get(runId: string): Promise<RunRecord | undefined>;
  /**
   * Moves the run to `status` and sets `fields`, if the move is allowed from its current status.
   * Returns the updated record, or undefined when the run was already past that point (a retried or
   * duplicated step), in which case nothing changed.
   */
  advance(runId: string, status: RunStatus, fields?: RunUpdate): Promise<RunRecord | undefined>;
  /**
   * Sets `fields` on a run that is in `status`, without moving it or adding to its history (what a step
   * learns of the run as it goes: Prepare's dataset). Returns the updated record, or undefined (changing
   * nothing) when the run is not in that status.
   */
  amend(runId: string, status: RunStatus, fields: RunUpdate): Promise<RunRecord | undefined>;
  /**
   * Records the provider job of a run that has already ended, without moving its status or adding to
   * its history: the run was stopped while its job was being created, and the job has been cancelled
   * since. Returns the updated record, or undefined (changing nothing) when the run does not exist or
   * has not ended.
   */
  recordLateJob(
    runId: string,
    job: { providerJobId: string; providerStatus: string },
  ): Promise<RunRecord | undefined>;
  /** The run whose provider job this is, if any run recorded it (as its job, or linked with linkProviderJob). */
  findByProviderJob(providerJobId: string): Promise<string | undefined>;
  /**
   * Records that `providerJobId` (one of several: an embedding run's batches) belongs to the run, so that its
   * event finds the run by findByProviderJob. Linking twice is no error.
   */
  linkProviderJob(runId: string, providerJobId: string): Promise<void>;
  /** The family's runs, oldest first (by createdAt). */
  listFamily(family: string): Promise<RunRecord[]>;
}

/**
 * The files dropped into a family's incoming folder that start runs, as the bucket lists them: a family's
 * lane waits for a drop received earlier whose run is not recorded yet (core/slots.ts).
 */
export interface FamilyArrivals {
  /** The family's drops (startsRun) stored at or after `since` (epoch milliseconds). */
  since(family: string, since: number): Promise<Arrival[]>;
}

/**
 * The runs not ended yet, by when their current status began: what the run store's create and advance
 * keep beside each run (functions/adapters/dynamodb-run-store.ts), so the sweep finds stuck runs
 * (core/stuck-runs.ts) without reading every run. Eventually consistent; a run whose item was last written
 * before this was kept is not listed until its status next moves.
 */
export interface ActiveRuns {
  /** The runs not ended whose current status began before `before`. */
  statusBegunBefore(before: Date): Promise<ActiveRun[]>;
}

/**
 * Provider job slots: at most `limit` runs hold one at a time (OpenAI limits concurrent jobs per
 * organization), and the runs that found none wait in a queue, oldest first. Holding and waiting are
 * keyed by run, so asking twice or releasing twice is harmless. A holder that can no longer release
 * (its run ended unreleased, or its run item is gone) does not block the others: a full set of slots
 * gives back such slots (see core/slots.ts) when someone asks for one.
 */
export interface ProviderSlots {
  /** True when the run holds a slot (now or already); false when all are taken. Skips the queue. */
  acquire(runId: string, limit: number): Promise<boolean>;
  release(runId: string): Promise<void>;
  /** True when the run holds a slot. */
  holds(runId: string): Promise<boolean>;
  /** The runs holding a slot. */
  holders(): Promise<string[]>;
  /**
   * Puts the run in the queue, keeping its place (its first `queuedAt`) if it is there already. Its place
   * is `queuedAt` (epoch ms) when given (a family's lane queues runs by when they were received), else now.
   */
  enqueue(runId: string, queuedAt?: number): Promise<void>;
  /** The runs in the queue, oldest first. */
  waiting(): Promise<SlotWaiter[]>;
  /**
   * Moves a queued run to the holders if a slot is free (taking back dead holders' slots if none is),
   * or if it holds one already: true when it now holds a slot. False when none is free or the run is
   * not in the queue.
   */
  grant(runId: string, limit: number): Promise<boolean>;
  /** Takes a run out of the queue (it ended while waiting). */
  dequeue(runId: string): Promise<void>;
}

export interface SlotWaiter {
  runId: string;
  /** When it joined the queue, epoch milliseconds. */
  queuedAt: number;
}

/**
 * Where a parked run's task tokens are kept, with the run (on its DynamoDB item, outside RunRecord: a
 * token is a credential to resume the run, not something to show).
 */
export interface ParkedRuns {
  /**
   * Keeps the token the run's wait in `lane` is resumed with (replacing an older one): its family's lane
   * (Wait for family turn) or its provider's slots (Acquire provider slot). Each lane has its own token, so
   * a family hand-over never resumes the run's later wait for a provider slot.
   */
  parkForSlot(runId: string, token: string, lane?: SlotLane): Promise<void>;
  /** The token the run's wait in `lane` has not been resumed with yet, if any. */
  slotToken(runId: string, lane?: SlotLane): Promise<string | undefined>;
  /** Forgets the token once it is used (resumed, or found gone); a newer one is kept. */
  clearSlotToken(runId: string, token: string, lane?: SlotLane): Promise<void>;
  /**
   * Parks the run's job wait on `token`, unless a wake-up came while it was not parked: then that
   * wake-up is used up and its event returned (the caller resumes the token itself); else undefined.
   */
  parkForJob(runId: string, token: string): Promise<string | undefined>;
  /**
   * Wakes the run's job wait for `event`: takes and returns the token it is parked on, or, when it is
   * not parked, leaves the wake-up for its next park and returns undefined.
   */
  wakeForJob(runId: string, event: string): Promise<string | undefined>;
}

/** Which queue a parked run waits in: its provider's slots (the default) or its family's lane. */
export type SlotLane = 'provider' | 'family';

/** Step Functions' task tokens (SendTaskSuccess). */
export interface TaskTokens {
  /** Completes the task with `output`; false when the task no longer waits (done, timed out, run ended). */
  resume(token: string, output: object): Promise<boolean>;
}

/** What tunedrop remembers of the provider's webhooks. */
export interface WebhookLog {
  /**
   * Claims a webhook delivery by its id, before acting on it: false when it was claimed before (a
   * duplicate or a replay). `expiresAt` (epoch seconds) lets the table forget it.
   */
  claim(webhookId: string, expiresAt: number): Promise<boolean>;
  /** Gives a claim back, when acting on it failed, so the provider's retry is not refused. */
  unclaim(webhookId: string): Promise<void>;
  /** Notes that a webhook passed verification now (epoch seconds). */
  noteVerified(at: number): Promise<void>;
  /** When a webhook last passed verification (epoch seconds), if ever. */
  lastVerifiedAt(): Promise<number | undefined>;
}

export type RunUpdate = Partial<
  Omit<RunRecord, 'runId' | 'status' | 'history' | 'createdAt' | 'updatedAt' | 'error'>
> & { error?: RunError; detail?: string };

/**
 * Provider job statuses in OpenAI's words, which Azure OpenAI shares and extends (pending, pausing,
 * paused, resuming) and into which the Bedrock adapter maps Bedrock's (see phaseOf in
 * workflow-state.ts); unknown future ones pass through as strings and count as still running.
 */
export type ProviderJobStatus =
  'validating_files' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | (string & {});

export interface ProviderJob {
  id: string;
  status: ProviderJobStatus;
  model: string;
  fineTunedModel: string | null;
  trainedTokens: number | null;
  resultFileIds: string[];
  error: { code: string | null; message: string; param: string | null } | null;
  createdAt: number;
  finishedAt: number | null;
  estimatedFinish: number | null;
  epochs: number | null;
}

export interface CreateJobRequest {
  runId: string;
  model: string;
  trainingFileId: string;
  validationFileId: string | null;
  suffix: string;
  seed: number;
  method: 'supervised' | 'dpo';
  /** The run's Azure OpenAI settings (azure-openai only). */
  azure?: AzureSettings | undefined;
  /** The run's Amazon Bedrock settings (bedrock only). */
  bedrock?: BedrockSettings | undefined;
  hyperparameters: {
    nEpochs: number | 'auto';
    batchSize: number | 'auto';
    learningRateMultiplier: number | 'auto';
  };
}

/** One prepared file (OpenAI chat or preference JSONL, as Prepare wrote it) to hand to the provider. */
export interface UploadRequest {
  runId: string;
  purpose: 'training' | 'validation';
  /** The name the provider shows; it starts with the run id, which is how a lost job is found again. */
  fileName: string;
  /** The file on local disk. */
  path: string;
  /** The base model the file trains, which decides the format the provider wants (catalog `dataFormat`). */
  model: string;
}

/**
 * A fine-tuning provider: OpenAI, Azure OpenAI or Amazon Bedrock. Each writes the file in the format
 * its model takes, creates exactly one job per run, reports statuses in OpenAI's words (ProviderJobStatus)
 * and results in OpenAI's results.csv columns, and translates its errors into tunedrop's typed errors
 * (permanent or not), so the steps are the same for all three.
 */
export interface FineTuningProvider {
  readonly name: ProviderName;
  uploadFile(input: UploadRequest): Promise<{ fileId: string; bytes: number }>;
  /** Creates exactly one job per run: callers look it up with findJobByRunId first. */
  createJob(request: CreateJobRequest): Promise<ProviderJob>;
  findJobByRunId(runId: string): Promise<ProviderJob | undefined>;
  getJob(jobId: string): Promise<ProviderJob>;
  cancelJob(jobId: string): Promise<ProviderJob>;
  /**
   * The job's results.csv in OpenAI's columns (step, train_loss, train_accuracy, valid_loss,
   * valid_mean_token_accuracy; possibly base64 as OpenAI delivers it), or undefined if it has none.
   * Other providers map their metrics into these columns (docs/providers.md says how).
   */
  resultFile(job: ProviderJob): Promise<Uint8Array | undefined>;
  deleteModel(model: string): Promise<void>;
}

/** One chat completion asked for evaluation (functions/evaluate). */
export interface ChatRequest {
  /** The model as the provider names it for inference (a fine-tuned model's id, a base model). */
  model: string;
  /** The example's own turns before its answer (core/evaluation.ts). */
  messages: ReadonlyArray<Record<string, unknown> & { role: string }>;
  /** Sized to the longest answer expected, so a long wrong answer costs little. */
  maxTokens: number;
  /** Alternatives of each generated token to return; 0 asks for none. At most `maxTopLogprobs`. */
  topLogprobs: number;
}

export interface ChatAnswer {
  text: string;
  /** The first generated token's alternatives, when asked for and given. */
  firstTokenTopLogprobs: Array<{ token: string; logprob: number }> | null;
  inputTokens: number;
  outputTokens: number;
}

/**
 * Calling a model the way the user will, greedily (temperature 0): chat completions at OpenAI and Azure
 * OpenAI. Errors are tunedrop's typed errors, as FineTuningProvider's are (a refused model is permanent,
 * throttling is retried by the SDK first).
 */
export interface ChatModels {
  readonly name: ProviderName;
  /** The most alternatives per token the provider returns (OpenAI 20, Azure OpenAI 5); 0 where it gives no logprobs. */
  readonly maxTopLogprobs: number;
  complete(request: ChatRequest): Promise<ChatAnswer>;
  /** The provider's Batch API, where it has one here (`"evaluation": {"mode": "batch"}`). */
  readonly batches?: ChatBatches;
  /**
   * Where a custom model answers only from a deployment of it (Amazon Bedrock's on-demand custom model
   * deployments): evaluation deploys the custom models it asks, asks the deployments, and removes them.
   */
  readonly deployments?: ModelDeployments;
}

/** A deployment's state as evaluation needs it. */
export type DeploymentState =
  { status: 'creating' } | { status: 'active' } | { status: 'failed'; reason: string };

export interface ModelDeployments {
  /** Deploys `model` as `name` (idempotent on the name: asking again gives the same deployment); its id. */
  deploy(model: string, name: string): Promise<string>;
  state(deploymentId: string): Promise<DeploymentState>;
  /** Removes a deployment; one already gone is no error. */
  remove(deploymentId: string): Promise<void>;
}

/** One request of a batch: `customId` is unique in it and names its answer (batches answer out of order). */
export interface ChatBatchLine {
  customId: string;
  request: ChatRequest;
}

/** A batch's state as evaluation needs it. */
export type ChatBatchState =
  /** Still being checked or answered (`providerStatus` is the provider's word for it). */
  | { status: 'pending'; providerStatus: string }
  /**
   * Over with answers: `completed`, or `expired` (not done in the completion window: the lines answered
   * by then are returned, and billed). A line that failed has its error instead of an answer; a line not
   * answered is in neither.
   */
  | {
      status: 'completed' | 'expired';
      answers: ReadonlyMap<string, ChatAnswer>;
      errors: ReadonlyMap<string, string>;
    }
  /** Over without answers: the input was refused (`failed`) or the batch was cancelled. */
  | { status: 'failed' | 'cancelled'; reason: string };

export interface ChatBatches {
  /** Uploads the lines (all for one model, as a batch takes them) and starts a batch; its id. */
  submit(lines: readonly ChatBatchLine[], metadata: Readonly<Record<string, string>>): Promise<string>;
  get(batchId: string): Promise<ChatBatchState>;
  /** Stops a batch; the lines answered so far are billed. */
  cancel(batchId: string): Promise<void>;
}

/** One request to a provider's embeddings endpoint: texts in order, all for one model. */
export interface EmbeddingRequest {
  /** The model as the provider names it (an Azure OpenAI deployment's name on Azure). */
  model: string;
  /** The vector size asked for; absent: the model's own. */
  dimensions?: number | undefined;
  texts: readonly string[];
}

/** A request's answer: one vector per text, in the texts' order, and the tokens the provider billed. */
export interface EmbeddingAnswer {
  vectors: number[][];
  tokens: number;
}

/** A batch's state as an embedding run needs it (its output is read separately, streamed). */
export type EmbeddingBatchState =
  | { status: 'pending'; providerStatus: string }
  /** `expired`: not done in the completion window; the lines answered by then are in the output. */
  | { status: 'completed' | 'expired'; outputFileId?: string | undefined; errorFileId?: string | undefined }
  | { status: 'failed' | 'cancelled'; reason: string };

/** One line of a batch's output or error file: its request's answer, or why it has none. */
export type EmbeddingBatchResult =
  { customId: string; answer: EmbeddingAnswer } | { customId: string; error: string };

/**
 * A provider's Batch API for embeddings (OpenAI's /v1/batches with endpoint /v1/embeddings). The input
 * file is the Batch API's own JSONL (custom_id, method, url, body), written by Prepare.
 */
export interface EmbeddingBatches {
  /** A batch not failed or cancelled whose metadata has every one of these pairs: how a batch is created once. */
  find(metadata: Readonly<Record<string, string>>): Promise<string | undefined>;
  /**
   * Uploads the input file (purpose "batch") and creates the batch with these metadata; its id. The body is
   * a Blob, so that a file of up to the Batch API's 200 MB is sent from disk, not held in memory.
   */
  submit(file: { name: string; body: Blob }, metadata: Readonly<Record<string, string>>): Promise<string>;
  state(batchId: string): Promise<EmbeddingBatchState>;
  /** A result file's lines, streamed, in the file's order (which is not the input's). */
  results(fileId: string): AsyncIterable<EmbeddingBatchResult>;
  /** Stops a batch; the lines answered so far are billed. */
  cancel(batchId: string): Promise<void>;
  /**
   * Deletes an ended batch's files at the provider (its input, which holds the texts, and its output and
   * error files); a file already gone is no error.
   */
  discard(batchId: string): Promise<void>;
}

/**
 * Embeddings at a provider: OpenAI and Azure OpenAI's /embeddings, Bedrock's InvokeModel (Titan Text
 * Embeddings V2, one text per call). Errors are tunedrop's typed errors; throttling (429) is retried with
 * backoff inside, and surfaces as ProviderUnavailableError only when the retries are spent.
 */
export interface EmbeddingModels {
  readonly name: ProviderName;
  embed(request: EmbeddingRequest): Promise<EmbeddingAnswer>;
  /** The provider's Batch API for embeddings, where tunedrop uses one (OpenAI). */
  readonly batches?: EmbeddingBatches;
}
