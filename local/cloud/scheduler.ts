import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../template.js';
import type { Authorizer, Principal } from './iam/authorizer.js';
import type { LocalLambda } from './lambda.js';

/**
 * Local EventBridge Scheduler: the REST-JSON API @aws-sdk/client-scheduler speaks (schedules at
 * `/schedules/{Name}`, groups at `/schedule-groups/{Name}`), and the firing of schedules on a clock of
 * schedule time that runs `1 / timeScale` times faster than real time (or only when `advance()` moves
 * it, when the cloud's schedules are off).
 *
 * At each occurrence the scheduler assumes the schedule's execution role (the role's trust policy must let
 * scheduler.amazonaws.com assume it) and, as that role, invokes the target Lambda function asynchronously
 * with the schedule's Input ("Setting up Amazon EventBridge Scheduler", "Set up the execution role", and
 * "Managing targets", EventBridge Scheduler user guide, read 2026-11-29). Local mode serves Lambda targets
 * only. A delivery the role cannot make is dropped (reported through `onDropped`); on AWS the scheduler
 * would retry it (RetryPolicy, 185 attempts over 24 hours by default) and then dead-letter or drop it.
 */

/** Seconds per unit of a rate expression. */
const RATE_UNITS: Record<string, number> = { minute: 60, hour: 3600, day: 86_400 };
const NAME_PATTERN = /^[0-9a-zA-Z\-_.]{1,64}$/;
const LAMBDA_ARN = /^arn:aws:lambda:[a-z0-9-]+:\d{12}:function:[a-zA-Z0-9\-_]+(:[a-zA-Z0-9\-_$]+)?$/;
const ROLE_ARN = /^arn:aws(-[a-z]+)?:iam::\d{12}:role\/[\w+=,.@\-/]+$/;

export class SchedulerApiError extends Error {
  constructor(
    readonly type:
      'ValidationException' | 'ResourceNotFoundException' | 'ConflictException' | 'InternalServerException',
    message: string,
  ) {
    super(message);
  }
}

/** The HTTP status the SDK's model gives each error (@aws-sdk/client-scheduler, schemas). */
const STATUS: Record<SchedulerApiError['type'], number> = {
  ValidationException: 400,
  ResourceNotFoundException: 404,
  ConflictException: 409,
  InternalServerException: 500,
};

const invalid = (message: string) => new SchedulerApiError('ValidationException', message);

// ---------------------------------------------------------------------------------------------------
// Schedule expressions.

interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export type ParsedExpression =
  { kind: 'rate'; periodMs: number } | { kind: 'cron'; cron: CronSpec } | { kind: 'at'; wall: WallTime };

interface CronSpec {
  minutes: Set<number>;
  hours: Set<number>;
  months: Set<number>;
  years: Set<number>;
  matchesDay(year: number, month: number, day: number): boolean;
}

/**
 * Reads a schedule expression as EventBridge Scheduler does ("Schedule types in EventBridge Scheduler",
 * EventBridge Scheduler user guide, read 2026-11-29): `rate(value unit)` with a positive whole value and
 * minute|minutes|hour|hours|day|days; `cron(minutes hours day-of-month month day-of-week year)`, six fields
 * by the cron rules of "Cron expressions reference" (EventBridge user guide, read 2026-11-29); and
 * `at(yyyy-mm-ddThh:mm:ss)`. Throws a ValidationException otherwise.
 */
export function parseScheduleExpression(expression: string): ParsedExpression {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const value = Number(rate[1]);
    if (value < 1) throw invalid(`Invalid Schedule Expression ${expression}.`);
    return { kind: 'rate', periodMs: value * RATE_UNITS[rate[2]!.replace(/s$/, '')]! * 1000 };
  }
  const at = /^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$/.exec(expression);
  if (at) {
    const [year, month, day, hour, minute, second] = at.slice(1).map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
    if (
      date.getUTCFullYear() !== year ||
      date.getUTCMonth() !== month - 1 ||
      date.getUTCDate() !== day ||
      hour > 23 ||
      minute > 59 ||
      second > 59
    )
      throw invalid(`Invalid Schedule Expression ${expression}.`);
    return { kind: 'at', wall: { year, month, day, hour, minute, second } };
  }
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (cron) return { kind: 'cron', cron: parseCron(cron[1]!, expression) };
  throw invalid(`Invalid Schedule Expression ${expression}.`);
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

