import { LOCAL_ACCOUNT, LOCAL_REGION, type LocalRule, type LocalRuleTarget } from '../template.js';
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
  /**
   * Publishes to an SNS topic as a principal (EventBridge, for the rule), under the topic's policy; the
   * refusal's message, or undefined. Without it, a rule's SNS target is not delivered to.
   */
  publishToTopic?(sender: Principal, topicArn: string, message: string): Promise<string | undefined>;
  /** An event AWS would have lost: no delivery, and no dead-letter queue that took it. */
  onDropped(dropped: { functionName: string; reason: string }): void;
  /** Between delivery attempts (EventBridge backs off over up to 24 hours; scaled down locally). */
  retryDelayMs: number;
  /** Real seconds per simulated second: a scheduled rule's period is scaled by it. @default 1/600 */
  timeScale?: number;
  /** Whether scheduled rules start firing at once; `resumeSchedules()` starts them later. @default true */
  schedules?: boolean;
}

/** Seconds per unit of a rate expression. */
const RATE_UNITS: Record<string, number> = { minute: 60, hour: 3600, day: 86_400 };

/**
 * The period of a scheduled rule, in seconds. Rate expressions are `rate(value unit)`: a positive whole
 * number and minute|minutes|hour|hours|day|days, singular exactly when the value is 1 (EventBridge user
 * guide, "Rate expressions reference", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rate-expressions.html,
 * read 2026-11-29). EventBridge refuses any other expression, so a deployment with one would fail: so
 * does local mode. Cron expressions are valid on AWS but not served here; they are refused by name.
 */
export function schedulePeriodSeconds(rule: Pick<LocalRule, 'name' | 'schedule'>): number {
  const expression = rule.schedule ?? '';
  if (/^cron\(.*\)$/.test(expression))
    throw new Error(
      `rule ${rule.name}: local mode does not serve cron schedules (${expression}); use a rate expression`,
    );
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  const value = Number(rate?.[1]);
  const unit = rate?.[2] ?? '';
  if (!rate || value < 1 || (value === 1) !== !unit.endsWith('s'))
    throw new Error(`rule ${rule.name}: ${JSON.stringify(expression)} is not a valid schedule expression`);
  return value * RATE_UNITS[unit.replace(/s$/, '')]!;
}

/**
 * What EventBridge sends a scheduled rule's targets: source aws.events, detail-type "Scheduled Event",
 * the rule's ARN as the only resource, an empty detail, and the time to the second (the example event
 * in AWS's own Lambda runtime fixtures, https://github.com/aws/aws-lambda-rust-runtime/commit/5dcad203ab8677a54e039276fa4531c2e624e1cb,
 * read 2026-11-29).
 */
export function scheduledEvent(ruleArn: string, at = new Date()) {
  return {
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: LOCAL_ACCOUNT,
    time: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: LOCAL_REGION,
    resources: [ruleArn],
    detail: {},
  };
}

/**
 * The default event bus, for the rules the template declares. EventBridge invokes a Lambda target
 * asynchronously, as the events service and only under the function's resource policy; delivery fails
 * only when Lambda refuses the invocation (no permission, no function). Failed deliveries are retried
 * (locally at most 3 times: a refusal does not heal by itself here), then sent to the target's
 * dead-letter queue, as the events service under the queue's policy (EventBridge user guide, "Event
 * retry policy and using dead-letter queues", read 2026-11-29).
 */
/** An event put on the bus by PutEvents, as EventBridge sends it to a rule's targets. */
export interface BusEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: unknown;
}

/** A PutEvents request entry (EventBridge API reference, PutEventsRequestEntry, read 2026-11-29). */
export interface PutEventsEntry {
  Source?: unknown;
  DetailType?: unknown;
  Detail?: unknown;
  Resources?: unknown;
  Time?: unknown;
  EventBusName?: unknown;
}

export class LocalEventBus {
  /** Every event PutEvents accepted, in order. */
  readonly received: BusEvent[] = [];
  /** Every delivery to a rule's target (after Lambda accepted it), in order. */
  readonly deliveries: Array<{ ruleArn: string; targetArn: string; event: unknown }> = [];
  private readonly pending = new Set<Promise<void>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly scheduled: Array<{ rule: LocalRule; periodMs: number }>;
  private closed = false;

  constructor(private readonly options: LocalEventBusOptions) {
    const scale = options.timeScale ?? 1 / 600;
    // Every schedule is read now, so a bad expression fails start-up as it would fail the deployment.
    this.scheduled = options.rules
      .filter((rule) => rule.schedule !== undefined && rule.enabled)
      .map((rule) => ({ rule, periodMs: schedulePeriodSeconds(rule) * 1000 * scale }));
    if (options.schedules ?? true) this.resumeSchedules();
  }

  publish(event: unknown): void {
    for (const rule of this.options.rules) {
      if (!rule.enabled || !rule.pattern || !matchesPattern(rule.pattern, event)) continue;
      this.deliverToTargets(rule, event);
    }
  }

