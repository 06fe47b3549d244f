import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/**
 * Where the CLI's AWS calls go: the account of your usual AWS credentials (the SDK's default chain),
 * or, with `--local`, the local cloud that `npm run local` keeps running. The local cloud writes how to
 * reach it (its endpoints and an operator's credentials, whose IAM policy is the stack's
 * OperatorPolicy) to a connection file while it runs.
 */
export type AwsService =
  'SFN' | 'SQS' | 'LAMBDA' | 'CLOUDFORMATION' | 'DYNAMODB' | 'S3' | 'SSM' | 'SCHEDULER';

export interface ClientSettings {
  region?: string;
  /** A profile of the shared AWS config files (the SDK's default: AWS_PROFILE). */
  profile?: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface AwsTarget {
  /** Settings for an SDK client of the service: empty for AWS itself. */
  client(service: AwsService): ClientSettings;
  /** For messages: "AWS" or "the local cloud". */
  description: string;
}

export const REAL_AWS: AwsTarget = { client: () => ({}), description: 'AWS' };

/** Where `npm run local` writes its connection file, relative to the project root. */
export const LOCAL_CONNECTION_FILE = '.tunedrop/local-cloud.json';

export const LocalConnectionSchema = z.object({
  version: z.literal(1),
  /** The process serving the local cloud; the file is stale once it is gone. */
  pid: z.number().int().positive(),
  region: z.string(),
  credentials: z.object({ accessKeyId: z.string(), secretAccessKey: z.string() }),
  endpoints: z.record(z.string(), z.string()),
});
export type LocalConnection = z.infer<typeof LocalConnectionSchema>;

export class LocalCloudUnavailableError extends Error {}

export async function localCloudTarget(path: string): Promise<AwsTarget> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new LocalCloudUnavailableError(
      `no local cloud is running (${path} does not exist); start one with "npm run local" and try again`,
    );
  }
  let connection: LocalConnection;
  try {
    connection = LocalConnectionSchema.parse(JSON.parse(text));
  } catch (error) {
    throw new LocalCloudUnavailableError(
      `${path} is not a local cloud connection file (${(error as Error).message})`,
    );
  }
  if (!isRunning(connection.pid))
    throw new LocalCloudUnavailableError(
      `the local cloud described in ${path} is no longer running (process ${connection.pid}); start one with "npm run local"`,
    );
  return {
    description: 'the local cloud',
    client: (service) => {
      const endpoint = connection.endpoints[service];
      if (!endpoint)
        throw new LocalCloudUnavailableError(`the local cloud in ${path} serves no ${service} endpoint`);
      return { region: connection.region, endpoint, credentials: connection.credentials };
    },
  };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
