import { runScript } from '../support/run-script.js';

/**
 * `npm start`, the README's first command, as a new user runs it: the whole local pipeline on the bundled
 * sample and the broken file, ending 0, and showing in the terminal what a user of the deployed stack
 * gets by mail and on the event bus.
 */
describe('npm start', () => {
  it("trains the sample, evaluates it beside the base model, rejects the broken file, and prints both runs' events and notifications", async () => {
    const { code, out } = await runScript('local/demo.ts', [], 150_000);
    expect({ code, tail: out.split('\n').slice(-3).join('\n') }).toMatchObject({ code: 0 });
    expect(out).toMatch(/^Run support-tickets-[0-9a-f]{16}: SUCCEEDED$/m);
    expect(out).toMatch(/^Run broken-tickets-[0-9a-f]{16}: REJECTED$/m);
    expect(out).toMatch(
      /^ {2}run events {10}RECEIVED → PREPARING → UPLOADING → TRAINING → COLLECTING → EVALUATING → SUCCEEDED /m,
    );
    // The evaluation side by side, and the promotion decision.
    const evaluation =
      /^ {2}evaluation {10}macro_f1 ([\d.]+) \(new\) vs ([\d.]+) \(base gpt-4\.1-mini-2025-04-14\) on (\d+) held-out examples$/m.exec(
        out,
      );
    expect(evaluation).not.toBeNull();
    expect(Number(evaluation![1])).toBeGreaterThan(Number(evaluation![2]));
    expect(out).toMatch(/^ {2}promoted {12}the family has no current model$/m);
    expect(out).toMatch(/^ {2}run events {10}RECEIVED → REJECTED /m);
    // The run-end summaries the notifications topic got, with their links.
    expect(out).toMatch(
      /^ {2}notification {8}"tunedrop run support-tickets-\S+ \(family support\) SUCCEEDED: ft:/m,
    );
    expect(out).toMatch(/^ {22}"Report: s3:\/\/\S+\/runs\/support-tickets-\S+\/report\.html"$/m);
    expect(out).toMatch(/^ {22}"Execution: https:\/\/\S+\.console\.aws\.amazon\.com\/states\/\S+"$/m);
    expect(out).toMatch(
      /^ {2}notification {8}"tunedrop run broken-tickets-\S+ \(family support\) was REJECTED: /m,
    );
    expect(out).toMatch(/^Done in [\d.]+ s\./m);
  }, 180_000);
});
