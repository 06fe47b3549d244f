import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { TunedropPipeline, type TunedropPipelineProps } from './pipeline.js';

export interface TunedropStackProps extends StackProps {
  pipeline?: TunedropPipelineProps;
}

export class TunedropStack extends Stack {
  readonly pipeline: TunedropPipeline;

  constructor(scope: Construct, id: string, props: TunedropStackProps = {}) {
    super(scope, id, props);
    this.pipeline = new TunedropPipeline(this, 'Pipeline', props.pipeline);
    const p = this.pipeline;
    new CfnOutput(this, 'BucketName', {
      value: p.bucket.bucketName,
      description: 'Drop JSONL files under incoming/<family>/',
    });
    new CfnOutput(this, 'RunsTableName', { value: p.table.tableName });
    new CfnOutput(this, 'ModelRegistryTableName', {
      value: p.registryTable.tableName,
      description: "Each family's models and its current one (docs/registry.md)",
    });
    new CfnOutput(this, 'RetrainFunctionName', {
      value: p.retrainFunction.functionName,
      description: 'npx tunedrop retrain FAMILY invokes it',
    });
    new CfnOutput(this, 'ModelsFunctionName', {
      value: p.modelsFunction.functionName,
      description: 'npx tunedrop models delete MODEL invokes it',
    });
    new CfnOutput(this, 'ApiKeySecretArn', {
      value: p.apiKeySecret.secretArn,
      description: 'Put the OpenAI key here',
    });
    if (p.azureOpenAiSecret)
      new CfnOutput(this, 'AzureOpenAiSecretArn', {
        value: p.azureOpenAiSecret.secretArn,
        description:
          'For "provider": "azure-openai": put {"endpoint":"https://<resource>.openai.azure.com","apiKey":"..."} here',
      });
    if (p.bedrockServiceRole)
      new CfnOutput(this, 'BedrockServiceRoleArn', {
        value: p.bedrockServiceRole.roleArn,
        description:
          'The role Amazon Bedrock assumes for "provider": "bedrock" runs (reads runs/*/bedrock/, writes runs/*/bedrock-output/)',
      });
    new CfnOutput(this, 'WebhookUrl', {
      value: p.webhookUrl.url,
      description:
        "Register in OpenAI's dashboard (Webhooks: the fine_tuning.job and batch events); then store its secret in WebhookSecretArn",
    });
    new CfnOutput(this, 'WebhookSecretArn', {
      value: p.webhookSecret.secretArn,
      description: 'Put the whsec_... signing secret OpenAI shows for the webhook endpoint here',
    });
    new CfnOutput(this, 'StateMachineArn', { value: p.workflow.stateMachine.stateMachineArn });
    new CfnOutput(this, 'EmbeddingStateMachineArn', {
      value: p.embeddingWorkflow.stateMachine.stateMachineArn,
      description: 'The embedding runs’ workflow (files dropped under embed/)',
    });
    new CfnOutput(this, 'OperatorPolicyArn', {
      value: p.operatorPolicy.policy.managedPolicyArn,
      description: 'Attach to the IAM users or roles that drop files, read runs, cancel and redrive',
    });
    new CfnOutput(this, 'DashboardUrl', {
      value: `https://console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards:name=${p.dashboard.dashboard.dashboardName}`,
      description:
        'The CloudWatch dashboard: runs, cost, rejections, the workflow, the functions, dead letters',
    });
    new CfnOutput(this, 'NotificationTopicArn', {
      value: p.notifications.topic.topicArn,
      description:
        'Alarms and run-end summaries; subscribe to it, or deploy with -c tunedrop:notifyEmail=...',
    });
    new CfnOutput(this, 'DeadLetterQueueUrl', {
      value: p.deadLetters.queueUrl,
      description: 'Events that failed after retries; npx tunedrop redrive sends them back',
    });
  }
}
