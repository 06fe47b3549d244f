import { App, CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import {
  Code,
  Function as LambdaFn,
  FunctionUrlAuthType,
  Runtime,
  type CfnFunction,
} from 'aws-cdk-lib/aws-lambda';
import { ENTRY_METADATA_KEY } from '../../lib/tunedrop-function.js';
import type { CloudFormationTemplate } from '../../local/template.js';

/**
 * What the product is about to add, built here with CDK's own constructs while lib/ changes elsewhere:
 * a webhook receiver with a public function URL (and an output naming it) and a rule that invokes it
 * every 10 minutes. `withWebhook` merges it into the real app's template, so the local cloud serves it
 * exactly as it would the stack's own.
 */
export const WEBHOOK_ENTRY = 'test/support/fixtures/webhook-handler.ts';
export const WEBHOOK_OUTPUT = 'WebhookUrl';

export interface WebhookOptions {
  /** The file the handler appends each event to. */
  eventLog: string;
  /** Takes CDK's generated resources away afterwards, e.g. a permission. */
  without?: (logicalId: string, type: string) => boolean;
}

export function webhookTemplate(options: WebhookOptions): CloudFormationTemplate {
  const app = new App();
  const stack = new Stack(app, 'WebhookTest');
  const fn = new LambdaFn(stack, 'Webhook', {
    runtime: Runtime.NODEJS_22_X,
    handler: 'index.handler',
    // Local mode runs the entry named in the metadata; the inline code only satisfies the construct.
    code: Code.fromInline('exports.handler = async () => undefined;'),
    timeout: Duration.seconds(10),
    environment: { EVENT_LOG: options.eventLog },
  });
  (fn.node.defaultChild as CfnFunction).addMetadata(ENTRY_METADATA_KEY, WEBHOOK_ENTRY);
  const url = fn.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });
  new CfnOutput(stack, WEBHOOK_OUTPUT, { value: url.url });
  new Rule(stack, 'WebhookTick', {
    schedule: Schedule.rate(Duration.minutes(10)),
    targets: [new LambdaFunction(fn)],
  });
  const template = app.synth().getStackByName('WebhookTest').template as CloudFormationTemplate;
  if (options.without) {
    const removed = Object.entries(template.Resources).filter(([id, r]) => options.without!(id, r.Type));
    // A filter that matches nothing would leave the test proving nothing.
    if (removed.length === 0) throw new Error('the webhook stack has no resource to take away');
    for (const [id] of removed) delete template.Resources[id];
  }
  return template;
}

/** A `transformTemplate` adding the webhook stack's resources and outputs to the app's template. */
export function withWebhook(
  options: WebhookOptions,
): (template: CloudFormationTemplate) => CloudFormationTemplate {
  return (original) => {
    const extra = webhookTemplate(options);
    return {
      ...original,
      Resources: { ...original.Resources, ...extra.Resources },
      Outputs: { ...original.Outputs, ...extra.Outputs },
    };
  };
}
