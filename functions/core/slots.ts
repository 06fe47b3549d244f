import type { ParkedRuns, ProviderSlots, SlotLane, SlotWaiter, TaskTokens } from './ports.js';
import type { SlotGrant } from './workflow-state.js';
import { TERMINAL_STATUSES, type RunStatus } from './run.js';

/** A run holding a provider slot, and since when (epoch milliseconds). */
export interface SlotHolder {
  runId: string;
  acquiredAt: number;
}

/**
 * How long a holder whose run item cannot be found keeps its slot. A live holder always has its item:
 * validate writes it before the execution starts, minutes before the run asks for a slot. So a holder
 * without one lost it afterwards (deleted by hand, a table restored from an older backup). The grace
 * keeps a slot from being taken from under a run on one odd read, and is short next to the hours a
 * blocked queue would cost.
 */
export const VANISHED_HOLDER_GRACE_MS = 15 * 60 * 1000;

/** A queue's order: by place (`queuedAt`), then by run id, so that every reader agrees on ties. */
export const queueOrder = (a: SlotWaiter, b: SlotWaiter): number =>
  a.queuedAt - b.queuedAt || a.runId.localeCompare(b.runId);

/** Why a holder no longer deserves its slot. */
export type DeadHolder = SlotHolder & { reason: 'run_ended' | 'run_vanished' };

/**
 * The holders whose slots can be taken back: those whose run has ended (its Record or reconcile did
 * not release it: a crash, a lost event, an acquire that finished after the run was stopped), and those
 * whose run no longer exists once the grace period has passed. A holder whose run is still going keeps
 * its slot, however long it has held it: training may take days.
 *
 * `statusOf` maps each holder's run id to its run's status, or to undefined when the run item is gone.
 */
export function deadHolders(
  holders: readonly SlotHolder[],
  statusOf: ReadonlyMap<string, RunStatus | undefined>,
  now: number,
  graceMs: number = VANISHED_HOLDER_GRACE_MS,
): DeadHolder[] {
  const dead: DeadHolder[] = [];
  for (const holder of holders) {
    if (!statusOf.has(holder.runId)) continue; // not looked up: no grounds to evict
    const status = statusOf.get(holder.runId);
    if (status === undefined) {
      if (now - holder.acquiredAt >= graceMs) dead.push({ ...holder, reason: 'run_vanished' });
    } else if (TERMINAL_STATUSES.has(status)) {
      dead.push({ ...holder, reason: 'run_ended' });
    }
  }
  return dead;
}

export interface HandOverDeps {
  slots: ProviderSlots;
  limit: number;
  /** The run's status, or undefined when its item is gone. */
  statusOf(runId: string): Promise<RunStatus | undefined>;
  /** Resumes a run given a slot (completes the task token it parked on); false if it no longer waits. */
  resume(runId: string, waitedSeconds: number): Promise<boolean>;
  /** Epoch milliseconds. */
  now(): number;
  /**
   * Whether the queue's oldest waiter may be given a slot now; when not, it and those behind it wait for
   * the next hand-over. A family's lane waits for a run received earlier whose file is still being checked,
   * or not yet (earlierArrivalPending). @default always
   */
  mayGrant?(waiter: SlotWaiter): Promise<boolean>;
}

/**
 * How long a family's queue waits for a run received earlier that has not joined it: long enough for
 * Validate to check its file (its timeout is 15 minutes), short enough that a run whose validation was
 * lost (a crash, an event in the dead-letter queue) holds up its family once, not for ever.
 */
export const EARLIER_ARRIVAL_GRACE_MS = 20 * 60 * 1000;

/**
 * A file in the family's incoming folder, as S3 lists it: what started (or is about to start) a run. S3
 * knows of a drop at once, while its run item is written only when Validate runs, which may be minutes
 * later (Lambda queues asynchronous invocations when its concurrency is taken, and retries them).
 */
