import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { FunctionPermissions } from '../functions/adapters/permissions.js';
import { PROVIDER_JOB_INDEX } from '../functions/adapters/dynamodb-run-store.js';

export interface PermissionTargets {
  table: ITable;
  bucket: IBucket;
  apiKeySecret: ISecret;
  webhookSecret: ISecret;
  /** A thunk: the workflow's functions are granted before the state machine that invokes them exists. */
  stateMachine: () => IStateMachine;
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
  if (permissions.reads?.length)
    add(
      ['s3:GetObject', ...(permissions.readsVersions ? ['s3:GetObjectVersion'] : [])],
      permissions.reads.map((prefix) => bucket.arnForObjects(`${prefix}*`)),
    );
  if (permissions.reads?.length) bucket.encryptionKey?.grantDecrypt(fn);
  if (permissions.listsBucket) add(['s3:ListBucket'], [bucket.bucketArn]);
  if (permissions.writesRuns)
    add(
      [
        's3:PutObject',
        ...(permissions.abortsUploads ? ['s3:AbortMultipartUpload'] : []),
        ...(permissions.tagsObjects ? ['s3:PutObjectTagging'] : []),
      ],
      [bucket.arnForObjects('runs/*')],
    );
  if (permissions.writesRuns) bucket.encryptionKey?.grantEncrypt(fn);
  for (const [wanted, secret] of [
    [permissions.apiKey, targets.apiKeySecret],
    [permissions.webhookSecret, targets.webhookSecret],
  ] as const) {
    if (!wanted) continue;
    add(['secretsmanager:GetSecretValue'], [secret.secretArn]);
    secret.encryptionKey?.grantDecrypt(fn);
  }
  if (permissions.startsRuns) targets.stateMachine().grantStartExecution(fn);
}
