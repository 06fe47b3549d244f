import { Logger } from '@aws-lambda-powertools/logger';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import { formatErrorMessage, InvalidEventError, TunedropError } from '../core/errors.js';
import { redactError, redactSecrets } from '../core/redact.js';
import { awsClients } from './aws-clients.js';
import { readEnvironment } from './environment.js';
import { providerSecretsMiddleware, type ContextWithProviderSecrets } from './provider-secrets.js';
import { runMetricsMiddleware } from './run-metrics.js';

/**
 * Every function's logger. Each string of every line is masked (functions/core/redact.ts) on its way
 * out, errors and their causes included, so no log line carries a provider key.
 */
export const logger = new Logger({
  serviceName: 'tunedrop',
  jsonReplacerFn: (_key, value: unknown) => (typeof value === 'string' ? redactSecrets(value) : value),
});

/**
 * Every function's X-Ray tracer (Powertools Tracer, over the X-Ray SDK). Lambda's active tracing records
 * the invocation; `tracedHandler` adds a `## <handler>` subsegment per invocation, annotated with the run
 * (`annotateRun`), and the AWS SDK clients (aws-clients.ts) and every `fetch` (the provider SDKs) add a
 * subsegment per call: Tracer 2.x traces "HTTP(S) clients including fetch" by default
 * (captureHTTPsRequests; Powertools for AWS Lambda (TypeScript) Tracer API reference,
 * https://docs.aws.amazon.com/powertools/typescript/latest/api/modules/_aws-lambda-powertools_tracer.html,
 * read 2026-11-30; 2.36.0 subscribes to undici's diagnostics channels, which Node's fetch publishes on).
 *
 * Outside Lambda (unit tests, scripts) it is off by itself: Tracer enables itself only when
 * AWS_EXECUTION_ENV is set (and POWERTOOLS_TRACE_ENABLED is not "false"), and then tells the X-Ray SDK to
 * ignore a missing segment, so it neither sends nor logs anything. Local mode's environments get
 * AWS_EXECUTION_ENV and a daemon, as on Lambda (local/cloud/xray.ts).
 */
export const tracer = new Tracer({ serviceName: 'tunedrop' });

/**
 * The middleware that opens and closes each invocation's subsegment. stepHandler uses it first, so that
 * reading the secrets and writing the metrics are inside it; every handler uses it. The Tracer keeps a
 * failed invocation's error (message and stack) in X-Ray: it is masked first, as in every log line, so no
 * provider key reaches X-Ray either.
 */
export const traceInvocation = () => {
  const capture = captureLambdaHandler(tracer);
  return {
    ...capture,
    onError: async (request: Parameters<NonNullable<typeof capture.onError>>[0]) => {
      if (request.error) redactError(request.error);
      await capture.onError?.(request);
    },
  };
};

/**
 * Annotates the invocation's subsegment with the run it is about (the keys of runLogKeys), so that a run's
 * traces are found in the X-Ray console with `annotation.runId = "<runId>"`. Annotations are indexed;
 * a later value of the same key replaces an earlier one.
 */
export function annotateRun(keys: { runId?: string; family?: string; jobId?: string }): void {
  if (!tracer.isTracingEnabled()) return;
  for (const [key, value] of Object.entries(keys)) if (value !== undefined) tracer.putAnnotation(key, value);
}

/** The run a step's input is about: its id, family and provider job, where the input has them. */
export function runLogKeys(input: unknown): { runId?: string; family?: string; jobId?: string } {
  const state = (typeof input === 'object' && input !== null ? input : {}) as {
    runId?: unknown;
    family?: unknown;
    job?: { jobId?: unknown } | null;
  };
  const text = (value: unknown) => (typeof value === 'string' && value ? value : undefined);
  const keys = { runId: text(state.runId), family: text(state.family), jobId: text(state.job?.jobId) };
  return Object.fromEntries(Object.entries(keys).filter(([, v]) => v !== undefined));
}