function parseCron(fields: string, expression: string): CronSpec {
  const bad = () => invalid(`Invalid Schedule Expression ${expression}.`);
  const parts = fields.trim().split(/\s+/);
  if (parts.length !== 6) throw bad();
  const [minute, hour, dom, month, dow, year] = parts as [string, string, string, string, string, string];
  // "You can't specify the Day-of-month and Day-of-week fields in the same cron expression. If you
  // specify a value or a * (asterisk) in one of the fields, you must use a ? (question mark) in the other."
  if ((dom === '?') === (dow === '?')) throw bad();

  const number = (text: string, min: number, max: number, names?: string[]) => {
    const named = names?.indexOf(text.toUpperCase()) ?? -1;
    const value = named >= 0 ? named + min : /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isInteger(value) || value < min || value > max) throw bad();
    return value;
  };
  /** A field of `, - * /` items. */
  const list = (text: string, min: number, max: number, names?: string[]) => {
    const values = new Set<number>();
    for (const item of text.split(',')) {
      const [range = '', stepText] = item.split('/');
      const step = stepText === undefined ? 1 : number(stepText, 1, max);
      let from: number;
      let to: number;
      if (range === '*') [from, to] = [min, max];
      else if (range.includes('-')) {
        const [a = '', b = ''] = range.split('-');
        [from, to] = [number(a, min, max, names), number(b, min, max, names)];
        if (from > to) throw bad();
      } else {
        from = number(range, min, max, names);
        to = stepText === undefined ? from : max;
      }
      for (let v = from; v <= to; v += step) values.add(v);
    }
    return values;
  };

  const minutes = list(minute, 0, 59);
  const hours = list(hour, 0, 23);
  const months = list(month, 1, 12, MONTHS);
  const years = list(year, 1970, 2199);
  const daysIn = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate();
  const weekday = (y: number, m: number, d: number) => new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 1;

  let matchesDay: CronSpec['matchesDay'];
  if (dom !== '?') {
    // Day-of-month: `, - * / L W` (L: the last day; nW: the weekday nearest day n; LW: the last weekday).
    const last = dom === 'L';
    const lastWeekday = dom === 'LW';
    const nearest = /^(\d+)W$/.exec(dom);
    const nearestDay = nearest ? number(nearest[1]!, 1, 31) : undefined;
    const days = last || lastWeekday || nearest ? new Set<number>() : list(dom, 1, 31);
    matchesDay = (y, m, d) => {
      const length = daysIn(y, m);
      if (last) return d === length;
      if (lastWeekday) {
        let target = length;
        while (weekday(y, m, target) === 1 || weekday(y, m, target) === 7) target--;
        return d === target;
      }
      if (nearestDay !== undefined) {
        const wanted = Math.min(nearestDay, length);
        const w = weekday(y, m, wanted);
        let target = wanted;
        if (w === 7) target = wanted === 1 ? wanted + 2 : wanted - 1;
        else if (w === 1) target = wanted === length ? wanted - 2 : wanted + 1;
        return d === target;
      }
      return days.has(d);
    };
  } else {
    // Day-of-week: `, - * ? L #` with 1-7 or SUN-SAT (nL: the last such day of the month; n#k: the k-th).
    const nth = /^([^#]+)#([1-5])$/.exec(dow);
    const lastOf = /^([^L]+)L$/.exec(dow);
    if (nth) {
      const wanted = number(nth[1]!, 1, 7, WEEKDAYS);
      const k = Number(nth[2]);
      matchesDay = (y, m, d) => weekday(y, m, d) === wanted && Math.ceil(d / 7) === k;
    } else if (lastOf) {
      const wanted = number(lastOf[1]!, 1, 7, WEEKDAYS);
      matchesDay = (y, m, d) => weekday(y, m, d) === wanted && d + 7 > daysIn(y, m);
    } else if (dow === 'L') {
      matchesDay = (y, m, d) => weekday(y, m, d) === 7;
    } else {
      const days = list(dow, 1, 7, WEEKDAYS);
      matchesDay = (y, m, d) => days.has(weekday(y, m, d));
    }
  }
  return { minutes, hours, months, years, matchesDay };
}

/** The wall-clock time at an instant in an IANA time zone. */
function wallClock(utcMs: number, timeZone: string): WallTime {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(utcMs));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return {
    year: get('year'),
    month: get('month'),
    day: get('day'),
    hour: get('hour'),
    minute: get('minute'),
    second: get('second'),
  };
}

