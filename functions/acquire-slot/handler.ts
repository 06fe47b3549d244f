import { z } from 'zod';
import { handOverSlots, parkedRuns, providerSlots, slotResume } from '../adapters/deps.js';
import { PROVIDERS } from '../core/catalog.js';
import { stepHandler } from '../adapters/handler-kit.js';
import { acquireSlot } from './acquire-slot.js';

export const handler = stepHandler(
  'acquire-slot',
  z.looseObject({ runId: z.string(), provider: z.enum(PROVIDERS), taskToken: z.string().min(1) }),
  (input) =>
    acquireSlot(input, {
      slots: providerSlots(input.provider),
      parked: parkedRuns(),
      resume: slotResume(),
      handOver: handOverSlots,
    }),
);
