import { z } from 'zod';
import {
  familyLane,
  familyLanes,
  handOverFamilyTurn,
  handOverSlots,
  parkedRuns,
  providerSlots,
  slotResume,
} from '../adapters/deps.js';
import { PROVIDERS } from '../core/catalog.js';
import { stepHandler } from '../adapters/handler-kit.js';
import { acquireSlot } from './acquire-slot.js';

/** Wait for family turn (lane "family") and Acquire provider slot (lane "provider") both park here. */
export const handler = stepHandler(
  'acquire-slot',
  z.looseObject({
    runId: z.string(),
    provider: z.enum(PROVIDERS),
    taskToken: z.string().min(1),
    lane: z.enum(['provider', 'family']).default('provider'),
    family: z.string().min(1).optional(),
    /** When the run was received (ISO 8601): a family's runs queue in that order. */
    receivedAt: z.iso.datetime({ offset: true }).optional(),
  }),
  async (input) => {
    if (input.lane === 'provider')
      return acquireSlot(input, {
        slots: providerSlots(input.provider),
        parked: parkedRuns(),
        resume: slotResume('provider'),
        handOver: handOverSlots,
      });
    const family = z.string().min(1).parse(input.family);
    await familyLanes().note(family);
    return acquireSlot(
      { ...input, ...(input.receivedAt ? { queuedAt: Date.parse(input.receivedAt) } : {}) },
      {
        slots: familyLane(family),
        parked: parkedRuns(),
        resume: slotResume('family'),
        handOver: () => handOverFamilyTurn(family),
      },
    );
  },
);
