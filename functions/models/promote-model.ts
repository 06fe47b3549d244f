import { notInRegistry } from './not-in-registry.js';
import type { CurrentModelParameters, ModelRegistry } from '../core/registry.js';

export interface PromoteModelRequest {
  model: string;
}

export type PromoteModelOutcome = {
  outcome: 'promoted' | 'already_current' | 'not_found' | 'deleted';
  message: string;
  family?: string;
};

export interface PromoteModelDeps {
  registry: Pick<ModelRegistry, 'find' | 'current' | 'promote'>;
  parameters: Pick<CurrentModelParameters, 'put'>;
  now(): Date;
}

/**
 * `tunedrop models promote MODEL`: the operator overrides the promotion policy (#14) and makes a model of
 * the registry its family's current one, for applications (the registry's pointer and the SSM parameter).
 * A deleted model never is: applications would be sent to a model that no longer exists.
 */
export async function promoteModel(
  request: PromoteModelRequest,
  deps: PromoteModelDeps,
): Promise<PromoteModelOutcome> {
  const entry = await deps.registry.find(request.model);
  if (!entry) return notInRegistry(request.model);
  const { family } = entry;
  if (entry.deletedAt)
    return {
      outcome: 'deleted',
      family,
      message: `${entry.model} was deleted on ${entry.deletedAt}: it cannot be made current (train the family again)`,
    };
  if ((await deps.registry.current(family))?.currentModel === entry.model)
    return {
      outcome: 'already_current',
      family,
      message: `${entry.model} is family "${family}"'s current model already`,
    };
  // The operator's word is the latest: promoted as of now, whatever model was made current before.
  if (!(await deps.registry.promote(entry, deps.now().toISOString(), { force: true })))
    return {
      outcome: 'deleted',
      family,
      message: `${entry.model} was deleted meanwhile: it cannot be made current`,
    };
  await deps.parameters.put(family, entry.model);
  return {
    outcome: 'promoted',
    family,
    message: `${entry.model} is now family "${family}"'s current model (applications reading its SSM parameter get it)`,
  };
}
