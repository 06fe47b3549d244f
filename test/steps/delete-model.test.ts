import { ProviderRejectedError } from '../../functions/core/errors.js';
import type { FineTuningProvider } from '../../functions/core/ports.js';
import type { ModelEntry } from '../../functions/core/registry.js';
import { deleteModel } from '../../functions/models/delete-model.js';
import { fakeProvider, memoryModelRegistry, registerPromoted } from '../support/fakes.js';

const model = (name: string, createdAt: string, fields: Partial<ModelEntry> = {}): ModelEntry => ({
  family: 'support',
  model: name,
  provider: 'openai',
  baseModel: 'gpt-4.1-mini-2025-04-14',
  parentModel: 'gpt-4.1-mini-2025-04-14',
  runId: `run-${name}`,
  createdAt,
  ...fields,
});
const OLD = 'ft:gpt-4.1-mini-2025-04-14:org:support:old';
const NEW = 'ft:gpt-4.1-mini-2025-04-14:org:support:new';
const NOW = new Date('2026-11-30T09:00:00.000Z');

/** A family with an older model and a current one (whose SSM parameter is set), and a provider that records deletes. */
async function family(overrides: Partial<FineTuningProvider> = {}) {
  const memory = memoryModelRegistry();
  await registerPromoted(memory.registry, model(OLD, '2026-11-28T10:00:00.000Z'));
  await registerPromoted(memory.registry, model(NEW, '2026-11-29T10:00:00.000Z'));
  memory.parameters.set('support', NEW);
  const deleted: string[] = [];
  const asked: string[] = [];
  const { provider } = fakeProvider({
    deleteModel: async (id) => void deleted.push(id),
    ...overrides,
  });
  const deps = {
    registry: memory.registry,
    parameters: memory.currentModelParameters,
    provider: async (name: string) => {
      asked.push(name);
      return provider;
    },
    now: () => NOW,
  };
  return { ...memory, deleted, asked, deps };
}

describe('deleteModel', () => {
  it('answers not_found for a model tunedrop did not train, and asks no provider', async () => {
    const { deps, asked } = await family();
    const outcome = await deleteModel({ model: 'ft:someone-else' }, deps);
    expect(outcome).toMatchObject({ outcome: 'not_found', message: expect.stringContaining('models list') });
    expect(asked).toEqual([]);
  });

  it('answers already_deleted for a model deleted before, with when, and deletes nothing again', async () => {
    const { deps, deleted, registry } = await family();
    await registry.markDeleted('support', OLD, '2026-11-29T12:00:00.000Z');
    const outcome = await deleteModel({ model: OLD }, deps);
    expect(outcome).toEqual({
      outcome: 'already_deleted',
      family: 'support',
      message: expect.stringContaining('2026-11-29T12:00:00.000Z'),
    });
    expect(deleted).toEqual([]);
  });

  it('refuses the family’s current model without force, touching nothing', async () => {
    const { deps, deleted, models, pointers, parameters } = await family();
    const outcome = await deleteModel({ model: NEW }, deps);
    expect(outcome).toMatchObject({
      outcome: 'refused_current',
      family: 'support',
      message: expect.stringContaining('--force'),
    });
    expect(deleted).toEqual([]);
    expect(models.get(NEW)?.deletedAt).toBeUndefined();
    expect(pointers.get('support')?.currentModel).toBe(NEW);
    expect(parameters.get('support')).toBe(NEW);
  });

  it('deletes the current model when forced, and takes away its pointer and SSM parameter', async () => {
    const { deps, deleted, models, pointers, parameters } = await family();
    const outcome = await deleteModel({ model: NEW, force: true }, deps);
    expect(outcome).toMatchObject({
      outcome: 'deleted',
      family: 'support',
      message: expect.stringContaining('no current model until its next run'),
    });
    expect(deleted).toEqual([NEW]);
    expect(models.get(NEW)?.deletedAt).toBe(NOW.toISOString());
    expect(pointers.has('support')).toBe(false);
    expect(parameters.has('support')).toBe(false);
  });

  it('deletes an older model without touching the family’s pointer or parameter', async () => {
    const { deps, deleted, models, pointers, parameters } = await family();
    const outcome = await deleteModel({ model: OLD }, deps);
    expect(outcome).toMatchObject({ outcome: 'deleted', family: 'support' });
    expect(outcome.message).not.toContain('no current model');
    expect(deleted).toEqual([OLD]);
    expect(models.get(OLD)?.deletedAt).toBe(NOW.toISOString());
    expect(models.get(NEW)?.deletedAt).toBeUndefined();
    expect(pointers.get('support')?.currentModel).toBe(NEW);
    expect(parameters.get('support')).toBe(NEW);
  });

  it('asks the provider the model was trained on', async () => {
    const { deps, asked, registry } = await family();
    await registerPromoted(
      registry,
      model('azure-model', '2026-11-27T10:00:00.000Z', { provider: 'azure-openai' }),
    );
    await deleteModel({ model: 'azure-model' }, deps);
    expect(asked).toEqual(['azure-openai']);
  });

  it('answers not_supported when the provider cannot delete models, and marks nothing', async () => {
    const { deps, models } = await family({
      deleteModel: async () => {
        throw new ProviderRejectedError(
          'Azure OpenAI deletes a fine-tuned model with its deployment',
          'Delete it in the Azure portal.',
          'not_supported',
        );
      },
    });
    const outcome = await deleteModel({ model: OLD }, deps);
    expect(outcome).toEqual({
      outcome: 'not_supported',
      family: 'support',
      message: 'Azure OpenAI deletes a fine-tuned model with its deployment. Delete it in the Azure portal.',
    });
    expect(models.get(OLD)?.deletedAt).toBeUndefined();
  });

  it.each(['model_not_found', 'http_404', 'ResourceNotFoundException'])(
    'records a model the provider no longer has (%s) as deleted',
    async (code) => {
      const { deps, models, pointers, parameters } = await family({
        deleteModel: async () => {
          throw new ProviderRejectedError('no such model', 'none', code);
        },
      });
      expect(await deleteModel({ model: NEW, force: true }, deps)).toMatchObject({ outcome: 'deleted' });
      expect(models.get(NEW)?.deletedAt).toBe(NOW.toISOString());
      expect(pointers.has('support')).toBe(false);
      expect(parameters.has('support')).toBe(false);
    },
  );

  it.each([
    [
      'a provider refusal of another kind',
      new ProviderRejectedError('forbidden', 'check the key', 'http_403'),
    ],
    ['a transient error', Object.assign(new Error('socket hang up'), { name: 'ECONNRESET' })],
    [
      'an error named like not-found that is not a provider refusal',
      Object.assign(new Error('x'), { code: 'model_not_found' }),
    ],
  ])('throws %s with nothing marked', async (_what, error) => {
    const { deps, models, pointers, parameters } = await family({
      deleteModel: async () => {
        throw error;
      },
    });
    await expect(deleteModel({ model: NEW, force: true }, deps)).rejects.toBe(error);
    expect(models.get(NEW)?.deletedAt).toBeUndefined();
    expect(pointers.get('support')?.currentModel).toBe(NEW);
    expect(parameters.get('support')).toBe(NEW);
  });
});
