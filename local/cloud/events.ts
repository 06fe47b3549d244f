import type { LocalRule } from '../template.js';
import { servicePrincipal, type Authorizer, type Principal } from './iam/authorizer.js';
import type { LocalLambda } from './lambda.js';

/**
 * EventBridge, for what tunedrop's rules use: event pattern matching on arrays of allowed values and
 * nested objects (EventBridge user guide, "Event patterns", read 2026-11-29).
 */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  if (Array.isArray(pattern)) return pattern.some((allowed) => allowed === event);
  if (pattern && typeof pattern === 'object') {
    if (!event || typeof event !== 'object') return false;
    return Object.entries(pattern).every(([key, sub]) =>
      matchesPattern(sub, (event as Record<string, unknown>)[key]),
    );
  }
  return pattern === event;
}

/** The Step Functions status-change event as Step Functions sends it to EventBridge. */
export function executionStatusChangeEvent(
  execution: {
    executionArn: string;
    stateMachineArn: string;
    name: string;
    status: string;
    startDate: Date;
    stopDate?: Date | undefined;
    input: string;
    output?: string | undefined;
    error?: string | undefined;
    cause?: string | undefined;
  },
  where: { account: string; region: string },
) {
  return {
    version: '0',
    id: crypto.randomUUID(),
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    account: where.account,
    region: where.region,
    time: new Date().toISOString(),
    resources: [execution.executionArn],
    detail: {
      executionArn: execution.executionArn,
      stateMachineArn: execution.stateMachineArn,
      name: execution.name,
      status: execution.status,
      startDate: execution.startDate.getTime(),
      stopDate: execution.stopDate?.getTime() ?? null,
      input: execution.input,
      output: execution.output ?? null,
      error: execution.error ?? null,
      cause: execution.cause ?? null,
    },
  };
}

export interface LocalEventBusOptions {
  rules: LocalRule[];
  authorizer: Authorizer;
  lambda: LocalLambda;
  /** Sends to a queue as a principal, under the queue's policy; the refusal's message, or undefined. */
  sendToQueue(
    sender: Principal,
    queueArn: string,
    body: string,
    attributes: Record<string, string>,
  ): Promise<string | undefined>;
  /** An event AWS would have lost: no delivery, and no dead-letter queue that took it. */
  onDropped(dropped: { functionName: string; reason: string }): void;
  /** Between delivery attempts (EventBridge backs off over up to 24 hours; scaled down locally). */
  retryDelayMs: number;
}

/**
 * The default event bus, for the rules the template declares. EventBridge invokes a Lambda target
 * asynchronously, as the events service and only under the function's resource policy; delivery fails
 * only when Lambda refuses the invocation (no permission, no function). Failed deliveries are retried
 * (locally at most 3 times: a refusal does not heal by itself here), then sent to the target's
 * dead-letter queue, as the events service under the queue's policy (EventBridge user guide, "Event
 * retry policy and using dead-letter queues", read 2026-11-29).
 */
export class LocalEventBus {
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: LocalEventBusOptions) {}

  publish(event: unknown): void {
    for (const rule of this.options.rules) {
      if (!matchesPattern(rule.pattern, event)) continue;
      for (const target of rule.targets) {
        const delivery = this.deliver(rule.arn, target, event).finally(() => this.pending.delete(delivery));
        this.pending.add(delivery);
      }
    }
  }

  /** Resolves when every delivery started so far has ended. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  private async deliver(
    ruleArn: string,
    target: LocalRule['targets'][number],
    event: unknown,
  ): Promise<void> {
    const { authorizer, lambda } = this.options;
    const events = servicePrincipal('events.amazonaws.com', ruleArn);
    let refusal = '';
    for (let attempt = 0; attempt <= Math.min(target.maximumRetryAttempts, 2); attempt++) {
      const fn = lambda.find(target.arn);
      const decision = await authorizer.check(events, {
        action: 'lambda:InvokeFunction',
        resource: target.arn,
      });
      if (fn && decision.allowed) {
        lambda.invokeAsync(fn.arn, event);
        return;
      }
      refusal = fn ? decision.message : `no function ${target.arn}`;
      await new Promise((resolve) => setTimeout(resolve, this.options.retryDelayMs));
    }
    if (!target.deadLetterArn) {
      this.options.onDropped({
        functionName: target.arn,
        reason: `EventBridge could not deliver: ${refusal}`,
      });
      return;
    }
    // EventBridge's dead letter: the event itself, with the rule, target and error as attributes.
    const refused = await this.options.sendToQueue(events, target.deadLetterArn, JSON.stringify(event), {
      RULE_ARN: ruleArn,
      TARGET_ARN: target.arn,
      ERROR_MESSAGE: refusal,
    });
    if (refused)
      this.options.onDropped({ functionName: target.arn, reason: `dead-letter queue refused: ${refused}` });
  }
}
