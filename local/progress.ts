import { z } from 'zod';
import { TRAINED_STATUSES, type RunEvaluation, type RunRecord } from '../functions/core/run.js';
import { RUN_EVENT_SOURCE, RUN_STATUS_CHANGE, RunEventDetailSchema } from '../functions/core/run-events.js';
import type { TrainingSummary } from '../functions/core/results.js';

/** Terminal output for local mode: one line per status change, then the run's summary. */
export function describeChange(record: RunRecord): string {
  const last = record.history.at(-1);
  const detail = last?.detail ? ` (${last.detail})` : '';
  return `  ${record.runId}  ${record.status}${detail}`;
}

export function describeRun(record: RunRecord, bucket: string): string {
  const lines = [`Run ${record.runId}: ${record.status}`];
  const row = (label: string, value: string | number | undefined) => {
    if (value !== undefined) lines.push(`  ${label.padEnd(20)}${value}`);
  };
  row('source', `s3://${record.source.bucket}/${record.source.key}`);
  row('provider', record.provider);
  row('base model', record.baseModel);
  row('provider job', record.providerJobId);
  row('fine-tuned model', record.fineTunedModel);
  row(
    'examples',
    record.trainingExamples !== undefined
      ? `${record.trainingExamples} training, ${record.validationExamples ?? 0} validation`
      : undefined,
  );
  row('trained tokens', record.trainedTokens);
  const estimate = record.estimatedCostUsd;
  row(
    'cost',
    record.costUsd !== undefined
      ? `$${record.costUsd.toFixed(4)} (${estimate === undefined ? 'no estimate' : `estimated $${estimate.toFixed(4)}`})`
      : !TRAINED_STATUSES.has(record.status)
        ? undefined
        : estimate !== undefined
          ? // Bedrock reports no trained tokens: the estimate is all there is.
            `estimated $${estimate.toFixed(4)} (the provider reports no trained tokens)`
          : "unknown (no source gives this model's training price)",
  );
  row('results.csv', record.resultsKey && `s3://${bucket}/${record.resultsKey}`);
  row('summary', record.summaryKey && `s3://${bucket}/${record.summaryKey}`);
  row('report', record.reportKey && `s3://${bucket}/${record.reportKey}`);
  row('validation report', record.validationReportKey && `s3://${bucket}/${record.validationReportKey}`);
  if (record.error) {
    row('error', `${record.error.message}${record.error.code ? ` [${record.error.code}]` : ''}`);
    row('fix', record.error.fix);
  }
  return lines.join('\n');
}

/** What a run's files add to its summary: the validation warnings, and the loss it ended with. */
export function describeFindings(findings: {
  warnings?: ReadonlyArray<{ code: string }>;
  /** summary.json's `metrics` (a TrainingSummary), the part shown. */
  metrics?:
    | (Pick<TrainingSummary, 'steps'> & {
        final: Pick<NonNullable<TrainingSummary['final']>, 'trainLoss' | 'validLoss'> | null;
        first: Pick<NonNullable<TrainingSummary['first']>, 'trainLoss'> | null;
      })
    | undefined;
}): string {
  const lines: string[] = [];
  const warnings = findings.warnings ?? [];
  if (warnings.length > 0) {
    const codes = [...new Set(warnings.map((w) => w.code))];
    lines.push(
      `  ${'warnings'.padEnd(20)}${warnings.length}: ${codes.slice(0, 4).join(', ')}${codes.length > 4 ? ', …' : ''} (validation.md says where and why)`,
    );
  }
  const final = findings.metrics?.final;
  if (final) {
    const parts = [
      final.trainLoss !== null ? `train ${final.trainLoss.toFixed(3)}` : undefined,
      final.validLoss !== null ? `validation ${final.validLoss.toFixed(3)}` : undefined,
    ].filter(Boolean);
    const first = findings.metrics?.first?.trainLoss;
    lines.push(
      `  ${'final loss'.padEnd(20)}${parts.join(', ')} after ${findings.metrics!.steps} steps${first !== null && first !== undefined ? ` (train loss at step 1: ${first.toFixed(3)})` : ''}`,
    );
  }
  return lines.join('\n');
}

