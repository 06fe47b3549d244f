import { z } from 'zod';

/**
 * Redrive: sends each dead letter back to the function it failed in, then deletes it. Two shapes arrive:
 * a Lambda on-failure record (the function in `requestContext.functionArn`, the original event in
 * `requestPayload`), and an EventBridge target's dead letter (the event itself, the target function in
 * the `TARGET_ARN` attribute). A letter that cannot be read is kept and reported, never dropped.
 */
export interface DeadLetter {
  id: string;
  body: string;
  attributes: Record<string, string>;
  /** What the queue needs to delete it (SQS's receipt handle). */
  receipt?: string;
}

export interface RedriveDeps {
  receive(): Promise<DeadLetter[]>;
  remove(letter: DeadLetter): Promise<void>;
  /** Invokes the function asynchronously, as S3 or EventBridge did the first time. */
  invoke(functionArn: string, payload: unknown): Promise<void>;
}

const LambdaFailureRecordSchema = z.looseObject({
  requestContext: z.looseObject({ functionArn: z.string() }),
  requestPayload: z.unknown(),
});

export interface RedriveResult {
  redriven: number;
  kept: Array<{ id: string; reason: string }>;
}

export async function redrive(deps: RedriveDeps, maxBatches = 100): Promise<RedriveResult> {
  const result: RedriveResult = { redriven: 0, kept: [] };
  const seen = new Set<string>();
  for (let batch = 0; batch < maxBatches; batch++) {
    const letters = (await deps.receive()).filter((letter) => !seen.has(letter.id));
    if (letters.length === 0) break;
    for (const letter of letters) {
      seen.add(letter.id);
      const target = targetOf(letter);
      if ('reason' in target) {
        result.kept.push({ id: letter.id, reason: target.reason });
        continue;
      }
      await deps.invoke(target.functionArn, target.payload);
      await deps.remove(letter);
      result.redriven++;
    }
  }
  return result;
}

function targetOf(letter: DeadLetter): { functionArn: string; payload: unknown } | { reason: string } {
  let body: unknown;
  try {
    body = JSON.parse(letter.body);
  } catch {
    return { reason: 'the message body is not JSON' };
  }
  const record = LambdaFailureRecordSchema.safeParse(body);
  if (record.success)
    return {
      functionArn: record.data.requestContext.functionArn.replace(/:\$LATEST$/, ''),
      payload: record.data.requestPayload,
    };
  const target = letter.attributes.TARGET_ARN;
  if (target) return { functionArn: target, payload: body };
  return { reason: 'neither a Lambda failure record nor an EventBridge dead letter' };
}
