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

describe('npm start -- --embeddings', () => {
  it("embeds the ticket texts through the Batch API and prints the output, its cost and the query's three nearest tickets, the crash ticket first", async () => {
    const { code, out } = await runScript('local/demo.ts', ['--embeddings'], 150_000);
    expect({ code, tail: out.split('\n').slice(-3).join('\n') }).toMatchObject({ code: 0 });
    expect(out).toMatch(/^Run ticket-texts-[0-9a-f]{16}: SUCCEEDED$/m);
    expect(out).toMatch(
      /^ {2}output {14}s3:\/\/[a-z0-9.-]+\/embeddings\/ticket-texts-[0-9a-f]{16}\/embeddings\.parquet$/m,
    );
    expect(out).toMatch(/^ {2}records {13}64 embedded, 0 failed$/m);
    // Batch price: text-embedding-3-small at $0.01 per 1M tokens.
    const tokens = /^ {2}tokens {14}(\d+)$/m.exec(out);
    const cost = /^ {2}cost {16}\$(\d+\.\d{8}) \(batch price, \$0\.01 per 1M tokens\)$/m.exec(out);
    expect(tokens).not.toBeNull();
    expect(cost).not.toBeNull();
    expect(Number(cost![1])).toBeCloseTo((Number(tokens![1]) * 0.01) / 1e6, 8);
    // The search: three tickets by falling cosine similarity, the one about pasting an image crashing first.
    const lines = out.split('\n');
    const heading = lines.findIndex((line) =>
      line.startsWith('The three tickets nearest to "The app crashes when I paste an image"'),
    );
    expect(heading).toBeGreaterThan(0);
    const nearest = lines
      .slice(heading + 1, heading + 4)
      .map((line) => /^ {2}(-?\d\.\d{3}) {2}(T\d{3}) {2}(.+)$/.exec(line));
    expect(nearest.every((match) => match !== null)).toBe(true);
    expect(nearest.map((match) => match![2])[0]).toBe('T002');
    expect(nearest[0]![3]).toMatch(/crashes.*paste an image/);
    const similarities = nearest.map((match) => Number(match![1]));
    expect([...similarities].sort((a, b) => b - a)).toEqual(similarities);
    expect(new Set(nearest.map((match) => match![2])).size).toBe(3);
    expect(out).toMatch(/^Done in [\d.]+ s\./m);
  }, 180_000);
});
