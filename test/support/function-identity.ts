import { functionPrincipal } from '../../local/cloud/iam/authorizer.js';
import type { LocalCloud } from '../../local/cloud/index.js';

/**
 * Acting as one function of the local cloud: SDK clients made with `clientConfig` call the endpoints
 * with that function's role credentials, so IAM evaluates them against its grants from the template.
 */
export interface FunctionIdentity {
  /** `new S3Client({ ...identity.clientConfig, endpoint: cloud.endpoints.S3 })` */
  clientConfig: {
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
  };
  /** The function's environment variables, as the template sets them (RUNS_TABLE, DATA_BUCKET, …). */
  environment: Record<string, string>;
  /** The session ARN its calls are made as, as IAM names it in decisions and denials. */
  principalArn: string;
}

/** The identity of the function whose source entry is `entry`, e.g. `functions/validate/handler.ts`. */
export function asFunction(cloud: LocalCloud, entry: string): FunctionIdentity {
  const fn = cloud.plan.functions.find((f) => f.entry === entry);
  if (!fn) throw new Error(`no function with entry ${entry} in the template`);
  return {
    clientConfig: { region: cloud.clientConfig.region, credentials: cloud.functionCredentials(entry) },
    environment: fn.environment,
    principalArn: functionPrincipal(cloud.plan, fn).arn,
  };
}
