/**
 * The AWS calls each function's code makes, as IAM actions on the resources the stack names: what its
 * role must grant, no more. The stack grants exactly these (lib/pipeline.ts), the template test compares
 * each role with them, and local mode's IAM decisions during the end-to-end scenarios must stay inside
 * them. Kept here, beside the adapters that make the calls: change an adapter, change its line below.
 *
 * By adapter method (functions/adapters/*):
 *   RunStore        create PutItem; get GetItem; advance, recordLateJob UpdateItem;
 *                   findByProviderJob Query on the byProviderJob index; listFamily Query on byFamily
 *   ActiveRuns      statusBegunBefore Query on the byActiveStatus index
 *   ModelRegistry   register PutItem, UpdateItem; current GetItem; find, families Query on byModel;
 *                   list Query; markDeleted, clearCurrent UpdateItem (the registry table)
 *   CurrentModelParameters  put ssm:PutParameter; remove ssm:DeleteParameter, on <prefix>/*
 *   FamilySchedules scheduler:Create/Update/Delete/GetSchedule in the stack's schedule group, and
 *                   iam:PassRole of the scheduler role, to EventBridge Scheduler only
 *   Bedrock models  deleteModel bedrock:DeleteCustomModel on custom-model/*
 *   Bedrock chat    deploy CreateCustomModelDeployment, state GetCustomModelDeployment, remove
 *                   DeleteCustomModelDeployment (custom-model-deployment/*, and the custom model);
 *                   complete: Converse, authorized as bedrock:InvokeModel on the deployment or the base
 *                   model (foundation-model/*)
 *   ProviderSlots   GetItem (the slots item, holders' run status), UpdateItem; a family's lane's
 *                   hand-over also reads the family's runs (listFamily: Query on byFamily)
 *   ParkedRuns      GetItem, UpdateItem
 *   WebhookLog      claim PutItem; unclaim DeleteItem; noteVerified UpdateItem; lastVerifiedAt GetItem
 *   FamilyArrivals  since: s3:ListBucket with s3:prefix under the incoming prefix
 *   ObjectStore     head, read, readText: s3:GetObject (s3:GetObjectVersion with a version id), and,
 *                   where the object may not exist, s3:ListBucket so that a miss is a 404, not a 403
 *                   (S3 API reference, GetObject, read 2026-11-29); write PutObject; createWriter PutObject (multipart parts
 *                   are authorized as s3:PutObject) and s3:AbortMultipartUpload when it gives up
 *   RunEvents       published events:PutEvents on the default event bus (core/run-events.ts): the run store
 *                   publishes each move its create or advance makes, so every function that moves a run's
 *                   status (not get-status: its TRAINING progress notes are no move) holds it
 *   TaskTokens      states:SendTaskSuccess (on "*": the action has no resource type)
 *   the run starter states:StartExecution on the state machine
 *   the key         secretsmanager:GetSecretValue on the API key secret (the webhook's: its own secret)
 *                   and, with Azure OpenAI, on the Azure OpenAI secret (its endpoint and key)
 *   Bedrock         uploadFile writes runs/<run>/bedrock/ (PutObject, AbortMultipartUpload, and
 *                   PutObjectTagging: the copies expire like Prepare's); createJob
 *                   CreateModelCustomizationJob and iam:PassRole of the service role, then
 *                   GetModelCustomizationJob; findJobByRunId ListModelCustomizationJobs; getJob
 *                   GetModelCustomizationJob; cancelJob StopModelCustomizationJob and Get; resultFile
 *                   GetObject (and ListBucket: a metrics file may be missing) under runs/<run>/bedrock-output/
 */
export type BedrockAction =
  | 'bedrock:CreateModelCustomizationJob'
  | 'bedrock:GetModelCustomizationJob'
  | 'bedrock:ListModelCustomizationJobs'
  | 'bedrock:StopModelCustomizationJob'
  | 'bedrock:DeleteCustomModel'
  | 'bedrock:CreateCustomModelDeployment'
  | 'bedrock:GetCustomModelDeployment'
  | 'bedrock:DeleteCustomModelDeployment'
  | 'bedrock:InvokeModel';

/** What a function needs from Bedrock, granted only where the stack trains on Bedrock. */
export interface BedrockPermissions {
  actions: readonly BedrockAction[];
  /** Passes the service role to Bedrock (iam:PassRole, for bedrock.amazonaws.com only). */
  passesRole?: boolean;
  /**
   * Writes the converted training files under runs/ (PutObject, AbortMultipartUpload), tagged as
   * training copies for the bucket's expiry rule (PutObjectTagging).
   */
  writesRuns?: boolean;
  /** Reads Bedrock's metrics under runs/ (GetObject, and ListBucket for a 404 on a missing one). */
  readsRuns?: boolean;
}
export type TableAction =
  'dynamodb:GetItem' | 'dynamodb:PutItem' | 'dynamodb:UpdateItem' | 'dynamodb:DeleteItem';

