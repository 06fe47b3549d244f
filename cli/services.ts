import type { z } from 'zod';
import { RunRecordSchema, type RunKind } from '../functions/core/run.js';
import type { CurrentModel, ModelEntry } from '../functions/core/registry.js';

/** A run as the CLI reads it: the pipeline's RunRecord (parentModel, trigger and dataset included). */
export const CliRunSchema = RunRecordSchema;
export type CliRun = z.infer<typeof CliRunSchema>;

export interface RunQuery {
  family?: string | undefined;
  status?: string | undefined;
  /** Only runs of this kind (`fine-tuning` includes the items from before #15, which have no kind). */
  kind?: RunKind | undefined;
  limit: number;
}

/** The registry as the CLI reads it: models and each family's current-model pointer. */
export interface RegistryView {
  models: ModelEntry[];
  current: CurrentModel[];
}

/**
 * What the operator commands need from the cloud, so they are tested against in-memory fakes and run
 * against AWS or the local cloud through aws-services.ts.
 */
export interface Services {
  /** A stack output; `instead` names the option that gives the value without the stack, for the fix. */
  output(key: string, instead?: string): Promise<string>;
  getRun(runId: string): Promise<CliRun | undefined>;
  /** Runs newest first, at most `limit`; items that are not runs (their runId starts with "~") left out. */
  listRuns(query: RunQuery): Promise<CliRun[]>;
  /** Every run, for the cost report. */
  allRuns(): Promise<CliRun[]>;
  registry(family?: string): Promise<RegistryView>;
  findModel(model: string): Promise<ModelEntry | undefined>;
  /** Invokes a function synchronously and returns its JSON answer. */
  invoke(functionName: string, payload: unknown): Promise<unknown>;
  readObject(bucket: string, key: string): Promise<Uint8Array>;
  close(): void;
}