const wallAsUtc = (w: WallTime) => Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);

/** The instant a wall-clock time names in a time zone (for a time a DST gap skips: an hour later). */
function zonedToUtc(wall: WallTime, timeZone: string): number {
  const target = wallAsUtc(wall);
  let guess = target;
  for (let i = 0; i < 3; i++) guess += target - wallAsUtc(wallClock(guess, timeZone));
  return guess;
}

/** The first instant at or after `from` that a cron expression names, within ten years; else undefined. */
function nextCron(cron: CronSpec, from: number, timeZone: string): number | undefined {
  const start = wallClock(from, timeZone);
  let day = Date.UTC(start.year, start.month - 1, start.day);
  const hours = [...cron.hours].sort((a, b) => a - b);
  const minutes = [...cron.minutes].sort((a, b) => a - b);
  for (let i = 0; i < 3700; i++, day += 86_400_000) {
    const date = new Date(day);
    const [year, month, dayOfMonth] = [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()];
    if (year > 2199) return undefined;
    if (!cron.years.has(year) || !cron.months.has(month) || !cron.matchesDay(year, month, dayOfMonth))
      continue;
    for (const hour of hours)
      for (const minute of minutes) {
        const wall = { year, month, day: dayOfMonth, hour, minute, second: 0 };
        const at = zonedToUtc(wall, timeZone);
        const back = wallClock(at, timeZone);
        // A time a DST change skips does not occur.
        if (back.hour !== hour || back.minute !== minute) continue;
        if (at >= from) return at;
      }
  }
  return undefined;
}

function validTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------
// Schedules.

export interface ScheduleTarget {
  Arn: string;
  RoleArn: string;
  Input?: string;
  RetryPolicy?: { MaximumEventAgeInSeconds?: number; MaximumRetryAttempts?: number };
  DeadLetterConfig?: { Arn?: string };
}

interface Schedule {
  name: string;
  group: string;
  expression: string;
  parsed: ParsedExpression;
  timeZone?: string;
  description?: string;
  startDate?: number;
  endDate?: number;
  state: 'ENABLED' | 'DISABLED';
  flexibleTimeWindow: { Mode: 'OFF' | 'FLEXIBLE'; MaximumWindowInMinutes?: number };
  target: ScheduleTarget;
  actionAfterCompletion: 'NONE' | 'DELETE';
  kmsKeyArn?: string;
  created: number;
  modified: number;
  /** The next occurrence, in schedule-clock milliseconds; undefined once the schedule has none left. */
  nextDue?: number;
}

interface Group {
  name: string;
  created: number;
}

export interface ScheduleSummary {
  group: string;
  name: string;
  expression: string;
  state: 'ENABLED' | 'DISABLED';
  target: ScheduleTarget;
}

/** A schedule as a template declares it (AWS::Scheduler::Schedule), properties in the API's shape. */
export type ScheduleInput = Record<string, unknown>;

export interface LocalSchedulerOptions {
  /** Real seconds per schedule second. */
  timeScale: number;
  /** Whether the clock runs (and schedules fire) by itself; otherwise only `advance()` moves it. */
  running: boolean;
  /** Groups besides "default" (the template's AWS::Scheduler::ScheduleGroup). */
  groups: string[];
  authorizer: Authorizer;
  lambda: Pick<LocalLambda, 'find' | 'invokeAsync'>;
  /**
   * Assumes a schedule's execution role for a schedule of a group: the role session's principal, or why
   * the role cannot be assumed.
   */
  assumeRole(roleArn: string, groupArn: string): Promise<{ principal: Principal } | { refused: string }>;
  onDropped(dropped: { functionName: string; reason: string }): void;
}

export const scheduleArn = (group: string, name: string) =>
  `arn:aws:scheduler:${LOCAL_REGION}:${LOCAL_ACCOUNT}:schedule/${group}/${name}`;
export const scheduleGroupArn = (group: string) =>
  `arn:aws:scheduler:${LOCAL_REGION}:${LOCAL_ACCOUNT}:schedule-group/${group}`;

