import { App, type AppProps } from 'aws-cdk-lib';
import type { RunConfigInput } from '../functions/core/config.js';
import type { TunedropPipelineProps } from './pipeline.js';
import { TunedropStack, type TunedropStackProps } from './stack.js';

export const STACK_NAME = 'Tunedrop';

/**
 * Builds the CDK app. bin/app.ts synthesizes it for deployment; local mode and tests build it
 * in-process (usually without bundling or validation, which they do not need).
 */
export function buildApp(options: { appProps?: AppProps; stackProps?: TunedropStackProps } = {}): {
  app: App;
  stack: TunedropStack;
} {
  const app = new App(options.appProps);
  const runDefaults = app.node.tryGetContext('tunedrop:runDefaults') as RunConfigInput | undefined;
  const notifications = notificationsContext(app);
  const stuckRunHours = numberContext(app, 'tunedrop:stuckRunHours', 'hours');
  const stack = new TunedropStack(app, STACK_NAME, {
    description: 'tunedrop: drop a JSONL file, get a fine-tuned model',
    ...options.stackProps,
    pipeline: {
      ...(runDefaults ? { runDefaults } : {}),
      ...(stuckRunHours !== undefined ? { stuckRunHours } : {}),
      ...(Object.keys(notifications).length > 0 ? { notifications } : {}),
      ...options.stackProps?.pipeline,
    },
  });
  return { app, stack };
}

/**
 * `-c tunedrop:notifyEmail=...`, `-c tunedrop:dailyCostAlarmUsd=...`, `-c tunedrop:monthlyCostAlarmUsd=...`
 * (given on the command line they are strings; the construct validates them). `-c tunedrop:stuckRunHours=...`
 * is read beside them, for the pipeline.
 */
function notificationsContext(app: App): NonNullable<TunedropPipelineProps['notifications']> {
  const email = app.node.tryGetContext('tunedrop:notifyEmail') as unknown;
  const daily = numberContext(app, 'tunedrop:dailyCostAlarmUsd', 'US dollars');
  const monthly = numberContext(app, 'tunedrop:monthlyCostAlarmUsd', 'US dollars');
  return {
    ...(email !== undefined && email !== '' ? { notifyEmail: String(email) } : {}),
    ...(daily !== undefined ? { dailyCostAlarmUsd: daily } : {}),
    ...(monthly !== undefined ? { monthlyCostAlarmUsd: monthly } : {}),
  };
}

/**
 * A number from context: given on the command line it is a string. Undefined when absent or empty; the
 * construct that takes it checks its range.
 */
function numberContext(app: App, name: string, unit: string): number | undefined {
  const value = app.node.tryGetContext(name) as unknown;
  if (value === undefined || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number of ${unit}, not "${String(value)}"`);
  return n;
}
