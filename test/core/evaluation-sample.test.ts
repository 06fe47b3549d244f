import fc from 'fast-check';
import {
  EvaluationSampleCountsSchema,
  sampleEvaluationExamples,
  stratifiedAllocation,
  type EvaluationCandidate,
} from '../../functions/core/evaluation-sample.js';
import { splitHash } from '../../functions/core/split.js';

function ticket(id: number, label?: string): EvaluationCandidate {
  const value = { messages: [{ role: 'user', content: `ticket ${id}` }], label };
  return label === undefined
    ? { canonicalJson: JSON.stringify(value) }
    : { canonicalJson: JSON.stringify(value), label };
}

const canonical = (examples: readonly EvaluationCandidate[]) => examples.map((e) => e.canonicalJson).sort();

describe('stratifiedAllocation', () => {
  it('rounds each class’s share by largest remainder', () => {
    // Shares of 7 from 10/6/4: 3.5, 2.1, 1.4 → floors 3, 2, 1; the one left over goes to the largest
    // remainder (0.5).
    expect(stratifiedAllocation([10, 6, 4], 7)).toEqual([4, 2, 1]);
  });

  it('gives equal remainders to the class listed first', () => {
    expect(stratifiedAllocation([5, 5], 3)).toEqual([2, 1]);
  });

  it('gives every class one example when there are at least as many as classes', () => {
    // Shares of 3 from 1000/1/1: 2.99, 0.003, 0.003; the rare classes are raised to one each.
    expect(stratifiedAllocation([1000, 1, 1], 3)).toEqual([1, 1, 1]);
    // 6/3/1, 5 wanted: the last class (share 0.5) gets one, the others share 4 as 6:3 → 2.67, 1.33.
    expect(stratifiedAllocation([6, 3, 1], 5)).toEqual([3, 1, 1]);
  });

  it('leaves small classes out when there are fewer examples than classes', () => {
    expect(stratifiedAllocation([4, 3, 2, 1], 2)).toEqual([1, 1, 0, 0]);
  });

  it('takes everything when as many are wanted as there are', () => {
    expect(stratifiedAllocation([4, 3], 7)).toEqual([4, 3]);
    expect(stratifiedAllocation([4, 3], 100)).toEqual([4, 3]);
  });

  it('takes nothing when nothing is wanted', () => {
    expect(stratifiedAllocation([4, 3], 0)).toEqual([0, 0]);
  });

  const allocationCase = fc.record({
    sizes: fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 8 }),
    wanted: fc.integer({ min: 0, max: 200 }),
  });

  it('takes min(wanted, total), no class more than it has or more than its share rounded up (or one)', () => {
    fc.assert(
      fc.property(allocationCase, ({ sizes, wanted }) => {
        const total = sizes.reduce((sum, size) => sum + size, 0);
        const allocation = stratifiedAllocation(sizes, wanted);
        expect(allocation.reduce((sum, n) => sum + n, 0)).toBe(Math.min(wanted, total));
        allocation.forEach((n, i) => {
          expect(n).toBeGreaterThanOrEqual(0);
          expect(n).toBeLessThanOrEqual(sizes[i]!);
          if (wanted < total)
            expect(n).toBeLessThanOrEqual(Math.max(1, Math.ceil((wanted * sizes[i]!) / total)));
        });
      }),
    );
  });

  it('gives every class at least one example when there are at least as many as classes', () => {
    fc.assert(
      fc.property(allocationCase, ({ sizes, wanted }) => {
        fc.pre(wanted >= sizes.length);
        expect(Math.min(...stratifiedAllocation(sizes, wanted))).toBeGreaterThanOrEqual(1);
      }),
    );
  });

  it('keeps every class within one example of its ideal share when no class has to be raised to one', () => {
    fc.assert(
      fc.property(allocationCase, ({ sizes, wanted }) => {
        const total = sizes.reduce((sum, size) => sum + size, 0);
        const ideal = sizes.map((size) => (Math.min(wanted, total) * size) / total);
        fc.pre(wanted < sizes.length || ideal.every((share) => share >= 1));
        stratifiedAllocation(sizes, wanted).forEach((n, i) =>
          expect(Math.abs(n - ideal[i]!)).toBeLessThan(1),
        );
      }),
    );
  });
});