/** What a function does with the model registry table (core/registry.ts). */
export type RegistryAction = TableAction | 'dynamodb:Query';

export interface FunctionPermissions {
  /** Item actions on the runs table (never on its indexes). */
  table: readonly TableAction[];
  /** Queries the byProviderJob index. */
  queriesJobIndex?: boolean;
  /** Queries the byFamily index (a family's runs). */
  queriesFamilyIndex?: boolean;
  /** Queries the byActiveStatus index (the runs not ended, by when their status began: stuck runs). */
  queriesActiveRunIndex?: boolean;
  /** Item actions on the model registry table; dynamodb:Query on it and its byModel index. */
  registry?: readonly RegistryAction[];
  /** Writes (and deletes) the families' current-model SSM parameters. */
  currentModelParameters?: ReadonlyArray<'ssm:PutParameter' | 'ssm:DeleteParameter'>;
  /** Creates, changes and deletes the families' retrain schedules (EventBridge Scheduler). */
  schedules?: boolean;
  /** Object reads (s3:GetObject), by prefix: drops, runs' files, embedding inputs and embedding runs' files. */
  reads?: ReadonlyArray<'incoming/' | 'runs/' | 'embed/' | 'embeddings/'>;
  /** Looks up objects that may not exist (a companion file, tunedrop.json): s3:ListBucket, for a 404. */
  listsBucket?: boolean;
  /**
   * Lists the drops under the incoming prefix (FamilyArrivals: a family's lane waits for a drop received
   * earlier): s3:ListBucket, only where the listing's prefix is under the incoming prefix.
   */
  listsIncoming?: boolean;
  /** Whether the function reads objects by version id (s3:GetObjectVersion). */
  readsVersions?: boolean;
  /** Object writes under runs/ (PutObject). */
  writesRuns?: boolean;
  /** Object writes under embeddings/ (PutObject): an embedding run's reports, requests, results and output. */
  writesEmbeddings?: boolean;
  /** Multipart writes that may be aborted (s3:AbortMultipartUpload), under runs/ or embeddings/ as it writes. */
  abortsUploads?: boolean;
  /** Tags what it writes under runs/ (s3:PutObjectTagging): Prepare's training copies, for their expiry. */
  tagsObjects?: boolean;
  /** Reads the provider API key secret. */
  apiKey?: boolean;
  /** Reads the webhook signing secret. */
  webhookSecret?: boolean;
  /** Starts the run workflow (states:StartExecution). */
  startsRuns?: boolean;
  /** Starts the embedding workflow (states:StartExecution on its state machine). */
  startsEmbeddingRuns?: boolean;
  /** Resumes parked runs (states:SendTaskSuccess). */
  resumesRuns?: boolean;
  /** Calls Amazon Bedrock, where the stack trains on it. */
  bedrock?: BedrockPermissions;
  /** Moves runs' status, and so publishes run events (events:PutEvents on the default bus). */
  publishesRunEvents?: boolean;
}

const RUNS = ['dynamodb:GetItem', 'dynamodb:UpdateItem'] as const;