export interface Arrival {
  key: string;
  /** The object's ETag, with or without S3's quotes. */
  etag?: string | undefined;
  /** When S3 stored it (LastModified, epoch milliseconds; S3 lists it to the second, rounded down). */
  at: number;
}

/** A run of the family as the lane sees it: its status, when it was received, and the file it came from. */
export interface FamilyRun {
  runId: string;
  status: RunStatus;
  createdAt: string;
  source: { key: string; etag?: string | undefined };
}

const unquoted = (etag: string | undefined) => etag?.replace(/^"|"$/g, '');

/**
 * Whether a run of the family received before `waiter` is still on its way into the queue, so that the
 * lane waits for it: a small file dropped after a large one does not train before it. Either
 * - a run RECEIVED, not in the queue nor holding the lane, received before the waiter: its file is being
 *   checked, or it was just started, and it will queue ahead of `waiter` (the queue is ordered by when
 *   runs were received); or
 * - a file dropped before the waiter that no run of the family records yet (`arrivals`, listed from S3):
 *   its Validate has not run yet; or
 * - a run ahead of the waiter in the queue as it is now (`lane`, read after the hand-over read its list of
 *   waiters: a run that queued in between is served by its own hand-over, not passed over by this one).
 * Either waits at most `graceMs` from when it was received, so that a run whose validation was lost (a
 * crash, an event in the dead-letter queue) holds up its family once, not for ever. An arrival listed to
 * the second (rounded down) can look earlier than a waiter received in the same second: the lane then
 * waits until that run is recorded and queued, behind the waiter if it came later. It never looks later
 * than it was, so an earlier drop is never missed.
 */
export function earlierArrivalPending(
  waiter: SlotWaiter,
  familyRuns: readonly FamilyRun[],
  arrivals: readonly Arrival[],
  lane: { holders: readonly string[]; waiting: readonly SlotWaiter[] },
  now: number,
  graceMs: number = EARLIER_ARRIVAL_GRACE_MS,
): boolean {
  const ahead = lane.waiting.some((other) => other.runId !== waiter.runId && queueOrder(other, waiter) < 0);
  if (ahead) return true;
  const inLane = new Set([...lane.holders, ...lane.waiting.map((other) => other.runId)]);
  const pending = (receivedAt: number) => receivedAt < waiter.queuedAt && now - receivedAt < graceMs;
  const runBeingChecked = familyRuns.some(
    (run) =>
      run.runId !== waiter.runId &&
      run.status === 'RECEIVED' &&
      !inLane.has(run.runId) &&
      pending(Date.parse(run.createdAt)),
  );
  if (runBeingChecked) return true;
  return arrivals.some((arrival) => pending(arrival.at) && !familyRuns.some((run) => records(run, arrival)));
}

/**
 * How much earlier than S3's LastModified a run recording that object may say it was received. Both times
 * are S3's (the event's eventTime and the listing's LastModified); the allowance keeps a skew of a moment
 * between them from making a recorded drop look unrecorded, which would hold the lane for the grace period.
 */
const RECORDED_SKEW_MS = 5_000;

/**
 * Whether `run` was started by the dropped object `arrival`: the same key, the same bytes (ETag, where
 * both have one), and received no earlier than the object was stored: the same bytes dropped again under
 * the same name, after a run of the first drop, are a new arrival.
 */
function records(run: FamilyRun, arrival: Arrival): boolean {
  if (run.source.key !== arrival.key) return false;
  const runEtag = unquoted(run.source.etag);
  const arrivalEtag = unquoted(arrival.etag);
  if (runEtag && arrivalEtag && runEtag !== arrivalEtag) return false;
  return Date.parse(run.createdAt) >= arrival.at - RECORDED_SKEW_MS;
}

export interface HandOver {
  /** Holders given a slot earlier whose resume had not gone through (it failed), resumed now. */
  delivered: string[];
  /** Runs given a slot, in queue order, and whether their resume reached a waiting task. */
  granted: Array<{ runId: string; resumed: boolean }>;
  /** Runs taken out of the queue because they had ended (or their item was gone). */
  skipped: string[];
}

