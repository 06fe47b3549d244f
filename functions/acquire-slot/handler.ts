import { z } from 'zod';
import { handOverSlots, parkedRuns, providerSlots, slotResume } from '../adapters/deps.js';
import { stepHandler } from '../adapters/handler-kit.js';
import { acquireSlot } from './acquire-slot.js';

export const handler = stepHandler(
  'acquire-slot',
  z.looseObject({ runId: z.string(), taskToken: z.string().min(1) }),
  (input) =>
    acquireSlot(input, {
      slots: providerSlots(),
      parked: parkedRuns(),
      resume: slotResume(),
      handOver: handOverSlots,
    }),
);
