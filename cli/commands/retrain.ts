import { RetrainOutcomeSchema } from '../../functions/core/operator-answers.js';
import type { Values } from '../args.js';
import type { Context } from '../context.js';
import { CommandFailedError } from '../errors.js';

/** The retrain function's answer (the stack's RetrainFunctionName). */
export const RetrainAnswerSchema = RetrainOutcomeSchema;

/** Retrains a family now, as its schedule would: the function decides whether there is anything new. */
export async function retrain(family: string, values: Values, context: Context): Promise<number> {
  const { services } = await context.connect(values);
  const functionName = await services.output('RetrainFunctionName');
  const parsed = RetrainAnswerSchema.safeParse(
    await services.invoke(functionName, {
      family,
      trigger: 'operator',
      ...(values.force ? { force: true } : {}),
    }),
  );
  if (!parsed.success)
    throw new CommandFailedError(`${functionName} answered something unexpected (${parsed.error.message})`);
  const answer = parsed.data;
  if (values.json) context.out(`${JSON.stringify(answer, null, 2)}\n`);
  else if (answer.outcome === 'refused') context.err(`tunedrop: ${answer.message}\n`);
  else {
    context.out(`${answer.message}\n`);
    if (answer.runId) context.out(`Follow it with: tunedrop runs watch ${answer.runId}\n`);
  }
  // Nothing to do is an answer, not a failure; a refusal (settings, model) is.
  return answer.outcome === 'refused' ? 1 : 0;
}