describe('sampleEvaluationExamples', () => {
  const labelled = [
    ...Array.from({ length: 12 }, (_, i) => ticket(i, 'billing')),
    ...Array.from({ length: 6 }, (_, i) => ticket(100 + i, 'bug')),
    ticket(200, 'refund'),
  ];

  it('keeps each class’s share and gives a class of one its example', () => {
    const { examples, counts } = sampleEvaluationExamples(labelled, { seed: 42, maxExamples: 6 });
    expect(examples).toHaveLength(6);
    expect(counts).toEqual({
      availableExamples: 19,
      chosenExamples: 6,
      stratified: true,
      perClass: [
        { label: 'billing', available: 12, chosen: 3 },
        { label: 'bug', available: 6, chosen: 2 },
        { label: 'refund', available: 1, chosen: 1 },
      ],
    });
    expect(EvaluationSampleCountsSchema.parse(counts)).toEqual(counts);
  });

  it('takes, within a class, the examples with the smallest split hashes for the seed', () => {
    const { examples } = sampleEvaluationExamples(labelled, { seed: 7, maxExamples: 6 });
    const billing = labelled.filter((e) => e.label === 'billing');
    const smallest = [...billing]
      .sort((a, b) => splitHash(7, a.canonicalJson) - splitHash(7, b.canonicalJson))
      .slice(0, 3);
    expect(canonical(examples.filter((e) => e.label === 'billing'))).toEqual(canonical(smallest));
  });

  it('returns the chosen examples in input order', () => {
    const { examples } = sampleEvaluationExamples(labelled, { seed: 42, maxExamples: 10 });
    const positions = examples.map((e) => labelled.indexOf(e));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });

  it('chooses differently with another seed', () => {
    const generation = Array.from({ length: 40 }, (_, i) => ticket(i));
    const a = sampleEvaluationExamples(generation, { seed: 1, maxExamples: 10 }).examples;
    const b = sampleEvaluationExamples(generation, { seed: 2, maxExamples: 10 }).examples;
    expect(canonical(a)).not.toEqual(canonical(b));
  });

  it('samples without strata when no example has a label', () => {
    const { counts } = sampleEvaluationExamples(
      Array.from({ length: 5 }, (_, i) => ticket(i)),
      { seed: 42, maxExamples: 3 },
    );
    expect(counts).toEqual({ availableExamples: 5, chosenExamples: 3, stratified: false, perClass: [] });
  });

  it('puts unlabelled examples of a classification run in a class of their own, listed last', () => {
    const { counts } = sampleEvaluationExamples([...labelled, ticket(300), ticket(301)], {
      seed: 42,
      maxExamples: 7,
    });
    expect(counts.perClass.map((c) => c.label)).toEqual(['billing', 'bug', 'refund', null]);
    expect(counts.perClass.every((c) => c.chosen >= 1)).toBe(true);
  });

  it('refuses a negative or fractional maximum and a seed out of range', () => {
    expect(() => sampleEvaluationExamples(labelled, { seed: 42, maxExamples: -1 })).toThrow();
    expect(() => sampleEvaluationExamples(labelled, { seed: 42, maxExamples: 1.5 })).toThrow();
    expect(() => sampleEvaluationExamples(labelled, { seed: -1, maxExamples: 1 })).toThrow();
  });

  /** Candidates with copies now and then (a small alphabet), labelled or not. */
  const candidates = (withLabels: boolean) =>
    fc
      .array(
        fc.record({
          text: fc.string({ maxLength: 3, unit: fc.constantFrom('x', 'y', 'z') }),
          label: fc.constantFrom('a', 'b', 'c', 'd'),
        }),
        { maxLength: 40 },
      )
      .map((rows) =>
        rows.map(({ text, label }): EvaluationCandidate => {
          const canonicalJson = JSON.stringify({ text, label });
          return withLabels ? { canonicalJson, label } : { canonicalJson };
        }),
      );
  const sampleCase = fc
    .record({
      withLabels: fc.boolean(),
      seed: fc.integer({ min: 0, max: 2_147_483_647 }),
      maxExamples: fc.integer({ min: 0, max: 50 }),
    })
    .chain((options) =>
      candidates(options.withLabels).chain((examples) =>
        fc.record({
          options: fc.constant({ seed: options.seed, maxExamples: options.maxExamples }),
          examples: fc.constant(examples),
          shuffled: fc.shuffledSubarray(examples, { minLength: examples.length, maxLength: examples.length }),
        }),
      ),
    );

  it('chooses min(N, n) of the examples, each an example given, in input order', () => {
    fc.assert(
      fc.property(sampleCase, ({ options, examples }) => {
        const chosen = sampleEvaluationExamples(examples, options).examples;
        expect(chosen).toHaveLength(Math.min(options.maxExamples, examples.length));
        let cursor = -1;
        for (const example of chosen) {
          const position = examples.indexOf(example, cursor + 1);
          expect(position).toBeGreaterThan(cursor);
          cursor = position;
        }
      }),
    );
  });

  it('chooses the same for the same seed, whatever the order of the examples', () => {
    fc.assert(
      fc.property(sampleCase, ({ options, examples, shuffled }) => {
        const first = sampleEvaluationExamples(examples, options);
        expect(sampleEvaluationExamples(examples, options)).toEqual(first);
        const fromShuffled = sampleEvaluationExamples(shuffled, options);
        expect(canonical(fromShuffled.examples)).toEqual(canonical(first.examples));
        expect(fromShuffled.counts).toEqual(first.counts);
      }),
    );
  });

  it('keeps each class within one example of its ideal share when no class has to be raised to one', () => {
    fc.assert(
      fc.property(sampleCase, ({ options, examples }) => {
        const { counts } = sampleEvaluationExamples(examples, options);
        const taken = Math.min(options.maxExamples, examples.length);
        const ideal = counts.perClass.map((c) => (taken * c.available) / examples.length);
        for (const c of counts.perClass) expect(c.chosen).toBeLessThanOrEqual(c.available);
        if (options.maxExamples >= counts.perClass.length)
          for (const c of counts.perClass) expect(c.chosen).toBeGreaterThanOrEqual(1);
        if (options.maxExamples < counts.perClass.length || ideal.every((share) => share >= 1))
          counts.perClass.forEach((c, i) => expect(Math.abs(c.chosen - ideal[i]!)).toBeLessThan(1));
      }),
    );
  });

  it('without labels, grows the sample by adding examples as N grows', () => {
    fc.assert(
      fc.property(
        candidates(false),
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 0, max: 39 }),
        (examples, seed, n) => {
          const smaller = canonical(sampleEvaluationExamples(examples, { seed, maxExamples: n }).examples);
          const larger = canonical(sampleEvaluationExamples(examples, { seed, maxExamples: n + 1 }).examples);
          const left = [...larger];
          for (const json of smaller) {
            const at = left.indexOf(json);
            expect(at).toBeGreaterThanOrEqual(0);
            left.splice(at, 1);
          }
        },
      ),
    );
  });
});
