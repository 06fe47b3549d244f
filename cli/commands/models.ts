import {
  DeleteModelOutcomeSchema,
  PromoteModelOutcomeSchema,
} from '../../functions/core/operator-answers.js';
import type { CurrentModel, ModelEntry } from '../../functions/core/registry.js';
import type { Values } from '../args.js';
import type { Context } from '../context.js';
import { CommandFailedError } from '../errors.js';
import { renderTable, time, tokens, usd } from '../table.js';

/** The models function's answer to a delete (the stack's ModelsFunctionName). */
export const DeleteAnswerSchema = DeleteModelOutcomeSchema;

export type ListedModel = ModelEntry & { current: boolean };

export function withCurrent(models: ModelEntry[], current: CurrentModel[]): ListedModel[] {
  const currentOf = new Map(current.map((pointer) => [pointer.family, pointer.currentModel]));
  return models.map((model) => ({ ...model, current: currentOf.get(model.family) === model.model }));
}

export function modelsTable(models: ListedModel[]): string {
  if (models.length === 0) return 'No models.\n';
  return renderTable(
    [
      { header: 'FAMILY', cell: (m: ListedModel) => m.family },
      { header: 'MODEL', cell: (m) => m.model },
      { header: 'CURRENT', cell: (m) => (m.current ? 'yes' : '') },
      { header: 'PROVIDER', cell: (m) => m.provider },
      { header: 'PARENT', cell: (m) => m.parentModel },
      { header: 'VALID LOSS', cell: (m) => loss(m.validLoss), align: 'right' },
      { header: 'TOKENS', cell: (m) => tokens(m.trainedTokens), align: 'right' },
      { header: 'COST', cell: (m) => usd(m.costUsd), align: 'right' },
      { header: 'CREATED', cell: (m) => time(m.createdAt) },
      { header: 'DELETED', cell: (m) => (m.deletedAt ? time(m.deletedAt) : '') },
    ],
    models,
  );
}

const loss = (value: number | undefined) => (value === undefined ? '-' : value.toFixed(4));

export function describeModel(model: ListedModel): string {
  const facts: [string, string][] = [
    ['Family', model.family + (model.current ? " (the family's current model)" : '')],
    ['Provider', model.provider],
    ['Base model', model.baseModel],
    ['Parent model', model.parentModel],
    ['Run', `${model.runId} ("tunedrop runs show ${model.runId}")`],
    ['Train loss', loss(model.trainLoss)],
    ['Valid loss', loss(model.validLoss)],
    ['Train accuracy', loss(model.trainAccuracy)],
    ['Valid accuracy', loss(model.validAccuracy)],
    ['Trained tokens', tokens(model.trainedTokens)],
    ['Cost', usd(model.costUsd)],
    ['Created', time(model.createdAt)],
  ];
  if (model.deletedAt) facts.push(['Deleted', time(model.deletedAt)]);
  if (model.dataset) {
    const d = model.dataset;
    facts.push([
      'Dataset',
      `${d.mode === 'all' ? "all the family's data" : 'the newest drop'}: ${tokens(d.examples)} examples, ${tokens(d.duplicatesRemoved)} duplicates removed`,
    ]);
  }
  const width = Math.max(...facts.map(([k]) => k.length));
  const lines = [`Model ${model.model}`, ...facts.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)];
  if (model.dataset?.files.length) {
    lines.push('', 'Dataset files');
    for (const file of model.dataset.files)
      lines.push(
        `  ${file.key}${file.versionId ? ` (version ${file.versionId})` : ''}  ${file.examples} examples, ${file.duplicates} duplicates, sha256 ${file.sha256.slice(0, 12)}…`,
      );
  }
  return `${lines.join('\n')}\n`;
}

export async function modelsList(values: Values, context: Context): Promise<number> {
  const { services } = await context.connect(values);
  const registry = await services.registry(typeof values.family === 'string' ? values.family : undefined);
  const models = withCurrent(registry.models, registry.current);
  context.out(values.json ? `${JSON.stringify({ models }, null, 2)}\n` : modelsTable(models));
  return 0;
}

export async function modelsShow(id: string, values: Values, context: Context): Promise<number> {
  const { services } = await context.connect(values);
  const model = await services.findModel(id);
  if (!model) {
    context.err(
      `tunedrop: no model ${id} in the registry; "tunedrop models list" shows the models there are.\n`,
    );
    return 1;
  }
  const { current } = await services.registry(model.family);
  const [listed] = withCurrent([model], current);
  context.out(values.json ? `${JSON.stringify({ model: listed }, null, 2)}\n` : describeModel(listed!));
  return 0;
}

/**
 * Deletes through the stack's models function: it deletes at the provider, then marks the model
 * deleted, and refuses the family's current model unless forced.
 */
export async function modelsDelete(id: string, values: Values, context: Context): Promise<number> {
  const { services } = await context.connect(values);
  const functionName = await services.output('ModelsFunctionName');
  const parsed = DeleteAnswerSchema.safeParse(
    await services.invoke(functionName, { action: 'delete', model: id, force: values.force === true }),
  );
  if (!parsed.success)
    throw new CommandFailedError(`${functionName} answered something unexpected (${parsed.error.message})`);
  const answer = parsed.data;
  if (values.json) context.out(`${JSON.stringify(answer, null, 2)}\n`);
  else if (answer.outcome === 'deleted' || answer.outcome === 'already_deleted')
    context.out(`${answer.message}\n`);
  else
    context.err(
      `tunedrop: ${answer.message}\n${
        answer.outcome === 'refused_current'
          ? `Fix: train a newer model for its family first, or pass --force to delete the current model anyway.\n`
          : answer.outcome === 'not_supported'
            ? ''
            : `Fix: "tunedrop models list" shows the models there are.\n`
      }`,
    );
  return answer.outcome === 'deleted' || answer.outcome === 'already_deleted' ? 0 : 1;
}

/**
 * Promotes through the stack's models function (the operator's override of the promotion policy): the
 * family's pointer and its SSM parameter name the model from now on.
 */
export async function modelsPromote(id: string, values: Values, context: Context): Promise<number> {
  const { services } = await context.connect(values);
  const functionName = await services.output('ModelsFunctionName');
  const parsed = PromoteModelOutcomeSchema.safeParse(
    await services.invoke(functionName, { action: 'promote', model: id }),
  );
  if (!parsed.success)
    throw new CommandFailedError(`${functionName} answered something unexpected (${parsed.error.message})`);
  const answer = parsed.data;
  const ok = answer.outcome === 'promoted' || answer.outcome === 'already_current';
  if (values.json) context.out(`${JSON.stringify(answer, null, 2)}\n`);
  else if (ok) context.out(`${answer.message}\n`);
  else
    context.err(
      `tunedrop: ${answer.message}\n${answer.outcome === 'not_found' ? 'Fix: "tunedrop models list" shows the models there are.\n' : ''}`,
    );
  return ok ? 0 : 1;
}
