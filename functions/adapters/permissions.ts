/**
 * The AWS calls each function's code makes, as IAM actions on the resources the stack names: what its
 * role must grant, no more. The stack grants exactly these (lib/pipeline.ts), the template test compares
 * each role with them, and local mode's IAM decisions during the end-to-end scenarios must stay inside
 * them. Kept here, beside the adapters that make the calls: change an adapter, change its line below.
 *
 * By adapter method (functions/adapters/*):
 *   RunStore        create PutItem; get GetItem; advance, recordLateJob UpdateItem;
 *                   findByProviderJob Query on the byProviderJob index
 *   ProviderSlots   GetItem (the slots item, holders' run status), UpdateItem
 *   ParkedRuns      GetItem, UpdateItem
 *   WebhookLog      claim PutItem; unclaim DeleteItem; noteVerified UpdateItem; lastVerifiedAt GetItem
 *   ObjectStore     head, read, readText: s3:GetObject (s3:GetObjectVersion with a version id), and,
 *                   where the object may not exist, s3:ListBucket so that a miss is a 404, not a 403
 *                   (S3 API reference, GetObject, read 2026-11-29); write PutObject; createWriter PutObject (multipart parts
 *                   are authorized as s3:PutObject) and s3:AbortMultipartUpload when it gives up
 *   TaskTokens      states:SendTaskSuccess (on "*": the action has no resource type)
 *   the run starter states:StartExecution on the state machine
 *   the key         secretsmanager:GetSecretValue on the API key secret (the webhook's: its own secret)
 */
export type TableAction =
  'dynamodb:GetItem' | 'dynamodb:PutItem' | 'dynamodb:UpdateItem' | 'dynamodb:DeleteItem';

export interface FunctionPermissions {
  /** Item actions on the runs table (never on its indexes). */
  table: readonly TableAction[];
  /** Queries the byProviderJob index. */
  queriesJobIndex?: boolean;
  /** Object reads (s3:GetObject), by prefix. */
  reads?: ReadonlyArray<'incoming/' | 'runs/'>;
  /** Looks up objects that may not exist (a companion file, tunedrop.json): s3:ListBucket, for a 404. */
  listsBucket?: boolean;
  /** Whether the function reads objects by version id (s3:GetObjectVersion). */
  readsVersions?: boolean;
  /** Object writes under runs/ (PutObject). */
  writesRuns?: boolean;
  /** Multipart writes that may be aborted (s3:AbortMultipartUpload) under runs/. */
  abortsUploads?: boolean;
  /** Tags what it writes under runs/ (s3:PutObjectTagging): Prepare's training copies, for their expiry. */
  tagsObjects?: boolean;
  /** Reads the provider API key secret. */
  apiKey?: boolean;
  /** Reads the webhook signing secret. */
  webhookSecret?: boolean;
  /** Starts the run workflow (states:StartExecution). */
  startsRuns?: boolean;
  /** Resumes parked runs (states:SendTaskSuccess). */
  resumesRuns?: boolean;
}

const RUNS = ['dynamodb:GetItem', 'dynamodb:UpdateItem'] as const;

/** By function step (functions/<step>/handler.ts). */
export const FUNCTION_PERMISSIONS = {
  validate: {
    table: ['dynamodb:PutItem', ...RUNS],
    reads: ['incoming/'],
    readsVersions: true,
    listsBucket: true,
    writesRuns: true,
    startsRuns: true,
  },
  prepare: {
    table: ['dynamodb:UpdateItem'],
    reads: ['incoming/'],
    readsVersions: true,
    writesRuns: true,
    abortsUploads: true,
    tagsObjects: true,
  },
  upload: { table: ['dynamodb:UpdateItem'], reads: ['runs/'], apiKey: true },
  'acquire-slot': { table: [...RUNS], resumesRuns: true },
  'create-job': { table: [...RUNS], apiKey: true },
  'await-job': { table: ['dynamodb:UpdateItem'], resumesRuns: true },
  'get-status': { table: [...RUNS], apiKey: true },
  collect: { table: ['dynamodb:UpdateItem'], writesRuns: true, apiKey: true },
  // Record and reconcile amend the validation report of a run that ended without a model (runs/).
  record: { table: [...RUNS], reads: ['runs/'], writesRuns: true, resumesRuns: true },
  reconcile: { table: [...RUNS], reads: ['runs/'], writesRuns: true, apiKey: true, resumesRuns: true },
  'sweep-slots': { table: [...RUNS], resumesRuns: true },
  webhook: {
    table: ['dynamodb:PutItem', 'dynamodb:DeleteItem', ...RUNS],
    queriesJobIndex: true,
    webhookSecret: true,
    resumesRuns: true,
  },
} as const satisfies Record<string, FunctionPermissions>;

export type FunctionStep = keyof typeof FUNCTION_PERMISSIONS;

/** The IAM actions a function's permissions come to (what its role grants, besides tracing and logging). */
export function actionsOf(permissions: FunctionPermissions): string[] {
  const p = permissions as FunctionPermissions;
  return [
    ...p.table,
    ...(p.queriesJobIndex ? ['dynamodb:Query'] : []),
    ...(p.reads?.length ? ['s3:GetObject'] : []),
    ...(p.reads?.length && p.readsVersions ? ['s3:GetObjectVersion'] : []),
    ...(p.listsBucket ? ['s3:ListBucket'] : []),
    ...(p.writesRuns ? ['s3:PutObject'] : []),
    ...(p.writesRuns && p.abortsUploads ? ['s3:AbortMultipartUpload'] : []),
    ...(p.writesRuns && p.tagsObjects ? ['s3:PutObjectTagging'] : []),
    ...(p.apiKey || p.webhookSecret ? ['secretsmanager:GetSecretValue'] : []),
    ...(p.startsRuns ? ['states:StartExecution'] : []),
    ...(p.resumesRuns ? ['states:SendTaskSuccess'] : []),
  ].sort();
}