/** By function step (functions/<step>/handler.ts). */
export const FUNCTION_PERMISSIONS = {
  validate: {
    publishesRunEvents: true,
    table: ['dynamodb:PutItem', ...RUNS],
    reads: ['incoming/'],
    readsVersions: true,
    listsBucket: true,
    writesRuns: true,
    startsRuns: true,
  },
  // Prepare reads the family's runs and their validation reports ("dataset": "all") and its current model.
  prepare: {
    publishesRunEvents: true,
    table: [...RUNS],
    queriesFamilyIndex: true,
    registry: ['dynamodb:GetItem'],
    reads: ['incoming/', 'runs/'],
    readsVersions: true,
    writesRuns: true,
    abortsUploads: true,
    tagsObjects: true,
  },
  upload: {
    publishesRunEvents: true,
    table: ['dynamodb:UpdateItem'],
    reads: ['runs/'],
    apiKey: true,
    bedrock: { actions: [], writesRuns: true },
  },
  // Handing a family's lane over reads the family's runs and lists its drops (one received earlier goes
  // first): so do Record, reconcile and the sweep.
  'acquire-slot': { table: [...RUNS], queriesFamilyIndex: true, listsIncoming: true, resumesRuns: true },
  'create-job': {
    publishesRunEvents: true,
    table: [...RUNS],
    apiKey: true,
    bedrock: {
      actions: [
        'bedrock:CreateModelCustomizationJob',
        'bedrock:GetModelCustomizationJob',
        'bedrock:ListModelCustomizationJobs',
        'bedrock:StopModelCustomizationJob',
      ],
      passesRole: true,
    },
  },
  'await-job': { table: ['dynamodb:UpdateItem'], resumesRuns: true },
  'get-status': {
    table: [...RUNS],
    apiKey: true,
    bedrock: { actions: ['bedrock:GetModelCustomizationJob', 'bedrock:StopModelCustomizationJob'] },
  },
  // Collect registers the new model; Record makes it current if Evaluate promotes it.
  collect: {
    publishesRunEvents: true,
    table: ['dynamodb:UpdateItem'],
    registry: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
    // The run's validation.json, for the findings its report.html shows (core/run-report.ts).
    reads: ['runs/'],
    writesRuns: true,
    apiKey: true,
    bedrock: { actions: ['bedrock:GetModelCustomizationJob'], readsRuns: true },
  },
  // Asks the new model and the current one the held-out examples (the provider's chat completions),
  // reads the family's current model, writes evaluation.json and the report; deletes a model not promoted
  // under "notPromoted": "delete" (the provider's model, then its registry item).
  // On Bedrock, Evaluate deploys the custom models it asks (on-demand deployments), asks them and the base
  // model (Converse is bedrock:InvokeModel), removes the deployments, and deletes a model not promoted
  // under "notPromoted": "delete".
  evaluate: {
    publishesRunEvents: true,
    table: [...RUNS],
    registry: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
    reads: ['runs/'],
    writesRuns: true,
    apiKey: true,
    bedrock: {
      actions: [
        'bedrock:CreateCustomModelDeployment',
        'bedrock:GetCustomModelDeployment',
        'bedrock:DeleteCustomModelDeployment',
        'bedrock:InvokeModel',
        'bedrock:DeleteCustomModel',
      ],
    },
  },
  // Record and reconcile amend the validation report of a run that ended without a model (runs/). Record
  // promotes the new model: the registry's pointer (found by model id) and the family's SSM parameter.
  record: {
    publishesRunEvents: true,
    table: [...RUNS],
    queriesFamilyIndex: true,
    listsIncoming: true,
    registry: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
    currentModelParameters: ['ssm:PutParameter'],
    reads: ['runs/'],
    writesRuns: true,
    resumesRuns: true,
  },
  reconcile: {
    publishesRunEvents: true,
    table: [...RUNS],
    queriesFamilyIndex: true,
    listsIncoming: true,
    reads: ['runs/'],
    writesRuns: true,
    apiKey: true,
    resumesRuns: true,
    bedrock: {
      actions: [
        'bedrock:GetModelCustomizationJob',
        'bedrock:ListModelCustomizationJobs',
        'bedrock:StopModelCustomizationJob',
      ],
    },
  },
  // It also counts the stuck runs, from the index of runs not ended (ActiveRuns).
  'sweep-slots': {
    table: [...RUNS],
    queriesFamilyIndex: true,
    listsIncoming: true,
    queriesActiveRunIndex: true,
    resumesRuns: true,
  },
  // findByProviderJob (the index), wakeForJob (ParkedRuns: GetItem, UpdateItem), resume.
  'job-event': {
    table: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
    queriesJobIndex: true,
    resumesRuns: true,
  },
  // A family's schedule or an operator starts a run on the family's data (functions/retrain).
  retrain: {
    publishesRunEvents: true,
    table: ['dynamodb:PutItem', ...RUNS],
    queriesFamilyIndex: true,
    registry: ['dynamodb:GetItem'],
    reads: ['incoming/', 'runs/'],
    listsBucket: true,
    startsRuns: true,
  },
  // `tunedrop models delete`: the model at its provider, then its registry item and parameter.
  // `tunedrop models promote`: the family's pointer and parameter.
  models: {
    table: [],
    registry: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
    currentModelParameters: ['ssm:DeleteParameter', 'ssm:PutParameter'],
    apiKey: true,
    bedrock: { actions: ['bedrock:DeleteCustomModel'] },
  },
  // A family's tunedrop.json written or removed: its retrain schedule follows (functions/family-settings).
  'family-settings': {
    table: [],
    reads: ['incoming/'],
    readsVersions: true,
    listsBucket: true,
    schedules: true,
  },
  webhook: {
    table: ['dynamodb:PutItem', 'dynamodb:DeleteItem', ...RUNS],
    queriesJobIndex: true,
    webhookSecret: true,
    resumesRuns: true,
  },
  // Embeddings (#15). A drop under embed/ (and its collection's tunedrop.json, which may not exist): the
  // run recorded, the reports written under embeddings/<run>/, the embedding workflow started.
  'validate-embeddings': {
    publishesRunEvents: true,
    table: ['dynamodb:PutItem', ...RUNS],
    reads: ['embed/'],
    readsVersions: true,
    listsBucket: true,
    writesEmbeddings: true,
    startsEmbeddingRuns: true,
  },
  // Reads the drop at its version, writes the request files.
  'embed-prepare': {
    publishesRunEvents: true,
    table: [...RUNS],
    reads: ['embed/'],
    readsVersions: true,
    writesEmbeddings: true,
    abortsUploads: true,
    // The request files copy the texts: tagged for the bucket's expiry rule, as Prepare's training copies.
    tagsObjects: true,
  },
  // Creates each batch once (uploading its request file), links it to the run (PutItem), reads the
  // webhook log (whether webhooks arrive: how long to wait), copies the results to embeddings/<run>/.
  'embed-batches': {
    publishesRunEvents: true,
    table: ['dynamodb:PutItem', ...RUNS],
    reads: ['embeddings/'],
    writesEmbeddings: true,
    abortsUploads: true,
    tagsObjects: true,
    apiKey: true,
  },
  // Reads the drop again (ids and metadata) and the results (or, in direct mode, calls the provider:
  // Bedrock's InvokeModel for Titan), writes the output and the manifest, ends the run.
  'embed-collect': {
    publishesRunEvents: true,
    table: [...RUNS],
    reads: ['embed/', 'embeddings/'],
    readsVersions: true,
    writesEmbeddings: true,
    abortsUploads: true,
    apiKey: true,
    bedrock: { actions: ['bedrock:InvokeModel'] },
  },
  // Records an embedding run's failure, with its cause.
  'embed-record': { publishesRunEvents: true, table: [...RUNS], apiKey: true },
} as const satisfies Record<string, FunctionPermissions>;

