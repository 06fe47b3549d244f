import { z } from 'zod';
import { providerSlots } from '../adapters/deps.js';
import { readEnvironment } from '../adapters/environment.js';
import { stepHandler } from '../adapters/handler-kit.js';
import { acquireSlot } from './acquire-slot.js';

export const handler = stepHandler('acquire-slot', z.looseObject({ runId: z.string() }), (input) =>
  acquireSlot(input, {
    slots: providerSlots(),
    limit: readEnvironment('PROVIDER_CONCURRENCY').PROVIDER_CONCURRENCY,
  }),
);
