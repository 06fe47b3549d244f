import { z } from 'zod';
import { providerSlots } from '../adapters/deps.js';
import { readEnvironment } from '../adapters/environment.js';
import { stepHandler } from '../adapters/handler-kit.js';
import { SlotProgressSchema } from '../core/workflow-state.js';
import { acquireSlot } from './acquire-slot.js';

export const handler = stepHandler(
  'acquire-slot',
  // Partial: a run that was waiting when this version was deployed has no `since` yet.
  z.looseObject({ runId: z.string(), slot: SlotProgressSchema.partial().optional() }),
  (input) =>
    acquireSlot(input, {
      slots: providerSlots(),
      limit: readEnvironment('PROVIDER_CONCURRENCY').PROVIDER_CONCURRENCY,
    }),
);