export type FunctionStep = keyof typeof FUNCTION_PERMISSIONS;

/**
 * The IAM actions a function's permissions come to (what its role grants, besides tracing and logging),
 * on a stack that trains on `providers` (all three by default).
 */
export function actionsOf(
  permissions: FunctionPermissions,
  providers: readonly string[] = ['openai', 'azure-openai', 'bedrock'],
): string[] {
  const p = permissions as FunctionPermissions;
  const bedrock = providers.includes('bedrock') ? p.bedrock : undefined;
  const reads = Boolean(p.reads?.length) || Boolean(bedrock?.readsRuns);
  const writes = Boolean(p.writesRuns) || Boolean(p.writesEmbeddings) || Boolean(bedrock?.writesRuns);
  return [
    ...new Set([
      ...p.table,
      ...(p.queriesJobIndex || p.queriesFamilyIndex || p.queriesActiveRunIndex ? ['dynamodb:Query'] : []),
      ...(p.registry ?? []),
      ...(p.currentModelParameters ?? []),
      ...(p.schedules
        ? [
            'scheduler:CreateSchedule',
            'scheduler:DeleteSchedule',
            'scheduler:GetSchedule',
            'scheduler:UpdateSchedule',
            'iam:PassRole',
          ]
        : []),
      ...(reads ? ['s3:GetObject'] : []),
      ...(p.reads?.length && p.readsVersions ? ['s3:GetObjectVersion'] : []),
      ...(p.listsBucket || p.listsIncoming || bedrock?.readsRuns ? ['s3:ListBucket'] : []),
      ...(writes ? ['s3:PutObject'] : []),
      ...(((p.writesRuns || p.writesEmbeddings) && p.abortsUploads) || bedrock?.writesRuns
        ? ['s3:AbortMultipartUpload']
        : []),
      ...(((p.writesRuns || p.writesEmbeddings) && p.tagsObjects) || bedrock?.writesRuns
        ? ['s3:PutObjectTagging']
        : []),
      ...(p.apiKey || p.webhookSecret ? ['secretsmanager:GetSecretValue'] : []),
      ...(p.startsRuns || p.startsEmbeddingRuns ? ['states:StartExecution'] : []),
      ...(p.resumesRuns ? ['states:SendTaskSuccess'] : []),
      ...(p.publishesRunEvents ? ['events:PutEvents'] : []),
      ...(bedrock?.actions ?? []),
      ...(bedrock?.passesRole ? ['iam:PassRole'] : []),
    ]),
  ].sort();
}
