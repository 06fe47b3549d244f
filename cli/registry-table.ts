import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { dynamoDbModelRegistry } from '../functions/adapters/dynamodb-model-registry.js';
import type { CurrentModel } from '../functions/core/registry.js';
import type { RegistryView } from './services.js';

/**
 * The model registry as the CLI shows it, read through the pipeline's own adapter
 * (functions/adapters/dynamodb-model-registry.ts), so both read the items the same way. Read-only:
 * deleting goes through the stack's models function, which deletes at the provider first.
 */
export async function readRegistry(
  documents: DynamoDBDocumentClient,
  table: string,
  family?: string,
): Promise<RegistryView> {
  const registry = dynamoDbModelRegistry(documents, table);
  const models = await registry.list(family);
  const families = family ? [family] : await registry.families();
  const current = (await Promise.all(families.map((name) => registry.current(name)))).filter(
    (pointer): pointer is CurrentModel => pointer !== undefined,
  );
  return { models, current };
}

/** A model by its id, in whichever family (the registry's byModel index). */
export async function findModel(documents: DynamoDBDocumentClient, table: string, model: string) {
  return dynamoDbModelRegistry(documents, table).find(model);
}
