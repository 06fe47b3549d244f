import { z } from 'zod';
import { synthesizeTemplate } from '../../local/cloud/index.js';
import { ENTRY_METADATA_KEY } from '../../lib/tunedrop-function.js';

/** A Lambda function's settings as the synthesized template declares them, found by its source entry. */
export interface FunctionSettings {
  logicalId: string;
  entry: string;
  timeoutSeconds: number;
  memorySizeMb: number;
}

const FunctionResourceSchema = z.looseObject({
  Type: z.literal('AWS::Lambda::Function'),
  Metadata: z.looseObject({ [ENTRY_METADATA_KEY]: z.string() }),
  // CloudFormation's defaults when a property is absent: 3 s and 128 MB.
  Properties: z.looseObject({
    Timeout: z.number().default(3),
    MemorySize: z.number().default(128),
  }),
});

/** Every tunedrop function in the template synthesized from the real app, keyed by entry (e.g. functions/upload/handler.ts). */
export function functionSettingsByEntry(): Map<string, FunctionSettings> {
  const template = synthesizeTemplate();
  const functions = new Map<string, FunctionSettings>();
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    const parsed = FunctionResourceSchema.safeParse(resource);
    if (!parsed.success) continue;
    const entry = parsed.data.Metadata[ENTRY_METADATA_KEY];
    functions.set(entry, {
      logicalId,
      entry,
      timeoutSeconds: parsed.data.Properties.Timeout,
      memorySizeMb: parsed.data.Properties.MemorySize,
    });
  }
  return functions;
}

/** The settings of the function whose entry is `entry`; throws if the template has none. */
export function functionSettings(entry: string): FunctionSettings {
  const found = functionSettingsByEntry().get(entry);
  if (!found)
    throw new Error(`The synthesized template has no function with ${ENTRY_METADATA_KEY} = ${entry}`);
  return found;
}
