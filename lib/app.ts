import { App, type AppProps } from 'aws-cdk-lib';
import type { RunConfigInput } from '../functions/core/config.js';
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
  const stack = new TunedropStack(app, STACK_NAME, {
    description: 'tunedrop: drop a JSONL file, get a fine-tuned model',
    ...options.stackProps,
    pipeline: { ...(runDefaults ? { runDefaults } : {}), ...options.stackProps?.pipeline },
  });
  return { app, stack };
}
