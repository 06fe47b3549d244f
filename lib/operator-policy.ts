import { ArnFormat, Stack, type CfnElement } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { acknowledge, nagArn } from './nag.js';
import { EMBEDDINGS_PREFIX } from '../functions/core/run.js';
import { EMBED_PREFIX } from '../functions/core/embedding-settings.js';

export interface OperatorPolicyProps {
  stateMachine: StateMachine;
  /**
   * The embedding workflow's state machine: its runs are cancelled like training runs, their inputs dropped
   * under embed/ and their files read under embeddings/.
   * @default none: operators drop, read and cancel training runs only
   */
  embeddingStateMachine?: StateMachine;
  deadLetters: IQueue;
  /** The functions `tunedrop redrive` sends dead letters back to. */
  redriveTargets: IFunction[];
  bucket: IBucket;
  incomingPrefix: string;
  table: ITable;
  /** The model registry table: `tunedrop models list|show`. */
  registryTable: ITable;
  /** The functions `tunedrop retrain` and `tunedrop models delete` invoke. */
  operatorFunctions: IFunction[];
  /** The customer managed key of the bucket, table and queue, if any: operators encrypt and decrypt with it. */
  encryptionKey?: IKey;
}

/**
 * What a person operating tunedrop needs, as one customer managed policy to attach to their IAM user or
 * role: drop files and read results, follow runs in the table, and run `tunedrop cancel` and
 * `tunedrop redrive`. Local mode runs the CLI under exactly this policy, so the list is tested.
 */
export class OperatorPolicy extends Construct {
  readonly policy: ManagedPolicy;

  constructor(scope: Construct, id: string, props: OperatorPolicyProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const embeddings = props.embeddingStateMachine;
    this.policy = new ManagedPolicy(this, 'Policy', {
      description:
        'tunedrop operators: drop files, read runs, results and models, cancel, redrive, retrain, delete models',
      statements: [
        new PolicyStatement({
          sid: 'FindTheStackOutputs',
          actions: ['cloudformation:DescribeStacks'],
          resources: [
            stack.formatArn({
              service: 'cloudformation',
              resource: 'stack',
              resourceName: `${stack.stackName}/*`,
            }),
          ],
        }),
        new PolicyStatement({
          sid: 'CancelRuns',
          actions: ['states:DescribeExecution', 'states:StopExecution'],
          resources: [props.stateMachine, ...(embeddings ? [embeddings] : [])].map((machine) =>
            stack.formatArn({
              service: 'states',
              resource: 'execution',
              resourceName: `${machine.stateMachineName}:*`,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          ),
        }),
        new PolicyStatement({
          sid: 'RedriveDeadLetters',
          actions: [
            'sqs:ReceiveMessage',
            'sqs:DeleteMessage',
            'sqs:ChangeMessageVisibility',
            'sqs:GetQueueAttributes',
          ],
          resources: [props.deadLetters.queueArn],
        }),
        new PolicyStatement({
          sid: 'RedriveToFunctions',
          actions: ['lambda:InvokeFunction'],
          resources: props.redriveTargets.map((fn) => fn.functionArn),
        }),
        new PolicyStatement({
          sid: 'DropFiles',
          actions: ['s3:PutObject'],
          resources: [
            props.bucket.arnForObjects(`${props.incomingPrefix}*`),
            ...(embeddings ? [props.bucket.arnForObjects(`${EMBED_PREFIX}*`)] : []),
          ],
        }),
        new PolicyStatement({
          sid: 'ReadResults',
          actions: ['s3:GetObject', 's3:GetObjectVersion'],
          resources: [
            props.bucket.arnForObjects('runs/*'),
            props.bucket.arnForObjects(`${props.incomingPrefix}*`),
            ...(embeddings
              ? [
                  props.bucket.arnForObjects(`${EMBEDDINGS_PREFIX}*`),
                  props.bucket.arnForObjects(`${EMBED_PREFIX}*`),
                ]
              : []),
          ],
        }),
        new PolicyStatement({
          sid: 'ListData',
          actions: ['s3:ListBucket'],
          resources: [props.bucket.bucketArn],
        }),
        // Scan: `tunedrop runs list` without --family and `tunedrop cost` read every run.
        new PolicyStatement({
          sid: 'FollowRuns',
          actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan'],
          resources: [props.table.tableArn, `${props.table.tableArn}/index/*`],
        }),
        new PolicyStatement({
          sid: 'ReadModelRegistry',
          actions: ['dynamodb:GetItem', 'dynamodb:Query'],
          resources: [props.registryTable.tableArn, `${props.registryTable.tableArn}/index/*`],
        }),
        new PolicyStatement({
          sid: 'RetrainAndDeleteModels',
          actions: ['lambda:InvokeFunction'],
          resources: props.operatorFunctions.map((fn) => fn.functionArn),
        }),
        ...(props.encryptionKey
          ? [
              new PolicyStatement({
                sid: 'UseTheDataKey',
                actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
                resources: [props.encryptionKey.keyArn],
              }),
            ]
          : []),
      ],
    });
    acknowledge(
      this.policy,
      "Each wildcard is the end of an ARN scoped to tunedrop's own resources: this stack's id " +
        '(stack/<name>/*), the executions of its state machine, the objects under runs/ and the incoming ' +
        'prefix of its bucket, the indexes of its runs and registry tables.',
      ...[
        `Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/${stack.stackName}/*`,
        `Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<${stack.getLogicalId(
          props.stateMachine.node.defaultChild as CfnElement,
        )}.Name>:*`,
        `Resource::${nagArn(props.bucket)}/runs/*`,
        `Resource::${nagArn(props.bucket)}/${props.incomingPrefix}*`,
        ...(embeddings
          ? [
              `Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<${stack.getLogicalId(
                embeddings.node.defaultChild as CfnElement,
              )}.Name>:*`,
              `Resource::${nagArn(props.bucket)}/${EMBED_PREFIX}*`,
              `Resource::${nagArn(props.bucket)}/${EMBEDDINGS_PREFIX}*`,
            ]
          : []),
        `Resource::${nagArn(props.table)}/index/*`,
        `Resource::${nagArn(props.registryTable)}/index/*`,
      ].map((finding) => `AwsSolutions-IAM5[${finding}]`),
    );
  }
}