/**
 * Builds a workflow step's Lambda handler: parse the state with the step's schema, run the step, log,
 * and shape errors so Step Functions can route them (error name = class name) and Record can tell the
 * user the fix. With `providerSecrets`, the step can read the providers' credentials from Secrets Manager
 * (each when first needed).
 */
export function stepHandler<S extends z.ZodType, R>(
  name: string,
  schema: S,
  step: (input: z.infer<S>, context: Context) => Promise<R>,
): middy.MiddyfiedHandler<unknown, R, Error, Context>;
export function stepHandler<S extends z.ZodType, R>(
  name: string,
  schema: S,
  step: (input: z.infer<S>, context: ContextWithProviderSecrets) => Promise<R>,
  options: { providerSecrets: true },
): middy.MiddyfiedHandler<unknown, R, Error, ContextWithProviderSecrets>;
export function stepHandler<S extends z.ZodType, R>(
  name: string,
  schema: S,
  step: (input: z.infer<S>, context: ContextWithProviderSecrets) => Promise<R>,
  options: { providerSecrets?: boolean } = {},
) {
  const handler = middy<unknown, R, Error, ContextWithProviderSecrets>()
    .use(traceInvocation())
    .use({
      onError: async (request) => {
        const error = request.error;
        if (error instanceof TunedropError) error.message = formatErrorMessage(error);
        // What leaves here is logged and becomes the task's cause in Step Functions (message and stack),
        // and from there the run's recorded error: masked once, here.
        if (error) redactError(error);
        logger.error(`${name} failed`, { error: error ?? undefined });
      },
    });
  // The step's metrics are written when it ends, however it ends (functions/adapters/run-metrics.ts).
  handler.use(runMetricsMiddleware((error) => logger.warn('writing the metrics failed', { error })));
  if (options.providerSecrets) {
    const env = readEnvironment('API_KEY_SECRET_ID', 'AZURE_OPENAI_SECRET_ID');
    handler.use(
      providerSecretsMiddleware({
        client: awsClients.secrets(),
        secretIds: { openai: env.API_KEY_SECRET_ID, 'azure-openai': env.AZURE_OPENAI_SECRET_ID },
      }),
    );
  }
  return handler.handler(async (event, context) => {
    const parsed = schema.safeParse(event);
    if (!parsed.success) {
      throw new InvalidEventError(
        `${name} received a state it cannot read: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        'The workflow definition and the functions are out of step; redeploy the stack.',
      );
    }
    // Every line this invocation logs says which run, family and provider job it is about, so a run's
    // lines can be found across functions with one CloudWatch Logs Insights filter.
    const keys = runLogKeys(parsed.data);
    logger.appendKeys(keys);
    annotateRun(keys);
    try {
      logger.info(`${name} started`);
      const result = await step(parsed.data, context);
      logger.info(`${name} done`);
      return result;
    } finally {
      logger.removeKeys(Object.keys(keys));
    }
  });
}

/**
 * Validates each object an S3 event created, one after another, each with its run (and family) in every log
 * line and in the trace's annotation; logs each outcome, a crash in validation (reported, the run FAILED)
 * as an error for the maintainers. The outcomes, in the event's order.
 */
export async function validateEachObject<O extends { key: string }, R extends { outcome: string }>(
  objects: Iterable<O>,
  keysOf: (object: O) => { runId: string; family?: string },
  validate: (object: O) => Promise<R>,
): Promise<R[]> {
  const outcomes: R[] = [];
  for (const object of objects) {
    const keys = keysOf(object);
    logger.appendKeys(keys);
    // An annotation holds one value: with several records in one event, the last file's run is kept.
    annotateRun(keys);
    try {
      const outcome = await validate(object);
      if (outcome.outcome === 'failed') logger.error('validation crashed', { ...outcome, key: object.key });
      else logger.info('validated', { ...outcome, key: object.key });
      outcomes.push(outcome);
    } finally {
      logger.removeKeys(Object.keys(keys));
    }
  }
  return outcomes;
}
