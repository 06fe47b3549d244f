import { runEventId } from '../../functions/core/run-events.js';
import { describeNotification, describeRunEvents } from '../../local/progress.js';

describe('the terminal of npm run local and npm start', () => {
  it('shows an alarm notification by its description and the reason CloudWatch gave', () => {
    const text = describeNotification({
      subject: 'ALARM: "Local-RunFailed" in US East (N. Virginia)',
      message: JSON.stringify({
        AlarmName: 'Local-RunFailed',
        AlarmDescription: 'tunedrop: a run FAILED',
        NewStateValue: 'ALARM',
        NewStateReason: 'Threshold Crossed: 1 datapoint [1.0] was greater than the threshold (0.0).',
      }),
    });
    expect(text).toBe(
      '  notification        ALARM: tunedrop: a run FAILED\n' +
        '                      (Threshold Crossed: 1 datapoint [1.0] was greater than the threshold (0.0).)',
    );
  });

  it("shows an alarm without a description by its name, and a subject whose message is not CloudWatch's as it is", () => {
    expect(
      describeNotification({
        subject: 'OK: "Local-DeadLetters"',
        message: JSON.stringify({
          AlarmName: 'Local-DeadLetters',
          NewStateValue: 'OK',
          NewStateReason: 'empty',
        }),
      }),
    ).toBe('  notification        OK: Local-DeadLetters\n                      (empty)');
    expect(describeNotification({ subject: 'Hello', message: 'one\ntwo' })).toBe(
      '  notification        Hello\n                      one\n                      two',
    );
  });

  it("shows a run-end summary line by line, as the rule's text has it", () => {
    expect(
      describeNotification({ message: '"run r1 SUCCEEDED"\n"Report: s3://b/runs/r1/report.html"\n' }),
    ).toBe(
      '  notification        "run r1 SUCCEEDED"\n                      "Report: s3://b/runs/r1/report.html"',
    );
  });

  it("lists a run's events in order, leaving out other runs' events and other sources", () => {
    const event = (runId: string, status: string, source = 'tunedrop') => ({
      source,
      'detail-type': 'Run Status Change',
      detail: {
        version: 1,
        id: runEventId(runId, status, '2026-11-30T10:00:00.000Z'),
        runId,
        family: 'support',
        kind: 'fine-tuning',
        status,
        at: '2026-11-30T10:00:00.000Z',
        terminal: status === 'REJECTED',
        links: { validationReport: `s3://b/runs/${runId}/validation.md` },
      },
    });
    expect(
      describeRunEvents('r1', [
        event('r1', 'RECEIVED'),
        event('r2', 'RECEIVED'),
        event('r1', 'PREPARING', 'somebody.else'),
        event('r1', 'REJECTED'),
      ]),
    ).toBe('  run events          RECEIVED → REJECTED (EventBridge, source "tunedrop", "Run Status Change")');
    expect(describeRunEvents('r3', [event('r1', 'RECEIVED')])).toBe('');
  });
});
