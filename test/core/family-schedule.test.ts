import fc from 'fast-check';
import {
  scheduleName,
  syncFamilySchedule,
  type FamilySchedules,
} from '../../functions/core/family-schedule.js';
import { FAMILY_NAME } from '../../functions/core/run.js';
import { memoryObjectStore } from '../support/fakes.js';

const KEY = 'incoming/support/tunedrop.json';

/** Schedules in memory, as Scheduler keeps them: one per family. */
function memorySchedules(initial: Record<string, string> = {}) {
  const byFamily = new Map(Object.entries(initial));
  const calls: string[] = [];
  const schedules: FamilySchedules = {
    async put(family, expression) {
      calls.push(`put ${family} ${expression}`);
      byFamily.set(family, expression);
    },
    async remove(family) {
      calls.push(`remove ${family}`);
      return byFamily.delete(family);
    },
  };
  return { schedules, byFamily, calls };
}

function setup(files: Record<string, string>, schedules: Record<string, string> = {}) {
  const objects = memoryObjectStore(
    Object.fromEntries(Object.entries(files).map(([key, text]) => [`bucket/${key}`, text])),
  );
  const memory = memorySchedules(schedules);
  const deps = { store: objects.store, schedules: memory.schedules, bucket: 'bucket', defaults: {} };
  return { ...memory, objects, deps };
}

describe('syncFamilySchedule', () => {
  it('creates the schedule a family’s tunedrop.json asks for', async () => {
    const { deps, byFamily } = setup({ [KEY]: '{ "schedule": "rate(7 days)" }' });
    expect(await syncFamilySchedule('support', KEY, deps)).toEqual({
      family: 'support',
      outcome: 'scheduled',
      expression: 'rate(7 days)',
    });
    expect(byFamily.get('support')).toBe('rate(7 days)');
  });

  it('changes a schedule to the one the file says now', async () => {
    const { deps, byFamily } = setup(
      { [KEY]: '{ "schedule": "cron(0 3 ? * MON *)" }' },
      { support: 'rate(7 days)' },
    );
    expect(await syncFamilySchedule('support', KEY, deps)).toMatchObject({ outcome: 'scheduled' });
    expect(byFamily.get('support')).toBe('cron(0 3 ? * MON *)');
  });

  it('deletes the schedule when the file no longer has one', async () => {
    const { deps, byFamily } = setup({ [KEY]: '{ "maxCostUsd": 20 }' }, { support: 'rate(7 days)' });
    expect(await syncFamilySchedule('support', KEY, deps)).toEqual({
      family: 'support',
      outcome: 'unscheduled',
    });
    expect(byFamily.has('support')).toBe(false);
  });

  it('deletes the schedule when the file is gone', async () => {
    const { deps, byFamily } = setup({}, { support: 'rate(7 days)' });
    expect(await syncFamilySchedule('support', KEY, deps)).toEqual({
      family: 'support',
      outcome: 'unscheduled',
    });
    expect(byFamily.size).toBe(0);
  });

  it('answers none when there was no schedule and none is asked for', async () => {
    const { deps } = setup({ [KEY]: '{}' });
    expect(await syncFamilySchedule('support', KEY, deps)).toEqual({ family: 'support', outcome: 'none' });
  });

  it.each([
    ['not JSON', '{ "schedule": '],
    ['an invalid expression', '{ "schedule": "every tuesday" }'],
    ['an unknown setting', '{ "schedule": "rate(1 day)", "shedule": "x" }'],
    ['too large', `{ "schedule": "rate(1 day)", "notes": "${'x'.repeat(70 * 1024)}" }`],
  ])('keeps the schedule as it was when the file is %s, and says why', async (_what, text) => {
    const { deps, byFamily, calls } = setup({ [KEY]: text }, { support: 'rate(7 days)' });
    const result = await syncFamilySchedule('support', KEY, deps);
    expect(result).toMatchObject({ family: 'support', outcome: 'kept' });
    expect(result.outcome === 'kept' && result.problems.length).toBeGreaterThan(0);
    expect(calls).toEqual([]);
    expect(byFamily.get('support')).toBe('rate(7 days)');
  });

  it('keeps the schedules alone for a family folder whose name Scheduler and SSM do not take', async () => {
    const { deps, calls } = setup({ 'incoming/sup port/tunedrop.json': '{ "schedule": "rate(1 day)" }' });
    const result = await syncFamilySchedule('sup port', 'incoming/sup port/tunedrop.json', deps);
    expect(result).toMatchObject({
      outcome: 'kept',
      problems: [expect.stringContaining('rename it')],
    });
    expect(calls).toEqual([]);
  });

  it('reads the file as it is now, so events out of order leave the latest settings in force', async () => {
    const { deps, objects, byFamily } = setup({ [KEY]: '{ "schedule": "rate(1 day)" }' });
    // The event of the first write arrives after the file was changed again.
    await objects.store.write(
      { bucket: 'bucket', key: KEY },
      '{ "schedule": "rate(2 days)" }',
      'application/json',
    );
    await syncFamilySchedule('support', KEY, deps);
    await syncFamilySchedule('support', KEY, deps);
    expect(byFamily.get('support')).toBe('rate(2 days)');
  });
});

describe('scheduleName', () => {
  const SCHEDULER_NAME = /^[0-9a-zA-Z\-_.]{1,64}$/;
  const familyName = fc.stringMatching(FAMILY_NAME);

  it('names a short family’s schedule after it, and a long one after its beginning and a digest', () => {
    expect(scheduleName('support')).toBe('retrain-support');
    expect(scheduleName('x'.repeat(56))).toBe(`retrain-${'x'.repeat(56)}`);
    expect(scheduleName('x'.repeat(57))).toMatch(/^retrain\.x{43}-[0-9a-f]{12}$/);
  });

  it('is a name Scheduler takes for any family name tunedrop accepts', () => {
    fc.assert(
      fc.property(familyName, (family) => {
        expect(scheduleName(family)).toMatch(SCHEDULER_NAME);
      }),
    );
  });

  it('is a name Scheduler takes for the longest family names too', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_.-]{100,128}$/), (family) => {
        expect(scheduleName(family)).toMatch(SCHEDULER_NAME);
      }),
    );
  });

  it('tells distinct families apart, long names sharing a beginning included', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_.-]{0,70}$/), familyName, familyName, (prefix, a, b) => {
        const first = `${prefix}${a}`.slice(0, 128);
        const second = `${prefix}${b}`.slice(0, 128);
        fc.pre(first !== second);
        expect(scheduleName(first)).not.toBe(scheduleName(second));
      }),
    );
  });

  it('tells a long family apart from a short one whose name looks like its cut name', () => {
    const long = 'x'.repeat(60);
    const cut = scheduleName(long);
    const lookalike = cut.slice('retrain-'.length);
    expect(lookalike.length + 'retrain-'.length).toBeLessThanOrEqual(64);
    expect(scheduleName(lookalike)).not.toBe(cut);
  });
});
