import { notInRegistry } from './not-in-registry.js';
import { PROVIDER_TITLES, type ProviderName } from '../core/catalog.js';
import { ProviderRejectedError } from '../core/errors.js';
import type { FineTuningProvider } from '../core/ports.js';
import type { CurrentModelParameters, ModelRegistry } from '../core/registry.js';

export interface DeleteModelRequest {
  model: string;
  /** Delete it even if it is its family's current model (the family then has none until its next run). */
  force?: boolean;
}

export type DeleteModelOutcome = {
  outcome: 'deleted' | 'refused_current' | 'not_found' | 'already_deleted' | 'not_supported';
  message: string;
  family?: string;
};

/**
 * How the providers say a model does not exist: OpenAI's 404 (`model_not_found`, or the status alone as
 * translateProviderError names it), Bedrock's ResourceNotFoundException.
 */
const NOT_FOUND_CODES: ReadonlySet<string> = new Set([
  'model_not_found',
  'http_404',
  'ResourceNotFoundException',
]);

export interface DeleteModelDeps {
  registry: Pick<ModelRegistry, 'find' | 'current' | 'markDeleted' | 'clearCurrent'>;
  parameters: Pick<CurrentModelParameters, 'remove'>;
  provider(name: ProviderName): Promise<FineTuningProvider>;
  now(): Date;
}

/**
 * Deletes a model tunedrop trained (the 2023 guide's last step): at its provider, then in the registry,
 * where it stays listed with `deletedAt`. The family's current model is refused unless forced: applications
 * read it (the registry's pointer and the SSM parameter), and a forced delete takes both away, so that
 * nobody is sent to a model that no longer exists; the family's next run continues from its base model.
 *
 * The provider is asked first: a model the provider still has is never marked deleted. A provider that
 * answers "not found" has no such model any more (deleted elsewhere), which is recorded as deleted.
 */
export async function deleteModel(
  request: DeleteModelRequest,
  deps: DeleteModelDeps,
): Promise<DeleteModelOutcome> {
  const entry = await deps.registry.find(request.model);
  if (!entry) return notInRegistry(request.model);
  const { family } = entry;
  if (entry.deletedAt)
    return {
      outcome: 'already_deleted',
      family,
      message: `${entry.model} was deleted on ${entry.deletedAt}`,
    };
  const current = await deps.registry.current(family);
  const isCurrent = current?.currentModel === entry.model;
  if (isCurrent && !request.force)
    return {
      outcome: 'refused_current',
      family,
      message: `${entry.model} is family "${family}"'s current model, which applications read; add --force to delete it all the same (the family then has no current model until its next run succeeds)`,
    };

  const provider = await deps.provider(entry.provider);
  try {
    await provider.deleteModel(entry.model);
  } catch (error) {
    if (error instanceof ProviderRejectedError && error.code === 'not_supported')
      return { outcome: 'not_supported', family, message: `${error.message}. ${error.fix}` };
    // Gone at the provider already (deleted elsewhere): what this delete wanted.
    if (!(error instanceof ProviderRejectedError && NOT_FOUND_CODES.has(error.code))) throw error;
  }
  await deps.registry.markDeleted(family, entry.model, deps.now().toISOString());
  if (isCurrent && (await deps.registry.clearCurrent(family, entry.model)))
    await deps.parameters.remove(family);
  return {
    outcome: 'deleted',
    family,
    message: `deleted ${entry.model} at ${PROVIDER_TITLES[entry.provider]}${isCurrent ? `; family "${family}" has no current model until its next run` : ''}`,
  };
}
