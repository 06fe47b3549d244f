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
