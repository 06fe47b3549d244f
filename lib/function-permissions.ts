import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Stack, type CfnResource } from 'aws-cdk-lib';
import { acknowledge, nagArn } from './nag.js';
import { BEDROCK_INPUT_DIR, BEDROCK_OUTPUT_DIR, EMBEDDINGS_PREFIX } from '../functions/core/run.js';
import { PolicyStatement, type IRole } from 'aws-cdk-lib/aws-iam';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type {
  BedrockAction,
  BedrockPermissions,
  FunctionPermissions,
} from '../functions/adapters/permissions.js';
import {
  ACTIVE_RUN_INDEX,
  FAMILY_INDEX,
  PROVIDER_JOB_INDEX,
} from '../functions/adapters/dynamodb-run-store.js';
import { MODEL_INDEX } from '../functions/adapters/dynamodb-model-registry.js';

export interface PermissionTargets {
  table: ITable;
  bucket: IBucket;
  apiKeySecret: ISecret;
  webhookSecret: ISecret;
  /** Azure OpenAI's endpoint and key, where the stack trains on Azure OpenAI. */
  azureOpenAiSecret?: ISecret | undefined;
  /** The service role Bedrock assumes, where the stack trains on Bedrock. */
  bedrockRole?: IRole | undefined;
  /** A thunk: the workflow's functions are granted before the state machine that invokes them exists. */
  stateMachine: () => IStateMachine;
  /** The embedding workflow's state machine, likewise a thunk. */
  embeddingStateMachine: () => IStateMachine;
  /** The model registry table. */
  registryTable: ITable;
  /** Where drops are read from (`incoming/`). */
  incomingPrefix: string;
  /** The families' current-model parameters' prefix (`/tunedrop`). */
  parameterPrefix: string;
  /** The schedule group the families' retrain schedules are in, and the role they invoke retrain as. */
  schedules: { group: CfnResource & { ref: string }; role: IRole };
}

/**
 * Grants a function exactly the calls its code makes (functions/adapters/permissions.ts): item actions
 * on the table ARN only, object actions on the prefixes it uses, each secret it reads. Statements are
 * added to the function's role policy; states:SendTaskSuccess is granted by the stack in one separate
 * policy (see lib/pipeline.ts), so `resumesRuns` is not handled here.
 */