/** What the terminal shows of a message published to the notifications topic (local/cloud/sns.ts). */
export interface NotificationLike {
  subject?: string | undefined;
  message: string;
}

/** The parts of CloudWatch's alarm notification (its JSON message) the terminal shows. */
const AlarmMessageSchema = z.looseObject({
  AlarmName: z.string(),
  AlarmDescription: z.string().nullish(),
  NewStateValue: z.string(),
  NewStateReason: z.string(),
});

/**
 * A notification as the terminal shows it, under the same heading either way: an alarm's change of state
 * (CloudWatch's JSON message: its description, else its name, and why), or a run-end summary (the
 * EventBridge rule's text, first line first, the links indented under it).
 */
export function describeNotification(notification: NotificationLike): string {
  const heading = `  ${'notification'.padEnd(20)}`;
  const indent = ' '.repeat(heading.length);
  if (notification.subject !== undefined) {
    const alarm = AlarmMessageSchema.safeParse(parseJsonOrUndefined(notification.message));
    if (alarm.success)
      return `${heading}${alarm.data.NewStateValue}: ${alarm.data.AlarmDescription ?? alarm.data.AlarmName}\n${indent}(${alarm.data.NewStateReason})`;
    return `${heading}${notification.subject}\n${indent}${notification.message.split('\n').join(`\n${indent}`)}`;
  }
  const [first = '', ...rest] = notification.message.trim().split('\n');
  return [`${heading}${first}`, ...rest.map((line) => `${indent}${line}`)].join('\n');
}

/** The run events of one run as PutEvents received them, in order (the local bus's `received()`). */
export interface RunEventLike {
  source: string;
  'detail-type': string;
  detail: unknown;
}

/** One line on the run events put for a run: the statuses, in order, and where they went. */
export function describeRunEvents(runId: string, events: readonly RunEventLike[]): string {
  const statuses = events
    .filter((event) => event.source === RUN_EVENT_SOURCE && event['detail-type'] === RUN_STATUS_CHANGE)
    .map((event) => RunEventDetailSchema.safeParse(event.detail).data)
    .filter((detail) => detail?.runId === runId)
    .map((detail) => detail!.status);
  if (statuses.length === 0) return '';
  return `  ${'run events'.padEnd(20)}${statuses.join(' → ')} (EventBridge, source "${RUN_EVENT_SOURCE}", "${RUN_STATUS_CHANGE}")`;
}

function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The evaluation side by side, and the promotion decision: the new model's headline metric beside the
 * model it was compared with, on how many held-out examples, and why it was (not) promoted.
 */
export function describeEvaluation(evaluation: RunEvaluation | undefined, examples?: number): string {
  if (!evaluation) return '';
  const row = (label: string, value: string) => `  ${label.padEnd(20)}${value}`;
  const lines: string[] = [];
  if (evaluation.status === 'completed' && evaluation.metric && evaluation.score !== undefined) {
    const compared = evaluation.compared
      ? ` vs ${evaluation.compared.score.toFixed(3)} (${evaluation.compared.role === 'base' ? 'base' : 'current'} ${evaluation.compared.model})`
      : '';
    lines.push(
      row(
        'evaluation',
        `${evaluation.metric} ${evaluation.score.toFixed(3)} (new)${compared}${examples !== undefined ? ` on ${examples} held-out examples` : ''}`,
      ),
    );
  } else lines.push(row('evaluation', evaluation.status));
  lines.push(row(evaluation.promoted ? 'promoted' : 'not promoted', evaluation.reason));
  if (evaluation.costUsd !== null) lines.push(row('evaluation cost', `$${evaluation.costUsd.toFixed(4)}`));
  return lines.join('\n');
}

/**
 * The run's events once the bus has its last one: a function puts a move's event just after recording the
 * move, so a run seen ended may have its last event still on the way (a few seconds at most are waited).
 */
export async function runEventsOnceEnded(
  runId: string,
  status: string,
  received: () => readonly RunEventLike[],
  timeoutMs = 5_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const ended = () =>
    received().some((event) => {
      const detail = RunEventDetailSchema.safeParse(event.detail).data;
      return detail?.runId === runId && detail.status === status;
    });
  while (!ended() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  return describeRunEvents(runId, received());
}