/** One HandOver of several (each provider has its own slots and queue). */
export function mergeHandOvers(handOvers: readonly HandOver[]): HandOver {
  return {
    delivered: handOvers.flatMap((h) => h.delivered),
    granted: handOvers.flatMap((h) => h.granted),
    skipped: handOvers.flatMap((h) => h.skipped),
  };
}

/**
 * Gives free slots to the runs waiting for one, oldest first, and resumes each. Everyone who may free a
 * slot or join the queue calls this afterwards (Record and reconcile after releasing, Acquire provider
 * slot after queueing, and the periodic sweep), so a free slot never sits beside a waiting run for longer
 * than the next of those calls.
 *
 * A waiter whose run has ended is taken out of the queue. A grant whose resume finds no waiting task (the
 * run's wait timed out and it is about to ask again, or it ended a moment ago) keeps the slot with the
 * run: asking again finds it, and a run that ended gives it back as a dead holder. A grant whose resume
 * failed keeps its token stored: the next hand-over resumes it first (the resumer forgets a token once
 * it is used).
 */
export async function handOverFreeSlots(deps: HandOverDeps): Promise<HandOver> {
  const result: HandOver = { delivered: [], granted: [], skipped: [] };
  // A slot given whose resume failed (a throttled or refused SendTaskSuccess, a crash right after the
  // grant) would otherwise wait for the run's 24-hour timeout: its token is still stored, so resume it.
  for (const holder of await deps.slots.holders())
    if (await deps.resume(holder, 0)) result.delivered.push(holder);
  for (const waiter of await deps.slots.waiting()) {
    const status = await deps.statusOf(waiter.runId);
    if (status === undefined || TERMINAL_STATUSES.has(status)) {
      await deps.slots.dequeue(waiter.runId);
      result.skipped.push(waiter.runId);
      continue;
    }
    // No slot for the oldest: none for those behind it either (the queue is first come, first served).
    if (deps.mayGrant && !(await deps.mayGrant(waiter))) break;
    if (!(await deps.slots.grant(waiter.runId, deps.limit))) break;
    const waitedSeconds = Math.max(0, (deps.now() - waiter.queuedAt) / 1000);
    result.granted.push({ runId: waiter.runId, resumed: await deps.resume(waiter.runId, waitedSeconds) });
  }
  return result;
}

/** Resumes a run given a slot (or its family's turn): completes the token it parked on with its SlotGrant. */
export function slotResumer(
  parked: ParkedRuns,
  tokens: TaskTokens,
  now: () => number,
  lane: SlotLane = 'provider',
): HandOverDeps['resume'] {
  return async (runId, waitedSeconds) => {
    const token = await parked.slotToken(runId, lane);
    if (!token) return false;
    const grant: SlotGrant = {
      grantedAt: Math.floor(now() / 1000),
      waitedSeconds: Math.round(waitedSeconds),
    };
    return tokens.resume(token, grant);
  };
}

/** A family's lane as the steps that end a run see it: who releases it and who hands it over. */
export interface FamilyTurn {
  /** The run's family's lane. */
  lane: ProviderSlots;
  /** Gives the freed lane to the family's oldest waiting run (handOverFreeSlots). */
  handOver(): Promise<HandOver>;
}

/**
 * Ends a run's turn in its family: the lane goes to the family's next run. Called once the run's end is
 * recorded (and its model registered), so the next run continues from that model. Handing over is best
 * effort, as for provider slots: the sweep hands over what this could not.
 */
export async function endFamilyTurn(
  runId: string,
  turn: FamilyTurn,
  onHandOverError?: (error: unknown) => void,
): Promise<void> {
  await turn.lane.release(runId);
  await turn.handOver().catch((error: unknown) => onHandOverError?.(error));
}