  /**
   * PutEvents on the default bus: each entry needs Source, DetailType and Detail (a JSON object), or it is
   * refused in its result entry (the call still answers 200, with FailedEntryCount), as EventBridge does.
   * Accepted events go to the rules whose pattern matches them. At most 10 entries per call.
   */
  putEvents(entries: readonly PutEventsEntry[]): {
    FailedEntryCount: number;
    Entries: Array<{ EventId?: string; ErrorCode?: string; ErrorMessage?: string }>;
  } {
    const results = entries.map((entry) => {
      const bus = entry.EventBusName;
      if (bus !== undefined && bus !== 'default' && !String(bus).endsWith(':event-bus/default'))
        return {
          ErrorCode: 'InternalException',
          ErrorMessage: `local mode serves only the default bus, not ${String(bus)}`,
        };
      if (typeof entry.Source !== 'string' || !entry.Source)
        return {
          ErrorCode: 'InvalidArgument',
          ErrorMessage: 'Parameter Source is not valid. Reason: Source is a required argument.',
        };
      if (typeof entry.DetailType !== 'string' || !entry.DetailType)
        return {
          ErrorCode: 'InvalidArgument',
          ErrorMessage: 'Parameter DetailType is not valid. Reason: DetailType is a required argument.',
        };
      let detail: unknown;
      try {
        detail = JSON.parse(String(entry.Detail));
      } catch {
        detail = undefined;
      }
      if (!detail || typeof detail !== 'object' || Array.isArray(detail))
        return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
      const time =
        typeof entry.Time === 'number'
          ? new Date(entry.Time * 1000)
          : typeof entry.Time === 'string'
            ? new Date(entry.Time)
            : new Date();
      const event: BusEvent = {
        version: '0',
        id: crypto.randomUUID(),
        'detail-type': entry.DetailType,
        source: entry.Source,
        account: LOCAL_ACCOUNT,
        time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        region: LOCAL_REGION,
        resources: Array.isArray(entry.Resources) ? entry.Resources.map(String) : [],
        detail,
      };
      this.received.push(event);
      this.publish(event);
      return { EventId: event.id };
    });
    return { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results };
  }

  /** The scheduled rules' names. */
  get schedules(): string[] {
    return this.scheduled.map(({ rule }) => rule.name);
  }

  /**
   * Starts (or restarts) every scheduled rule's timer. A rate schedule first fires one period after it
   * starts, as a rate rule first fires one period after it is created (EventBridge user guide, "Rate
   * expressions reference", read 2026-11-29).
   */
  resumeSchedules(): void {
    if (this.closed) return;
    for (const { rule, periodMs } of this.scheduled) {
      if (this.timers.has(rule.name)) continue;
      const timer = setInterval(() => this.fire(rule), periodMs);
      // A schedule alone does not keep the process alive, as no other local service does.
      timer.unref();
      this.timers.set(rule.name, timer);
    }
  }

  /** Stops every schedule's timer: for tests that count invocations and need quiet. */
  pauseSchedules(): void {
    for (const timer of this.timers.values()) clearInterval(timer);
    this.timers.clear();
  }

  /** How many schedule timers are running (0 after close). */
  get activeSchedules(): number {
    return this.timers.size;
  }

  /**
   * Fires a scheduled rule now, by name or ARN, as its timer would; resolves when its deliveries have
   * ended (delivered to Lambda's async queue, or dead-lettered, or dropped).
   */
  async fireSchedule(ruleNameOrArn: string): Promise<void> {
    const found = this.scheduled.find(
      ({ rule }) => rule.name === ruleNameOrArn || rule.arn === ruleNameOrArn,
    );
    if (!found)
      throw new Error(
        `no enabled scheduled rule ${ruleNameOrArn} (scheduled rules: ${this.schedules.join(', ') || 'none'})`,
      );
    await Promise.allSettled(this.fire(found.rule));
  }

