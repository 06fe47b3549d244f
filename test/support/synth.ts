import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../lib/app.js';
import type { TunedropStackProps } from '../../lib/stack.js';

/** Synthesizes the real app in-process, without bundling or validation (neither changes the template's shape). */
export function synthTemplate(stackProps: TunedropStackProps = {}) {
  const { stack } = buildApp({
    appProps: { context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false },
    stackProps,
  });
  return { stack, template: Template.fromStack(stack) };
}
