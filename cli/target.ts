import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  LOCAL_CONNECTION_FILE,
  LocalCloudUnavailableError,
  localCloudTarget,
  type AwsTarget,
} from './aws-target.js';
import type { Values } from './args.js';

export const DEFAULT_STACK = 'Tunedrop';

/**
 * The connection file of the local cloud: TUNEDROP_LOCAL_CLOUD, else the project's (where `npm run local`
 * writes it: under the project root, whatever directory the CLI runs in).
 */
export function localConnectionPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.TUNEDROP_LOCAL_CLOUD ?? fileURLToPath(new URL(`../${LOCAL_CONNECTION_FILE}`, import.meta.url));
}

export interface ChosenTarget {
  target: AwsTarget;
  stack: string;
  /**
   * Said on stderr with human-readable output (never with --json) when the target was not named: the
   * local cloud found on its own, which a person expecting AWS must not miss.
   */
  notice?: string;
}

/**
 * `--local` is the local cloud; `--stack`, `--region` or `--profile` is AWS; with none of them, the local
 * cloud when it runs (its connection file exists and its process lives), else AWS with the SDK's usual
 * settings (AWS_REGION, AWS_PROFILE, the default credential chain).
 */
export async function chooseTarget(
  values: Values,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ChosenTarget> {
  const stack = typeof values.stack === 'string' ? values.stack : DEFAULT_STACK;
  const path = localConnectionPath(env);
  const namedAws = values.stack !== undefined || values.region !== undefined || values.profile !== undefined;
  if (values.local) {
    if (namedAws && (values.region !== undefined || values.profile !== undefined))
      throw new LocalCloudUnavailableError(
        '--local cannot be combined with --region or --profile; choose one target',
      );
    return { target: await localCloudTarget(path), stack };
  }
  if (!namedAws && existsSync(path)) {
    try {
      const target = await localCloudTarget(path);
      return {
        target,
        stack,
        notice: `using the local cloud (${path}); pass --stack, --region or --profile for AWS`,
      };
    } catch (error) {
      // A stale file (its process gone): AWS, as if there were none.
      if (!(error instanceof LocalCloudUnavailableError)) throw error;
    }
  }
  const settings = {
    ...(typeof values.region === 'string' ? { region: values.region } : {}),
    ...(typeof values.profile === 'string' ? { profile: values.profile } : {}),
  };
  return { target: { description: 'AWS', client: () => settings }, stack };
}
