import { z } from 'zod';

/**
 * What the operator functions answer (`tunedrop retrain`, `tunedrop models delete|promote`): one schema each,
 * which the functions' results conform to and the CLI reads with.
 */
export const RetrainOutcomeSchema = z.discriminatedUnion('outcome', [
  z.object({ outcome: z.literal('started'), runId: z.string(), message: z.string() }),
  /** Nothing to do: no file since the current model, a run of the family under way, or no data at all. */
  z.object({
    outcome: z.enum(['nothing_new', 'under_way', 'no_data']),
    runId: z.string().optional(),
    message: z.string(),
  }),
  /** The family's settings or model refuse a run; the message says what to fix. */
  z.object({ outcome: z.literal('refused'), message: z.string() }),
]);
export type RetrainOutcome = z.infer<typeof RetrainOutcomeSchema>;

export const DeleteModelOutcomeSchema = z.object({
  outcome: z.enum(['deleted', 'refused_current', 'not_found', 'already_deleted', 'not_supported']),
  message: z.string(),
  family: z.string().optional(),
});
export type DeleteModelOutcome = z.infer<typeof DeleteModelOutcomeSchema>;

export const PromoteModelOutcomeSchema = z.object({
  outcome: z.enum(['promoted', 'already_current', 'not_found', 'deleted']),
  message: z.string(),
  family: z.string().optional(),
});
export type PromoteModelOutcome = z.infer<typeof PromoteModelOutcomeSchema>;
