import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { eventBridgeRunEvents } from '../../functions/adapters/eventbridge-run-events.js';
import { runStatusChangeEvent, type RunEvent } from '../../functions/core/run-events.js';

const eventbridge = mockClient(EventBridgeClient);
afterEach(() => eventbridge.reset());

const event = (status: 'RECEIVED' | 'REJECTED'): RunEvent =>
  runStatusChangeEvent({
    runId: 'r-1',
    family: 'support',
    status,
    history:
      status === 'RECEIVED'
        ? [{ status, at: '2026-11-30T10:00:00.000Z' }]
        : [
            { status: 'RECEIVED', at: '2026-11-30T10:00:00.000Z' },
            { status, at: '2026-11-30T10:00:01.000Z' },
          ],
    source: { bucket: 'data', key: 'incoming/support/a.jsonl' },
    createdAt: '2026-11-30T10:00:00.000Z',
    updatedAt: '2026-11-30T10:00:01.000Z',
  })!;

describe('eventBridgeRunEvents', () => {
  it('puts each event on the default bus: source, detail-type and the detail as JSON', async () => {
    eventbridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] });
    await eventBridgeRunEvents(new EventBridgeClient({})).published([event('RECEIVED')]);
    const calls = eventbridge.commandCalls(PutEventsCommand);
    expect(calls).toHaveLength(1);
    const [entry] = calls[0]!.args[0].input.Entries!;
    expect(entry).toMatchObject({ Source: 'tunedrop', DetailType: 'Run Status Change' });
    expect(entry!.EventBusName).toBeUndefined();
    expect(JSON.parse(entry!.Detail!)).toEqual(event('RECEIVED').detail);
  });

  it('sends a refused entry again, once, and fails when it is refused twice', async () => {
    eventbridge
      .on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 1,
        Entries: [{ EventId: 'e1' }, { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' }],
      })
      .resolvesOnce({ FailedEntryCount: 0, Entries: [{ EventId: 'e2' }] });
    await eventBridgeRunEvents(new EventBridgeClient({})).published([event('RECEIVED'), event('REJECTED')]);
    const calls = eventbridge.commandCalls(PutEventsCommand);
    expect(calls).toHaveLength(2);
    expect(JSON.parse(calls[1]!.args[0].input.Entries![0]!.Detail!).status).toBe('REJECTED');

    eventbridge.reset();
    eventbridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'boom' }],
    });
    await expect(
      eventBridgeRunEvents(new EventBridgeClient({})).published([event('RECEIVED')]),
    ).rejects.toThrow('EventBridge refused 1 run event(s): InternalFailure: boom');
  });

  it('lets an error of the call through (AccessDenied without the grant)', async () => {
    eventbridge
      .on(PutEventsCommand)
      .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
    await expect(
      eventBridgeRunEvents(new EventBridgeClient({})).published([event('RECEIVED')]),
    ).rejects.toThrow('not authorized');
  });
});
