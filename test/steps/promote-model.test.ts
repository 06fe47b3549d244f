import { promoteModel } from '../../functions/models/promote-model.js';
import { memoryModelRegistry, registerPromoted } from '../support/fakes.js';

const model = (id: string, createdAt: string) => ({
  family: 'support',
  model: id,
  provider: 'openai' as const,
  baseModel: 'gpt-4.1-mini-2025-04-14',
  parentModel: 'gpt-4.1-mini-2025-04-14',
  runId: `run-${id}`,
  createdAt,
});
const NOW = new Date('2026-11-30T12:00:00.000Z');

async function registryWith() {
  const memory = memoryModelRegistry();
  await registerPromoted(memory.registry, model('ft:current', '2026-11-29T10:00:00.000Z'));
  // A newer model its evaluation kept out, and an older one.
  await memory.registry.register(model('ft:kept-out', '2026-11-30T10:00:00.000Z'));
  await memory.registry.register(model('ft:older', '2026-11-28T10:00:00.000Z'));
  const deps = { registry: memory.registry, parameters: memory.currentModelParameters, now: () => NOW };
  return { memory, deps };
}

describe('promoteModel', () => {
  it("makes a model its evaluation kept out the family's current one, pointer and parameter", async () => {
    const { memory, deps } = await registryWith();
    expect(await promoteModel({ model: 'ft:kept-out' }, deps)).toMatchObject({
      outcome: 'promoted',
      family: 'support',
    });
    expect(memory.pointers.get('support')).toMatchObject({
      currentModel: 'ft:kept-out',
      updatedAt: NOW.toISOString(),
    });
    expect(memory.parameters.get('support')).toBe('ft:kept-out');
  });

  it('goes back to an older model when the operator says so', async () => {
    const { memory, deps } = await registryWith();
    expect(await promoteModel({ model: 'ft:older' }, deps)).toMatchObject({ outcome: 'promoted' });
    expect(memory.pointers.get('support')?.currentModel).toBe('ft:older');
  });

  it('answers already_current for the current model, changing nothing', async () => {
    const { memory, deps } = await registryWith();
    expect(await promoteModel({ model: 'ft:current' }, deps)).toMatchObject({ outcome: 'already_current' });
    expect(memory.parameters.get('support')).toBeUndefined();
  });

  it('refuses a deleted model and a model it does not know, changing nothing', async () => {
    const { memory, deps } = await registryWith();
    await memory.registry.markDeleted('support', 'ft:older', '2026-11-30T11:00:00.000Z');
    expect(await promoteModel({ model: 'ft:older' }, deps)).toMatchObject({ outcome: 'deleted' });
    expect(await promoteModel({ model: 'ft:nobody' }, deps)).toMatchObject({
      outcome: 'not_found',
      message: expect.stringContaining('tunedrop models list'),
    });
    expect(memory.pointers.get('support')?.currentModel).toBe('ft:current');
  });
});
