import { z } from 'zod';
import { InvalidConfigError } from '../core/errors.js';

/**
 * The environment the stack gives each function, read and checked in one place. A missing variable
 * is a deployment bug, reported by name.
 */
const EnvironmentSchema = z.object({
  RUNS_TABLE: z.string().min(1),
  DATA_BUCKET: z.string().min(1),
  API_KEY_SECRET_ID: z.string().min(1),
  /** The secret holding Azure OpenAI's endpoint and key; absent where the stack does not enable Azure. */
  AZURE_OPENAI_SECRET_ID: z.string().min(1).optional(),
  /** The service role Bedrock assumes to read the run's data and write its output; absent without Bedrock. */
  BEDROCK_ROLE_ARN: z.string().min(1).optional(),
  /** JSON array of the providers this stack can train on (its functions hold their permissions). */
  PROVIDERS: z.string().default('["openai"]'),
  /** The secret holding the provider's webhook signing secret (whsec_...). */
  WEBHOOK_SECRET_ID: z.string().min(1),
  STATE_MACHINE_ARN: z.string().min(1),
  /** JSON of stack-wide RunConfig defaults. */
  RUN_DEFAULTS: z.string().default('{}'),
  INCOMING_PREFIX: z.string().default('incoming/'),
  /** The model registry table (core/registry.ts). */
  MODEL_REGISTRY_TABLE: z.string().min(1),
  /** Where the families' current-model SSM parameters live: `<prefix>/<family>/current-model`. */
  PARAMETER_PREFIX: z
    .string()
    .regex(/^\/[A-Za-z0-9_.\-/]*[A-Za-z0-9_.-]$/)
    .default('/tunedrop'),
  /** The schedule group of the families' retrain schedules (EventBridge Scheduler). */
  SCHEDULE_GROUP: z.string().min(1),
  /** The retrain function the families' schedules invoke. */
  RETRAIN_FUNCTION_ARN: z.string().min(1),
  /** The role EventBridge Scheduler invokes the retrain function as. */
  SCHEDULER_ROLE_ARN: z.string().min(1),
  /** Most provider jobs training at once across all runs. */
  PROVIDER_CONCURRENCY: z.coerce.number().int().positive().default(4),
  /** How long a run may stay in one status before the sweep counts it stuck (the pipeline's stuckRunHours). */
  STUCK_RUN_MINUTES: z.coerce.number().positive(),
});
export type Environment = z.infer<typeof EnvironmentSchema>;

export function readEnvironment<K extends keyof Environment>(...names: K[]): Pick<Environment, K> {
  const picked = EnvironmentSchema.pick(Object.fromEntries(names.map((n) => [n, true])) as never);
  const parsed = picked.safeParse(process.env);
  if (!parsed.success) {
    throw new InvalidConfigError(
      `environment: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`,
      'Redeploy the stack; the function is missing configuration it needs.',
    );
  }
  return parsed.data as Pick<Environment, K>;
}