export class LocalScheduler {
  private readonly schedules = new Map<string, Schedule>();
  private readonly groups = new Map<string, Group>();
  private readonly pending = new Set<Promise<void>>();
  /** The schedule clock: `anchorClock` at real time `anchorReal`, running at 1/timeScale when running. */
  private anchorClock = Date.now();
  private anchorReal = Date.now();
  private timer: NodeJS.Timeout | undefined;
  /** Firings happen one at a time, in order, whoever asks (the timer, advance, fire). */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: LocalSchedulerOptions) {
    const now = Date.now() / 1000;
    for (const name of ['default', ...options.groups]) this.groups.set(name, { name, created: now });
  }

  /** The schedule clock now. */
  now(): number {
    return this.options.running
      ? this.anchorClock + (Date.now() - this.anchorReal) / this.options.timeScale
      : this.anchorClock;
  }

  list(): ScheduleSummary[] {
    return [...this.schedules.values()].map((s) => ({
      group: s.group,
      name: s.name,
      expression: s.expression,
      state: s.state,
      target: s.target,
    }));
  }

  /** Creates a schedule as CreateSchedule does; throws SchedulerApiError. */
  create(name: string, body: Record<string, unknown>): { ScheduleArn: string } {
    const schedule = this.validate(name, body);
    if (!this.groups.has(schedule.group))
      throw new SchedulerApiError(
        'ResourceNotFoundException',
        `Schedule group ${schedule.group} does not exist.`,
      );
    const key = `${schedule.group}/${name}`;
    if (this.schedules.has(key))
      throw new SchedulerApiError('ConflictException', `Schedule ${name} already exists.`);
    this.schedules.set(key, schedule);
    this.reschedule();
    return { ScheduleArn: scheduleArn(schedule.group, name) };
  }

  update(name: string, body: Record<string, unknown>): { ScheduleArn: string } {
    const schedule = this.validate(name, body);
    const key = `${schedule.group}/${name}`;
    const existing = this.schedules.get(key);
    if (!existing)
      throw new SchedulerApiError('ResourceNotFoundException', `Schedule ${name} does not exist.`);
    // UpdateSchedule replaces every setting; what the request leaves out takes its default.
    schedule.created = existing.created;
    this.schedules.set(key, schedule);
    this.reschedule();
    return { ScheduleArn: scheduleArn(schedule.group, name) };
  }

  get(name: string, group = 'default'): Record<string, unknown> {
    const s = this.find(name, group);
    return {
      Arn: scheduleArn(s.group, s.name),
      GroupName: s.group,
      Name: s.name,
      ScheduleExpression: s.expression,
      ...(s.timeZone ? { ScheduleExpressionTimezone: s.timeZone } : {}),
      ...(s.description !== undefined ? { Description: s.description } : {}),
      ...(s.startDate !== undefined ? { StartDate: s.startDate / 1000 } : {}),
      ...(s.endDate !== undefined ? { EndDate: s.endDate / 1000 } : {}),
      ...(s.kmsKeyArn ? { KmsKeyArn: s.kmsKeyArn } : {}),
      State: s.state,
      CreationDate: s.created,
      LastModificationDate: s.modified,
      Target: s.target,
      FlexibleTimeWindow: s.flexibleTimeWindow,
      ActionAfterCompletion: s.actionAfterCompletion,
    };
  }

  delete(name: string, group = 'default'): Record<string, never> {
    const s = this.find(name, group);
    this.schedules.delete(`${s.group}/${s.name}`);
    this.reschedule();
    return {};
  }

  listSchedules(query: URLSearchParams): Record<string, unknown> {
    const group = query.get('ScheduleGroup') ?? undefined;
    const prefix = query.get('NamePrefix') ?? '';
    const state = query.get('State') ?? undefined;
    const maxResults = query.has('MaxResults') ? Number(query.get('MaxResults')) : 100;
    if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > 100)
      throw invalid('MaxResults must be between 1 and 100.');
    if (state !== undefined && state !== 'ENABLED' && state !== 'DISABLED')
      throw invalid(`Invalid State ${state}.`);
    if (group !== undefined && !this.groups.has(group))
      throw new SchedulerApiError('ResourceNotFoundException', `Schedule group ${group} does not exist.`);
    const matching = [...this.schedules.values()]
      .filter(
        (s) =>
          (group === undefined || s.group === group) &&
          s.name.startsWith(prefix) &&
          (state === undefined || s.state === state),
      )
      .sort((a, b) => (`${a.group}/${a.name}` < `${b.group}/${b.name}` ? -1 : 1));
    const start = query.has('NextToken')
      ? Number(Buffer.from(query.get('NextToken')!, 'base64url').toString())
      : 0;
    if (!Number.isInteger(start) || start < 0) throw invalid('Invalid NextToken.');
    const page = matching.slice(start, start + maxResults);
    return {
      Schedules: page.map((s) => ({
        Arn: scheduleArn(s.group, s.name),
        Name: s.name,
        GroupName: s.group,
        State: s.state,
        CreationDate: s.created,
        LastModificationDate: s.modified,
        Target: { Arn: s.target.Arn },
      })),
      ...(start + maxResults < matching.length
        ? { NextToken: Buffer.from(String(start + maxResults)).toString('base64url') }
        : {}),
    };
  }

  getGroup(name: string): Record<string, unknown> {
    const group = this.groups.get(name);
    if (!group)
      throw new SchedulerApiError('ResourceNotFoundException', `Schedule group ${name} does not exist.`);
    return this.groupShape(group);
  }

  listGroups(query: URLSearchParams): Record<string, unknown> {
    const prefix = query.get('NamePrefix') ?? '';
    return {
      ScheduleGroups: [...this.groups.values()]
        .filter((g) => g.name.startsWith(prefix))
        .map((g) => this.groupShape(g)),
    };
  }

  /**
   * Fires a schedule now, as an occurrence would (an at() schedule's one occurrence is spent); resolves
   * once its delivery has ended.
   */
  async fire(group: string, name: string): Promise<void> {
    const schedule = this.schedules.get(`${group}/${name}`);
    if (!schedule)
      throw new Error(
        `no schedule ${group}/${name} (schedules: ${[...this.schedules.keys()].join(', ') || 'none'})`,
      );
    if (schedule.state !== 'ENABLED') throw new Error(`schedule ${group}/${name} is DISABLED`);
    await this.enqueue(async () => {
      const due = this.now();
      if (schedule.parsed.kind === 'at') schedule.nextDue = undefined;
      await this.occur(schedule, due);
    });
  }

  /**
   * Moves the schedule clock forward by `ms`, firing every occurrence that falls due on the way, in order;
   * resolves with how many fired once their deliveries have ended.
   */
  async advance(ms: number): Promise<number> {
    if (!(ms >= 0)) throw new Error(`advance takes a non-negative number of milliseconds, not ${ms}`);
    return this.enqueue(async () => {
      const until = this.now() + ms;
      const fired = await this.fireDue(until);
      this.setClock(Math.max(until, this.now()));
      this.reschedule();
      return fired;
    });
  }

  async settle(): Promise<void> {
    await this.queue.catch(() => undefined);
    await Promise.allSettled([...this.pending]);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.settle();
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private setClock(clock: number): void {
    this.anchorClock = clock;
    this.anchorReal = Date.now();
  }

  /** Fires every occurrence due at or before `until`, earliest first; returns how many fired. */
  private async fireDue(until: number): Promise<number> {
    let fired = 0;
    for (;;) {
      if (this.closed) return fired;
      let next: Schedule | undefined;
      for (const s of this.schedules.values())
        if (s.state === 'ENABLED' && s.nextDue !== undefined && s.nextDue <= until)
          if (!next || s.nextDue < next.nextDue!) next = s;
      if (!next) return fired;
      const due = next.nextDue!;
      // The clock stands at the occurrence while it fires, so it is the schedule's scheduled time.
      if (!this.options.running || due > this.now()) this.setClock(Math.max(due, this.now()));
      next.nextDue = this.following(next, due);
      await this.occur(next, due);
      fired++;
    }
  }

  /** Delivers one occurrence, then deletes a completed schedule whose ActionAfterCompletion is DELETE. */
  private async occur(schedule: Schedule, due: number): Promise<void> {
    const delivery = this.deliver(schedule, due);
    this.pending.add(delivery);
    try {
      await delivery;
    } finally {
      this.pending.delete(delivery);
    }
    // "ActionAfterCompletion: Specifies the action that EventBridge Scheduler applies to the schedule after
    // the schedule completes invoking the target" (CreateSchedule, EventBridge Scheduler API reference,
    // read 2026-11-29): a schedule with no occurrence left is complete.
    const key = `${schedule.group}/${schedule.name}`;
    if (
      schedule.nextDue === undefined &&
      schedule.actionAfterCompletion === 'DELETE' &&
      this.schedules.get(key) === schedule
    )
      this.schedules.delete(key);
  }

  private async deliver(schedule: Schedule, due: number): Promise<void> {
    const { authorizer, lambda, onDropped } = this.options;
    const target = schedule.target;
    const drop = (reason: string) =>
      onDropped({
        functionName: target.Arn,
        reason: `EventBridge Scheduler could not invoke the target of ${schedule.group}/${schedule.name}: ${reason}`,
      });
    const assumed = await this.options.assumeRole(target.RoleArn, scheduleGroupArn(schedule.group));
    if ('refused' in assumed) return drop(assumed.refused);
    const decision = await authorizer.check(assumed.principal, {
      action: 'lambda:InvokeFunction',
      resource: target.Arn,
    });
    if (!decision.allowed) return drop(decision.message);
    const fn = lambda.find(target.Arn);
    if (!fn) return drop(`ResourceNotFoundException: Function not found: ${target.Arn}`);
    // Context attributes in the Input are replaced at each invocation ("Adding context attributes",
    // EventBridge Scheduler user guide, read 2026-11-29).
    const input = (target.Input ?? '{}')
      .replaceAll('<aws.scheduler.schedule-arn>', scheduleArn(schedule.group, schedule.name))
      .replaceAll(
        '<aws.scheduler.scheduled-time>',
        new Date(Math.floor(due / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      )
      .replaceAll('<aws.scheduler.execution-id>', randomUUID())
      .replaceAll('<aws.scheduler.attempt-number>', '1');
    let payload: unknown;
    try {
      payload = JSON.parse(input);
    } catch {
      return drop('InvalidRequestContentException: Could not parse request body into json');
    }
    lambda.invokeAsync(fn.arn, payload);
  }

  /** The occurrence after one at `due`, within the schedule's start and end dates. */
  private following(schedule: Schedule, due: number): number | undefined {
    const { parsed } = schedule;
    let next: number | undefined;
    if (parsed.kind === 'rate') next = due + parsed.periodMs;
    else if (parsed.kind === 'cron') next = nextCron(parsed.cron, due + 60_000, schedule.timeZone ?? 'UTC');
    return next !== undefined && schedule.endDate !== undefined && next > schedule.endDate ? undefined : next;
  }

  /** A schedule's first occurrence from now. */
  private first(schedule: Schedule): number | undefined {
    const now = this.now();
    const { parsed } = schedule;
    const start = Math.max(now, schedule.startDate ?? now);
    let first: number | undefined;
    if (parsed.kind === 'rate') {
      // "If you do not provide a StartDate for a rate-based schedule, your schedule begins invoking its
      // target immediately" (Schedule types in EventBridge Scheduler, read 2026-11-29).
      const origin = schedule.startDate ?? now;
      first = origin >= now ? origin : origin + Math.ceil((now - origin) / parsed.periodMs) * parsed.periodMs;
    } else if (parsed.kind === 'cron')
      first = nextCron(parsed.cron, Math.ceil(start / 60_000) * 60_000, schedule.timeZone ?? 'UTC');
    else {
      const at = zonedToUtc(parsed.wall, schedule.timeZone ?? 'UTC');
      // A one-time schedule whose time has passed never fires (local mode's reading; AWS does not say).
      first = at >= now ? at : undefined;
    }
    return first !== undefined && schedule.endDate !== undefined && first > schedule.endDate
      ? undefined
      : first;
  }

  /** Sets the timer for the next occurrence, when the clock runs by itself. */
  private reschedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.options.running || this.closed) return;
    let next: number | undefined;
    for (const s of this.schedules.values())
      if (s.state === 'ENABLED' && s.nextDue !== undefined && (next === undefined || s.nextDue < next))
        next = s.nextDue;
    if (next === undefined) return;
    const delay = Math.max(0, (next - this.now()) * this.options.timeScale);
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        void this.enqueue(() => this.fireDue(this.now())).finally(() => this.reschedule());
      },
      Math.min(delay, 2 ** 31 - 1),
    );
    // A schedule alone does not keep the process alive, as no other local service does.
    this.timer.unref();
  }

  private find(name: string, group: string): Schedule {
    if (!this.groups.has(group))
      throw new SchedulerApiError('ResourceNotFoundException', `Schedule group ${group} does not exist.`);
    const schedule = this.schedules.get(`${group}/${name}`);
    if (!schedule)
      throw new SchedulerApiError('ResourceNotFoundException', `Schedule ${name} does not exist.`);
    return schedule;
  }

  private groupShape(group: Group): Record<string, unknown> {
    return {
      Arn: scheduleGroupArn(group.name),
      Name: group.name,
      State: 'ACTIVE',
      CreationDate: group.created,
      LastModificationDate: group.created,
    };
  }

  /**
   * A CreateSchedule or UpdateSchedule request read into a schedule, or the ValidationException AWS gives
   * (CreateSchedule, EventBridge Scheduler API reference, read 2026-11-29: Name and GroupName 1-64 of
   * [0-9a-zA-Z-_.]; ScheduleExpression, FlexibleTimeWindow and Target required; State ENABLED|DISABLED;
   * ActionAfterCompletion NONE|DELETE; FlexibleTimeWindow.Mode OFF|FLEXIBLE, FLEXIBLE with
   * MaximumWindowInMinutes 1-1440).
   */
  private validate(name: string, body: Record<string, unknown>): Schedule {
    if (!NAME_PATTERN.test(name))
      throw invalid(
        `1 validation error detected: Value '${name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+`,
      );
    const group = body.GroupName === undefined ? 'default' : String(body.GroupName);
    if (!NAME_PATTERN.test(group))
      throw invalid(
        `1 validation error detected: Value '${group}' at 'groupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+`,
      );
    if (typeof body.ScheduleExpression !== 'string' || !body.ScheduleExpression)
      throw invalid(
        "1 validation error detected: Value null at 'scheduleExpression' failed to satisfy constraint: Member must not be null",
      );
    const expression = body.ScheduleExpression;
    if (expression.length > 256)
      throw invalid(
        `1 validation error detected: Value at 'scheduleExpression' failed to satisfy constraint: Member must have length less than or equal to 256`,
      );
    const parsed = parseScheduleExpression(expression);
    const timeZone =
      body.ScheduleExpressionTimezone === undefined ? undefined : String(body.ScheduleExpressionTimezone);
    if (timeZone !== undefined && !validTimeZone(timeZone))
      throw invalid(`Invalid ScheduleExpressionTimezone ${timeZone}.`);
    const window = body.FlexibleTimeWindow as
      { Mode?: unknown; MaximumWindowInMinutes?: unknown } | undefined;
    if (!window || typeof window !== 'object')
      throw invalid(
        "1 validation error detected: Value null at 'flexibleTimeWindow' failed to satisfy constraint: Member must not be null",
      );
    if (window.Mode !== 'OFF' && window.Mode !== 'FLEXIBLE')
      throw invalid(
        `1 validation error detected: Value '${String(window.Mode)}' at 'flexibleTimeWindow.mode' failed to satisfy constraint: Member must satisfy enum value set: [OFF, FLEXIBLE]`,
      );
    const maxWindow = window.MaximumWindowInMinutes;
    if (
      window.Mode === 'FLEXIBLE' &&
      (typeof maxWindow !== 'number' || !Number.isInteger(maxWindow) || maxWindow < 1 || maxWindow > 1440)
    )
      throw invalid(
        'MaximumWindowInMinutes must be between 1 and 1440 when FlexibleTimeWindow Mode is FLEXIBLE.',
      );
    if (window.Mode === 'OFF' && maxWindow !== undefined)
      throw invalid('MaximumWindowInMinutes is not allowed when FlexibleTimeWindow Mode is OFF.');
    const target = body.Target as Partial<ScheduleTarget> | undefined;
    if (!target || typeof target !== 'object')
      throw invalid(
        "1 validation error detected: Value null at 'target' failed to satisfy constraint: Member must not be null",
      );
    if (typeof target.Arn !== 'string' || !target.Arn)
      throw invalid(
        "1 validation error detected: Value null at 'target.arn' failed to satisfy constraint: Member must not be null",
      );
    if (typeof target.RoleArn !== 'string' || !target.RoleArn)
      throw invalid(
        "1 validation error detected: Value null at 'target.roleArn' failed to satisfy constraint: Member must not be null",
      );
    if (!ROLE_ARN.test(target.RoleArn)) throw invalid(`Invalid RoleArn ${target.RoleArn}.`);
    if (!LAMBDA_ARN.test(target.Arn))
      throw invalid(
        `local mode supports Lambda targets only (a function's ARN, arn:aws:lambda:<region>:<account>:function:<name>); ${target.Arn} is not one`,
      );
    if (target.Input !== undefined && typeof target.Input !== 'string')
      throw invalid('Target Input must be a string.');
    const state = body.State === undefined ? 'ENABLED' : body.State;
    if (state !== 'ENABLED' && state !== 'DISABLED')
      throw invalid(
        `1 validation error detected: Value '${String(state)}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]`,
      );
    const after = body.ActionAfterCompletion === undefined ? 'NONE' : body.ActionAfterCompletion;
    if (after !== 'NONE' && after !== 'DELETE')
      throw invalid(
        `1 validation error detected: Value '${String(after)}' at 'actionAfterCompletion' failed to satisfy constraint: Member must satisfy enum value set: [NONE, DELETE]`,
      );
    const date = (value: unknown, field: string) => {
      if (value === undefined) return undefined;
      const ms = typeof value === 'number' ? value * 1000 : Date.parse(String(value));
      if (!Number.isFinite(ms)) throw invalid(`Invalid ${field}.`);
      return ms;
    };
    const startDate = date(body.StartDate, 'StartDate');
    const endDate = date(body.EndDate, 'EndDate');
    if (endDate !== undefined && endDate <= this.now())
      throw invalid('The EndDate you specify cannot be earlier than the current time.');
    if (startDate !== undefined && endDate !== undefined && startDate >= endDate)
      throw invalid('The StartDate must come before the EndDate.');
    const now = Date.now() / 1000;
    const schedule: Schedule = {
      name,
      group,
      expression,
      parsed,
      ...(timeZone !== undefined ? { timeZone } : {}),
      ...(body.Description !== undefined ? { description: String(body.Description) } : {}),
      ...(startDate !== undefined ? { startDate } : {}),
      ...(endDate !== undefined ? { endDate } : {}),
      state,
      flexibleTimeWindow:
        window.Mode === 'FLEXIBLE'
          ? { Mode: 'FLEXIBLE', MaximumWindowInMinutes: maxWindow as number }
          : { Mode: 'OFF' },
      target: {
        Arn: target.Arn,
        RoleArn: target.RoleArn,
        ...(target.Input !== undefined ? { Input: target.Input } : {}),
        // The defaults GetSchedule reports: 185 attempts over 24 hours (RetryPolicy, API reference, read 2026-11-29).
        RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185, ...target.RetryPolicy },
        ...(target.DeadLetterConfig ? { DeadLetterConfig: target.DeadLetterConfig } : {}),
      },
      actionAfterCompletion: after,
      ...(typeof body.KmsKeyArn === 'string' ? { kmsKeyArn: body.KmsKeyArn } : {}),
      created: now,
      modified: now,
    };
    const first = this.first(schedule);
    if (first !== undefined) schedule.nextDue = first;
    return schedule;
  }

  /** Serves the API; the gateway in front of it has already authorized each request. */
  async serve(): Promise<{ endpoint: string; close(): Promise<void> }> {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        try {
          const body = chunks.length
            ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>)
            : {};
          reply(response, 200, this.route(request, body));
        } catch (error) {
          const known = error instanceof SchedulerApiError;
          reply(
            response,
            known ? STATUS[error.type] : 500,
            { Message: (error as Error).message },
            known ? error.type : 'InternalServerException',
          );
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      endpoint: `http://127.0.0.1:${port}`,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  }

  private route(request: IncomingMessage, body: Record<string, unknown>): unknown {
    const url = new URL(request.url ?? '/', 'http://local');
    const method = request.method ?? 'GET';
    const [collection, encoded, ...rest] = url.pathname.split('/').filter(Boolean);
    const name = encoded === undefined ? undefined : decodeURIComponent(encoded);
    const group = url.searchParams.get('groupName') ?? 'default';
    if (collection === 'schedules' && rest.length === 0) {
      if (name === undefined && method === 'GET') return this.listSchedules(url.searchParams);
      if (name !== undefined && method === 'POST') return this.create(name, body);
      if (name !== undefined && method === 'PUT') return this.update(name, body);
      if (name !== undefined && method === 'GET') return this.get(name, group);
      if (name !== undefined && method === 'DELETE') return this.delete(name, group);
    }
    if (collection === 'schedule-groups' && rest.length === 0) {
      if (name === undefined && method === 'GET') return this.listGroups(url.searchParams);
      if (name !== undefined && method === 'GET') return this.getGroup(name);
    }
    throw invalid(`local EventBridge Scheduler does not implement ${method} ${url.pathname}`);
  }
}

function reply(response: ServerResponse, status: number, body: unknown, errorType?: string): void {
  response.writeHead(status, {
    'content-type': 'application/json',
    'x-amzn-requestid': randomUUID(),
    ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
  });
  response.end(JSON.stringify(body));
}