export function grantFunctionPermissions(
  fn: IFunction,
  permissions: FunctionPermissions,
  targets: PermissionTargets,
): void {
  const add = (actions: string[], resources: string[]) =>
    fn.addToRolePolicy(new PolicyStatement({ actions, resources }));
  const { table, bucket } = targets;
  if (permissions.table.length) {
    add([...permissions.table], [table.tableArn]);
    // With a customer-managed key (the `encryptionKey` prop), items are encrypted with it.
    table.encryptionKey?.grantEncryptDecrypt(fn);
  }
  if (permissions.queriesJobIndex) add(['dynamodb:Query'], [`${table.tableArn}/index/${PROVIDER_JOB_INDEX}`]);
  if (permissions.queriesFamilyIndex) add(['dynamodb:Query'], [`${table.tableArn}/index/${FAMILY_INDEX}`]);
  if (permissions.queriesActiveRunIndex)
    add(['dynamodb:Query'], [`${table.tableArn}/index/${ACTIVE_RUN_INDEX}`]);
  if (permissions.registry?.length) {
    const registry = targets.registryTable;
    const items = permissions.registry.filter((action) => action !== 'dynamodb:Query');
    if (items.length) add([...items], [registry.tableArn]);
    if (permissions.registry.includes('dynamodb:Query'))
      add(['dynamodb:Query'], [registry.tableArn, `${registry.tableArn}/index/${MODEL_INDEX}`]);
    registry.encryptionKey?.grantEncryptDecrypt(fn);
  }
  if (permissions.currentModelParameters?.length) {
    const stack = Stack.of(fn);
    if (fn.role)
      acknowledge(
        fn.role,
        "The families' current-model parameters are named per family at run time: the stack's parameter prefix " +
          'is the narrowest bound.',
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter${targets.parameterPrefix}/*]`,
      );
    // A parameter's ARN drops the name's leading slash: parameter/tunedrop/<family>/current-model.
    add(
      [...permissions.currentModelParameters],
      [
        stack.formatArn({
          service: 'ssm',
          resource: 'parameter',
          resourceName: `${targets.parameterPrefix.replace(/^\//, '')}/*`,
        }),
      ],
    );
  }
  if (permissions.schedules) {
    const stack = Stack.of(fn);
    if (fn.role)
      acknowledge(
        fn.role,
        "The families' retrain schedules are named per family at run time: the stack's schedule group is the " +
          'narrowest bound.',
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/<${stack.getLogicalId(targets.schedules.group)}>/*]`,
      );
    add(
      [
        'scheduler:CreateSchedule',
        'scheduler:UpdateSchedule',
        'scheduler:DeleteSchedule',
        'scheduler:GetSchedule',
      ],
      [
        stack.formatArn({
          service: 'scheduler',
          resource: 'schedule',
          resourceName: `${targets.schedules.group.ref}/*`,
        }),
      ],
    );
    // Scheduler's CreateSchedule needs iam:PassRole of the schedule's role (Service Authorization
    // Reference for EventBridge Scheduler, read 2026-11-29), passed to Scheduler only.
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [targets.schedules.role.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
    );
  }
  if (permissions.reads?.length)
    add(
      ['s3:GetObject', ...(permissions.readsVersions ? ['s3:GetObjectVersion'] : [])],
      permissions.reads.map((prefix) => bucket.arnForObjects(`${prefix}*`)),
    );
  if (permissions.reads?.length) bucket.encryptionKey?.grantDecrypt(fn);
  if (permissions.listsBucket) add(['s3:ListBucket'], [bucket.bucketArn]);
  if (permissions.listsIncoming)
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': `${targets.incomingPrefix}*` } },
      }),
    );
  if (permissions.writesRuns)
    add(
      [
        's3:PutObject',
        ...(permissions.abortsUploads ? ['s3:AbortMultipartUpload'] : []),
        ...(permissions.tagsObjects ? ['s3:PutObjectTagging'] : []),
      ],
      [bucket.arnForObjects('runs/*')],
    );
  if (permissions.writesEmbeddings)
    add(
      [
        's3:PutObject',
        ...(permissions.abortsUploads ? ['s3:AbortMultipartUpload'] : []),
        ...(permissions.tagsObjects ? ['s3:PutObjectTagging'] : []),
      ],
      [bucket.arnForObjects(`${EMBEDDINGS_PREFIX}*`)],
    );
  if (permissions.writesRuns || permissions.writesEmbeddings) bucket.encryptionKey?.grantEncrypt(fn);
  for (const [wanted, secret] of [
    [permissions.apiKey, targets.apiKeySecret],
    [permissions.webhookSecret, targets.webhookSecret],
  ] as const) {
    if (!wanted) continue;
    add(['secretsmanager:GetSecretValue'], [secret.secretArn]);
    secret.encryptionKey?.grantDecrypt(fn);
  }
  if (permissions.apiKey && targets.azureOpenAiSecret) {
    add(['secretsmanager:GetSecretValue'], [targets.azureOpenAiSecret.secretArn]);
    targets.azureOpenAiSecret.encryptionKey?.grantDecrypt(fn);
  }
  if (permissions.startsRuns) targets.stateMachine().grantStartExecution(fn);
  if (permissions.startsEmbeddingRuns) targets.embeddingStateMachine().grantStartExecution(fn);
  // Run events go to the account's default bus, and only there (core/run-events.ts).
  if (permissions.publishesRunEvents) add(['events:PutEvents'], [defaultEventBusArn(Stack.of(fn))]);
  if (permissions.bedrock && targets.bedrockRole)
    grantBedrock(fn, permissions.bedrock, targets.bedrockRole, bucket);
}

/** The account's default EventBridge bus in the stack's region: where run events are put. */
export function defaultEventBusArn(stack: Stack): string {
  return stack.formatArn({ service: 'events', resource: 'event-bus', resourceName: 'default' });
}

/**
 * Bedrock's actions on the resource types the Service Authorization Reference gives them
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrock.html, read
 * 2026-11-29): CreateModelCustomizationJob on custom-model and foundation-model, Get and Stop on
 * model-customization-job, List on "*" (no resource type); iam:PassRole of the one service role, to
 * Bedrock only. Objects under runs/ for the converted training files and Bedrock's metrics.
 */
function grantBedrock(fn: IFunction, permissions: BedrockPermissions, role: IRole, bucket: IBucket): void {
  const stack = Stack.of(fn);
  const arn = (resource: string, account = stack.account) =>
    `arn:${stack.partition}:bedrock:${stack.region}:${account}:${resource}`;
  const resourcesOf: Record<BedrockAction, string[]> = {
    'bedrock:CreateModelCustomizationJob': [arn('custom-model/*'), arn('foundation-model/*', '')],
    'bedrock:GetModelCustomizationJob': [arn('model-customization-job/*')],
    'bedrock:StopModelCustomizationJob': [arn('model-customization-job/*')],
    'bedrock:ListModelCustomizationJobs': ['*'],
    'bedrock:DeleteCustomModel': [arn('custom-model/*')],
    'bedrock:CreateCustomModelDeployment': [arn('custom-model/*')],
    'bedrock:GetCustomModelDeployment': [arn('custom-model-deployment/*')],
    'bedrock:DeleteCustomModelDeployment': [arn('custom-model-deployment/*')],
    'bedrock:InvokeModel': [arn('custom-model-deployment/*'), arn('foundation-model/*', '')],
  };
  for (const action of permissions.actions)
    fn.addToRolePolicy(new PolicyStatement({ actions: [action], resources: resourcesOf[action] }));
  const wildcards = [...new Set(permissions.actions.flatMap((action) => resourcesOf[action]))].filter(
    (resource) => resource !== '*',
  );
  const folders = [
    ...(permissions.writesRuns ? [BEDROCK_INPUT_DIR] : []),
    ...(permissions.readsRuns ? [BEDROCK_OUTPUT_DIR] : []),
  ];
  if (folders.length && fn.role)
    acknowledge(
      fn.role,
      "Objects in Bedrock's folders of any run (runs/<run>/bedrock/ or bedrock-output/): run ids are not known " +
        'at deploy time, and the folder pattern is the narrowest bound.',
      ...folders.map((folder) => `AwsSolutions-IAM5[Resource::${nagArn(bucket)}/runs/*/${folder}/*]`),
    );
  if (wildcards.length && fn.role)
    acknowledge(
      fn.role,
      "Bedrock's customization jobs, custom models and base models are named at run time (one per run, the " +
        'model from its tunedrop.json): the resource types of this account and region are the narrowest bound.',
      ...wildcards.map(
        (resource) =>
          `AwsSolutions-IAM5[Resource::${resource
            .replace(stack.partition, '<AWS::Partition>')
            .replace(stack.region, '<AWS::Region>')
            .replace(`:${stack.account}:`, ':<AWS::AccountId>:')}]`,
      ),
    );
  if (permissions.passesRole)
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [role.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'bedrock.amazonaws.com' } },
      }),
    );
  // Only Bedrock's own folders of each run: its input is written, its output read, nothing else of runs/.
  const input = bucket.arnForObjects(`runs/*/${BEDROCK_INPUT_DIR}/*`);
  const output = bucket.arnForObjects(`runs/*/${BEDROCK_OUTPUT_DIR}/*`);
  if (permissions.writesRuns) {
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:PutObjectTagging'],
        resources: [input],
      }),
    );
    bucket.encryptionKey?.grantEncrypt(fn);
  }
  if (permissions.readsRuns) {
    fn.addToRolePolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: [output] }));
    fn.addToRolePolicy(new PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
    bucket.encryptionKey?.grantDecrypt(fn);
  }
}