  /** Resolves when every delivery started so far has ended. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  /** Stops the schedules and waits for deliveries under way; nothing fires afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    this.pauseSchedules();
    await this.settle();
  }

  private fire(rule: LocalRule): Array<Promise<void>> {
    if (this.closed) return [];
    return this.deliverToTargets(rule, scheduledEvent(rule.arn));
  }

  private deliverToTargets(rule: LocalRule, event: unknown): Array<Promise<void>> {
    return rule.targets.map((target) => {
      // A target's constant Input replaces the event: "Valid JSON text passed to the target. In this case,
      // nothing from the event itself is passed to the target" (EventBridge API, Target.Input,
      // https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/eventbridge/aws.sdk.kotlin.services.eventbridge.model/-target/input.html,
      // read 2026-11-29). An InputTransformer's output replaces it too (transformInput).
      const payload =
        target.input !== undefined
          ? JSON.parse(target.input)
          : target.inputTransformer
            ? transformInput(target.inputTransformer, event, rule)
            : event;
      const delivery = (
        target.arn.startsWith('arn:aws:sns:')
          ? this.deliverToTopic(rule.arn, target, payload)
          : this.deliver(rule.arn, target, payload)
      ).finally(() => this.pending.delete(delivery));
      this.pending.add(delivery);
      return delivery;
    });
  }

  /**
   * An SNS target: EventBridge publishes as events.amazonaws.com for the rule (aws:SourceArn), which the
   * topic's policy must allow; the message is the payload's text (an input transformer's output as it is,
   * an event as JSON). Retried and dead-lettered as a Lambda target is.
   */
  private async deliverToTopic(ruleArn: string, target: LocalRuleTarget, payload: unknown): Promise<void> {
    const events = servicePrincipal('events.amazonaws.com', ruleArn);
    const message = typeof payload === 'string' ? payload : JSON.stringify(payload);
    let refusal = 'local mode has no SNS';
    for (let attempt = 0; attempt <= Math.min(target.maximumRetryAttempts, 2); attempt++) {
      const refused = this.options.publishToTopic
        ? await this.options.publishToTopic(events, target.arn, message)
        : refusal;
      if (refused === undefined) {
        this.deliveries.push({ ruleArn, targetArn: target.arn, event: payload });
        return;
      }
      refusal = refused;
      await new Promise((resolve) => setTimeout(resolve, this.options.retryDelayMs));
    }
    await this.deadLetter(ruleArn, target, payload, refusal);
  }

  private async deliver(ruleArn: string, target: LocalRuleTarget, event: unknown): Promise<void> {
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
        this.deliveries.push({ ruleArn, targetArn: target.arn, event });
        lambda.invokeAsync(fn.arn, event);
        return;
      }
      refusal = fn ? decision.message : `no function ${target.arn}`;
      await new Promise((resolve) => setTimeout(resolve, this.options.retryDelayMs));
    }
    await this.deadLetter(ruleArn, target, event, refusal);
  }

  private async deadLetter(
    ruleArn: string,
    target: LocalRuleTarget,
    event: unknown,
    refusal: string,
  ): Promise<void> {
    const events = servicePrincipal('events.amazonaws.com', ruleArn);
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

/**
 * What an InputTransformer sends the target (EventBridge user guide, "Amazon EventBridge input
 * transformation", read 2026-11-30): each variable of InputPathsMap is the value at its JSON path in the
 * event (dot notation and array indices), and each `<variable>` of InputTemplate is replaced by it, as are
 * the predefined `<aws.events.rule-arn>`, `<aws.events.rule-name>`, `<aws.events.event.ingestion-time>`,
 * `<aws.events.event>` (the event without detail) and `<aws.events.event.json>`. A string is put in
 * escaped for a JSON string (templates quote string placeholders: "put quotes around variables that refer
 * to JSON path parameters"), an object or array as JSON, a number or boolean as its text. A path the event
 * lacks leaves the placeholder empty here (AWS's documentation does not say; README "Local mode differs
 * from AWS"). The result is text: the template as filled in, which is what an SNS target publishes.
 */
export function transformInput(
  transformer: { pathsMap: Record<string, string>; template: string },
  event: unknown,
  rule: Pick<LocalRule, 'arn' | 'name'>,
): string {
  const values = new Map<string, unknown>();
  for (const [name, path] of Object.entries(transformer.pathsMap)) values.set(name, atJsonPath(event, path));
  const whole = (event ?? {}) as Record<string, unknown>;
  const withoutDetail = Object.fromEntries(Object.entries(whole).filter(([k]) => k !== 'detail'));
  const predefined: Record<string, unknown> = {
    'aws.events.rule-arn': rule.arn,
    'aws.events.rule-name': rule.name,
    'aws.events.event.ingestion-time': new Date().toISOString(),
    'aws.events.event': withoutDetail,
    'aws.events.event.json': whole,
  };
  return transformer.template.replace(/<([A-Za-z0-9_.-]+)>/g, (placeholder, name: string) => {
    const value = values.has(name) ? values.get(name) : predefined[name];
    if (!values.has(name) && !(name in predefined)) return placeholder;
    if (value === undefined) return '';
    if (typeof value === 'string') return JSON.stringify(value).slice(1, -1);
    if (value !== null && typeof value === 'object') return JSON.stringify(value);
    return String(value);
  });
}

/** The value at a JSON path of EventBridge's subset: `$`, `$.a.b`, `$.a[0].b`, `$.detail-type`. */
export function atJsonPath(value: unknown, path: string): unknown {
  if (!path.startsWith('$')) return undefined;
  const steps = [...path.slice(1).matchAll(/\.([^.[\]]+)|\[(\d+)\]/g)];
  let current = value;
  for (const [, key, index] of steps) {
    if (current === null || typeof current !== 'object') return undefined;
    current =
      index !== undefined
        ? Array.isArray(current)
          ? current[Number(index)]
          : undefined
        : (current as Record<string, unknown>)[key!];
  }
  return current;
}
