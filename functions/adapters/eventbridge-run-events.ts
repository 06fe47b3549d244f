import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { RunEvent, RunEvents } from '../core/run-events.js';

/**
 * RunEvents on the account's default EventBridge bus: PutEvents with no EventBusName (the default bus,
 * EventBridge API reference, PutEventsRequestEntry.EventBusName, read 2026-11-29). PutEvents answers 200
 * even when some entries were refused (FailedEntryCount, each entry's ErrorCode): those entries are sent
 * again once, and an entry refused twice fails the call, as does an error of the call itself (AccessDenied
 * without the grant) after the SDK's own retries.
 */
export function eventBridgeRunEvents(client: EventBridgeClient): RunEvents {
  const put = async (events: readonly RunEvent[]) => {
    const { FailedEntryCount = 0, Entries = [] } = await client.send(
      new PutEventsCommand({
        Entries: events.map((event) => ({
          Source: event.source,
          DetailType: event.detailType,
          Detail: JSON.stringify(event.detail),
          Resources: [],
        })),
      }),
    );
    if (!FailedEntryCount) return { failed: [] as RunEvent[], reasons: [] as string[] };
    const failed = events.filter((_, i) => Entries[i]?.ErrorCode);
    const reasons = Entries.filter((entry) => entry.ErrorCode).map(
      (entry) => `${entry.ErrorCode}: ${entry.ErrorMessage ?? ''}`,
    );
    return { failed, reasons };
  };
  return {
    async published(events) {
      if (!events.length) return;
      const first = await put(events);
      if (!first.failed.length) return;
      const second = await put(first.failed);
      if (second.failed.length)
        throw new Error(
          `EventBridge refused ${second.failed.length} run event(s): ${second.reasons.join('; ')}`,
        );
    },
  };
}
