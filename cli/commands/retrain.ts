import { z } from 'zod';
import type { Values } from '../args.js';
import type { Context } from '../context.js';
import { CommandFailedError } from '../errors.js';

/** The retrain function's answer (the stack's RetrainFunctionName). */
export const RetrainAnswerSchema = z.object({
  outcome: z.enum(['started', 'nothing_new', 'queued']),
  runId: z.string().optional(),
  message: z.string(),
});

/** Retrains a family now, as its schedule would: the function decides whether there is anything new. */
export async function retrain(family: string, values: Values, context: Context): Promise<number> {
  const { services } = await context.connect(values);
  const functionName = await services.output('RetrainFunctionName');
  const parsed = RetrainAnswerSchema.safeParse(
    await services.invoke(functionName, { family, trigger: 'operator' }),
  );
  if (!parsed.success)
    throw new CommandFailedError(`${functionName} answered something unexpected (${parsed.error.message})`);
  const answer = parsed.data;
  if (values.json) context.out(`${JSON.stringify(answer, null, 2)}\n`);
  else {
    context.out(`${answer.message}\n`);
    if (answer.runId) context.out(`Follow it with: tunedrop runs watch ${answer.runId}\n`);
  }
  return 0;
}
